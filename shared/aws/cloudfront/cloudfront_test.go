package cloudfront_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/openmlops/mlops/shared/aws/awstest"
	cf "github.com/openmlops/mlops/shared/aws/cloudfront"
	"github.com/openmlops/mlops/shared/report"
)

var _ report.Invalidator = (*cf.Invalidator)(nil)

// fakeCloudFront speaks CloudFront's REST-XML CreateInvalidation (CloudFront
// itself cannot be reached from these machines): it checks the request is
// the one the API reference describes, remembers each caller reference, and
// answers a repeated one with the invalidation it made, as CloudFront does.
type fakeCloudFront struct {
	t    *testing.T
	made map[string]string // caller reference -> invalidation id
	seen []batch
}

type batch struct {
	XMLName         xml.Name `xml:"InvalidationBatch"`
	CallerReference string
	Paths           struct {
		Quantity int
		Items    struct {
			Path []string
		}
	}
}

func (f *fakeCloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := awstest.ReadSigned(f.t, w, r, nil, r.URL.Path == "/2020-05-31/distribution/E2EXAMPLE/invalidation")
	if !ok {
		return
	}
	var b batch
	if err := xml.Unmarshal(body, &b); err != nil || b.CallerReference == "" || b.Paths.Quantity != len(b.Paths.Items.Path) {
		f.t.Errorf("bad invalidation batch %s: %v", body, err)
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	if !strings.Contains(string(body), `xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"`) {
		f.t.Errorf("the batch lacks CloudFront's namespace: %s", body)
	}
	f.seen = append(f.seen, b)
	id, ok := f.made[b.CallerReference]
	if !ok {
		id = fmt.Sprintf("I%d", len(f.made)+1)
		f.made[b.CallerReference] = id
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/E2EXAMPLE/invalidation/"+id)
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>%s</Id><Status>InProgress</Status>`+
		`<CreateTime>2026-12-04T02:00:00Z</CreateTime>%s</Invalidation>`, id, body[strings.Index(string(body), "<InvalidationBatch"):])
}

func TestInvalidateSendsAWellFormedBatch(t *testing.T) {
	f := &fakeCloudFront{t: t, made: map[string]string{}}
	inv := cf.New(cloudfront.NewFromConfig(awstest.Config(t, f, nil)), "E2EXAMPLE")
	ctx := context.Background()
	paths := report.InvalidationPaths([]string{"index.html", "models/credit/runs.html"})
	if err := inv.Invalidate(ctx, "ref-1", paths); err != nil {
		t.Fatal(err)
	}
	if err := inv.Invalidate(ctx, "ref-1", paths); err != nil { // a retry
		t.Fatal(err)
	}
	if err := inv.Invalidate(ctx, "ref-2", []string{"/*"}); err != nil {
		t.Fatal(err)
	}
	if err := inv.Invalidate(ctx, "ref-3", nil); err != nil || len(f.seen) != 3 {
		t.Fatalf("nothing to invalidate: %v, %d requests", err, len(f.seen))
	}
	if got := f.seen[0].Paths.Items.Path; strings.Join(got, " ") != "/ /index.html /models/credit/runs.html" || f.seen[0].CallerReference != "ref-1" {
		t.Errorf("first batch: %+v", f.seen[0])
	}
	if len(f.made) != 2 {
		t.Errorf("a retry made a second invalidation: %v", f.made)
	}
	if err := cf.New(cloudfront.NewFromConfig(awstest.Config(t, f, nil)), "E2EXAMPLE").Invalidate(ctx, "", paths); err == nil {
		t.Error("an empty caller reference was sent")
	}
}

// CloudFront's refusal (too many invalidations in progress) is an error that
// names the distribution, so the publication fails and is retried.
func TestInvalidateReportsRefusal(t *testing.T) {
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type>`+
			`<Code>TooManyInvalidationsInProgress</Code><Message>Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.</Message></Error></ErrorResponse>`)
	})
	inv := cf.New(cloudfront.NewFromConfig(awstest.Config(t, refuse, nil)), "E2EXAMPLE")
	err := inv.Invalidate(context.Background(), "ref", []string{"/*"})
	if err == nil || !strings.Contains(err.Error(), "TooManyInvalidationsInProgress") || !strings.Contains(err.Error(), "E2EXAMPLE") {
		t.Fatalf("err %v", err)
	}
}

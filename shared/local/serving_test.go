package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/local/localtest"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
)

// servedCredit is a platform whose credit model has a champion (version 1).
func servedCredit(t *testing.T, cfg local.Config) *local.Platform {
	return localtest.ServedCredit(t, cfg)
}

// predictClient is a client of p's prediction API, with its token (or with
// token, where it is not "").
func predictClient(t *testing.T, p *local.Platform, token string) *predict.Client {
	t.Helper()
	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if token == "" {
		token = p.Endpoint.API.Token
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return predict.NewClient(p.Endpoint.API.URL, hc, apierror.BearerToken(token))
}

// creditVersion is version of the credit model, with its bundle fetched and
// verified as the endpoint loads it.
func creditVersion(t *testing.T, p *local.Platform, version int) (*registry.Version, *bundle.Bundle) {
	t.Helper()
	ctx := context.Background()
	v, err := p.Registry.Get(ctx, "credit", version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundlestore.FetchVerified(ctx, p.Store, p.Endpoint.Buckets.Platform, v.BundlePrefix, v.BundleSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return v, b
}

// creditRows is a request of the first n applicants of the credit data.
func creditRows(t *testing.T, n int) *predict.Request {
	t.Helper()
	lines := strings.SplitAfterN(string(credit.CSV()), "\n", n+2)
	req, err := predict.RequestFromCSV(strings.NewReader(strings.Join(lines[:n+1], "")))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// The champion answers over HTTPS exactly what the Go scorer gives for the
// same rows, names its version, explains itself when asked, refuses a caller
// without the token, and logs every instance to the monitoring bucket.
func TestEndpointServesTheChampion(t *testing.T) {
	p := servedCredit(t, local.Config{})
	ctx := context.Background()
	c := predictClient(t, p, "")
	req := creditRows(t, 5)
	resp, err := c.Predict(ctx, "credit", req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "credit" || resp.ModelVersion != 1 || resp.RequestID == "" || len(resp.Predictions) != 5 {
		t.Fatalf("response %+v", resp)
	}
	v, b := creditVersion(t, p, 1)
	// The gate compiled the verified model, and the version records it.
	modelJSON, _ := b.Manifest.File(bundle.ModelFile)
	compiled, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, v.Compiled.Key)
	if err != nil || hashid.Of(compiled) != v.Compiled.SHA256 || v.Compiled.ModelSHA256 != modelJSON.SHA256 {
		t.Fatalf("compiled model %+v: %v", v.Compiled, err)
	}
	lines := strings.Split(string(credit.CSV()), "\n")
	header := strings.Split(strings.ReplaceAll(lines[0], `"`, ""), ",")
	sc, err := b.Scorer(header)
	if err != nil {
		t.Fatal(err)
	}
	cells := make([]string, len(sc.Columns()))
	for i, pr := range resp.Predictions {
		rec := strings.Split(strings.ReplaceAll(lines[i+1], `"`, ""), ",")
		out, err := sc.Score(rec)
		if err != nil {
			t.Fatal(err)
		}
		sc.Cells(out, cells)
		for k, name := range sc.Columns() {
			raw, ok := pr.Output(name)
			if !ok || strings.Trim(string(raw), `"`) != cells[k] {
				t.Fatalf("instance %d %s: %s, the scorer gives %s", i, name, raw, cells[k])
			}
		}
		if pr.Explanation != nil {
			t.Fatalf("instance %d: an explanation nobody asked for", i)
		}
	}

	req.Explain = true
	ex, err := c.Predict(ctx, "credit", req)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range ex.Predictions {
		if pr.Explanation == nil || len(pr.Explanation.Reasons) == 0 || len(pr.Explanation.Outputs) != 1 ||
			len(pr.Explanation.Outputs[0].Features) != len(b.Encoder.Features()) {
			t.Fatalf("instance %d: explanation %+v", i, pr.Explanation)
		}
		// Each reason carries the feature's value as the request gave it
		// (null for an absent one).
		for _, r := range pr.Explanation.Reasons {
			var want any
			for _, f := range req.Instances[i].Fields {
				if f.Name == r.Feature {
					if err := json.Unmarshal(f.Value, &want); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !reflect.DeepEqual(r.Value, want) {
				t.Fatalf("instance %d: reason %s has the value %#v, the request %#v", i, r.Feature, r.Value, want)
			}
		}
	}

	md, err := c.Metadata(ctx, "credit")
	if err != nil || md.ModelSpec.Version != 1 || md.Metadata.BundleSHA256 != v.BundleSHA256 || len(md.Metadata.Features) != len(b.Encoder.Features()) {
		t.Fatalf("metadata %+v %v", md, err)
	}

	_, err = predictClient(t, p, "not-the-token").Predict(ctx, "credit", req)
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %v, want 401", err)
	}
	_, err = c.Predict(ctx, "nosuchmodel", req)
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("an unknown model: %v, want 404", err)
	}

	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Closed, every answered instance is in the log: 5 plain, 5 explained.
	var recs []predlog.Record
	p2 := start(t, p.Endpoint.Dir)
	if err := predlog.ReadDay(ctx, p2.Store, p2.Endpoint.Buckets.Monitoring, "credit", time.Now().UTC(), func(r predlog.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("%d records, want 10", len(recs))
	}
	for _, r := range recs {
		if r.Version != 1 || r.BundleSHA256 != v.BundleSHA256 || r.Outputs["label"] == nil || len(r.Features) == 0 {
			t.Fatalf("record %+v", r)
		}
	}
}

package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
)

// A function's S3 requests are held to its grants, through the platform's
// own store against the embedded S3, whether the function is known by the
// bus's Lambda context or by the API's mark; the operator's are not.
func TestFunctionsHeldToTheirGrants(t *testing.T) {
	p, err := Start(context.Background(), Config{Dir: t.TempDir(), S3Addr: "127.0.0.1:0", ReconcileEvery: -1, DriftEvery: -1,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	b := p.Endpoint.Buckets
	lambda := func(fn string) context.Context {
		return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
			InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + fn + ":$LATEST"})
	}
	put := func(ctx context.Context, bucket, key string) error {
		_, err := p.Store.Put(ctx, bucket, key, []byte("{}"), store.PutOptions{})
		return err
	}
	list := func(ctx context.Context, bucket, prefix string) error {
		return p.Store.List(ctx, bucket, prefix, func(store.ObjectInfo) error { return nil })
	}
	for _, c := range []struct {
		name string
		do   func() error
		ok   bool
	}{
		{"the operator writes anywhere", func() error { return put(context.Background(), b.Platform, "models/x/champion.json") }, true},
		{"report writes the site", func() error { return put(asFunction(context.Background(), rules.Report), b.Site, "index.html") }, true},
		{"report may not write models/", func() error { return put(asFunction(context.Background(), rules.Report), b.Platform, "models/x") }, false},
		{"gate writes audit/", func() error { return put(lambda(rules.Gate), b.Platform, "audit/x/head") }, true},
		{"gate may not write runs/", func() error { return put(lambda(rules.Gate), b.Platform, "runs/r/bundle/model.json") }, false},
		{"ingest reads incoming/ but may not write it", func() error { return put(lambda(rules.Ingest), b.Uploads, "incoming/d/x.csv") }, false},
		{"train lists runs/", func() error { return list(lambda(rules.Train), b.Platform, "runs/") }, true},
		{"train may not list the whole bucket", func() error { return list(lambda(rules.Train), b.Platform, "") }, false},
		{"predict may not read the prediction logs", func() error {
			return list(asFunction(context.Background(), rules.Predict), b.Monitoring, "predictions/")
		}, false},
		{"serving acts as predict", func() error { return list(lambda(FuncServing), b.Platform, "models/") }, true},
		{"an unknown function gets nothing", func() error { return list(lambda("nosuch"), b.Site, "") }, false},
	} {
		err := c.do()
		var se *store.Error
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "AccessDenied") || !errors.As(err, &se)):
			t.Errorf("%s: %v, want AccessDenied from the store", c.name, err)
		}
	}
}

// Every operation the store sends is one the table can judge, with the
// key it names.
func TestNeeds(t *testing.T) {
	s := aws.String
	for _, c := range []struct {
		in   any
		want []grantRequest
	}{
		{&s3.GetObjectInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "read", "k"}}},
		{&s3.HeadObjectInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "read", "k"}}},
		{&s3.PutObjectInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "write", "k"}}},
		{&s3.CreateMultipartUploadInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "write", "k"}}},
		{&s3.UploadPartInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "write", "k"}}},
		{&s3.CompleteMultipartUploadInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "write", "k"}}},
		{&s3.AbortMultipartUploadInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "write", "k"}}},
		{&s3.DeleteObjectInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "delete", "k"}}},
		{&s3.ListObjectsV2Input{Bucket: s("b")}, []grantRequest{{"b", "list", ""}}},
		{&s3.PutObjectTaggingInput{Bucket: s("b"), Key: s("k")}, []grantRequest{{"b", "tag", "k"}}},
		{&s3.CopyObjectInput{Bucket: s("b"), Key: s("k"), CopySource: s("src/a%20b/c")}, []grantRequest{{"b", "write", "k"}, {"src", "read", "a b/c"}}},
		{&s3.CopyObjectInput{Bucket: s("b"), Key: s("k"), CopySource: s("src/c?versionId=3")}, []grantRequest{{"b", "write", "k"}, {"src", "read-version", "c"}}},
		{&s3.GetObjectInput{Bucket: s("b"), Key: s("k"), VersionId: s("3")}, []grantRequest{{"b", "read-version", "k"}}},
		{&s3.PutObjectInput{Bucket: s("b"), Key: s("k"), ObjectLockMode: types.ObjectLockModeGovernance},
			[]grantRequest{{"b", "write", "k"}, {"b", "lock", "k"}}},
		{&s3.DeleteObjectsInput{Bucket: s("b"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: s("x")}, {Key: s("y")}}}},
			[]grantRequest{{"b", "delete", "x"}, {"b", "delete", "y"}}},
	} {
		got, ok := needs(c.in)
		if !ok || len(got) != len(c.want) {
			t.Errorf("%T: %v %v, want %v", c.in, got, ok, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%T: %v, want %v", c.in, got, c.want)
			}
		}
	}
	if _, ok := needs(&s3.GetObjectTaggingInput{}); ok {
		t.Error("GetObjectTagging: granted to no function, so refused")
	}
}

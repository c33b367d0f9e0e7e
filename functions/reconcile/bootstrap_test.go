package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/store"
)

// The real reconcile bootstrap, on the scheduled event, ingests an upload whose
// S3 event was lost (grace set to zero for the test).
func TestBootstrapIngestsStrayUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := lambdatest.Build(t, ".")
	srv, err := s3srv.New(s3srv.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", AccessKeyID: "AKREC", SecretAccessKey: "rec-secret",
		Buckets: []string{"uploads", "platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	eb := lambdatest.NewEventBridge(t)
	ctx := context.Background()
	st := store.New(store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKREC", "rec-secret", "")}, srv.URL(), true), store.Options{})
	cb, _ := os.ReadFile("../../examples/credit/credit.odcs.yaml")
	c, err := contract.Parse("credit.odcs.yaml", cb)
	if err != nil {
		t.Fatal(err)
	}
	ptr, _ := json.Marshal(ingest.ContractPointer{Hash: c.Hash()})
	data, _ := os.ReadFile("../../examples/credit/credit_data.csv")
	for _, o := range []struct {
		bucket, key string
		body        []byte
	}{{"platform", ingest.ContractKey("credit", c.Hash()), c.Canonical()}, {"platform", ingest.ContractPointerKey("credit"), ptr},
		{"uploads", "incoming/credit/lost-event.csv", data}} {
		if _, err := st.Put(ctx, o.bucket, o.key, o.body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	fn := lambdatest.Start(t, bin, "reconcile", []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKREC",
		"AWS_SECRET_ACCESS_KEY=rec-secret", "UPLOADS_BUCKET=uploads", "PLATFORM_BUCKET=platform", "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + srv.URL(), "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + eb.URL,
		"RECONCILE_PENDING_GRACE=0s", "RECONCILE_INCOMING_GRACE=0s"})
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := fn.Invoke(ictx, events.Sample("schedule.json")); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
	}
	entries := eb.Entries()
	if len(entries) != 1 || entries[0].DetailType != "Dataset Versioned" || !strings.Contains(entries[0].Detail, "lost-event.csv") {
		t.Fatalf("published %+v\nlogs:\n%s", entries, fn.Logs())
	}
	// A second pass finds nothing left to do.
	if _, err := fn.Invoke(ictx, events.Sample("schedule.json")); err != nil {
		t.Fatal(err)
	}
	if n := len(eb.Entries()); n != 1 {
		t.Fatalf("second pass published again: %d", n)
	}
}

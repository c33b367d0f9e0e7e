package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/store"
)

// The real bootstrap binary, built as for Lambda (for this machine's
// architecture), runs under a Runtime API server against the embedded S3, with a
// fake EventBridge (EventBridge cannot run here).
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := lambdatest.Build(t, ".")
	srv, err := s3srv.New(s3srv.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", AccessKeyID: "AKBOOT", SecretAccessKey: "boot-secret",
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
		Credentials: credentials.NewStaticCredentialsProvider("AKBOOT", "boot-secret", "")}, srv.URL(), true), store.Options{})
	cb, _ := os.ReadFile("../../examples/credit/credit.odcs.yaml")
	c, err := contract.Parse("credit.odcs.yaml", cb)
	if err != nil {
		t.Fatal(err)
	}
	ptr, _ := json.Marshal(ingest.ContractPointer{Hash: c.Hash()})
	for key, body := range map[string][]byte{ingest.ContractKey("credit", c.Hash()): c.Canonical(), ingest.ContractPointerKey("credit"): ptr} {
		if _, err := st.Put(ctx, "platform", key, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile("../../examples/credit/credit_data.csv")
	info, err := st.Put(ctx, "uploads", "incoming/credit/credit_data.csv", data, store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}

	fn := lambdatest.Start(t, bin, "ingest", []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKBOOT",
		"AWS_SECRET_ACCESS_KEY=boot-secret", "UPLOADS_BUCKET=uploads", "PLATFORM_BUCKET=platform", "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + srv.URL(), "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + eb.URL})

	payload := fmt.Sprintf(`{"version":"0","id":"ev-1","detail-type":"Object Created","source":"aws.s3","account":"123456789012","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::uploads"],"detail":{"version":"0","bucket":{"name":"uploads"},"object":{"key":"incoming/credit/credit_data.csv","size":%d,"etag":"%s","sequencer":"0A"},"request-id":"R","requester":"123456789012","source-ip-address":"203.0.113.9","reason":"PutObject"}}`, len(data), info.ETag)
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := fn.Invoke(ictx, []byte(payload)); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
	}
	entries := eb.Entries()
	if len(entries) != 1 || entries[0].DetailType != "Dataset Versioned" || entries[0].EventBusName != "mlops" ||
		!strings.Contains(entries[0].Detail, `"rows":4454`) {
		t.Fatalf("published %+v", entries)
	}
	var latest ingest.Latest
	b, _, err := st.ReadAll(ctx, "platform", ingest.LatestKey("credit"))
	if err != nil || json.Unmarshal(b, &latest) != nil || latest.VersionID == "" {
		t.Fatalf("no version: %v", err)
	}
	if !strings.Contains(fn.Logs(), `"msg":"ingested"`) {
		t.Errorf("expected a JSON log line for the ingest, got:\n%s", fn.Logs())
	}

	// A malformed event is a function error reported to the runtime, not a crash.
	_, err = fn.Invoke(ictx, []byte(`{"Records":"not a list"}`))
	var fe *runtimeapi.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "S3 notification") {
		t.Fatalf("malformed event: %v", err)
	}
	// The process still serves, and a redelivery announces the version again.
	if _, err := fn.Invoke(ictx, []byte(payload)); err != nil {
		t.Fatalf("redelivery after an error: %v", err)
	}
	if n := len(eb.Entries()); n != 2 {
		t.Fatalf("redelivery published %d events in all, want 2", n)
	}
}

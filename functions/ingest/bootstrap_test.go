package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
)

// The real bootstrap binary, built as for Lambda (for this machine's
// architecture), runs under a Runtime API server against the embedded S3, with a
// fake EventBridge (EventBridge cannot run here).
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	ctx := context.Background()
	bin, st, eb, env := lambdatest.Bootstrap(t, ".")
	data := credit.CSV()
	info := lambdatest.UploadCredit(t, st, "credit_data.csv")
	fn := lambdatest.Start(t, bin, "ingest", env)

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

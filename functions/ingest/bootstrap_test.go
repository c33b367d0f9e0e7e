package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/store"
)

// fakeEventBridge answers PutEvents like EventBridge and keeps the entries.
// EventBridge itself cannot run here; this speaks its JSON 1.1 protocol.
type fakeEventBridge struct {
	mu      sync.Mutex
	entries []map[string]any
}

func (f *fakeEventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	var req struct{ Entries []map[string]any }
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.entries = append(f.entries, req.Entries...)
	f.mu.Unlock()
	var out []map[string]string
	for i := range req.Entries {
		out = append(out, map[string]string{"EventId": fmt.Sprint("e", i)})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": 0, "Entries": out})
}

// The real bootstrap binary, built as for Lambda (for this machine's
// architecture), runs under a Runtime API server against the embedded S3.
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	srv, err := s3srv.New(s3srv.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", AccessKeyID: "AKBOOT", SecretAccessKey: "boot-secret",
		Buckets: []string{"uploads", "platform"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	eb := &fakeEventBridge{}
	ebSrv := httptest.NewServer(eb)
	defer ebSrv.Close()

	ctx := context.Background()
	st := store.New(store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKBOOT", "boot-secret", "")}, srv.URL(), true), store.Options{})
	cb, _ := os.ReadFile("../../examples/credit/credit.odcs.yaml")
	c, err := contract.Parse("credit.odcs.yaml", cb)
	if err != nil {
		t.Fatal(err)
	}
	st.Put(ctx, "platform", ingest.ContractKey("credit", c.Hash()), c.Canonical(), store.PutOptions{})
	ptr, _ := json.Marshal(ingest.ContractPointer{Hash: c.Hash()})
	st.Put(ctx, "platform", ingest.ContractPointerKey("credit"), ptr, store.PutOptions{})
	data, _ := os.ReadFile("../../examples/credit/credit_data.csv")
	info, err := st.Put(ctx, "uploads", "incoming/credit/credit_data.csv", data, store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}

	rt, err := runtimeapi.Start("arn:aws:lambda:us-east-1:123456789012:function:ingest", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	fn := exec.Command(bin)
	fn.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + rt.Addr(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKBOOT",
		"AWS_SECRET_ACCESS_KEY=boot-secret", "UPLOADS_BUCKET=uploads", "PLATFORM_BUCKET=platform", "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + srv.URL(), "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + ebSrv.URL,
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
	var logs strings.Builder
	fn.Stdout, fn.Stderr = &logs, &logs
	if err := fn.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fn.Process.Kill(); _ = fn.Wait() }()

	payload := fmt.Sprintf(`{"version":"0","id":"ev-1","detail-type":"Object Created","source":"aws.s3","account":"123456789012","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::uploads"],"detail":{"version":"0","bucket":{"name":"uploads"},"object":{"key":"incoming/credit/credit_data.csv","size":%d,"etag":"%s","sequencer":"0A"},"request-id":"R","requester":"123456789012","source-ip-address":"203.0.113.9","reason":"PutObject"}}`, len(data), info.ETag)
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := rt.Invoke(ictx, []byte(payload)); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, logs.String())
	}
	eb.mu.Lock()
	n := len(eb.entries)
	var detailType, detail string
	if n > 0 {
		detailType, _ = eb.entries[0]["DetailType"].(string)
		detail, _ = eb.entries[0]["Detail"].(string)
	}
	eb.mu.Unlock()
	if n != 1 || detailType != "Dataset Versioned" || !strings.Contains(detail, `"rows":4454`) {
		t.Fatalf("published %d entries, first %q %s", n, detailType, detail)
	}
	var latest ingest.Latest
	b, _, err := st.ReadAll(ctx, "platform", ingest.LatestKey("credit"))
	if err != nil || json.Unmarshal(b, &latest) != nil || latest.VersionID == "" {
		t.Fatalf("no version: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"ingested"`) {
		t.Errorf("expected a JSON log line for the ingest, got:\n%s", logs.String())
	}

	// A malformed event is a function error reported to the runtime, not a crash.
	_, err = rt.Invoke(ictx, []byte(`{"Records":"not a list"}`))
	var fe *runtimeapi.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "S3 notification") {
		t.Fatalf("malformed event: %v", err)
	}
	// And the process is still serving.
	if _, err := rt.Invoke(ictx, []byte(payload)); err != nil {
		t.Fatalf("redelivery after an error: %v", err)
	}
}

// Package lambdatest runs a function's real `bootstrap` binary in tests: it builds
// it as for Lambda (for this machine's architecture), serves it the Lambda Runtime
// API, and stands in for EventBridge, which cannot run here.
package lambdatest

import (
	"context"
	"encoding/json"
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

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/store"
)

// Build compiles the function in pkgDir with Lambda's build tags into a temporary
// directory and returns the binary's path.
func Build(t testing.TB, pkgDir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkgDir, err, out)
	}
	return bin
}

// Function is a running bootstrap process and the Runtime API it polls.
type Function struct {
	*runtimeapi.Server
	logs *SyncBuffer
}

// Start runs bin with env (plus AWS_LAMBDA_RUNTIME_API) until the test ends.
func Start(t testing.TB, bin, name string, env []string) *Function {
	t.Helper()
	rt, err := runtimeapi.Start("arn:aws:lambda:us-east-1:123456789012:function:"+name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"AWS_LAMBDA_RUNTIME_API=" + rt.Addr(), "AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}, env...)
	logs := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &Function{Server: rt, logs: logs}
}

// Logs is what the function has written so far.
func (f *Function) Logs() string { return f.logs.String() }

// EventBridge answers PutEvents like EventBridge (JSON 1.1 protocol) and keeps the
// entries. It is a fake: EventBridge cannot run here.
type EventBridge struct {
	*httptest.Server
	mu      sync.Mutex
	entries []Entry
}

// Entry is one PutEvents entry as received.
type Entry struct {
	Source, DetailType, Detail, EventBusName string
	Resources                                []string
}

// NewEventBridge starts the fake until the test ends.
func NewEventBridge(t testing.TB) *EventBridge {
	eb := &EventBridge{}
	eb.Server = httptest.NewServer(http.HandlerFunc(eb.serve))
	t.Cleanup(eb.Close)
	return eb
}

// Entries returns what was published so far.
func (eb *EventBridge) Entries() []Entry {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return append([]Entry(nil), eb.entries...)
}

func (eb *EventBridge) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	var req struct{ Entries []Entry }
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	eb.mu.Lock()
	eb.entries = append(eb.entries, req.Entries...)
	eb.mu.Unlock()
	out := make([]map[string]string, len(req.Entries))
	for i := range out {
		out[i] = map[string]string{"EventId": fmt.Sprint("event-", i)}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": 0, "Entries": out})
}

// SyncBuffer is an output a test can read (String) while a process or
// goroutine still writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Credentials of the endpoint S3 starts.
const (
	AccessKeyID     = "AKLAMBDATEST"
	SecretAccessKey = "lambdatest-secret"
)

// S3 starts an embedded S3 endpoint with the given buckets until the test ends,
// and returns it with a store client for it.
func S3(t testing.TB, buckets ...string) (*s3srv.Server, *store.Store) {
	t.Helper()
	srv, err := s3srv.New(s3srv.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", AccessKeyID: AccessKeyID,
		SecretAccessKey: SecretAccessKey, Buckets: buckets})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	return srv, store.New(store.NewClient(cfg, srv.URL(), true), store.Options{})
}

// Env is the environment the stack gives a function, pointed at srv and eb.
func Env(srv *s3srv.Server, eb *EventBridge, uploads, platform string) []string {
	return []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"UPLOADS_BUCKET=" + uploads, "PLATFORM_BUCKET=" + platform, "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + srv.URL(), "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + eb.URL}
}

// CreditPlatform is the stage the function tests share: an embedded S3 with an
// "uploads" and a "platform" bucket, the credit example's contract applied, and
// the EventBridge fake, with the environment pointing a function at them.
func CreditPlatform(t testing.TB) (st *store.Store, eb *EventBridge, env []string) {
	t.Helper()
	srv, st := S3(t, "uploads", "platform")
	eb = NewEventBridge(t)
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ingest.ApplyContract(context.Background(), st, "platform", c, time.Now()); err != nil {
		t.Fatal(err)
	}
	return st, eb, Env(srv, eb, "uploads", "platform")
}

// Bootstrap is where a function's bootstrap test starts: it skips the test
// with -short (it builds a binary), builds the function in pkgDir and stands
// up CreditPlatform.
func Bootstrap(t testing.TB, pkgDir string) (bin string, st *store.Store, eb *EventBridge, env []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin = Build(t, pkgDir)
	st, eb, env = CreditPlatform(t)
	return bin, st, eb, env
}

// UploadCredit puts the credit example's data into the uploads bucket as
// incoming/credit/<name>, as a person's upload would arrive.
func UploadCredit(t testing.TB, st *store.Store, name string) store.ObjectInfo {
	t.Helper()
	info, err := st.Put(context.Background(), "uploads", "incoming/credit/"+name, credit.CSV(), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/openmlops/mlops/shared/event"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newTestBus returns a bus with millisecond backoffs and a dead-letter
// directory, closed when the test ends.
func newTestBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	if cfg.DeadLetterDir == "" {
		cfg.DeadLetterDir = t.TempDir()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b := New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func waitIdle(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// recorder is a handler that keeps the payloads it receives.
type recorder struct {
	mu       sync.Mutex
	payloads []json.RawMessage
}

func (r *recorder) handle(_ context.Context, p json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.payloads = append(r.payloads, append(json.RawMessage(nil), p...))
	return nil
}

func (r *recorder) got() []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage(nil), r.payloads...)
}

func deadLetters(t *testing.T, dir, function string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, function, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRouting(t *testing.T) {
	b := newTestBus(t, Config{})
	var ingest, versioned, all recorder
	b.Register("ingest", ingest.handle)
	b.Register("train", versioned.handle)
	b.Register("audit", all.handle)
	if err := b.AddRule("uploads", s3Rule, "ingest"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddRule("dataset-versioned", `{"source":["mlops"],"detail-type":["Dataset Versioned"]}`, "train"); err != nil {
		t.Fatal(err)
	}
	// Two rules matching the same event for one function: invoked twice, as in EventBridge.
	if err := b.AddRule("audit-mlops", `{"source":["mlops"]}`, "audit"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddRule("audit-datasets", `{"detail-type":[{"prefix":"Dataset "}]}`, "audit"); err != nil {
		t.Fatal(err)
	}

	var s3env event.Envelope
	if err := json.Unmarshal([]byte(s3Event), &s3env); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.PutEvents(ctx, s3env); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx,
		event.Event{Source: event.Source, DetailType: event.DatasetVersioned, Detail: event.DatasetVersionedDetail{Dataset: "credit"}},
		event.Event{Source: "other", DetailType: "Nobody Listens", Detail: map[string]int{}},
	); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)

	if got := ingest.got(); len(got) != 1 || !jsonEqual(t, got[0], []byte(s3Event)) {
		t.Errorf("ingest got %d payloads, want the S3 envelope once: %s", len(got), got)
	}
	got := versioned.got()
	if len(got) != 1 {
		t.Fatalf("train got %d payloads, want 1", len(got))
	}
	var env event.Envelope
	if err := json.Unmarshal(got[0], &env); err != nil {
		t.Fatal(err)
	}
	var d event.DatasetVersionedDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil || d.Dataset != "credit" {
		t.Errorf("train got detail %s (%v), want dataset credit", env.Detail, err)
	}
	if n := len(all.got()); n != 2 {
		t.Errorf("audit invoked %d times, want 2 (two matching rules)", n)
	}
}

func TestAddRuleErrors(t *testing.T) {
	b := newTestBus(t, Config{})
	b.Register("f", func(context.Context, json.RawMessage) error { return nil })
	b.Register("g", func(context.Context, json.RawMessage) error { return nil })
	if err := b.AddRule("r", `{"source":"aws.s3"}`, "f"); err == nil || !strings.Contains(err.Error(), "source: match value must be an array") {
		t.Errorf("invalid pattern: err = %v", err)
	}
	if err := b.AddRule("r", `{"source":["x"]}`, "nope"); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("unknown function: err = %v", err)
	}
	if err := b.AddRule("r", `{"source":["x"]}`, "f"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddRule("r", `{"source":["y"]}`, "g"); err == nil {
		t.Error("same rule name, other pattern: nil error")
	}
	if err := b.AddRule("r", `{"source":["x"]}`, "f"); err == nil {
		t.Error("same target twice: nil error")
	}
	if err := b.AddRule("r", `{"source":["x"]}`, "g"); err != nil {
		t.Errorf("second target: %v", err)
	}
}

func TestRetriesThenDeadLetter(t *testing.T) {
	dir := t.TempDir()
	b := newTestBus(t, Config{DeadLetterDir: dir, Account: "123456789012", Region: "eu-west-1"})
	var attempts atomic.Int32
	var mu sync.Mutex
	ids := map[string]bool{}
	b.Register("fail", func(ctx context.Context, _ json.RawMessage) error {
		attempts.Add(1)
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok {
			t.Error("no lambdacontext in the handler's context")
			return errors.New("no lambda context")
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("handler context has no deadline")
		}
		mu.Lock()
		ids[lc.AwsRequestID] = true
		mu.Unlock()
		return errors.New("boom")
	})
	payload := []byte(`{"hello":["world",1]}`)
	if err := b.InvokeAsync(context.Background(), "fail", payload); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)

	if n := attempts.Load(); n != 3 {
		t.Errorf("attempts = %d, want 3 (1 + 2 retries)", n)
	}
	if len(ids) != 1 {
		t.Errorf("request ids across retries = %v, want one, as Lambda keeps it", ids)
	}
	files := deadLetters(t, dir, "fail")
	if len(files) != 1 {
		t.Fatalf("dead letters = %v, want 1", files)
	}
	var id string
	for k := range ids {
		id = k
	}
	if !regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z-` + id + `\.json$`).MatchString(filepath.Base(files[0])) {
		t.Errorf("dead-letter file name %s, want <timestamp>-%s.json", filepath.Base(files[0]), id)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	ts, _ := rec["timestamp"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	delete(rec, "timestamp")
	// Lambda's documented on-failure invocation record.
	want := map[string]any{
		"version": "1.0",
		"requestContext": map[string]any{
			"requestId":              id,
			"functionArn":            "arn:aws:lambda:eu-west-1:123456789012:function:fail:$LATEST",
			"condition":              "RetriesExhausted",
			"approximateInvokeCount": 3.0,
		},
		"requestPayload": map[string]any{"hello": []any{"world", 1.0}},
		"responseContext": map[string]any{
			"statusCode": 200.0, "executedVersion": "$LATEST", "functionError": "Unhandled",
		},
		"responsePayload": map[string]any{"errorMessage": "boom", "errorType": "errorString"},
	}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record =\n%s\nwant the fields of\n%v", data, want)
	}
}

func TestFailOnceThenSucceed(t *testing.T) {
	dir := t.TempDir()
	b := newTestBus(t, Config{DeadLetterDir: dir})
	var attempts atomic.Int32
	b.Register("flaky", func(context.Context, json.RawMessage) error {
		if attempts.Add(1) == 1 {
			return errors.New("transient")
		}
		return nil
	})
	if err := b.InvokeAsync(context.Background(), "flaky", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)
	if n := attempts.Load(); n != 2 {
		t.Errorf("attempts = %d, want 2", n)
	}
	if files := deadLetters(t, dir, "flaky"); len(files) != 0 {
		t.Errorf("dead letters = %v, want none", files)
	}
}

func TestPanicRecoveredAndRetried(t *testing.T) {
	dir := t.TempDir()
	b := newTestBus(t, Config{DeadLetterDir: dir})
	var once, always atomic.Int32
	b.Register("panics-once", func(context.Context, json.RawMessage) error {
		if once.Add(1) == 1 {
			panic("kaboom")
		}
		return nil
	})
	b.Register("panics", func(context.Context, json.RawMessage) error {
		always.Add(1)
		panic(fmt.Errorf("wrapped: %w", os.ErrNotExist))
	})
	ctx := context.Background()
	if err := b.InvokeAsync(ctx, "panics-once", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := b.InvokeAsync(ctx, "panics", []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)
	if n := once.Load(); n != 2 {
		t.Errorf("panics-once attempts = %d, want 2", n)
	}
	if files := deadLetters(t, dir, "panics-once"); len(files) != 0 {
		t.Errorf("panics-once dead letters = %v, want none", files)
	}
	if n := always.Load(); n != 3 {
		t.Errorf("panics attempts = %d, want 3", n)
	}
	rec := readRecord(t, dir, "panics")
	if rec.ResponsePayload == nil || rec.ResponsePayload.ErrorType != "wrapError" ||
		rec.ResponsePayload.ErrorMessage != "wrapped: file does not exist" {
		t.Errorf("panic record response = %+v", rec.ResponsePayload)
	}
}

func readRecord(t *testing.T, dir, function string) OnFailureRecord {
	t.Helper()
	files := deadLetters(t, dir, function)
	if len(files) != 1 {
		t.Fatalf("%s dead letters = %v, want 1", function, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec OnFailureRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestTimeout(t *testing.T) {
	dir := t.TempDir()
	b := newTestBus(t, Config{DeadLetterDir: dir, Retries: -1})
	b.RegisterWith("slow", func(ctx context.Context, _ json.RawMessage) error {
		<-ctx.Done()
		return ctx.Err()
	}, FunctionConfig{Timeout: 20 * time.Millisecond})
	if err := b.InvokeAsync(context.Background(), "slow", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)
	rec := readRecord(t, dir, "slow")
	if rec.RequestContext.ApproximateInvokeCount != 1 || rec.RequestContext.Condition != "RetriesExhausted" {
		t.Errorf("request context = %+v, want 1 attempt (no retries)", rec.RequestContext)
	}
	if rec.ResponsePayload == nil || rec.ResponsePayload.ErrorType != "Sandbox.Timedout" ||
		!strings.Contains(rec.ResponsePayload.ErrorMessage, "Task timed out after 0.02 seconds") {
		t.Errorf("response = %+v", rec.ResponsePayload)
	}
}

func TestEventAgeExceeded(t *testing.T) {
	dir := t.TempDir()
	b := newTestBus(t, Config{
		DeadLetterDir: dir, MaxEventAge: 30 * time.Millisecond,
		Backoff: func(int) time.Duration { return 100 * time.Millisecond },
	})
	b.Register("old", func(context.Context, json.RawMessage) error { return errors.New("nope") })
	if err := b.InvokeAsync(context.Background(), "old", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)
	rec := readRecord(t, dir, "old")
	if rec.RequestContext.Condition != "EventAgeExceeded" || rec.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("request context = %+v, want EventAgeExceeded after 1 attempt", rec.RequestContext)
	}
}

func TestWaitIdleFollowsChains(t *testing.T) {
	b := newTestBus(t, Config{})
	var second atomic.Int32
	release := make(chan struct{})
	b.Register("second", func(context.Context, json.RawMessage) error {
		time.Sleep(20 * time.Millisecond)
		second.Add(1)
		return nil
	})
	b.Register("first", func(ctx context.Context, _ json.RawMessage) error {
		<-release
		// A handler publishing more work, as use cases do.
		return b.InvokeAsync(ctx, "second", []byte(`{}`))
	})
	if err := b.InvokeAsync(context.Background(), "first", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.WaitIdle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle with a blocked handler = %v, want deadline exceeded", err)
	}
	close(release)
	waitIdle(t, b)
	if n := second.Load(); n != 1 {
		t.Errorf("second ran %d times by the time WaitIdle returned, want 1", n)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	b := newTestBus(t, Config{Concurrency: 3})
	limits := map[string]int{"pool": 3, "single": 1}
	peaks := map[string]*atomic.Int32{}
	for name := range limits {
		var cur, peak atomic.Int32
		peaks[name] = &peak
		h := func(context.Context, json.RawMessage) error {
			n := cur.Add(1)
			defer cur.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
			return nil
		}
		if name == "single" {
			b.RegisterWith(name, h, FunctionConfig{Concurrency: 1})
		} else {
			b.Register(name, h)
		}
	}
	for i := 0; i < 12; i++ {
		for name := range limits {
			if err := b.InvokeAsync(context.Background(), name, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitIdle(t, b)
	for name, limit := range limits {
		if p := int(peaks[name].Load()); p != limit {
			t.Errorf("%s: peak concurrency %d, want %d", name, p, limit)
		}
	}
}

func TestConcurrentPutEvents(t *testing.T) {
	b := newTestBus(t, Config{Concurrency: 8})
	var count atomic.Int32
	seen := sync.Map{}
	b.Register("count", func(_ context.Context, p json.RawMessage) error {
		var env event.Envelope
		if err := json.Unmarshal(p, &env); err != nil {
			return err
		}
		if _, dup := seen.LoadOrStore(env.ID, true); dup {
			t.Errorf("event %s delivered twice", env.ID)
		}
		count.Add(1)
		return nil
	})
	if err := b.AddRule("all", `{"source":["test"]}`, "count"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := event.Envelope{Version: "0", ID: fmt.Sprintf("e-%d", i), Source: "test", DetailType: "T",
				Time: time.Now().UTC(), Resources: []string{}, Detail: json.RawMessage(`{"i":1}`)}
			if err := b.PutEvents(context.Background(), env); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitIdle(t, b)
	if n := count.Load(); n != 100 {
		t.Errorf("delivered %d events, want 100", n)
	}
}

func TestPublishEnvelope(t *testing.T) {
	b := newTestBus(t, Config{Account: "123456789012", Region: "eu-west-1"})
	var r recorder
	b.Register("f", r.handle)
	if err := b.AddRule("r", `{"source":["mlops"]}`, "f"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(time.Second)
	err := b.Publish(context.Background(), event.Event{
		Source: event.Source, DetailType: event.DatasetRejected,
		Detail: event.DatasetRejectedDetail{Dataset: "credit", Reasons: []string{"not_null"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b)
	got := r.got()
	if len(got) != 1 {
		t.Fatalf("got %d payloads, want 1", len(got))
	}
	var raw map[string]any
	if err := json.Unmarshal(got[0], &raw); err != nil {
		t.Fatal(err)
	}
	if raw["version"] != "0" || raw["account"] != "123456789012" || raw["region"] != "eu-west-1" ||
		raw["source"] != "mlops" || raw["detail-type"] != "Dataset Rejected" {
		t.Errorf("envelope = %s", got[0])
	}
	if id, _ := raw["id"].(string); !uuidRE.MatchString(id) {
		t.Errorf("id %q is not a v4 UUID", id)
	}
	if res, ok := raw["resources"].([]any); !ok || len(res) != 0 {
		t.Errorf("resources = %v, want []", raw["resources"])
	}
	ts, _ := raw["time"].(string)
	tm, err := time.Parse(time.RFC3339, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || tm.Before(before) || tm.Nanosecond() != 0 {
		t.Errorf("time %q: want UTC, to the second, now", ts)
	}
}

func TestPublishRejects(t *testing.T) {
	b := newTestBus(t, Config{})
	ctx := context.Background()
	big := map[string]string{"blob": strings.Repeat("x", 256*1024)}
	if err := b.Publish(ctx, event.Event{Source: "mlops", DetailType: "Big", Detail: big}); err == nil ||
		!strings.Contains(err.Error(), "over PutEvents' limit") {
		t.Errorf("oversize event: err = %v", err)
	}
	if err := b.Publish(ctx, event.Event{Source: "mlops", DetailType: "List", Detail: []int{1}}); err == nil {
		t.Error("non-object detail: nil error")
	}
	if err := b.InvokeAsync(ctx, "nope", []byte(`{}`)); err == nil {
		t.Error("unknown function: nil error")
	}
	b.Register("f", func(context.Context, json.RawMessage) error { return nil })
	if err := b.InvokeAsync(ctx, "f", []byte(`{not json`)); err == nil {
		t.Error("invalid payload: nil error")
	}
}

func TestRegisterPanics(t *testing.T) {
	b := newTestBus(t, Config{})
	h := func(context.Context, json.RawMessage) error { return nil }
	b.Register("f", h)
	for name, fn := range map[string]func(){
		"duplicate": func() { b.Register("f", h) },
		"bad name":  func() { b.Register("../x", h) },
		"nil":       func() { b.Register("g", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestClose(t *testing.T) {
	b := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DeadLetterDir: t.TempDir()})
	started := make(chan struct{})
	b.Register("stuck", func(ctx context.Context, _ json.RawMessage) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	if err := b.InvokeAsync(context.Background(), "stuck", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := b.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 invocations abandoned") {
		t.Errorf("Close with a stuck handler = %v, want 1 abandoned", err)
	}
	if err := b.Publish(context.Background(), event.Event{Source: "s", DetailType: "d", Detail: struct{}{}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.InvokeAsync(context.Background(), "stuck", []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("InvokeAsync after Close = %v, want ErrClosed", err)
	}
}

func TestCloseDrains(t *testing.T) {
	b := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff: func(int) time.Duration { return time.Millisecond }})
	var attempts atomic.Int32
	b.Register("flaky", func(context.Context, json.RawMessage) error {
		if attempts.Add(1) < 3 {
			return errors.New("again")
		}
		return nil
	})
	if err := b.InvokeAsync(context.Background(), "flaky", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("Close returned after %d attempts, want the retries drained (3)", n)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

package eventbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/event"
)

// fakeEventBridge is a FAKE EventBridge: EventBridge cannot run here, so this
// httptest server speaks just enough of its JSON 1.1 protocol (POST /,
// X-Amz-Target: AWSEvents.PutEvents) for the real SDK client to talk to it. It
// records every call and rejects the entries its reject function names.
type fakeEventBridge struct {
	t      *testing.T
	reject func(call int, e fakeEntry) (code string)

	mu    sync.Mutex
	calls [][]fakeEntry
}

type fakeEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Resources    []string `json:"Resources"`
}

type fakeResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (f *fakeEventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := awstest.ReadSigned(f.t, w, r,
		map[string]string{"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"}, true)
	if !ok {
		return
	}
	var in struct{ Entries []fakeEntry }
	if err := json.Unmarshal(body, &in); err != nil {
		f.t.Errorf("decode PutEvents body %s: %v", body, err)
		return
	}
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, in.Entries)
	f.mu.Unlock()

	out := struct {
		FailedEntryCount int
		Entries          []fakeResult
	}{}
	for i, e := range in.Entries {
		code := ""
		if f.reject != nil {
			code = f.reject(call, e)
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, fakeResult{ErrorCode: code, ErrorMessage: "fake " + code})
			continue
		}
		out.Entries = append(out.Entries, fakeResult{EventID: fmt.Sprintf("id-%d-%d", call, i)})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		f.t.Errorf("encode response: %v", err)
	}
}

func (f *fakeEventBridge) recorded() [][]fakeEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]fakeEntry(nil), f.calls...)
}

// newFake starts the fake and returns a Publisher using the real SDK client against it.
func newFake(t *testing.T, reject func(int, fakeEntry) string, opts ...Option) (*Publisher, *fakeEventBridge) {
	t.Helper()
	fake := &fakeEventBridge{t: t, reject: reject}
	client := eventbridge.NewFromConfig(awstest.Config(t, fake, nil))
	opts = append([]Option{WithBackoff(func(int) time.Duration { return time.Millisecond })}, opts...)
	return New(client, "mlops-bus", opts...), fake
}

func events(n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{
			Source: event.Source, DetailType: event.DatasetVersioned,
			Resources: []string{fmt.Sprintf("arn:aws:s3:::platform/datasets/d/versions/%d", i)},
			Detail:    event.DatasetVersionedDetail{SchemaVersion: event.SchemaVersion, Dataset: "d", VersionID: fmt.Sprint(i)},
		}
	}
	return evs
}

func versionOf(t *testing.T, e fakeEntry) string {
	t.Helper()
	var d event.DatasetVersionedDetail
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatalf("detail %q: %v", e.Detail, err)
	}
	return d.VersionID
}

func TestPublishBatchesOf10(t *testing.T) {
	p, fake := newFake(t, nil)
	if err := p.Publish(context.Background(), events(25)...); err != nil {
		t.Fatal(err)
	}
	calls := fake.recorded()
	if len(calls) != 3 || len(calls[0]) != 10 || len(calls[1]) != 10 || len(calls[2]) != 5 {
		t.Fatalf("calls = %d with sizes %v, want 3 of 10, 10, 5", len(calls), sizes(calls))
	}
	n := 0
	for _, c := range calls {
		for _, e := range c {
			if e.EventBusName != "mlops-bus" || e.Source != "mlops" || e.DetailType != "Dataset Versioned" {
				t.Errorf("entry %d = %+v", n, e)
			}
			if v := versionOf(t, e); v != fmt.Sprint(n) {
				t.Errorf("entry %d carries version %s: order lost", n, v)
			}
			if len(e.Resources) != 1 || !strings.HasSuffix(e.Resources[0], fmt.Sprintf("/versions/%d", n)) {
				t.Errorf("entry %d resources = %v", n, e.Resources)
			}
			n++
		}
	}
}

func sizes(calls [][]fakeEntry) []int {
	s := make([]int, len(calls))
	for i, c := range calls {
		s[i] = len(c)
	}
	return s
}

func TestPublishRetriesOnlyFailedEntries(t *testing.T) {
	// The first call throttles versions 1 and 3 and fails 4 internally; later calls accept all.
	p, fake := newFake(t, func(call int, e fakeEntry) string {
		if call > 0 {
			return ""
		}
		switch versionOf(t, e) {
		case "1", "3":
			return "ThrottlingException"
		case "4":
			return "InternalFailure"
		}
		return ""
	})
	if err := p.Publish(context.Background(), events(5)...); err != nil {
		t.Fatalf("Publish = %v, want success after the retry", err)
	}
	calls := fake.recorded()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2", len(calls))
	}
	var resent []string
	for _, e := range calls[1] {
		resent = append(resent, versionOf(t, e))
	}
	if strings.Join(resent, ",") != "1,3,4" {
		t.Errorf("second call re-sent versions %v, want exactly the failed 1, 3, 4", resent)
	}
}

func TestPublishPersistentFailure(t *testing.T) {
	p, fake := newFake(t, func(_ int, e fakeEntry) string {
		if versionOf(t, e) == "2" {
			return "InternalFailure"
		}
		return ""
	}, WithMaxAttempts(3))
	err := p.Publish(context.Background(), events(4)...)
	if err == nil {
		t.Fatal("Publish = nil, want an error naming the failed entry")
	}
	for _, want := range []string{"1 of 4", "#2 mlops/Dataset Versioned", "InternalFailure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := len(fake.recorded()); n != 3 {
		t.Errorf("calls = %d, want 3 (the attempt limit)", n)
	}
}

func TestPublishNonRetryableNotRetried(t *testing.T) {
	p, fake := newFake(t, func(_ int, e fakeEntry) string {
		if versionOf(t, e) == "0" {
			return "NotAuthorizedForSourceException"
		}
		return ""
	})
	err := p.Publish(context.Background(), events(2)...)
	if err == nil || !strings.Contains(err.Error(), "NotAuthorizedForSourceException") {
		t.Fatalf("Publish = %v, want NotAuthorizedForSourceException", err)
	}
	if n := len(fake.recorded()); n != 1 {
		t.Errorf("calls = %d, want 1: a permission error is not retried", n)
	}
}

func TestPublishOversizeRejectedBeforeSending(t *testing.T) {
	p, fake := newFake(t, nil)
	evs := events(3)
	evs[1].Detail = map[string]string{"payload": strings.Repeat("x", MaxEntrySize)}
	err := p.Publish(context.Background(), evs...)
	if err == nil || !strings.Contains(err.Error(), "event 1") || !strings.Contains(err.Error(), "over PutEvents' limit of 262144") {
		t.Fatalf("Publish = %v, want an oversize error for event 1", err)
	}
	if n := len(fake.recorded()); n != 0 {
		t.Errorf("calls = %d, want none", n)
	}
}

func TestPublishInvalidEvents(t *testing.T) {
	p, fake := newFake(t, nil)
	for name, ev := range map[string]event.Event{
		"no source":     {DetailType: "x", Detail: struct{}{}},
		"array detail":  {Source: "s", DetailType: "x", Detail: []int{1}},
		"string detail": {Source: "s", DetailType: "x", Detail: "hello"},
		"unmarshalable": {Source: "s", DetailType: "x", Detail: map[string]any{"f": func() {}}},
	} {
		if err := p.Publish(context.Background(), ev); err == nil {
			t.Errorf("%s: nil error", name)
		}
	}
	if n := len(fake.recorded()); n != 0 {
		t.Errorf("calls = %d, want none", n)
	}
}

func TestEntrySize(t *testing.T) {
	// EventBridge's documented calculation: UTF-8 bytes of each field, 14 for a time.
	if got := EntrySize("mlops", "Ü", []byte(`{}`), []string{"ab", "c"}, true); got != 5+2+2+3+14 {
		t.Errorf("EntrySize = %d, want 26", got)
	}
}

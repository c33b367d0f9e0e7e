package training_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// versioned delivers the harness's dataset version event.
func (h *harness) versioned(t *testing.T) {
	t.Helper()
	if err := h.svc.OnDatasetVersioned(context.Background(), h.detail); err != nil {
		t.Fatal(err)
	}
}

// finish ends the job of the newest run with status.
func (h *harness) finish(t *testing.T, status string) *training.Run {
	t.Helper()
	r := h.runs(t)[0]
	exit := 0
	if status == training.StatusFailed {
		exit = 1
	}
	if err := h.svc.OnJobState(context.Background(), h.batch.set(r.Job.ID, status, &exit)); err != nil {
		t.Fatal(err)
	}
	return h.runs(t)[0]
}

// deliver hands a request to n deliveries at once; each must succeed.
func (h *harness) deliver(t *testing.T, n int, reqs ...event.RetrainRequestedDetail) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		for _, req := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.svc.OnRetrain(context.Background(), req); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
}

// requestsOf lists the request ID of every run, newest first.
func requestsOf(runs []*training.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.Cause.RequestID)
	}
	return ids
}

// A request redelivered after later requests started runs of their own (r2, r3,
// then r2 again) resumes its own run: it never claims another attempt.
func TestLateDuplicateRequestStartsNoSecondRun(t *testing.T) {
	h := newHarness(t, nil)
	h.versioned(t)
	h.finish(t, training.StatusSucceeded)
	r2 := event.RetrainRequestedDetail{RequestID: "r2", Model: "credit", Reason: "drift"}
	r3 := event.RetrainRequestedDetail{RequestID: "r3", Model: "credit", Reason: "drift again"}
	h.deliver(t, 1, r2)
	h.finish(t, training.StatusSucceeded)
	h.deliver(t, 1, r3)
	h.finish(t, training.StatusFailed)
	h.deliver(t, 1, r2)
	h.deliver(t, 20, r2, r3)
	runs := h.runs(t)
	if got := strings.Join(requestsOf(runs), ","); got != "r3,r2," || h.batch.submits.Load() != 3 {
		t.Fatalf("runs by request %q with %d jobs; want r3,r2 and the version's run, 3 jobs", got, h.batch.submits.Load())
	}
	if runs[0].Attempt != 3 || runs[1].Attempt != 2 {
		t.Fatalf("attempts %d, %d", runs[0].Attempt, runs[1].Attempt)
	}
}

// The same for retries: retry A of attempt 1 starts attempt 2, retry B of
// attempt 2 starts attempt 3, and A redelivered (20 at once) starts nothing.
func TestLateDuplicateRetryStartsNoSecondRun(t *testing.T) {
	h := newHarness(t, nil)
	h.versioned(t)
	first := h.finish(t, training.StatusFailed)
	a := event.RetrainRequestedDetail{RequestID: "retry-" + first.RunID, Model: "credit", RetryOf: first.RunID}
	h.deliver(t, 1, a)
	second := h.finish(t, training.StatusFailed)
	b := event.RetrainRequestedDetail{RequestID: "retry-" + second.RunID, Model: "credit", RetryOf: second.RunID}
	h.deliver(t, 1, b)
	h.finish(t, training.StatusFailed)
	h.deliver(t, 20, a)
	h.deliver(t, 5, a, b)
	runs := h.runs(t)
	if len(runs) != 3 || h.batch.submits.Load() != 3 || runs[0].Cause.RetryOf != second.RunID || runs[1].Cause.RetryOf != first.RunID {
		t.Fatalf("runs by request %q with %d jobs; want 3 runs, 3 jobs", requestsOf(runs), h.batch.submits.Load())
	}
}

// A damaged run record (succeeded, with no bundle) first in the pending index:
// the sweep reports it, does not panic, and still publishes the healthy runs
// after it.
func TestSweepSkipsDamagedRunAndFinishesTheRest(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, d := range []event.DatasetVersionedDetail{h.detail, h.version(t, "v2", 5000)} {
		if err := h.svc.OnDatasetVersioned(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	runs := h.runs(t)
	if len(runs) != 2 {
		t.Fatalf("runs %d, want 2", len(runs))
	}
	for _, r := range runs {
		h.batch.set(r.Job.ID, training.StatusSucceeded, new(int)) // their events are lost
	}
	good := runs[0]
	bad := *good
	bad.RunID, bad.Model, bad.Job.Name = "aaa-"+good.Base+"-1", "aaa", "aaa-"+good.Base+"-1"
	bad.State, bad.Bundle = training.StateSucceeded, nil
	body, _ := json.Marshal(bad)
	for key, b := range map[string][]byte{training.RunKey(bad.RunID): body, training.PendingKey(bad.RunID): []byte(bad.RunID)} {
		if _, err := h.st.Put(ctx, bucket, key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Add(2 * time.Hour)
	var (
		n   int
		err error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("the sweep panicked: %v", r)
			}
		}()
		n, err = h.svc.Sweep(ctx, time.Hour)
	}()
	if n != 2 || err == nil || !strings.Contains(err.Error(), bad.RunID) || !strings.Contains(err.Error(), "bundle") {
		t.Fatalf("sweep: %d fixed, error %v; want 2 and an error naming %s and its missing bundle", n, err, bad.RunID)
	}
	if got := h.pub.count(event.TrainingSucceeded); got != 2 {
		t.Fatalf("training.succeeded published %d times, want 2 (the healthy runs)", got)
	}
	for _, r := range h.runs(t) {
		if r.State != training.StateSucceeded {
			t.Errorf("run %s is %s", r.RunID, r.State)
		}
	}
	if _, err := h.st.Head(ctx, bucket, training.PendingKey(bad.RunID)); err != nil {
		t.Errorf("the damaged run left the pending index (%v): the next sweep must report it again", err)
	}
}

// A crash between recording a request and claiming its run: the redelivery
// claims the attempt the record names.
func TestRequestRecordedButNeverClaimedIsClaimedOnRedelivery(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.versioned(t)
	first := h.finish(t, training.StatusSucceeded)
	r2 := event.RetrainRequestedDetail{RequestID: "r2", Model: "credit"}
	h.st.claimsFail.Store(true)
	if err := h.svc.OnRetrain(ctx, r2); err == nil {
		t.Fatal("the crashed delivery reported success")
	}
	h.st.claimsFail.Store(false)
	b, _, err := h.st.ReadAll(ctx, bucket, training.RequestRecordKey("credit", "r2"))
	want := training.RunID("credit", first.Base, 2)
	if err != nil || !strings.Contains(string(b), want) {
		t.Fatalf("request record %s, %v; want it to name %s", b, err, want)
	}
	h.deliver(t, 10, r2)
	runs := h.runs(t)
	if len(runs) != 2 || runs[0].RunID != want || runs[0].Cause.RequestID != "r2" || h.batch.submits.Load() != 2 {
		t.Fatalf("runs %q, jobs %d; want %s for r2", requestsOf(runs), h.batch.submits.Load(), want)
	}
}

// Fields of a request that become keys are checked first, and the error names
// the field.
func TestRetrainRequestFieldsAreChecked(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.versioned(t)
	run := h.finish(t, training.StatusFailed)
	for _, c := range []struct {
		req  event.RetrainRequestedDetail
		want string
	}{
		{event.RetrainRequestedDetail{RequestID: "x", RetryOf: "../../datasets/credit-" + run.Base + "-1"}, "retryOf"},
		{event.RetrainRequestedDetail{RequestID: "x", RetryOf: "credit"}, "retryOf"},
		{event.RetrainRequestedDetail{RequestID: "x", Model: "other", RetryOf: run.RunID}, "retryOf"},
		{event.RetrainRequestedDetail{RequestID: "x", Model: "credit", DatasetVersion: "../v1"}, "datasetVersion"},
		{event.RetrainRequestedDetail{RequestID: "x", Model: "credit", DatasetVersion: "v1"}, "datasetVersion"},
		{event.RetrainRequestedDetail{RequestID: "x", RetryOf: run.RunID, DatasetVersion: h.detail.VersionID}, "datasetVersion"},
		{event.RetrainRequestedDetail{RequestID: "a/b", Model: "credit"}, "requestId"},
		{event.RetrainRequestedDetail{RequestID: "", Model: "credit"}, "requestId"},
		{event.RetrainRequestedDetail{RequestID: "x", Model: "Credit/x"}, "model"},
		{event.RetrainRequestedDetail{RequestID: "x"}, "model or retryOf"},
	} {
		err := h.svc.OnRetrain(ctx, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OnRetrain(%+v): %v; want an error naming %s", c.req, err, c.want)
		}
	}
	if n := len(h.runs(t)); n != 1 {
		t.Fatalf("runs %d, want 1", n)
	}
	// A pinned version of ingest's shape is accepted.
	if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "ok", Model: "credit", DatasetVersion: h.detail.VersionID}); err != nil {
		t.Fatal(err)
	}
}

// Request records live under runs/ too; listing every run reads only run
// records, whatever a request is named.
func TestListRunsReadsOnlyRunRecords(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "run", Model: "credit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.Head(ctx, bucket, training.RequestRecordKey("credit", "run")); err != nil {
		t.Fatal(err)
	}
	runs, err := training.ListRuns(ctx, h.st, bucket, "")
	if err != nil || len(runs) != 1 || runs[0].Cause.RequestID != "run" {
		t.Fatalf("ListRuns: %d runs, %v; want the request's run", len(runs), err)
	}
}

// One damaged run record hides no other run: ListRuns returns every readable
// run and names the damaged record (so `mlops runs list` still lists).
func TestListRunsSkipsAndNamesDamagedRecords(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "r1", Model: "credit"}); err != nil {
		t.Fatal(err)
	}
	bad := "credit-ffffffffffffffff-1"
	if _, err := h.st.Put(ctx, bucket, training.RunKey(bad), []byte(`{"runId":"`+bad+`","state":"succeeded"}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	runs, err := training.ListRuns(ctx, h.st, bucket, "credit")
	var damaged *training.DamagedRunsError
	if !errors.As(err, &damaged) || len(damaged.Errs) != 1 || !errors.Is(err, training.ErrDamagedRun) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v", err)
	}
	if len(runs) != 1 || runs[0].Cause.RequestID != "r1" {
		t.Fatalf("runs %+v", runs)
	}
}

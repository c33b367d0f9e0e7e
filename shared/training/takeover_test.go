package training_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// ids returns the IDs of the fake's jobs, sorted.
func (b *fakeBatch) ids() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := slices.Collect(maps.Keys(b.jobs))
	slices.Sort(ids)
	return ids
}

// A claimant that stalls past its lease between looking its job up and
// submitting it: the taker submits and records job-1, the claimant's job-2 runs
// too. job-2 writes the whole bundle first, so job-1 fails on the create-once
// files: the run succeeded (its bundle is complete and verifies), whatever the
// order of the two jobs' events.
func TestTakeoverDuplicateJobWinsBundleRunSucceeds(t *testing.T) {
	for _, order := range []string{"duplicate's success first", "recorded job's failure first"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			h.batch.submitFn = func(string) {
				h.clock.Add(6 * time.Minute)
				if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
					t.Errorf("the taker: %v", err)
				}
			}
			if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
				t.Fatal(err)
			}
			r := h.onlyRun(t)
			if ids := h.batch.ids(); len(ids) != 2 || r.Job.ID != "job-1" {
				t.Fatalf("jobs %v, run's job %q: want job-1 recorded and a duplicate job-2", ids, r.Job.ID)
			}
			// job-2 wrote the bundle, manifest last.
			if _, err := h.st.Put(ctx, bucket, training.BundlePrefix(r.RunID)+bundle.ManifestFile, []byte("{}"), store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			exit := 1
			events := []training.JobStatus{h.batch.set("job-2", training.StatusSucceeded, new(int)), h.batch.set("job-1", training.StatusFailed, &exit)}
			if order != "duplicate's success first" {
				events[0], events[1] = events[1], events[0]
			}
			for _, ev := range events {
				if err := h.svc.OnJobState(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			r = h.onlyRun(t)
			if r.State != training.StateSucceeded || r.Bundle == nil || r.Bundle.Prefix != training.BundlePrefix(r.RunID) {
				t.Fatalf("run %s: %s (%s), want succeeded with its bundle", r.RunID, r.State, r.Reason)
			}
			if h.pub.count(event.TrainingFailed) != 0 || h.pub.count(event.TrainingSucceeded) != 1 {
				t.Fatalf("events %+v", h.pub.events)
			}
			if last := r.History[len(r.History)-1]; !strings.Contains(last.Note, "job-1 failed") {
				t.Errorf("history ends with %+v, want a note that job-1 failed", last)
			}
		})
	}
}

// A claimant dies after SubmitJob (job-1, never recorded); the taker does not
// find job-1 (ListJobs lags) and submits job-2. job-1's failure, arriving
// before job-2 is recorded, must not fail the run that job-2 is training.
func TestTakeoverDeadClaimantsJobFailureIsNotTheRuns(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.crashAfterSubmit(t)
	h.clock.Add(6 * time.Minute)
	h.batch.hideOnce.Store(true)
	exit := 137
	h.batch.afterFn = func(string) error {
		h.batch.afterFn = nil
		return h.svc.OnJobState(ctx, h.batch.set("job-1", training.StatusFailed, &exit))
	}
	h.versioned(t)
	r := h.onlyRun(t)
	if r.State != training.StateSubmitted || r.Job.ID != "job-2" || h.pub.count(event.TrainingFailed) != 0 {
		t.Fatalf("run %s: %s with %q (%s); want submitted with job-2", r.RunID, r.State, r.Job.ID, r.Reason)
	}
	// job-2 then fails on its own: that is the run's failure.
	if err := h.svc.OnJobState(ctx, h.batch.set("job-2", training.StatusFailed, &exit)); err != nil {
		t.Fatal(err)
	}
	if r := h.onlyRun(t); r.State != training.StateFailed || h.pub.count(event.TrainingFailed) != 1 {
		t.Fatalf("run %s: %s, want failed", r.RunID, r.State)
	}
}

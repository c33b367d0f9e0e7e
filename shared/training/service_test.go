package training_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

const bucket = "platform"

// fakeBatch stands in for AWS Batch, which cannot run here; the AWS adapter's
// requests are tested against a server speaking the Batch API in shared/aws/batch.
type fakeBatch struct {
	mu       sync.Mutex
	jobs     map[string]training.JobStatus // by ID
	submits  atomic.Int32
	beforeFn func(name string) error // called by FindByName: a crash before submitting
	afterFn  func(name string) error // called after a job was created: a crash before its ID is returned
	submitFn func(name string)       // called by Submit before the job exists: a claimant that stalls
	hideOnce atomic.Bool             // the next FindByName finds nothing: ListJobs lagging behind SubmitJob
}

func newFakeBatch() *fakeBatch { return &fakeBatch{jobs: map[string]training.JobStatus{}} }

func (b *fakeBatch) Submit(_ context.Context, job training.Job) (string, error) {
	if job.Name == "" || job.Parameters[training.ParamOutput] == "" {
		return "", errors.New("fake batch: job without name or output")
	}
	if fn := b.submitFn; fn != nil {
		b.submitFn = nil
		fn(job.Name)
	}
	n := b.submits.Add(1)
	id := fmt.Sprintf("job-%d", n)
	b.mu.Lock()
	b.jobs[id] = training.JobStatus{ID: id, Name: job.Name, Status: training.StatusSubmitted, CreatedAt: time.Now()}
	b.mu.Unlock()
	if b.afterFn != nil {
		if err := b.afterFn(job.Name); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (b *fakeBatch) FindByName(_ context.Context, name string) (training.JobStatus, bool, error) {
	if b.beforeFn != nil {
		if err := b.beforeFn(name); err != nil {
			return training.JobStatus{}, false, err
		}
	}
	if b.hideOnce.CompareAndSwap(true, false) {
		return training.JobStatus{}, false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var best training.JobStatus
	found := false
	for _, j := range b.jobs {
		if j.Name == name && (!found || j.CreatedAt.After(best.CreatedAt)) {
			best, found = j, true
		}
	}
	return best, found, nil
}

func (b *fakeBatch) Describe(_ context.Context, id string) (training.JobStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return j, training.ErrJobNotFound
	}
	return j, nil
}

func (b *fakeBatch) set(id, status string, exit *int) training.JobStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	j := b.jobs[id]
	j.Status, j.ExitCode = status, exit
	if status == training.StatusFailed {
		j.StatusReason = "Essential container in task exited"
		j.LogStream = "mlops-trainer/default/abc"
	}
	b.jobs[id] = j
	return j
}

func (b *fakeBatch) only(t *testing.T) training.JobStatus {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.jobs) != 1 {
		t.Fatalf("jobs submitted: %d, want 1", len(b.jobs))
	}
	for _, j := range b.jobs {
		return j
	}
	panic("unreachable")
}

type fakeSpecs struct{ refs map[string]training.SpecRef }

func (f fakeSpecs) ForDataset(_ context.Context, dataset string) ([]training.SpecRef, error) {
	var out []training.SpecRef
	for _, r := range f.refs {
		if r.Spec.Dataset == dataset {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f fakeSpecs) Current(_ context.Context, model string) (training.SpecRef, error) {
	r, ok := f.refs[model]
	if !ok {
		return r, fmt.Errorf("model %s: %w", model, training.ErrNoSpec)
	}
	return r, nil
}

func (f fakeSpecs) Get(_ context.Context, key string) (training.SpecRef, error) {
	for _, r := range f.refs {
		if r.Key == key {
			return r, nil
		}
	}
	return training.SpecRef{}, fmt.Errorf("spec %s: %w", key, store.ErrNotFound)
}

type trainers struct{ id string }

func (t trainers) Resolve(*spec.Spec) (training.Trainer, error) {
	return training.Trainer{ID: t.id, Command: []string{"/usr/bin/python3", "train.py"}}, nil
}

type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Publish(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) count(detailType string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.DetailType == detailType {
			n++
		}
	}
	return n
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// failingSwaps fails every compare-and-swap while on: a function that dies
// between two writes never gets to make the second.
type failingSwaps struct {
	*store.Store
	on atomic.Bool
	// claimsFail fails the create-once write of run records: a function that
	// dies just before its claim.
	claimsFail atomic.Bool
}

func (f *failingSwaps) Create(ctx context.Context, b, k string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	if f.claimsFail.Load() && strings.HasSuffix(k, "/run.json") {
		return store.ObjectInfo{}, errors.New("crashed")
	}
	return f.Store.Create(ctx, b, k, body, opt)
}

func (f *failingSwaps) Swap(ctx context.Context, b, k, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	if f.on.Load() {
		return store.ObjectInfo{}, errors.New("crashed")
	}
	return f.Store.Swap(ctx, b, k, etag, body, opt)
}

type harness struct {
	st     *failingSwaps
	batch  *fakeBatch
	pub    *recorder
	clock  *clock
	svc    *training.Service
	spec   *spec.Spec
	detail event.DatasetVersionedDetail
	verify func() (training.Bundle, error)
}

func newHarness(t *testing.T, mutate func(*spec.Spec)) *harness {
	t.Helper()
	_, st := lambdatest.S3(t, bucket)
	sp := &spec.Spec{Name: "credit", Dataset: "credit", Objective: spec.BinaryLogistic,
		Target: spec.Target{PositiveClass: "bad"}, Trainer: spec.Trainer{TimeoutSeconds: 600, GPUs: 1, VCPUs: 4, MemoryMiB: 8192}}
	if mutate != nil {
		mutate(sp)
	}
	ref := training.SpecRef{Spec: sp, Hash: strings.Repeat("a", 64), Key: "specs/credit/" + strings.Repeat("a", 64) + ".json"}
	h := &harness{st: &failingSwaps{Store: st}, batch: newFakeBatch(), pub: &recorder{},
		clock: &clock{t: time.Now().UTC()}, spec: sp}
	h.verify = func() (training.Bundle, error) {
		return training.Bundle{SHA256: strings.Repeat("b", 64), Headline: "auc", HeadlineValue: 0.83}, nil
	}
	h.svc = training.New(h.st, h.pub, h.batch, fakeSpecs{refs: map[string]training.SpecRef{"credit": ref}}, trainers{id: "local-1"},
		func(_ context.Context, b, prefix string, _ *training.Run) (training.Bundle, error) {
			got, err := h.verify()
			got.Prefix = prefix
			return got, err
		}, training.Config{Bucket: bucket, Lease: 5 * time.Minute, Now: h.clock.Now})
	h.detail = h.version(t, "v1", 4454)
	return h
}

// version stores a dataset version's manifest, as ingest commits it, under a
// version ID of ingest's shape made from label.
func (h *harness) version(t *testing.T, label string, rows int64) event.DatasetVersionedDetail {
	t.Helper()
	id := versionID(label)
	m := ingest.Manifest{SchemaVersion: "1", Dataset: "credit", VersionID: id, Mode: "replace", ContractHash: strings.Repeat("c", 64),
		Rows: rows, Partitions: []ingest.Partition{{PayloadSHA256: strings.Repeat("d", 64),
			CanonicalKey: ingest.CanonicalKey("credit", strings.Repeat("d", 64), strings.Repeat("c", 64)), Rows: rows}}}
	b, _ := json.Marshal(m)
	if _, err := h.st.Put(context.Background(), bucket, ingest.ManifestKey("credit", id), b, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.Put(context.Background(), bucket, ingest.LatestKey("credit"),
		fmt.Appendf(nil, `{"versionId":%q}`, id), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return event.DatasetVersionedDetail{SchemaVersion: "1", Dataset: "credit", VersionID: id, Rows: rows,
		ManifestKey: ingest.ManifestKey("credit", id), Bucket: bucket}
}

func versionID(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])[:24]
}

func (h *harness) runs(t *testing.T) []*training.Run {
	t.Helper()
	runs, err := training.ListRuns(context.Background(), h.st, bucket, "credit")
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func (h *harness) onlyRun(t *testing.T) *training.Run {
	t.Helper()
	runs := h.runs(t)
	if len(runs) != 1 {
		t.Fatalf("runs: %d, want 1", len(runs))
	}
	return runs[0]
}

func TestConcurrentDuplicateVersionEventsSubmitOneJob(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.svc.OnDatasetVersioned(ctx, h.detail)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := h.batch.submits.Load(); n != 1 {
		t.Fatalf("SubmitJob called %d times, want 1", n)
	}
	r := h.onlyRun(t)
	job := h.batch.only(t)
	if r.State != training.StateSubmitted || r.Job.ID != job.ID || r.Attempt != 1 || r.Job.Name != r.RunID {
		t.Fatalf("run %+v", r)
	}
	if want := "s3://platform/runs/" + r.RunID + "/bundle/"; r.Job.Parameters[training.ParamOutput] != want {
		t.Errorf("output %q, want %q", r.Job.Parameters[training.ParamOutput], want)
	}
	if !strings.HasPrefix(r.Job.Parameters[training.ParamData], "s3://platform/datasets/credit/objects/") {
		t.Errorf("data %q", r.Job.Parameters[training.ParamData])
	}
}

func TestJobEventsInAnyOrderEndInOneFinalState(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	job := h.batch.only(t)
	succeeded := h.batch.set(job.ID, training.StatusSucceeded, new(int))
	running := succeeded
	running.Status = training.StatusRunning
	runnable := succeeded
	runnable.Status = training.StatusRunnable
	// The final event first, then stale ones, each several times at once.
	events := []training.JobStatus{succeeded, running, runnable, succeeded, running, succeeded}
	var wg sync.WaitGroup
	for _, ev := range events {
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.svc.OnJobState(ctx, ev); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	r := h.onlyRun(t)
	if r.State != training.StateSucceeded || r.Job.Status != training.StatusSucceeded || r.Bundle == nil ||
		r.Bundle.Prefix != training.BundlePrefix(r.RunID) {
		t.Fatalf("run %+v", r)
	}
	if n := h.pub.count(event.TrainingSucceeded); n < 1 {
		t.Fatalf("training.succeeded published %d times", n)
	}
	if h.pub.count(event.TrainingFailed) != 0 {
		t.Fatal("training.failed published for a succeeded run")
	}
	if _, err := h.st.Head(ctx, bucket, training.PendingKey(r.RunID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a finished run is still in the pending index: %v", err)
	}
	// A late RUNNING event after the end changes nothing.
	if err := h.svc.OnJobState(ctx, running); err != nil {
		t.Fatal(err)
	}
	if r2 := h.onlyRun(t); r2.State != training.StateSucceeded {
		t.Fatalf("state moved back to %s", r2.State)
	}
}

func TestFailedJobAndBadBundleBecomeTrainingFailed(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	job := h.batch.only(t)
	exit := 2
	if err := h.svc.OnJobState(ctx, h.batch.set(job.ID, training.StatusFailed, &exit)); err != nil {
		t.Fatal(err)
	}
	r := h.onlyRun(t)
	if r.State != training.StateFailed || !strings.Contains(r.Reason, "exit code 2") || r.Job.LogLocation == "" {
		t.Fatalf("run %+v", r)
	}
	h.pub.mu.Lock()
	var d event.TrainingFailedDetail
	for _, e := range h.pub.events {
		if e.DetailType == event.TrainingFailed {
			d = e.Detail.(event.TrainingFailedDetail)
		}
	}
	h.pub.mu.Unlock()
	if d.RunID != r.RunID || d.LogLocation == "" || d.ExitCode == nil || *d.ExitCode != 2 || d.Reason == "" {
		t.Fatalf("training.failed detail %+v", d)
	}

	// A job that succeeded with a bundle whose hashes do not match fails the run.
	h2 := newHarness(t, nil)
	h2.verify = func() (training.Bundle, error) {
		return training.Bundle{}, errors.New("bundle manifest.json: file model.json: sha256 mismatch")
	}
	if err := h2.svc.OnDatasetVersioned(ctx, h2.detail); err != nil {
		t.Fatal(err)
	}
	if err := h2.svc.OnJobState(ctx, h2.batch.set(h2.batch.only(t).ID, training.StatusSucceeded, new(int))); err != nil {
		t.Fatal(err)
	}
	r2 := h2.onlyRun(t)
	if r2.State != training.StateFailed || !strings.Contains(r2.Reason, "sha256 mismatch") {
		t.Fatalf("run %+v", r2)
	}
	if h2.pub.count(event.TrainingSucceeded) != 0 || h2.pub.count(event.TrainingFailed) != 1 {
		t.Fatalf("events: %+v", h2.pub.events)
	}
}

// A crash after the claim but before SubmitJob: the next delivery within the
// lease leaves the claimant be; after the lease, one job is submitted.
func TestCrashAfterClaimIsFinishedWithoutSecondJob(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.batch.beforeFn = func(string) error { return errors.New("crashed") }
	h.st.on.Store(true) // the dying function cannot release its lease either
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err == nil {
		t.Fatal("the crashed delivery reported success")
	}
	h.batch.beforeFn = nil
	h.st.on.Store(false)
	if r := h.onlyRun(t); r.State != training.StateClaimed || r.Job.ID != "" {
		t.Fatalf("run after the crash %+v", r)
	}
	// Within the lease: a redelivery does not submit (the claimant may be alive).
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	if n := h.batch.submits.Load(); n != 0 {
		t.Fatalf("submitted within the lease: %d", n)
	}
	// After the lease, reconcile's sweep takes the claim over.
	h.clock.Add(6 * time.Minute)
	if _, err := h.svc.Sweep(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := h.batch.submits.Load(); n != 1 {
		t.Fatalf("SubmitJob calls: %d, want 1", n)
	}
	if r := h.onlyRun(t); r.State != training.StateSubmitted || r.Job.ID == "" {
		t.Fatalf("run %+v", r)
	}
}

// A crash after SubmitJob but before the job ID is recorded: the next delivery
// finds the job by its name instead of submitting again.
func TestCrashAfterSubmitFindsJobByName(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.crashAfterSubmit(t)
	if r := h.onlyRun(t); r.Job.ID != "" {
		t.Fatalf("job ID recorded despite the crash: %+v", r)
	}
	h.clock.Add(6 * time.Minute)
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	job := h.batch.only(t)
	if n := h.batch.submits.Load(); n != 1 {
		t.Fatalf("SubmitJob calls: %d, want 1", n)
	}
	r := h.onlyRun(t)
	if r.Job.ID != job.ID || r.State != training.StateSubmitted {
		t.Fatalf("run %+v, job %s", r, job.ID)
	}
	// The job's state events arriving while the ID was unrecorded also adopt it.
}

// crashAfterSubmit delivers the version event to a function that dies after
// SubmitJob, before it records the job's ID.
func (h *harness) crashAfterSubmit(t *testing.T) {
	t.Helper()
	h.batch.afterFn = func(string) error { h.st.on.Store(true); return errors.New("crashed") }
	if err := h.svc.OnDatasetVersioned(context.Background(), h.detail); err == nil {
		t.Fatal("the crashed delivery reported success")
	}
	h.batch.afterFn = nil
	h.st.on.Store(false)
}

func TestJobEventBeforeIDIsRecordedAdoptsJob(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.batch.afterFn = func(string) error { h.st.on.Store(true); return errors.New("crashed") }
	_ = h.svc.OnDatasetVersioned(ctx, h.detail)
	h.batch.afterFn = nil
	h.st.on.Store(false)
	job := h.batch.only(t)
	if err := h.svc.OnJobState(ctx, h.batch.set(job.ID, training.StatusRunning, nil)); err != nil {
		t.Fatal(err)
	}
	if r := h.onlyRun(t); r.Job.ID != job.ID || r.State != training.StateSubmitted || r.Job.Status != training.StatusRunning {
		t.Fatalf("run %+v", r)
	}
}

func TestRetryStartsNextAttemptOnce(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	first := h.onlyRun(t)
	// A run that has not failed is not retried.
	err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "retry-x", RetryOf: first.RunID})
	if err == nil || !strings.Contains(err.Error(), "only failed runs") {
		t.Fatalf("retry of a running run: %v", err)
	}
	exit := 1
	if err := h.svc.OnJobState(ctx, h.batch.set(h.batch.only(t).ID, training.StatusFailed, &exit)); err != nil {
		t.Fatal(err)
	}
	req := event.RetrainRequestedDetail{RequestID: "retry-" + first.RunID, RetryOf: first.RunID, Principal: "alice", Reason: "flaky"}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.svc.OnRetrain(ctx, req); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	runs := h.runs(t)
	if len(runs) != 2 || h.batch.submits.Load() != 2 {
		t.Fatalf("runs %d, jobs %d; want 2 and 2", len(runs), h.batch.submits.Load())
	}
	second := runs[0]
	if second.Attempt != 2 || second.Base != first.Base || second.Cause.RetryOf != first.RunID || second.Cause.Principal != "alice" {
		t.Fatalf("second attempt %+v", second)
	}
}

func TestRetrainOnUnchangedDataAndWhileRunning(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	// While the run is in flight, a retrain request is satisfied by it.
	if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "r1", Model: "credit"}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.runs(t)); n != 1 {
		t.Fatalf("runs %d, want 1", n)
	}
	if err := h.svc.OnJobState(ctx, h.batch.set(h.batch.only(t).ID, training.StatusSucceeded, new(int))); err != nil {
		t.Fatal(err)
	}
	// On unchanged data, a new request starts the next attempt; its duplicates do not.
	for range 3 {
		if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "r2", Model: "credit", Reason: "drift"}); err != nil {
			t.Fatal(err)
		}
	}
	runs := h.runs(t)
	if len(runs) != 2 || runs[0].Attempt != 2 || runs[0].Cause.Kind != training.CauseRetrain || runs[0].Cause.RequestID != "r2" {
		t.Fatalf("runs %+v", runs)
	}
	if err := h.svc.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: "r3", Model: "nope"}); !errors.Is(err, training.ErrNoSpec) {
		t.Fatalf("retrain of an unknown model: %v", err)
	}
}

func TestTriggers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(s *spec.Spec) { s.Trigger.Manual = true })
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	if n := len(h.runs(t)); n != 0 {
		t.Fatalf("manual trigger trained on a new version: %d runs", n)
	}

	h = newHarness(t, func(s *spec.Spec) { s.Trigger.MinNewRows = 100; s.Trigger.MinIntervalHours = 1 })
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Hour)
	if err := h.svc.OnDatasetVersioned(ctx, h.version(t, "v2", 4454+50)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.runs(t)); n != 1 {
		t.Fatalf("50 new rows trained (min 100): %d runs", n)
	}
	if err := h.svc.OnDatasetVersioned(ctx, h.version(t, "v3", 4454+500)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.runs(t)); n != 2 {
		t.Fatalf("500 new rows after 2 h: %d runs, want 2", n)
	}
	if err := h.svc.OnDatasetVersioned(ctx, h.version(t, "v4", 9000)); err != nil {
		t.Fatal(err)
	}
	if n := len(h.runs(t)); n != 2 {
		t.Fatalf("a version within the hour trained: %d runs", n)
	}
}

func TestSweepAsksBatchAboutLostFinalEvents(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.svc.OnDatasetVersioned(ctx, h.detail); err != nil {
		t.Fatal(err)
	}
	h.batch.set(h.batch.only(t).ID, training.StatusSucceeded, new(int)) // its event is lost
	if n, err := h.svc.Sweep(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep within grace: %d, %v", n, err)
	}
	h.clock.Add(2 * time.Hour)
	if n, err := h.svc.Sweep(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if r := h.onlyRun(t); r.State != training.StateSucceeded {
		t.Fatalf("run %+v", r)
	}
	if h.pub.count(event.TrainingSucceeded) != 1 {
		t.Fatal("no training.succeeded after the sweep")
	}

	// A job the batch system forgot fails its run.
	h2 := newHarness(t, nil)
	if err := h2.svc.OnDatasetVersioned(ctx, h2.detail); err != nil {
		t.Fatal(err)
	}
	h2.batch.mu.Lock()
	clear(h2.batch.jobs)
	h2.batch.mu.Unlock()
	h2.clock.Add(2 * time.Hour)
	if _, err := h2.svc.Sweep(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if r := h2.onlyRun(t); r.State != training.StateFailed || !strings.Contains(r.Reason, "no longer knows") {
		t.Fatalf("run %+v", r)
	}
}

func TestHandleRoutesEvents(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	env := func(source, dt string, detail any) json.RawMessage {
		d, _ := json.Marshal(detail)
		b, _ := json.Marshal(event.Envelope{Version: "0", ID: "e1", Source: source, DetailType: dt, Time: time.Now(), Detail: d})
		return b
	}
	if err := h.svc.Handle(ctx, env(event.Source, event.DatasetVersioned, h.detail)); err != nil {
		t.Fatal(err)
	}
	job := h.batch.only(t)
	exit := 0
	d := event.BatchJobDetail{JobName: job.Name, JobID: job.ID, Status: training.StatusSucceeded,
		Container: &event.BatchContainer{ExitCode: &exit}}
	if err := h.svc.Handle(ctx, env(event.BatchSource, event.BatchJobStateChange, d)); err != nil {
		t.Fatal(err)
	}
	if r := h.onlyRun(t); r.State != training.StateSucceeded {
		t.Fatalf("run %+v", r)
	}
	// A retrain request dropped in the bucket, with the requester from S3.
	req := event.RetrainRequestedDetail{RequestID: "req-1", Model: "credit", Reason: "because", Principal: "mallory"}
	body, _ := json.Marshal(req)
	if _, err := h.st.Put(ctx, bucket, training.RequestKey("req-1"), body, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s3d := event.S3ObjectCreatedDetail{Bucket: event.S3Bucket{Name: bucket}, Object: event.S3Object{Key: training.RequestKey("req-1")},
		Requester: "arn:aws:iam::123456789012:user/alice"}
	if err := h.svc.Handle(ctx, env(event.S3Source, event.S3ObjectCreated, s3d)); err != nil {
		t.Fatal(err)
	}
	if r := h.runs(t)[0]; r.Attempt != 2 || r.Cause.Principal != "mallory (stated; S3 requester arn:aws:iam::123456789012:user/alice)" {
		t.Fatalf("run from the request %+v", r)
	}
	for _, bad := range []string{`nope`, `{"source":"x","detail-type":"y","detail":{}}`,
		`{"source":"mlops","detail-type":"Dataset Versioned","detail":{"dataset":""}}`,
		`{"source":"mlops","detail-type":"Dataset Versioned","detail":"str"}`} {
		if err := h.svc.Handle(ctx, json.RawMessage(bad)); err == nil {
			t.Errorf("Handle(%s) accepted", bad)
		}
	}
	// A job that is not a run is ignored.
	if err := h.svc.OnJobState(ctx, training.JobStatus{Name: "someone-else", Status: training.StatusFailed}); err != nil {
		t.Fatal(err)
	}
}

func TestRunIDs(t *testing.T) {
	base := training.BaseHash("credit", "v1", "s", "t")
	id := training.RunID("credit", base, 3)
	m, b, n, err := training.ParseRunID(id)
	if err != nil || m != "credit" || b != base || n != 3 || len(id) > 128 {
		t.Fatalf("%s → %s %s %d %v", id, m, b, n, err)
	}
	if training.BaseHash("credit", "v1", "s", "t2") == base {
		t.Fatal("a different trainer gave the same base")
	}
	for _, bad := range []string{"", "credit", "credit-xyz-1", "credit-" + base + "-0", "Credit-" + base + "-1", "../x-" + base + "-1"} {
		if _, _, _, err := training.ParseRunID(bad); err == nil {
			t.Errorf("ParseRunID(%q) accepted", bad)
		}
	}
}

func TestCommandTrainersHashContentsNotPaths(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	for _, d := range []string{dir1, dir2} {
		if err := os.WriteFile(filepath.Join(d, "train.py"), []byte("print('hi')\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sp := &spec.Spec{Name: "m"}
	id := func(cmd ...string) string {
		tr, err := training.CommandTrainers{Default: cmd}.Resolve(sp)
		if err != nil {
			t.Fatal(err)
		}
		return tr.ID
	}
	a, b := id("/usr/bin/python3", filepath.Join(dir1, "train.py")), id("/usr/bin/python3", filepath.Join(dir2, "train.py"))
	if a != b {
		t.Fatalf("the same script in two directories: %s and %s", a, b)
	}
	if err := os.WriteFile(filepath.Join(dir2, "train.py"), []byte("print('changed')\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := id("/usr/bin/python3", filepath.Join(dir2, "train.py")); c == a {
		t.Fatal("an edited script kept its identity")
	}
	if id("/usr/bin/python3", "-u", filepath.Join(dir1, "train.py")) == a {
		t.Fatal("another argument kept the identity")
	}
	img := training.ImageTrainers{Default: "123.dkr.ecr.us-east-1.amazonaws.com/trainer@sha256:" + strings.Repeat("ab", 32)}
	tr, err := img.Resolve(sp)
	if err != nil || tr.ID != "sha256:"+strings.Repeat("ab", 32) || tr.Image != img.Default {
		t.Fatalf("image trainer %+v %v", tr, err)
	}
	if _, err := (training.ImageTrainers{Default: "trainer:latest"}).Resolve(sp); err == nil {
		t.Fatal("an image without a digest was accepted")
	}
}

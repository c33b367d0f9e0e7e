package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local/bus"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// The local bus is what the platform gives the runner as its Events.
var _ Events = (*bus.Bus)(nil)

// These tests run real processes (sh and its children) against the real store
// client and the embedded S3 endpoint; only the bus is replaced, by a sink
// that records the envelopes.

const (
	platformBucket = "platform"
	logBucket      = "logs"
)

// timeline is the order in which the runner touched the outside world:
// uploads and events, so that "outputs before the event" can be checked.
type timeline struct {
	mu    sync.Mutex
	steps []string
}

func (tl *timeline) add(s string) {
	tl.mu.Lock()
	tl.steps = append(tl.steps, s)
	tl.mu.Unlock()
}

func (tl *timeline) all() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.steps)
}

// recordingStore is the real store, with every upload recorded in order.
type recordingStore struct {
	*store.Store
	tl *timeline
}

func (s recordingStore) Upload(ctx context.Context, bucket, key string, r io.Reader, opt store.PutOptions) (store.ObjectInfo, error) {
	info, err := s.Store.Upload(ctx, bucket, key, r, opt)
	if err == nil {
		s.tl.add("upload s3://" + bucket + "/" + key)
	}
	return info, err
}

// sink stands in for the bus: it keeps every envelope.
type sink struct {
	tl   *timeline
	mu   sync.Mutex
	envs []event.Envelope
}

func (s *sink) PutEvents(_ context.Context, envs ...event.Envelope) error {
	for _, env := range envs {
		var d event.BatchJobDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return fmt.Errorf("sink: detail %s: %w", env.Detail, err)
		}
		s.mu.Lock()
		s.envs = append(s.envs, env)
		s.mu.Unlock()
		s.tl.add("event " + d.JobID + " " + d.Status)
	}
	return nil
}

func (s *sink) envelopes() []event.Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.envs)
}

// details returns the details announced for job id, in order.
func (s *sink) details(t *testing.T, id string) []event.BatchJobDetail {
	t.Helper()
	var out []event.BatchJobDetail
	for _, env := range s.envelopes() {
		var d event.BatchJobDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.JobID == id {
			out = append(out, d)
		}
	}
	return out
}

func statuses(ds []event.BatchJobDetail) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Status)
	}
	return s
}

type harness struct {
	t     *testing.T
	st    *store.Store
	tl    *timeline
	sink  *sink
	dir   string
	cfg   Config
	r     *Runner
	pids  string // where test processes write their children's PIDs
	store recordingStore
}

// newHarness starts an embedded S3 with the platform and log buckets and a
// Runner over it; cfg's zero fields get test values.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	_, st := lambdatest.S3(t, platformBucket, logBucket)
	tl := &timeline{}
	h := &harness{t: t, st: st, tl: tl, sink: &sink{tl: tl}, dir: t.TempDir(), pids: t.TempDir()}
	h.store = recordingStore{Store: st, tl: tl}
	cfg.Store, cfg.Events, cfg.Dir, cfg.LogBucket = h.store, h.sink, h.dir, logBucket
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 300 * time.Millisecond
	}
	if cfg.Env == nil {
		cfg.Env = func() []string { return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir} }
	}
	h.cfg = cfg
	h.r = h.start()
	return h
}

func (h *harness) start() *Runner {
	h.t.Helper()
	r, err := New(context.Background(), h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			h.t.Errorf("close: %v", err)
		}
	})
	return r
}

func (h *harness) put(key, body string) string {
	h.t.Helper()
	if _, err := h.st.Put(context.Background(), platformBucket, key, []byte(body), store.PutOptions{}); err != nil {
		h.t.Fatal(err)
	}
	return "s3://" + platformBucket + "/" + key
}

func (h *harness) get(bucket, key string) string {
	h.t.Helper()
	b, _, err := h.st.ReadAll(context.Background(), bucket, key)
	if err != nil {
		h.t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return string(b)
}

func (h *harness) submit(job training.Job) string {
	h.t.Helper()
	id, err := h.r.Submit(context.Background(), job)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) wait() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.r.WaitIdle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) describe(id string) training.JobStatus {
	h.t.Helper()
	st, err := h.r.Describe(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitStatus polls until job id reaches status.
func (h *harness) waitStatus(id, status string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.describe(id).Status != status {
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s is %s, never %s", id, h.describe(id).Status, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shJob is a job running script with sh, its arguments after it ($1, $2, ...).
func shJob(name, script string, args ...string) training.Job {
	return training.Job{Name: name, Command: append([]string{"sh", "-c", script, "sh"}, args...)}
}

// alive reports whether pid is a live process: a zombie waiting for its
// parent to reap it is dead for this purpose.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// readPID waits for a test process to write a PID to file.
func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no PID in %s", file)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) is still running", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func requireProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to watch processes")
	}
}

// The whole contract: inputs staged from S3 (two partitions with one base
// name), Ref:: arguments substituted as Batch does, the environment without
// AWS credentials, outputs uploaded with the manifest last and before the
// SUCCEEDED event, the log uploaded, and RUNNABLE → STARTING → RUNNING →
// SUCCEEDED announced in Batch's shape.
func TestJobSucceeds(t *testing.T) {
	h := newHarness(t, Config{})
	h.cfg.Env = nil
	h.r.cfg.Env = func() []string {
		return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, "AWS_SECRET_ACCESS_KEY=leak", "AWS_ACCESS_KEY_ID=AKLEAK",
			"AWS_PROFILE=prod", "MLOPS_KEEP=inherited"}
	}
	data := h.put("datasets/credit/objects/p1/part.csv.gz", "a,b\n1,2\n") + "," +
		h.put("datasets/credit/objects/p2/part.csv.gz", "3,4\n")
	contract := h.put("contracts/credit/c1.json", `{"contract":1}`)
	spec := h.put("specs/credit/s1.json", `{"spec":1}`)
	const name = "credit-4f2a9c1e7b3d5a60-1"
	output := "s3://" + platformBucket + "/runs/" + name + "/bundle/"
	script := `set -e
data="$1"; contract="$2"; spec="$3"; out="$4"
echo "args: $5 $6 $7"
echo "cwd: $(pwd)"
mkdir -p "$out/sub"
for f in $(echo "$data" | tr , ' '); do cat "$f"; done > "$out/data.csv"
cp "$contract" "$out/contract.json"
cp "$spec" "$out/spec.json"
printf '{"test":"%s","keep":"%s","secret":"%s","key":"%s","profile":"%s","creds":"%s","job":"%s","tmp":"%s"}' \
  "$MLOPS_TEST" "$MLOPS_KEEP" "${AWS_SECRET_ACCESS_KEY:-}" "${AWS_ACCESS_KEY_ID:-}" "${AWS_PROFILE:-}" \
  "$AWS_SHARED_CREDENTIALS_FILE" "$AWS_BATCH_JOB_ID" "$TMPDIR" > "$out/env.json"
echo z > "$out/sub/z.bin"
echo '{"files":4}' > "$out/manifest.json"
echo "hello from the trainer"
echo "to stderr" >&2`
	job := shJob(name, script, "Ref::data", "Ref::contract", "Ref::spec", "Ref::output", "Ref::missing", "x-Ref::data", "Ref::runid")
	job.Parameters = map[string]string{training.ParamData: data, training.ParamContract: contract, training.ParamSpec: spec,
		training.ParamOutput: output, training.ParamRunID: name}
	job.Environment = map[string]string{"MLOPS_TEST": "yes"}
	job.Tags = map[string]string{"model": "credit", "run": name}
	job.Image = "local"
	id := h.submit(job)
	h.wait()

	st := h.describe(id)
	logURI := "s3://" + logBucket + "/logs/batch/" + name + "/" + id + ".log"
	if st.Status != training.StatusSucceeded || st.ExitCode == nil || *st.ExitCode != 0 || st.LogStream != logURI ||
		st.Name != name || st.ID != id || st.Tags["run"] != name {
		t.Fatalf("status %+v", st)
	}
	if st.CreatedAt.IsZero() || st.StartedAt.Before(st.CreatedAt) || st.StoppedAt.Before(st.StartedAt) {
		t.Errorf("times created %v started %v stopped %v", st.CreatedAt, st.StartedAt, st.StoppedAt)
	}

	prefix := "runs/" + name + "/bundle/"
	if got := h.get(platformBucket, prefix+"data.csv"); got != "a,b\n1,2\n3,4\n" {
		t.Errorf("data.csv = %q: both partitions, in order", got)
	}
	if h.get(platformBucket, prefix+"contract.json") != `{"contract":1}` || h.get(platformBucket, prefix+"spec.json") != `{"spec":1}` {
		t.Error("contract or spec not staged")
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(h.get(platformBucket, prefix+"env.json")), &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"test": "yes", "keep": "inherited", "secret": "", "key": "", "profile": "", "creds": os.DevNull, "job": id,
		"tmp": filepath.Join(h.dir, "work", id, "tmp")}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("trainer environment %v, want %v: AWS credentials never reach it", env, want)
	}

	// Manifest last among the outputs, outputs and log before the event.
	var uploads []string
	for _, s := range h.tl.all() {
		if k, ok := strings.CutPrefix(s, "upload s3://"+platformBucket+"/"+prefix); ok {
			uploads = append(uploads, k)
		}
	}
	if want := []string{"contract.json", "data.csv", "env.json", "spec.json", "sub/z.bin", "manifest.json"}; !reflect.DeepEqual(uploads, want) {
		t.Errorf("uploads %v, want %v", uploads, want)
	}
	steps := h.tl.all()
	manifest := slices.Index(steps, "upload s3://"+platformBucket+"/"+prefix+"manifest.json")
	logUp := slices.Index(steps, "upload "+logURI)
	succeeded := slices.Index(steps, "event "+id+" SUCCEEDED")
	if manifest < 0 || logUp < manifest || succeeded < logUp {
		t.Errorf("timeline %v: outputs, then the log, then the event", steps)
	}

	logText := h.get(logBucket, "logs/batch/"+name+"/"+id+".log")
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hello from the trainer", "to stderr", "args: Ref::missing x-Ref::data " + name, "cwd: " + cwd} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}

	ds := h.sink.details(t, id)
	if got := statuses(ds); !reflect.DeepEqual(got, []string{"RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"}) {
		t.Fatalf("events %v: no SUBMITTED event, as in AWS", got)
	}
	for _, env := range h.sink.envelopes() {
		if env.Source != "aws.batch" || env.DetailType != "Batch Job State Change" || env.Version != "0" || env.ID == "" ||
			env.Region != "us-east-1" || env.Account != "000000000000" || !reflect.DeepEqual(env.Resources, []string{ds[0].JobArn}) {
			t.Errorf("envelope %+v", env)
		}
	}
	final := ds[3]
	if final.JobArn != "arn:aws:batch:us-east-1:000000000000:job/"+id || final.JobQueue != h.r.QueueARN() ||
		final.JobName != name || final.StatusReason != ReasonExited {
		t.Errorf("final detail %+v", final)
	}
	if !reflect.DeepEqual(final.Parameters, job.Parameters) || !reflect.DeepEqual(final.Tags, job.Tags) {
		t.Errorf("parameters %v tags %v: the job's own, not the staged paths", final.Parameters, final.Tags)
	}
	if c := final.Container; c == nil || c.ExitCode == nil || *c.ExitCode != 0 || c.LogStreamName != logURI || c.Image != "local" {
		t.Errorf("container %+v", final.Container)
	}
	if len(final.Attempts) != 1 || final.Attempts[0].Container.ExitCode == nil || final.Attempts[0].StartedAt != final.StartedAt ||
		final.Attempts[0].StoppedAt != final.StoppedAt {
		t.Errorf("attempts %+v", final.Attempts)
	}
	if ds[2].StartedAt == 0 || ds[2].Container.LogStreamName != logURI || ds[0].StartedAt != 0 {
		t.Errorf("RUNNING detail %+v, RUNNABLE %+v", ds[2], ds[0])
	}
	// The event and Describe read the same.
	if got := training.JobStatusFromDetail(final); !reflect.DeepEqual(got, st) {
		t.Errorf("event says %+v\nDescribe says %+v", got, st)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "work", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work directory left behind: %v", err)
	}
}

// With a relative state directory and a trainer named by a relative path, as
// `mlops up` run in a project directory has them: the trainer is found from
// the platform's working directory and gets absolute paths.
func TestRelativePaths(t *testing.T) {
	_, st := lambdatest.S3(t, platformBucket, logBucket)
	t.Chdir(t.TempDir())
	if err := os.WriteFile("trainer.sh", []byte(`cp "$1" "$2/copy.txt"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), platformBucket, "in/x.txt", []byte("payload"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := New(context.Background(), Config{Store: st, Events: &sink{tl: &timeline{}}, Dir: filepath.Join(".mlops", "batch"), LogBucket: logBucket})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close(context.Background()) }()
	id, err := r.Submit(context.Background(), training.Job{Name: "relative", Command: []string{"sh", "trainer.sh", "Ref::data", "Ref::output"},
		Parameters: map[string]string{training.ParamData: "s3://platform/in/x.txt", training.ParamOutput: "s3://platform/out"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, err := r.Describe(context.Background(), id); err != nil || s.Status != training.StatusSucceeded {
		t.Fatalf("status %+v %v", s, err)
	}
	// An output prefix without its trailing slash is still a folder.
	if b, _, err := st.ReadAll(context.Background(), platformBucket, "out/copy.txt"); err != nil || string(b) != "payload" {
		t.Errorf("output %q %v", b, err)
	}
}

func TestNonZeroExitFails(t *testing.T) {
	h := newHarness(t, Config{KeepWork: true})
	job := shJob("exit-3", `echo partial > "$1/model.json"; echo "it broke" >&2; exit 3`, "Ref::output")
	job.Parameters = map[string]string{training.ParamOutput: "s3://" + platformBucket + "/runs/exit-3/bundle/"}
	id := h.submit(job)
	h.wait()
	st := h.describe(id)
	if st.Status != training.StatusFailed || st.ExitCode == nil || *st.ExitCode != 3 || st.StatusReason != ReasonExited {
		t.Fatalf("status %+v, exit %v", st, st.ExitCode)
	}
	for _, s := range h.tl.all() {
		if strings.Contains(s, "/runs/exit-3/") {
			t.Errorf("a failed job's outputs were uploaded: %s", s)
		}
	}
	if logText := h.get(logBucket, "logs/batch/exit-3/"+id+".log"); !strings.Contains(logText, "it broke") ||
		!strings.Contains(logText, "exited with code 3") {
		t.Errorf("log %q", logText)
	}
	if got := statuses(h.sink.details(t, id)); !reflect.DeepEqual(got, []string{"RUNNABLE", "STARTING", "RUNNING", "FAILED"}) {
		t.Errorf("events %v", got)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "work", id, "out", "model.json")); err != nil {
		t.Errorf("KeepWork: the failed job's work directory is gone: %v", err)
	}
}

// A trainer that hangs (and ignores SIGTERM, as do its children) is killed at
// its timeout with its whole process group.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	requireProc(t)
	h := newHarness(t, Config{})
	pidFile := filepath.Join(h.pids, "child")
	job := shJob("hangs", `trap "" TERM; sleep 300 & echo $! > "$PIDFILE"; wait; sleep 300`)
	job.Environment = map[string]string{"PIDFILE": pidFile}
	job.Timeout = 500 * time.Millisecond
	start := time.Now()
	id := h.submit(job)
	child := readPID(t, pidFile)
	h.wait()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v to kill", took)
	}
	st := h.describe(id)
	if st.Status != training.StatusFailed || st.StatusReason != ReasonTimeout || st.ExitCode == nil || *st.ExitCode != 137 {
		t.Fatalf("status %+v exit %v: SIGKILL after the grace period", st, st.ExitCode)
	}
	assertGone(t, child, "the trainer's child")
	if logText := h.get(logBucket, "logs/batch/hangs/"+id+".log"); !strings.Contains(logText, "timeout") {
		t.Errorf("log %q does not say why", logText)
	}
}

// A trainer that exits, leaving a child behind, succeeds without waiting for
// the child, and the child does not outlive the job (as in a container).
func TestNoChildOutlivesItsJob(t *testing.T) {
	requireProc(t)
	h := newHarness(t, Config{})
	pidFile := filepath.Join(h.pids, "orphan")
	job := shJob("leaves-a-child", `sleep 300 & echo $! > "$PIDFILE"; echo done`)
	job.Environment = map[string]string{"PIDFILE": pidFile}
	start := time.Now()
	id := h.submit(job)
	h.wait()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v: the child's hold on the log pipe stalled the job", took)
	}
	if st := h.describe(id); st.Status != training.StatusSucceeded {
		t.Fatalf("status %+v", st)
	}
	assertGone(t, readPID(t, pidFile), "the orphaned child")
}

// Five jobs, two workers: never more than two processes at once, and two at
// once at some point.
func TestMaxConcurrent(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrent: 2})
	running, counts := t.TempDir(), t.TempDir()
	var ids []string
	for i := range 5 {
		job := shJob(fmt.Sprintf("conc-%d", i),
			`touch "$RUN/$$"; ls "$RUN" | wc -l > "$COUNTS/$$"; sleep 0.4; rm "$RUN/$$"`)
		job.Environment = map[string]string{"RUN": running, "COUNTS": counts}
		ids = append(ids, h.submit(job))
	}
	h.wait()
	seen := 0
	entries, err := os.ReadDir(counts)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(counts, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		seen = max(seen, n)
	}
	if len(entries) != 5 || seen != 2 {
		t.Errorf("%d jobs ran, at most %d at once; want 5 and 2", len(entries), seen)
	}
	// The events agree: never more than two between RUNNING and final.
	n, most := 0, 0
	for _, s := range h.tl.all() {
		switch {
		case strings.HasSuffix(s, " RUNNING"):
			n++
			most = max(most, n)
		case strings.HasSuffix(s, " SUCCEEDED"), strings.HasSuffix(s, " FAILED"):
			n--
		}
	}
	if most > 2 {
		t.Errorf("%d jobs RUNNING at once", most)
	}
	for _, id := range ids {
		if st := h.describe(id); st.Status != training.StatusSucceeded {
			t.Errorf("job %s: %+v", id, st)
		}
	}
}

func TestStagingAMissingInputFails(t *testing.T) {
	h := newHarness(t, Config{})
	marker := filepath.Join(h.pids, "ran")
	missing := "s3://" + platformBucket + "/datasets/credit/objects/gone.csv.gz"
	job := shJob("missing-input", `touch "$MARKER"`, "Ref::data")
	job.Environment = map[string]string{"MARKER": marker}
	job.Parameters = map[string]string{training.ParamData: h.put("datasets/credit/objects/ok.csv.gz", "x") + "," + missing}
	id := h.submit(job)
	h.wait()
	st := h.describe(id)
	if st.Status != training.StatusFailed || !strings.Contains(st.StatusReason, missing) ||
		!strings.Contains(st.StatusReason, "parameter data") || st.ExitCode != nil {
		t.Fatalf("status %+v: the reason names the URI", st)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the trainer ran without its inputs")
	}
	if got := statuses(h.sink.details(t, id)); !reflect.DeepEqual(got, []string{"RUNNABLE", "STARTING", "FAILED"}) {
		t.Errorf("events %v", got)
	}
	if logText := h.get(logBucket, "logs/batch/missing-input/"+id+".log"); !strings.Contains(logText, missing) {
		t.Errorf("log %q", logText)
	}

	// A value that is no object URI at all.
	job.Parameters = map[string]string{training.ParamContract: "s3://" + platformBucket + "/contracts/"}
	id = h.submit(job)
	h.wait()
	if st := h.describe(id); st.Status != training.StatusFailed || !strings.Contains(st.StatusReason, "s3://platform/contracts/") {
		t.Errorf("status %+v", st)
	}
}

func TestCommandThatCannotStart(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.submit(training.Job{Name: "no-such-trainer", Command: []string{filepath.Join(h.dir, "missing-binary")}})
	h.wait()
	st := h.describe(id)
	if st.Status != training.StatusFailed || !strings.HasPrefix(st.StatusReason, "CannotStartContainerError: ") || st.ExitCode != nil {
		t.Errorf("status %+v", st)
	}
}

// In-flight jobs of a previous process are failed on start, announced, and
// their logs so far uploaded; finished ones are left alone; records survive.
func TestRestartFailsJobsLeftInFlight(t *testing.T) {
	h := newHarness(t, Config{})
	done := h.submit(shJob("finished", "true"))
	h.wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// What a process that died mid-run leaves: records in flight, a work
	// directory with a partial log, and a damaged record.
	now := time.Now().UnixMilli()
	left := map[string]string{"was-running": training.StatusRunning, "was-runnable": training.StatusRunnable, "was-starting": training.StatusStarting}
	ids := map[string]string{}
	for name, status := range left {
		id := newUUID()
		ids[name] = id
		d := event.BatchJobDetail{JobArn: "arn:aws:batch:us-east-1:000000000000:job/" + id, JobName: name, JobID: id,
			JobQueue: h.r.QueueARN(), Status: status, CreatedAt: now - 5000, Container: &event.BatchContainer{}}
		if status == training.StatusRunning {
			d.StartedAt = now - 1000
			d.Container.LogStreamName = h.r.logStream(name, id)
			if err := os.MkdirAll(filepath.Join(h.dir, "work", id), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(h.dir, "work", id, logFileName), []byte("epoch 1 of 10\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.r.persist(record{Seq: 100, Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(h.dir, "jobs", "damaged.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(h.sink.envelopes())

	h.r = h.start()
	for name, id := range ids {
		st := h.describe(id)
		if st.Status != training.StatusFailed || st.StatusReason != ReasonHostTerminated || st.StoppedAt.IsZero() {
			t.Errorf("%s: %+v", name, st)
		}
		if got := statuses(h.sink.details(t, id)); !reflect.DeepEqual(got, []string{"FAILED"}) {
			t.Errorf("%s: events %v", name, got)
		}
	}
	running := ids["was-running"]
	if st := h.describe(running); st.LogStream != h.r.logStream("was-running", running) {
		t.Errorf("log stream %q", st.LogStream)
	}
	if logText := h.get(logBucket, "logs/batch/was-running/"+running+".log"); logText != "epoch 1 of 10\n[mlops] "+ReasonHostTerminated+"\n" {
		t.Errorf("log %q", logText)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "work", running)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work directory of the interrupted job left: %v", err)
	}
	if n := len(h.sink.envelopes()) - before; n != 3 {
		t.Errorf("%d events on restart, want 3 (one per interrupted job)", n)
	}
	if st := h.describe(done); st.Status != training.StatusSucceeded {
		t.Errorf("finished job now %+v", st)
	}
	if st, found, err := h.r.FindByName(context.Background(), "finished"); err != nil || !found || st.ID != done {
		t.Errorf("FindByName after restart: %+v %v %v", st, found, err)
	}
	// Creation order continues after the records' highest.
	id := h.submit(shJob("was-runnable", "true"))
	if st, _, _ := h.r.FindByName(context.Background(), "was-runnable"); st.ID != id {
		t.Errorf("FindByName found %s, want the newest %s", st.ID, id)
	}
	h.wait()
}

// Close kills the running job's group and fails it and the queued one as
// "host terminated"; Submit is refused afterwards.
func TestCloseKillsRunningJobs(t *testing.T) {
	requireProc(t)
	h := newHarness(t, Config{})
	pidFile := filepath.Join(h.pids, "child")
	job := shJob("long", `sleep 300 & echo $! > "$PIDFILE"; wait`)
	job.Environment = map[string]string{"PIDFILE": pidFile}
	running := h.submit(job)
	queued := h.submit(shJob("queued", "true"))
	h.waitStatus(running, training.StatusRunning)
	child := readPID(t, pidFile)
	if !h.r.Busy() {
		t.Error("not busy with a job running")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, child, "the running job's child")
	for _, id := range []string{running, queued} {
		st := h.describe(id)
		if st.Status != training.StatusFailed || st.StatusReason != ReasonHostTerminated {
			t.Errorf("job %s: %+v", id, st)
		}
		ds := h.sink.details(t, id)
		if len(ds) == 0 || ds[len(ds)-1].Status != training.StatusFailed {
			t.Errorf("job %s: events %v", id, statuses(ds))
		}
	}
	if st := h.describe(running); st.ExitCode == nil || *st.ExitCode != 128+15 {
		t.Errorf("exit code %v, want 143 (SIGTERM)", st.ExitCode)
	}
	if _, err := h.r.Submit(context.Background(), shJob("late", "true")); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	if logText := h.get(logBucket, "logs/batch/long/"+running+".log"); !strings.Contains(logText, ReasonHostTerminated) {
		t.Errorf("log %q", logText)
	}
}

func TestConcurrentSubmits(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrent: 4})
	var wg sync.WaitGroup
	ids := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			ids[i], errs[i] = h.r.Submit(context.Background(), shJob(fmt.Sprintf("many-%d", i%5), `echo "$AWS_BATCH_JOB_ID"`))
		})
	}
	wg.Wait()
	h.wait()
	seen := map[string]bool{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("submit %d: %v", i, errs[i])
		}
		if seen[id] {
			t.Fatalf("ID %s given twice", id)
		}
		seen[id] = true
		if st := h.describe(id); st.Status != training.StatusSucceeded {
			t.Errorf("job %s: %+v", id, st)
		}
		if got := statuses(h.sink.details(t, id)); !reflect.DeepEqual(got, []string{"RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"}) {
			t.Errorf("job %s: events %v", id, got)
		}
	}
	if h.r.Busy() || h.r.EventsSent() != 80 {
		t.Errorf("busy %v after WaitIdle, %d events sent, want 80", h.r.Busy(), h.r.EventsSent())
	}
	// FindByName picks the newest of the four jobs sharing a name.
	st, found, err := h.r.FindByName(context.Background(), "many-0")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	for i, id := range ids {
		if i%5 == 0 && id != st.ID {
			if other := h.describe(id); other.CreatedAt.After(st.CreatedAt) {
				t.Errorf("FindByName returned %s, but %s is newer", st.ID, id)
			}
		}
	}
}

func TestLogIsCapped(t *testing.T) {
	h := newHarness(t, Config{LogLimit: 1000})
	id := h.submit(shJob("chatty", `i=0; while [ $i -lt 2000 ]; do echo "line $i of a chatty trainer"; i=$((i+1)); done`))
	h.wait()
	if st := h.describe(id); st.Status != training.StatusSucceeded {
		t.Fatalf("status %+v: the cap must not fail or stall the job", st)
	}
	logText := h.get(logBucket, "logs/batch/chatty/"+id+".log")
	if len(logText) > 1200 || !strings.Contains(logText, "log truncated at 1000 bytes") || !strings.HasPrefix(logText, "[mlops] job ") {
		t.Errorf("log of %d bytes:\n%s", len(logText), logText)
	}
}

// A running job's log is uploaded while it runs, so it can be followed.
func TestLogIsUploadedWhileRunning(t *testing.T) {
	h := newHarness(t, Config{LogEvery: 50 * time.Millisecond})
	release := filepath.Join(h.pids, "release")
	job := shJob("follow", `echo "started"; while [ ! -e "$RELEASE" ]; do sleep 0.05; done; echo "finished"`)
	job.Environment = map[string]string{"RELEASE": release}
	id := h.submit(job)
	key := "logs/batch/follow/" + id + ".log"
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _, err := h.st.ReadAll(context.Background(), logBucket, key)
		if err == nil && strings.Contains(string(b), "started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log while running: %v %q", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait()
	if logText := h.get(logBucket, key); !strings.Contains(logText, "finished") {
		t.Errorf("final log %q: the last upload must be the whole log", logText)
	}
}

func TestSubmitValidates(t *testing.T) {
	h := newHarness(t, Config{})
	for _, job := range []training.Job{
		{Name: "no-command"},
		{Name: "bad/name", Command: []string{"true"}},
		{Name: "reserved", Command: []string{"true"}, Environment: map[string]string{"AWS_BATCH_JOB_ID": "x"}},
	} {
		if _, err := h.r.Submit(context.Background(), job); err == nil {
			t.Errorf("job %+v accepted", job)
		}
	}
	if _, err := h.r.Describe(context.Background(), "unknown"); !errors.Is(err, training.ErrJobNotFound) {
		t.Errorf("Describe(unknown): %v", err)
	}
	if _, found, err := h.r.FindByName(context.Background(), "unknown"); found || err != nil {
		t.Errorf("FindByName(unknown): %v %v", found, err)
	}
	if n := len(h.sink.envelopes()); n != 0 {
		t.Errorf("%d events for refused jobs", n)
	}
}

func TestNewRequiresConfig(t *testing.T) {
	if _, err := New(context.Background(), Config{Dir: t.TempDir()}); err == nil {
		t.Error("config without store, events and log bucket accepted")
	}
}

func TestSubstitute(t *testing.T) {
	params := map[string]string{"data": "/w/in/00-a.csv,/w/in/01-a.csv", "empty": ""}
	got := Substitute([]string{"train", "--data", "Ref::data", "Ref::empty", "Ref::unknown", "--x=Ref::data", "Ref::", "ref::data"}, params)
	want := []string{"train", "--data", "/w/in/00-a.csv,/w/in/01-a.csv", "", "Ref::unknown", "--x=Ref::data", "Ref::", "ref::data"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

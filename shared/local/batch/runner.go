// Package batch is local mode's stand-in for AWS Batch: it runs the trainer as
// a process on this machine and reports its progress the way Batch does, with
// "Batch Job State Change" events on the bus and DescribeJobs-like answers.
//
// A job goes RUNNABLE (queued) → STARTING (inputs staged) → RUNNING (the
// process) → SUCCEEDED or FAILED, and each of these transitions is announced
// with an envelope whose detail is the job as Batch would describe it. As in
// AWS, there is no event for SUBMITTED (AWS sends no event for submission:
// docs/design.md, the loop), and the train use case treats events as at-least-once and
// unordered, which a single process trivially satisfies.
//
// The container contract is kept without a container: s3:// inputs named by
// training.StagedParams are downloaded into the job's work directory first and
// the parameters point at the local copies, the output parameter points at a
// local folder whose files are uploaded afterwards (manifest.json last), and
// "Ref::<name>" arguments are substituted as Batch does. The log goes to
// s3://<LogBucket>/logs/batch/<job-name>/<job-id>.log, which is the job's log
// stream.
//
// Job records live under Dir/jobs, so Describe and FindByName survive a
// restart. A job that was in flight when the previous process stopped is
// failed on start ("host terminated"), as Batch fails a job whose instance
// went away; the train use case decides whether to try again.
package batch

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awsbatch "github.com/openmlops/mlops/shared/aws/batch"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// Store is what the runner needs of the platform's store (*store.Store has it):
// reading inputs and uploading outputs and logs.
type Store interface {
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
	Upload(ctx context.Context, bucket, key string, r io.Reader, opt store.PutOptions) (store.ObjectInfo, error)
}

// Events receives the job state change envelopes: the local bus's PutEvents.
type Events interface {
	PutEvents(ctx context.Context, envs ...event.Envelope) error
}

// Config configures a Runner. Store, Events, Dir and LogBucket are required.
type Config struct {
	Store Store
	// JobStore is what a job's own reads and writes go through (its inputs
	// and its outputs: in AWS the container's, under its job role); default
	// Store. The runner's own (the job's log) go through Store.
	JobStore Store
	Events   Events
	// Dir holds the runner's state: jobs/<id>.json and work/<id>/ (in/, out/,
	// tmp/ and job.log). A job's process runs in the platform's own working
	// directory, not there, so that relative paths in a trainer command mean
	// what they meant where it was configured (training hashes those files).
	Dir string
	// LogBucket receives each job's log at logs/batch/<job-name>/<job-id>.log.
	LogBucket string
	// MaxConcurrent is how many jobs run at once; default 1 (a trainer uses
	// every core it is given).
	MaxConcurrent int
	// DefaultTimeout bounds a job submitted without a Timeout: default 24h, so
	// that a hung trainer cannot hold a worker forever; negative means none.
	DefaultTimeout time.Duration
	// KillGrace is how long a process group has between SIGTERM and SIGKILL
	// when its job times out or the runner closes: default 10s. (Batch gives a
	// container 30s.)
	KillGrace time.Duration
	// LogLimit caps the bytes of a job's log that are kept: default 64 MiB.
	// The process may write more; the rest is discarded, with a note.
	LogLimit int64
	// LogEvery is how often a running job's log is uploaded, so that it can be
	// followed: default 30s; negative uploads it only when the job ends.
	LogEvery time.Duration
	// KeepWork keeps the work directory of a failed job, for a post-mortem.
	KeepWork bool
	// Env returns the environment a job's process starts from: default
	// os.Environ. Every AWS_* variable is removed from it (the trainer reads
	// staged local files and must not act with the platform's, or the user's,
	// AWS credentials); then come the variables Batch sets (AWS_BATCH_JOB_ID,
	// ...) and the job's own Environment, which wins.
	Env func() []string
	// Region and Account fill the events and ARNs: default us-east-1 and
	// 000000000000, as the local bus.
	Region, Account string
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
}

// QueueName is the local job queue's name; events carry its ARN (QueueARN), as
// Batch's do.
const QueueName = "local"

// Status reasons, as Batch words them where Batch has one.
const (
	// ReasonExited is Batch's reason for a job whose container ended, with
	// whatever exit code.
	ReasonExited = "Essential container in task exited"
	// ReasonTimeout is Batch's reason for a job killed at its attempt timeout.
	ReasonTimeout = "Job attempt duration exceeded timeout"
	// ReasonHostTerminated fails jobs that were in flight when the runner
	// closed or the previous process stopped (Batch: "Host EC2 ... terminated").
	ReasonHostTerminated = "host terminated: the local platform stopped while the job ran"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("local batch: closed")

// Runner runs jobs as local processes. It implements training.Batch; its
// methods are safe for concurrent use.
type Runner struct {
	cfg      Config
	log      *slog.Logger
	queueARN string

	base context.Context // parent of every job's context; cancelled by Close
	stop context.CancelCauseFunc

	mu      sync.Mutex
	cond    *sync.Cond // signalled when queue grows or the runner closes
	jobs    map[string]*job
	queue   []*job
	closed  bool
	busy    int           // jobs queued or running (or being submitted)
	idle    chan struct{} // closed whenever busy is 0
	seq     int64         // creation order, to break createdAt ties
	sent    atomic.Uint64 // events sent
	workers sync.WaitGroup
}

var (
	_ training.Batch = (*Runner)(nil)
	_ Store          = (*store.Store)(nil)
)

// job is one job: its record (guarded by Runner.mu) and, for a job submitted
// to this process, what to run.
type job struct {
	spec training.Job
	rec  record
	// mu orders a job's transitions: each is recorded and announced before the next.
	mu sync.Mutex
}

// record is jobs/<id>.json: the job as Batch would describe it, plus its place
// in creation order.
type record struct {
	Seq     int64                `json:"seq"`
	Command []string             `json:"command,omitempty"` // as submitted, before substitution
	Detail  event.BatchJobDetail `json:"detail"`
}

// errHostTerminated and errTimeout are the causes a job's context ends with.
var (
	errHostTerminated = errors.New(ReasonHostTerminated)
	errTimeout        = errors.New("job attempt duration exceeded timeout")
)

// New starts a Runner: it reads the job records under cfg.Dir, fails the jobs
// a previous process left in flight (announcing it), and starts the workers.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Events == nil || cfg.Dir == "" || cfg.LogBucket == "" {
		return nil, errors.New("local batch: Store, Events, Dir and LogBucket are required")
	}
	// The trainer gets paths under Dir for its inputs and outputs; they must
	// mean the same from its working directory.
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local batch: state directory: %w", err)
	}
	cfg.Dir = abs
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1
	}
	if cfg.DefaultTimeout == 0 {
		cfg.DefaultTimeout = 24 * time.Hour
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 10 * time.Second
	}
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = 64 << 20
	}
	if cfg.LogEvery == 0 {
		cfg.LogEvery = 30 * time.Second
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "jobs"), filepath.Join(cfg.Dir, "work")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("local batch: %w", err)
		}
	}
	base, stop := context.WithCancelCause(context.Background())
	r := &Runner{
		cfg: cfg, log: cfg.Logger, base: base, stop: stop,
		queueARN: fmt.Sprintf("arn:aws:batch:%s:%s:job-queue/%s", cfg.Region, cfg.Account, QueueName),
		jobs:     map[string]*job{}, idle: make(chan struct{}),
	}
	close(r.idle)
	r.cond = sync.NewCond(&r.mu)
	if err := r.recover(ctx); err != nil {
		stop(nil)
		return nil, err
	}
	for range cfg.MaxConcurrent {
		r.workers.Add(1)
		go r.worker()
	}
	return r, nil
}

// QueueARN is the job queue events name; a rule matching on the queue uses it.
func (r *Runner) QueueARN() string { return r.queueARN }

// Submit queues a job and returns its ID. The job needs a Command (no image
// runs locally); its name follows Batch's rules, so that what runs here is
// accepted by Batch too.
func (r *Runner) Submit(ctx context.Context, spec training.Job) (string, error) {
	if err := awsbatch.ValidateJob(spec); err != nil {
		return "", fmt.Errorf("local batch: submit %s: %w", spec.Name, err)
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return "", fmt.Errorf("local batch: submit %s: a command is required (images do not run locally)", spec.Name)
	}
	spec = cloneJob(spec)
	id := newUUID()
	j := &job{spec: spec, rec: record{Command: spec.Command, Detail: event.BatchJobDetail{
		JobArn:     fmt.Sprintf("arn:aws:batch:%s:%s:job/%s", r.cfg.Region, r.cfg.Account, id),
		JobName:    spec.Name,
		JobID:      id,
		JobQueue:   r.queueARN,
		Status:     training.StatusSubmitted,
		CreatedAt:  time.Now().UnixMilli(),
		Parameters: spec.Parameters,
		Tags:       spec.Tags,
		Container:  &event.BatchContainer{Image: spec.Image},
	}}}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", fmt.Errorf("local batch: submit %s: %w", spec.Name, ErrClosed)
	}
	r.seq++
	j.rec.Seq = r.seq
	r.jobs[id] = j
	r.addBusyLocked()
	r.mu.Unlock()

	// Recorded before Submit returns, so that Describe and FindByName know the
	// job as soon as its ID exists. No event: Batch sends none for SUBMITTED.
	if err := r.persist(j.rec); err != nil {
		r.mu.Lock()
		delete(r.jobs, id)
		r.mu.Unlock()
		r.done()
		return "", fmt.Errorf("local batch: submit %s: %w", spec.Name, err)
	}
	r.transition(j, func(d *event.BatchJobDetail) { d.Status = training.StatusRunnable })

	r.mu.Lock()
	if r.closed {
		// Close ran meanwhile and did not see this job in the queue.
		r.mu.Unlock()
		r.finish(j, training.StatusFailed, ReasonHostTerminated, nil)
		r.done()
		return id, nil
	}
	r.queue = append(r.queue, j)
	r.cond.Signal()
	r.mu.Unlock()
	r.log.Info("job submitted", "job", spec.Name, "id", id)
	return id, nil
}

// Describe returns the job's state, or training.ErrJobNotFound.
func (r *Runner) Describe(_ context.Context, jobID string) (training.JobStatus, error) {
	r.mu.Lock()
	j, ok := r.jobs[jobID]
	var d event.BatchJobDetail
	if ok {
		d = snapshot(j.rec.Detail)
	}
	r.mu.Unlock()
	if !ok {
		return training.JobStatus{}, fmt.Errorf("local batch: describe job %s: %w", jobID, training.ErrJobNotFound)
	}
	return training.JobStatusFromDetail(d), nil
}

// FindByName returns the newest job named name.
func (r *Runner) FindByName(_ context.Context, name string) (training.JobStatus, bool, error) {
	r.mu.Lock()
	var newest *job
	for _, j := range r.jobs {
		if j.rec.Detail.JobName != name {
			continue
		}
		if newest == nil || newer(j.rec, newest.rec) {
			newest = j
		}
	}
	var d event.BatchJobDetail
	if newest != nil {
		d = snapshot(newest.rec.Detail)
	}
	r.mu.Unlock()
	if newest == nil {
		return training.JobStatus{}, false, nil
	}
	return training.JobStatusFromDetail(d), true, nil
}

func newer(a, b record) bool {
	if a.Detail.CreatedAt != b.Detail.CreatedAt {
		return a.Detail.CreatedAt > b.Detail.CreatedAt
	}
	return a.Seq > b.Seq
}

// WaitIdle returns once no job is queued or running. (A job's final event may
// start more work on the bus, which may submit another job: the platform waits
// for both until both are idle.)
func (r *Runner) WaitIdle(ctx context.Context) error {
	for {
		r.mu.Lock()
		busy, idle := r.busy, r.idle
		r.mu.Unlock()
		if busy == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("local batch: wait for %d jobs: %w", busy, ctx.Err())
		}
	}
}

// Busy reports whether a job is queued or running now.
func (r *Runner) Busy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.busy > 0
}

// EventsSent counts the state change events sent so far. A job sends its
// final event before it stops counting as busy, so a caller that waits for the
// bus and then for the runner can tell, by this count not having moved since
// before it waited for the bus, that no job handed the bus more work meanwhile.
func (r *Runner) EventsSent() uint64 { return r.sent.Load() }

// Close stops accepting jobs, fails the queued ones, kills the running ones'
// process groups (SIGTERM, then SIGKILL after KillGrace) and fails them as
// "host terminated", then waits for their logs, records and events. Close
// the runner before the bus, so that these last events are delivered.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	queued := r.queue
	r.queue = nil
	r.cond.Broadcast()
	r.mu.Unlock()
	if !already {
		r.stop(errHostTerminated)
		for _, j := range queued {
			r.finish(j, training.StatusFailed, ReasonHostTerminated, nil)
			r.done()
		}
	}
	workers := make(chan struct{})
	go func() { r.workers.Wait(); close(workers) }()
	select {
	case <-workers:
	case <-ctx.Done():
		return fmt.Errorf("local batch: close: jobs still stopping: %w", ctx.Err())
	}
	return r.WaitIdle(ctx)
}

func (r *Runner) addBusyLocked() {
	if r.busy == 0 {
		r.idle = make(chan struct{})
	}
	r.busy++
}

// done ends one unit of busy.
func (r *Runner) done() {
	r.mu.Lock()
	r.busy--
	if r.busy == 0 {
		close(r.idle)
	}
	r.mu.Unlock()
}

func (r *Runner) worker() {
	defer r.workers.Done()
	for {
		r.mu.Lock()
		for len(r.queue) == 0 && !r.closed {
			r.cond.Wait()
		}
		if r.closed {
			// Close fails what is still queued.
			r.mu.Unlock()
			return
		}
		j := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
		r.run(j)
		r.done()
	}
}

// transition changes a job's record, saves it and announces it, unless the job
// is already final (a final state is final).
func (r *Runner) transition(j *job, change func(d *event.BatchJobDetail)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r.mu.Lock()
	if st := j.rec.Detail.Status; st == training.StatusSucceeded || st == training.StatusFailed {
		r.mu.Unlock()
		return
	}
	change(&j.rec.Detail)
	rec := j.rec
	rec.Detail = snapshot(j.rec.Detail)
	r.mu.Unlock()
	if err := r.persist(rec); err != nil {
		// The event still goes out: the train use case acts on it, and Describe
		// answers from memory until the next restart.
		r.log.Error("save job record", "job", rec.Detail.JobName, "id", rec.Detail.JobID, "error", err)
	}
	r.emit(rec.Detail)
	r.log.Info("job state", "job", rec.Detail.JobName, "id", rec.Detail.JobID, "status", rec.Detail.Status,
		"reason", rec.Detail.StatusReason)
}

// finish moves a job to its final state. run, when the process started, is
// the attempt that ran.
func (r *Runner) finish(j *job, status, reason string, run *event.BatchAttempt) {
	r.transition(j, func(d *event.BatchJobDetail) {
		d.Status, d.StatusReason = status, reason
		d.StoppedAt = time.Now().UnixMilli()
		if run != nil {
			run.StoppedAt, run.StatusReason = d.StoppedAt, reason
			d.Attempts = append(d.Attempts, *run)
			d.Container.ExitCode = run.Container.ExitCode
			d.Container.LogStreamName = run.Container.LogStreamName
		}
	})
}

// emit sends the job's state change, as Batch does. A failure is logged: the
// job's record still says where it stands, and reconcile reads it.
func (r *Runner) emit(d event.BatchJobDetail) {
	detail, err := json.Marshal(d)
	if err != nil {
		r.log.Error("encode job state change", "id", d.JobID, "error", err)
		return
	}
	env := event.Envelope{
		Version: "0", ID: newUUID(), DetailType: event.BatchJobStateChange, Source: event.BatchSource,
		Account: r.cfg.Account, Time: time.Now().UTC().Truncate(time.Second), Region: r.cfg.Region,
		Resources: []string{d.JobArn}, Detail: detail,
	}
	r.sent.Add(1)
	if err := r.cfg.Events.PutEvents(context.Background(), env); err != nil {
		r.log.Error("send job state change", "job", d.JobName, "id", d.JobID, "status", d.Status, "error", err)
	}
}

// persist writes the record atomically (a temporary file renamed over it), so
// a crash leaves the old record or the new one, never half of one.
func (r *Runner) persist(rec record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode job record %s: %w", rec.Detail.JobID, err)
	}
	path := r.recordPath(rec.Detail.JobID)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("save job record %s: %w", rec.Detail.JobID, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save job record %s: %w", rec.Detail.JobID, err)
	}
	return nil
}

func (r *Runner) recordPath(id string) string { return filepath.Join(r.cfg.Dir, "jobs", id+".json") }

func (r *Runner) workDir(id string) string { return filepath.Join(r.cfg.Dir, "work", id) }

// recover loads the records a previous process left and fails the jobs it
// left in flight: their processes died with it (each ran in the previous
// process's care), as a Batch job dies with its instance.
func (r *Runner) recover(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(r.cfg.Dir, "jobs"))
	if err != nil {
		return fmt.Errorf("local batch: read job records: %w", err)
	}
	var inflight []*job
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(r.cfg.Dir, "jobs", name)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("local batch: read job record: %w", err)
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil || rec.Detail.JobID+".json" != name {
			// One damaged record must not keep the platform from starting.
			r.log.Warn("skip damaged job record", "path", path, "error", err)
			continue
		}
		j := &job{rec: rec}
		r.jobs[rec.Detail.JobID] = j
		r.seq = max(r.seq, rec.Seq)
		if st := rec.Detail.Status; st != training.StatusSucceeded && st != training.StatusFailed {
			inflight = append(inflight, j)
		}
	}
	for _, j := range inflight {
		d := j.rec.Detail
		var run *event.BatchAttempt
		if d.StartedAt > 0 {
			// Its log so far is in the work directory: keep it where the job's
			// log stream points.
			logStream := r.logStream(d.JobName, d.JobID)
			if err := r.uploadLogFile(ctx, filepath.Join(r.workDir(d.JobID), logFileName), d.JobName, d.JobID,
				"[mlops] "+ReasonHostTerminated+"\n"); err != nil {
				r.log.Warn("upload log of an interrupted job", "id", d.JobID, "error", err)
			}
			run = &event.BatchAttempt{StartedAt: d.StartedAt, Container: event.BatchContainer{LogStreamName: logStream}}
		}
		r.log.Warn("job was in flight when the platform stopped", "job", d.JobName, "id", d.JobID, "status", d.Status)
		if j.rec.Detail.Container == nil {
			j.rec.Detail.Container = &event.BatchContainer{}
		}
		r.finish(j, training.StatusFailed, ReasonHostTerminated, run)
	}
	// Work directories of jobs that are over (whatever stopped their clean-up).
	work, err := os.ReadDir(filepath.Join(r.cfg.Dir, "work"))
	if err != nil {
		return fmt.Errorf("local batch: read work directories: %w", err)
	}
	for _, e := range work {
		j, known := r.jobs[e.Name()]
		if r.cfg.KeepWork && known && j.rec.Detail.Status == training.StatusFailed {
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.cfg.Dir, "work", e.Name())); err != nil {
			r.log.Warn("remove work directory", "path", e.Name(), "error", err)
		}
	}
	return nil
}

// snapshot copies a detail deep enough to be read after Runner.mu is released:
// transitions change the container and append attempts in place. (Parameters
// and tags are never changed after Submit.)
func snapshot(d event.BatchJobDetail) event.BatchJobDetail {
	d.Attempts = slices.Clone(d.Attempts)
	if d.Container != nil {
		c := *d.Container
		d.Container = &c
	}
	return d
}

func cloneJob(j training.Job) training.Job {
	j.Command = slices.Clone(j.Command)
	j.Parameters = maps.Clone(j.Parameters)
	j.Environment = maps.Clone(j.Environment)
	j.Tags = maps.Clone(j.Tags)
	return j
}

// newUUID is a random (version 4) UUID, the shape of Batch's job IDs.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (it aborts the program instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

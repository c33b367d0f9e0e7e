package lambdatest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The names the fake Batch knows, as the stack passes them to the functions
// (ARNs), and the reference trainer's image, pinned by digest.
const (
	BatchJobQueue      = "arn:aws:batch:us-east-1:123456789012:job-queue/mlops-training"
	BatchJobDefinition = "arn:aws:batch:us-east-1:123456789012:job-definition/mlops-trainer:1"
	TrainerImage       = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-trainer@sha256:" +
		"7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730"
)

// Batch is a FAKE AWS Batch: AWS Batch cannot run here (it needs an account, a
// compute environment and ECS). This httptest server speaks the part of
// Batch's REST-JSON protocol the platform uses (POST /v1/submitjob, /v1/listjobs
// and /v1/describejobs with JSON bodies, errors named by the X-Amzn-ErrorType
// header), so that the real SDK client in a function's bootstrap talks to it
// unchanged. It keeps the jobs it accepted (they stay SUBMITTED until the test
// moves them with SetState), answers ListJobs and DescribeJobs from them, and
// records every request.
type Batch struct {
	*httptest.Server
	JobQueue      string // the queue it accepts jobs on (by ARN or name)
	JobDefinition string // the reference trainer's definition (by ARN, name:revision or name)
	TrainerImage  string // the image JobDefinition runs

	t    testing.TB
	done chan struct{}

	mu    sync.Mutex
	calls []BatchCall
	jobs  []*BatchJob
	lose  int
}

// BatchCall is one request the fake received.
type BatchCall struct {
	Op   string // SubmitJob, ListJobs or DescribeJobs
	Body []byte
}

// BatchJob is a job the fake accepted, and its state.
type BatchJob struct {
	ID, Arn, Name, Queue, Definition string
	Parameters, Tags                 map[string]string
	Request                          json.RawMessage // the SubmitJob body
	CreatedAt                        int64           // milliseconds since the epoch, as Batch says it
	JobState
	StartedAt, StoppedAt int64
}

// JobState is what SetState moves a job to.
type JobState struct {
	Status       string // SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED or FAILED
	StatusReason string
	// The container's part: exit code, reason (such as "OutOfMemoryError:
	// Container killed due to memory usage") and CloudWatch log stream.
	ExitCode      *int
	Reason        string
	LogStreamName string
}

var batchOps = map[string]string{"submitjob": "SubmitJob", "listjobs": "ListJobs", "describejobs": "DescribeJobs"}

// NewBatch starts the fake until the test ends.
func NewBatch(t testing.TB) *Batch {
	b := &Batch{JobQueue: BatchJobQueue, JobDefinition: BatchJobDefinition, TrainerImage: TrainerImage,
		t: t, done: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	t.Cleanup(func() { close(b.done) }) // runs first: releases withheld answers
	return b
}

// Env is the training environment the stack gives the train (and reconcile)
// function, pointed at the fake.
func (b *Batch) Env() []string {
	return []string{"JOB_QUEUE=" + b.JobQueue, "JOB_DEFINITION=" + b.JobDefinition,
		"TRAINER_IMAGE=" + b.TrainerImage, "MLOPS_BATCH_ENDPOINT=" + b.URL}
}

// Calls returns the requests received so far, in order; with op, only those
// of that operation (SubmitJob, ListJobs, DescribeJobs).
func (b *Batch) Calls(op string) []BatchCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []BatchCall
	for _, c := range b.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Jobs returns copies of the jobs accepted so far, oldest first.
func (b *Batch) Jobs() []BatchJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BatchJob, len(b.jobs))
	for i, j := range b.jobs {
		out[i] = *j
	}
	return out
}

// SetState moves a job on, as Batch's scheduler would: a job that reaches
// RUNNING gets its start time, a final one its stop time.
func (b *Batch) SetState(jobID string, s JobState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range b.jobs {
		if j.ID != jobID {
			continue
		}
		j.JobState = s
		now := time.Now().UnixMilli()
		if j.StartedAt == 0 && (s.Status == "RUNNING" || s.Status == "SUCCEEDED" || s.Status == "FAILED") {
			j.StartedAt = now
		}
		if s.Status == "SUCCEEDED" || s.Status == "FAILED" {
			j.StoppedAt = now
		}
		return
	}
	b.t.Errorf("fake Batch: SetState of unknown job %s", jobID)
}

// LoseSubmitAnswers makes the next n SubmitJob requests create their job and
// then withhold the answer until the caller gives up, as when a function
// times out after Batch accepted the job: the caller never learns the job ID.
func (b *Batch) LoseSubmitAnswers(n int) {
	b.mu.Lock()
	b.lose = n
	b.mu.Unlock()
}

type batchError struct {
	status int
	kind   string
	msg    string
}

func clientError(format string, args ...any) *batchError {
	return &batchError{http.StatusBadRequest, "ClientException", fmt.Sprintf(format, args...)}
}

func (b *Batch) serve(w http.ResponseWriter, r *http.Request) {
	name, found := strings.CutPrefix(r.URL.Path, "/v1/")
	op := batchOps[name]
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || !found || op == "" || r.Header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/batch/aws4_request") {
		b.t.Errorf("fake Batch: unexpected request %s %s (Content-Type %q, Authorization %q)", r.Method, r.URL, r.Header.Get("Content-Type"), auth)
		writeBatch(w, nil, clientError("not supported by the fake"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeBatch(w, nil, clientError("read body: %v", err))
		return
	}
	b.mu.Lock()
	b.calls = append(b.calls, BatchCall{Op: op, Body: body})
	b.mu.Unlock()
	var out any
	var berr *batchError
	switch op {
	case "SubmitJob":
		var lose bool
		out, lose, berr = b.submit(body)
		if lose {
			select {
			case <-r.Context().Done():
			case <-b.done:
			}
			return
		}
	case "ListJobs":
		out, berr = b.list(body)
	case "DescribeJobs":
		out, berr = b.describe(body)
	}
	writeBatch(w, out, berr)
}

func writeBatch(w http.ResponseWriter, out any, e *batchError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if e != nil {
		w.Header().Set("X-Amzn-ErrorType", e.kind)
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": e.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (b *Batch) knownQueue(q string) bool {
	return q != "" && (q == b.JobQueue || strings.HasSuffix(b.JobQueue, ":job-queue/"+q))
}

func (b *Batch) knownDefinition(d string) bool {
	if d == "" {
		return false
	}
	if d == b.JobDefinition {
		return true
	}
	_, nameRev, _ := strings.Cut(b.JobDefinition, ":job-definition/")
	defName, _, _ := strings.Cut(nameRev, ":")
	return d == nameRev || d == defName
}

func (b *Batch) submit(body []byte) (any, bool, *batchError) {
	var in struct {
		JobName, JobQueue, JobDefinition string
		Parameters, Tags                 map[string]string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, false, clientError("SubmitJob: %v", err)
	}
	if err := validJobName(in.JobName); err != nil {
		return nil, false, clientError("SubmitJob: %v", err)
	}
	if !b.knownQueue(in.JobQueue) {
		return nil, false, clientError("JobQueue %s not found", in.JobQueue)
	}
	if !b.knownDefinition(in.JobDefinition) {
		return nil, false, clientError("JobDefinition %s not found", in.JobDefinition)
	}
	id := newUUID()
	j := &BatchJob{ID: id, Arn: "arn:aws:batch:us-east-1:123456789012:job/" + id, Name: in.JobName,
		Queue: b.JobQueue, Definition: b.JobDefinition, Parameters: in.Parameters, Tags: in.Tags,
		Request: slices.Clone(body), CreatedAt: time.Now().UnixMilli(), JobState: JobState{Status: "SUBMITTED"}}
	b.mu.Lock()
	b.jobs = append(b.jobs, j)
	lose := b.lose > 0
	if lose {
		b.lose--
	}
	b.mu.Unlock()
	return map[string]string{"jobArn": j.Arn, "jobName": j.Name, "jobId": j.ID}, lose, nil
}

func validJobName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("jobName %q: 1 to 128 characters", s)
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_') {
			return fmt.Errorf("jobName %q: letters, digits, '-' and '_', starting with a letter or digit", s)
		}
	}
	return nil
}

type batchContainer struct {
	Image                string            `json:"image,omitempty"`
	Command              []string          `json:"command,omitempty"`
	Environment          []json.RawMessage `json:"environment,omitempty"`
	ResourceRequirements []json.RawMessage `json:"resourceRequirements,omitempty"`
	ExitCode             *int              `json:"exitCode,omitempty"`
	Reason               string            `json:"reason,omitempty"`
	LogStreamName        string            `json:"logStreamName,omitempty"`
}

type batchSummary struct {
	JobArn        string          `json:"jobArn"`
	JobID         string          `json:"jobId"`
	JobName       string          `json:"jobName"`
	CreatedAt     int64           `json:"createdAt"`
	Status        string          `json:"status"`
	StatusReason  string          `json:"statusReason,omitempty"`
	StartedAt     int64           `json:"startedAt,omitempty"`
	StoppedAt     int64           `json:"stoppedAt,omitempty"`
	Container     *batchContainer `json:"container,omitempty"`
	JobDefinition string          `json:"jobDefinition"`
}

// list answers ListJobs: with a JOB_NAME filter (case-insensitive, a trailing
// '*' matching a prefix, as Batch does) in every status; without filters, the
// jobs in jobStatus (default RUNNING).
func (b *Batch) list(body []byte) (any, *batchError) {
	var in struct {
		JobQueue  string
		JobStatus string
		Filters   []struct {
			Name   string
			Values []string
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, clientError("ListJobs: %v", err)
	}
	if !b.knownQueue(in.JobQueue) {
		return nil, clientError("JobQueue %s not found", in.JobQueue)
	}
	match := func(j *BatchJob) bool {
		if len(in.Filters) == 0 {
			status := in.JobStatus
			if status == "" {
				status = "RUNNING"
			}
			return j.Status == status
		}
		for _, f := range in.Filters {
			if f.Name != "JOB_NAME" || len(f.Values) != 1 {
				return false // other filters are not faked
			}
			v := strings.ToLower(f.Values[0])
			name := strings.ToLower(j.Name)
			if p, ok := strings.CutSuffix(v, "*"); ok {
				if !strings.HasPrefix(name, p) {
					return false
				}
			} else if name != v {
				return false
			}
		}
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	list := []batchSummary{}
	for _, j := range slices.Backward(b.jobs) {
		if !match(j) {
			continue
		}
		s := batchSummary{JobArn: j.Arn, JobID: j.ID, JobName: j.Name, CreatedAt: j.CreatedAt, Status: j.Status,
			StatusReason: j.StatusReason, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt, JobDefinition: j.Definition}
		if j.ExitCode != nil || j.Reason != "" {
			s.Container = &batchContainer{ExitCode: j.ExitCode, Reason: j.Reason}
		}
		list = append(list, s)
	}
	return map[string]any{"jobSummaryList": list}, nil
}

type batchAttempt struct {
	Container    batchContainer `json:"container"`
	StartedAt    int64          `json:"startedAt,omitempty"`
	StoppedAt    int64          `json:"stoppedAt,omitempty"`
	StatusReason string         `json:"statusReason,omitempty"`
}

type batchDetail struct {
	JobArn               string            `json:"jobArn"`
	JobName              string            `json:"jobName"`
	JobID                string            `json:"jobId"`
	JobQueue             string            `json:"jobQueue"`
	Status               string            `json:"status"`
	StatusReason         string            `json:"statusReason,omitempty"`
	Attempts             []batchAttempt    `json:"attempts"`
	CreatedAt            int64             `json:"createdAt"`
	StartedAt            int64             `json:"startedAt,omitempty"`
	StoppedAt            int64             `json:"stoppedAt,omitempty"`
	DependsOn            []string          `json:"dependsOn"`
	JobDefinition        string            `json:"jobDefinition"`
	Parameters           map[string]string `json:"parameters,omitempty"`
	Container            *batchContainer   `json:"container"`
	Tags                 map[string]string `json:"tags,omitempty"`
	PropagateTags        bool              `json:"propagateTags"`
	PlatformCapabilities []string          `json:"platformCapabilities"`
}

// describe answers DescribeJobs with the jobs it knows of those asked for.
func (b *Batch) describe(body []byte) (any, *batchError) {
	var in struct{ Jobs []string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, clientError("DescribeJobs: %v", err)
	}
	if len(in.Jobs) == 0 || len(in.Jobs) > 100 {
		return nil, clientError("DescribeJobs: 1 to 100 jobs, got %d", len(in.Jobs))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []batchDetail{}
	for _, j := range b.jobs {
		if !slices.Contains(in.Jobs, j.ID) && !slices.Contains(in.Jobs, j.Arn) {
			continue
		}
		var req struct {
			ContainerOverrides struct {
				Command              []string
				Environment          []json.RawMessage
				ResourceRequirements []json.RawMessage
			}
			PropagateTags bool
		}
		_ = json.Unmarshal(j.Request, &req)
		o := req.ContainerOverrides
		c := &batchContainer{Image: b.TrainerImage, Command: o.Command, Environment: o.Environment,
			ResourceRequirements: o.ResourceRequirements, ExitCode: j.ExitCode, Reason: j.Reason, LogStreamName: j.LogStreamName}
		d := batchDetail{JobArn: j.Arn, JobName: j.Name, JobID: j.ID, JobQueue: j.Queue, Status: j.Status,
			StatusReason: j.StatusReason, Attempts: []batchAttempt{}, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt,
			StoppedAt: j.StoppedAt, DependsOn: []string{}, JobDefinition: j.Definition, Parameters: maps.Clone(j.Parameters),
			Container: c, Tags: maps.Clone(j.Tags), PropagateTags: req.PropagateTags, PlatformCapabilities: []string{"EC2"}}
		if j.StoppedAt != 0 {
			d.Attempts = append(d.Attempts, batchAttempt{Container: batchContainer{ExitCode: j.ExitCode, Reason: j.Reason,
				LogStreamName: j.LogStreamName}, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt, StatusReason: j.StatusReason})
		}
		out = append(out, d)
	}
	return map[string]any{"jobs": out}, nil
}

// newUUID returns a random version 4 UUID, the shape of Batch's job IDs.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// DecodeStrict decodes a request body into v, refusing fields v does not
// name: the wire shape the test expects, field for field.
func DecodeStrict(t testing.TB, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, body, err)
	}
}

// KV is a name and a value on the wire (an environment variable).
type KV struct{ Name, Value string }

// Resource is a resource requirement on the wire.
type Resource struct{ Type, Value string }

// SubmitJobRequest is SubmitJob's request as the SDK sends it, for
// DecodeStrict. Pointers where "absent" and the zero value differ.
type SubmitJobRequest struct {
	JobName            string
	JobQueue           string
	JobDefinition      string
	Parameters         map[string]string
	ContainerOverrides *struct {
		Command              []string
		Environment          []KV
		ResourceRequirements []Resource
	}
	Timeout       *struct{ AttemptDurationSeconds int }
	Tags          map[string]string
	PropagateTags *bool
}

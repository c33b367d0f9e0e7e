package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/aws/batch"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/training"
)

// fakeBatch is a FAKE AWS Batch. Batch itself cannot run here (it needs an
// account, a compute environment and ECS), so this httptest server speaks just
// enough of Batch's REST-JSON protocol (POST /v1/<operation> with a JSON body,
// errors named by the X-Amzn-ErrorType header) for the real SDK client to talk
// to it. It records the requests the SDK actually sends, and answers each with
// the handler the test installed for that operation.
type fakeBatch struct {
	t        *testing.T
	handlers map[string]func(call int, body []byte) answer

	mu    sync.Mutex
	calls []call
}

type call struct {
	Op   string // submitjob, listjobs, describejobs, describejobdefinitions, registerjobdefinition
	Body []byte
}

// answer is a response: a JSON body with a status, or an error of errType.
type answer struct {
	status  int
	errType string
	body    any
}

func ok(body any) answer { return answer{status: http.StatusOK, body: body} }

func (f *fakeBatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, found := strings.CutPrefix(r.URL.Path, "/v1/")
	body, ok := awstest.ReadSigned(f.t, w, r, map[string]string{"Content-Type": "application/json"},
		found && strings.Contains(r.Header.Get("Authorization"), "/"+awstest.Region+"/batch/aws4_request"))
	if !ok {
		return
	}
	f.mu.Lock()
	n := 0
	for _, c := range f.calls {
		if c.Op == op {
			n++
		}
	}
	f.calls = append(f.calls, call{Op: op, Body: body})
	f.mu.Unlock()

	h := f.handlers[op]
	if h == nil {
		f.t.Errorf("unexpected operation %s: %s", op, body)
		h = func(int, []byte) answer {
			return answer{status: http.StatusBadRequest, errType: "ClientException", body: map[string]string{"message": "not faked"}}
		}
	}
	a := h(n, body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "8d4a2b3c-0000-4000-8000-000000000001")
	if a.errType != "" {
		w.Header().Set("X-Amzn-ErrorType", a.errType)
	}
	w.WriteHeader(a.status)
	if err := json.NewEncoder(w).Encode(a.body); err != nil {
		f.t.Errorf("encode response: %v", err)
	}
}

// of returns the bodies of the calls to op, in order.
func (f *fakeBatch) of(op string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c.Body)
		}
	}
	return out
}

func (f *fakeBatch) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Op)
	}
	return out
}

const (
	queue      = "mlops-training"
	defaultDef = "mlops-trainer"
	refImage   = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-trainer@sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730"
	userImage  = "ghcr.io/acme/churn-trainer@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	jobRole    = "arn:aws:iam::123456789012:role/mlops-trainer-job"
	execRole   = "arn:aws:iam::123456789012:role/mlops-trainer-execution"
)

var template = batch.DefinitionTemplate{
	JobRoleArn:       jobRole,
	ExecutionRoleArn: execRole,
	LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
		"awslogs-group": "/mlops/trainer", "awslogs-stream-prefix": "mlops-trainer"}},
	Tags: map[string]string{"app": "mlops"},
}

// newQueue starts the fake with handlers and returns a Queue using the real SDK
// client against it.
func newQueue(t *testing.T, handlers map[string]func(int, []byte) answer) (*batch.Queue, *fakeBatch) {
	t.Helper()
	fake := &fakeBatch{t: t, handlers: handlers}
	// A fresh connection per request: a reused one the server has just
	// closed makes the SDK resend, and these tests count requests.
	cfg := awstest.Config(t, fake, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
	client := awsbatch.NewFromConfig(cfg, func(o *awsbatch.Options) {
		// The SDK's standard retryer, with its waits shortened for the test.
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			o.RateLimiter = ratelimit.None
		})
	})
	q, err := batch.New(client, batch.Config{JobQueue: queue, JobDefinition: defaultDef, DefaultImage: refImage, Definitions: template})
	if err != nil {
		t.Fatal(err)
	}
	return q, fake
}

// submitRequest submits job and decodes the SubmitJob request that made:
// the n-th the fake received.
func submitRequest(t *testing.T, q *batch.Queue, fake *fakeBatch, job training.Job, n int) lambdatest.SubmitJobRequest {
	t.Helper()
	if _, err := q.Submit(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var in lambdatest.SubmitJobRequest
	lambdatest.DecodeStrict(t, fake.of("submitjob")[n], &in)
	return in
}

func submitted(id string) func(int, []byte) answer {
	return func(_ int, body []byte) answer {
		var in struct{ JobName string }
		_ = json.Unmarshal(body, &in)
		return ok(map[string]string{"jobArn": "arn:aws:batch:us-east-1:123456789012:job/" + id, "jobName": in.JobName, "jobId": id})
	}
}

func trainingJob() training.Job {
	return training.Job{
		Name:    "credit-xgb-4f2a9c1e7b3d5a60-1",
		Image:   refImage,
		Command: append([]string{"python3", "/opt/trainer/train.py"}, training.ContractArgs()...),
		Parameters: map[string]string{
			training.ParamData:  "s3://mlops-platform/datasets/credit/objects/a.csv.gz,s3://mlops-platform/datasets/credit/objects/b.csv.gz",
			training.ParamRunID: "credit-xgb-4f2a9c1e7b3d5a60-1", training.ParamOutput: "s3://mlops-platform/runs/credit-xgb-4f2a9c1e7b3d5a60-1/bundle/",
		},
		Environment: map[string]string{"XGBOOST_TREE_METHOD": "gpu_hist", "MLOPS_LOG_LEVEL": "info"},
		Tags:        map[string]string{"dataset": "credit", "model": "credit-xgb", "run": "credit-xgb-4f2a9c1e7b3d5a60-1"},
		Timeout:     2*time.Hour + 300*time.Millisecond,
		GPUs:        1, VCPUs: 4, MemoryMiB: 15360,
	}
}

func TestSubmitSendsTheJob(t *testing.T) {
	q, fake := newQueue(t, map[string]func(int, []byte) answer{"submitjob": submitted("0f6e2c8a-3b4d-4e1f-9a7c-5d8b2e6f1a30")})
	job := trainingJob()
	id, err := q.Submit(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if id != "0f6e2c8a-3b4d-4e1f-9a7c-5d8b2e6f1a30" {
		t.Errorf("job ID %q", id)
	}
	if ops := fake.ops(); !reflect.DeepEqual(ops, []string{"submitjob"}) {
		t.Fatalf("calls %v: the default image needs no job definition lookup", ops)
	}
	var in lambdatest.SubmitJobRequest
	lambdatest.DecodeStrict(t, fake.of("submitjob")[0], &in)
	if in.JobName != job.Name || in.JobQueue != queue || in.JobDefinition != defaultDef {
		t.Errorf("name %s queue %s definition %s", in.JobName, in.JobQueue, in.JobDefinition)
	}
	if !reflect.DeepEqual(in.Parameters, job.Parameters) || !reflect.DeepEqual(in.Tags, job.Tags) {
		t.Errorf("parameters %v tags %v", in.Parameters, in.Tags)
	}
	if in.PropagateTags == nil || !*in.PropagateTags {
		t.Error("propagateTags not set: the ECS task would go untagged")
	}
	if in.Timeout == nil || in.Timeout.AttemptDurationSeconds != 7201 {
		t.Errorf("timeout %+v, want 7201 s (rounded up)", in.Timeout)
	}
	o := in.ContainerOverrides
	if o == nil {
		t.Fatal("no container overrides")
	}
	if !reflect.DeepEqual(o.Command, job.Command) || !strings.HasPrefix(strings.Join(o.Command, " "), "python3 /opt/trainer/train.py --data Ref::data") {
		t.Errorf("command %q: Ref:: arguments are Batch's to substitute", o.Command)
	}
	if want := []lambdatest.KV{{Name: "MLOPS_LOG_LEVEL", Value: "info"}, {Name: "XGBOOST_TREE_METHOD", Value: "gpu_hist"}}; !reflect.DeepEqual(o.Environment, want) {
		t.Errorf("environment %v, want %v (sorted)", o.Environment, want)
	}
	if want := []lambdatest.Resource{{Type: "GPU", Value: "1"}, {Type: "VCPU", Value: "4"}, {Type: "MEMORY", Value: "15360"}}; !reflect.DeepEqual(o.ResourceRequirements, want) {
		t.Errorf("resources %v, want %v", o.ResourceRequirements, want)
	}
}

// A CPU job with no command of its own keeps the definition's command, asks
// for no GPU (Batch refuses a GPU requirement of 0) and gets Batch's minimum
// timeout when its own is shorter.
func TestSubmitCPUJobWithDefaults(t *testing.T) {
	q, fake := newQueue(t, map[string]func(int, []byte) answer{"submitjob": submitted("j-cpu")})
	job := training.Job{Name: "churn_1", Parameters: map[string]string{"runid": "churn_1"}, VCPUs: 2, MemoryMiB: 4096, Timeout: 10 * time.Second}
	in := submitRequest(t, q, fake, job, 0)
	if in.JobDefinition != defaultDef {
		t.Errorf("an image-less job runs the default definition, got %s", in.JobDefinition)
	}
	if in.ContainerOverrides == nil || in.ContainerOverrides.Command != nil || in.ContainerOverrides.Environment != nil {
		t.Errorf("overrides %+v: no command, no environment", in.ContainerOverrides)
	}
	if want := []lambdatest.Resource{{Type: "VCPU", Value: "2"}, {Type: "MEMORY", Value: "4096"}}; !reflect.DeepEqual(in.ContainerOverrides.ResourceRequirements, want) {
		t.Errorf("resources %v, want %v", in.ContainerOverrides.ResourceRequirements, want)
	}
	if in.Timeout == nil || in.Timeout.AttemptDurationSeconds != 60 {
		t.Errorf("timeout %+v, want Batch's minimum 60", in.Timeout)
	}

	// No timeout at all: the definition's applies, nothing is sent.
	job.Timeout = 0
	in2 := submitRequest(t, q, fake, job, 1)
	if in2.Timeout != nil {
		t.Errorf("timeout %+v sent for a job without one", in2.Timeout)
	}
}

type wireRegister struct {
	JobDefinitionName    string
	Type                 string
	PlatformCapabilities []string
	ContainerProperties  struct {
		Image                string
		Command              []string
		JobRoleArn           string
		ExecutionRoleArn     string
		ResourceRequirements []lambdatest.Resource
		LogConfiguration     struct {
			LogDriver string
			Options   map[string]string
		}
	}
	RetryStrategy struct {
		Attempts       int
		EvaluateOnExit []struct{ OnStatusReason, OnReason, Action string }
	}
	PropagateTags bool
	Tags          map[string]string
}

func jobDefinition(name string, rev int, image, role string) map[string]any {
	return map[string]any{
		"jobDefinitionName": name, "revision": rev, "status": "ACTIVE", "type": "container",
		"jobDefinitionArn":     fmt.Sprintf("arn:aws:batch:us-east-1:123456789012:job-definition/%s:%d", name, rev),
		"platformCapabilities": []string{"EC2"},
		"containerProperties": map[string]any{"image": image, "jobRoleArn": role, "executionRoleArn": execRole,
			"command": training.ContractArgs(), "resourceRequirements": []map[string]string{{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}}},
	}
}

// A job with its own image gets a job definition of its own: looked up by its
// name, registered from the template when there is none, then remembered.
func TestSubmitOtherImageRegistersADefinition(t *testing.T) {
	name := batch.DefinitionName("mlops-trainer", userImage)
	const arn = "arn:aws:batch:us-east-1:123456789012:job-definition/"
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		// One revision, registered under another job role: not the one wanted.
		"describejobdefinitions": func(int, []byte) answer {
			return ok(map[string]any{"jobDefinitions": []any{jobDefinition(name, 1, userImage, "arn:aws:iam::123456789012:role/old")}})
		},
		"registerjobdefinition": func(int, []byte) answer {
			return ok(map[string]any{"jobDefinitionName": name, "jobDefinitionArn": arn + name + ":2", "revision": 2})
		},
		"submitjob": submitted("j-user"),
	})
	job := trainingJob()
	job.Image = userImage
	for range 2 {
		if _, err := q.Submit(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"describejobdefinitions", "registerjobdefinition", "submitjob", "submitjob"}
	if ops := fake.ops(); !reflect.DeepEqual(ops, want) {
		t.Fatalf("calls %v, want %v: the definition is registered once and remembered", ops, want)
	}

	var desc struct{ JobDefinitionName, Status string }
	lambdatest.DecodeStrict(t, fake.of("describejobdefinitions")[0], &desc)
	if desc.JobDefinitionName != name || desc.Status != "ACTIVE" {
		t.Errorf("describe %+v", desc)
	}
	if !strings.HasPrefix(name, "mlops-trainer-") || len(name) != len("mlops-trainer-")+12 {
		t.Errorf("definition name %s", name)
	}

	var reg wireRegister
	lambdatest.DecodeStrict(t, fake.of("registerjobdefinition")[0], &reg)
	c := reg.ContainerProperties
	if reg.JobDefinitionName != name || reg.Type != "container" || !reflect.DeepEqual(reg.PlatformCapabilities, []string{"EC2"}) {
		t.Errorf("register %s type %s platform %v", reg.JobDefinitionName, reg.Type, reg.PlatformCapabilities)
	}
	if c.Image != userImage || c.JobRoleArn != jobRole || c.ExecutionRoleArn != execRole || !reflect.DeepEqual(c.Command, training.ContractArgs()) {
		t.Errorf("container %+v", c)
	}
	if c.LogConfiguration.LogDriver != "awslogs" || c.LogConfiguration.Options["awslogs-group"] != "/mlops/trainer" {
		t.Errorf("log configuration %+v", c.LogConfiguration)
	}
	if want := []lambdatest.Resource{{Type: "VCPU", Value: "1"}, {Type: "MEMORY", Value: "2048"}}; !reflect.DeepEqual(c.ResourceRequirements, want) {
		t.Errorf("definition resources %v, want %v", c.ResourceRequirements, want)
	}
	rs := reg.RetryStrategy
	if rs.Attempts != 3 || len(rs.EvaluateOnExit) != 2 ||
		rs.EvaluateOnExit[0].OnStatusReason != "Host EC2*" || rs.EvaluateOnExit[0].Action != "RETRY" ||
		rs.EvaluateOnExit[1].OnReason != "*" || rs.EvaluateOnExit[1].Action != "EXIT" {
		t.Errorf("retry strategy %+v: retry a lost host, exit on anything else", rs)
	}
	if !reg.PropagateTags || reg.Tags["app"] != "mlops" {
		t.Errorf("propagate %v tags %v", reg.PropagateTags, reg.Tags)
	}

	var in lambdatest.SubmitJobRequest
	lambdatest.DecodeStrict(t, fake.of("submitjob")[1], &in)
	if in.JobDefinition != arn+name+":2" {
		t.Errorf("submitted with definition %s, want the registered revision", in.JobDefinition)
	}
}

// A later process finds the definition an earlier one registered (over
// several pages) and registers nothing.
func TestSubmitOtherImageFindsTheNewestMatchingRevision(t *testing.T) {
	name := batch.DefinitionName("mlops-trainer", userImage)
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"describejobdefinitions": func(n int, body []byte) answer {
			var in struct{ NextToken string }
			_ = json.Unmarshal(body, &in)
			if in.NextToken == "" {
				return ok(map[string]any{"jobDefinitions": []any{jobDefinition(name, 2, userImage, jobRole)}, "nextToken": "page-2"})
			}
			return ok(map[string]any{"jobDefinitions": []any{jobDefinition(name, 3, userImage, jobRole), jobDefinition(name, 4, "other", jobRole)}})
		},
		"submitjob": submitted("j-user"),
	})
	job := trainingJob()
	job.Image = userImage
	if _, err := q.Submit(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	want := []string{"describejobdefinitions", "describejobdefinitions", "submitjob"}
	if ops := fake.ops(); !reflect.DeepEqual(ops, want) {
		t.Fatalf("calls %v, want %v", ops, want)
	}
	var in lambdatest.SubmitJobRequest
	lambdatest.DecodeStrict(t, fake.of("submitjob")[0], &in)
	if !strings.HasSuffix(in.JobDefinition, "/"+name+":3") {
		t.Errorf("definition %s, want revision 3 (4 runs another image)", in.JobDefinition)
	}
}

// sampleJob is the job inside an events/ sample: an event's detail is
// DescribeJobs' job shape, so the samples double as DescribeJobs answers.
func sampleJob(t *testing.T, name string) json.RawMessage {
	t.Helper()
	var env event.Envelope
	if err := json.Unmarshal(events.Sample(name), &env); err != nil {
		t.Fatal(err)
	}
	return env.Detail
}

func TestDescribe(t *testing.T) {
	failed := sampleJob(t, "batch-job-state-change-failed")
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"describejobs": func(_ int, body []byte) answer {
			var in struct{ Jobs []string }
			_ = json.Unmarshal(body, &in)
			if len(in.Jobs) == 1 && in.Jobs[0] == "7a3c9e1b-5d2f-4b8a-8e6c-1f4a9b2d7c05" {
				return ok(map[string]any{"jobs": []json.RawMessage{failed}})
			}
			return ok(map[string]any{"jobs": []any{}})
		},
	})
	st, err := q.Describe(context.Background(), "7a3c9e1b-5d2f-4b8a-8e6c-1f4a9b2d7c05")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != training.StatusFailed || st.ExitCode == nil || *st.ExitCode != 137 ||
		st.LogStream != "mlops-trainer/default/9e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f" || st.Name != "credit-xgb-9c1e7b3d5a604f2a-1" ||
		!strings.Contains(st.StatusReason, "OutOfMemoryError") || st.Tags["run"] != st.Name {
		t.Errorf("status %+v", st)
	}
	if want := time.UnixMilli(1772447599744).UTC(); !st.StoppedAt.Equal(want) || !st.Final() {
		t.Errorf("stopped %v, want %v", st.StoppedAt, want)
	}

	// The same job through the event and through DescribeJobs reads the same.
	var d event.BatchJobDetail
	if err := json.Unmarshal(failed, &d); err != nil {
		t.Fatal(err)
	}
	if fromEvent := training.JobStatusFromDetail(d); !reflect.DeepEqual(fromEvent, st) {
		t.Errorf("DescribeJobs %+v\nevent        %+v", st, fromEvent)
	}

	_, err = q.Describe(context.Background(), "forgotten")
	if !errors.Is(err, training.ErrJobNotFound) || !strings.Contains(err.Error(), "forgotten") {
		t.Errorf("unknown job: %v, want ErrJobNotFound naming it", err)
	}
	// One DescribeJobs per Describe; the SDK may resend one after a transport
	// error (a reused connection the server closed), so count the jobs asked about.
	asked := map[string]bool{}
	for _, b := range fake.of("describejobs") {
		asked[string(b)] = true
	}
	if len(asked) != 2 {
		t.Errorf("DescribeJobs asked about %d different jobs, want 2: %v", len(asked), asked)
	}
}

type wireList struct {
	JobQueue string
	Filters  []struct {
		Name   string
		Values []string
	}
	NextToken string
}

func summary(id, name string, created int64, status string) map[string]any {
	return map[string]any{"jobArn": "arn:aws:batch:us-east-1:123456789012:job/" + id, "jobId": id, "jobName": name,
		"createdAt": created, "status": status}
}

func TestFindByName(t *testing.T) {
	const name = "credit-xgb-4f2a9c1e7b3d5a60-1"
	newest := "0f6e2c8a-3b4d-4e1f-9a7c-5d8b2e6f1a30"
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"listjobs": func(_ int, body []byte) answer {
			var in wireList
			lambdatest.DecodeStrict(t, body, &in)
			if in.NextToken == "" {
				return ok(map[string]any{"nextToken": "p2", "jobSummaryList": []any{
					summary("older", name, 1772446000000, "FAILED"),
					// JOB_NAME matches case-insensitively; this one is not ours.
					summary("shouty", strings.ToUpper(name), 1772449999999, "RUNNING"),
				}})
			}
			return ok(map[string]any{"jobSummaryList": []any{summary(newest, name, 1772446535512, "SUCCEEDED")}})
		},
		"describejobs": func(int, []byte) answer {
			return ok(map[string]any{"jobs": []json.RawMessage{sampleJob(t, "batch-job-state-change-succeeded")}})
		},
	})
	st, found, err := q.FindByName(context.Background(), name)
	if err != nil || !found {
		t.Fatalf("found %v, err %v", found, err)
	}
	if st.ID != newest || st.Status != training.StatusSucceeded || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("status %+v, want the newest job, described", st)
	}
	lists := fake.of("listjobs")
	if len(lists) != 2 {
		t.Fatalf("%d ListJobs calls, want both pages", len(lists))
	}
	var in wireList
	lambdatest.DecodeStrict(t, lists[0], &in)
	if in.JobQueue != queue || len(in.Filters) != 1 || in.Filters[0].Name != "JOB_NAME" || !reflect.DeepEqual(in.Filters[0].Values, []string{name}) {
		t.Errorf("ListJobs %+v: the JOB_NAME filter lists every status", in)
	}
	var desc struct{ Jobs []string }
	lambdatest.DecodeStrict(t, fake.of("describejobs")[0], &desc)
	if !reflect.DeepEqual(desc.Jobs, []string{newest}) {
		t.Errorf("described %v", desc.Jobs)
	}
}

func TestFindByNameNoneOrForgotten(t *testing.T) {
	q, _ := newQueue(t, map[string]func(int, []byte) answer{
		"listjobs": func(_ int, body []byte) answer {
			if strings.Contains(string(body), "gone") {
				return ok(map[string]any{"jobSummaryList": []any{summary("j-gone", "gone", 5000, "SUCCEEDED")}})
			}
			return ok(map[string]any{"jobSummaryList": []any{}})
		},
		// Batch forgot the job between the two calls.
		"describejobs": func(int, []byte) answer { return ok(map[string]any{"jobs": []any{}}) },
	})
	if _, found, err := q.FindByName(context.Background(), "never-submitted"); found || err != nil {
		t.Errorf("found %v err %v for a name never submitted", found, err)
	}
	st, found, err := q.FindByName(context.Background(), "gone")
	if err != nil || !found || st.ID != "j-gone" || st.Status != training.StatusSucceeded || !st.CreatedAt.Equal(time.UnixMilli(5000).UTC()) {
		t.Errorf("found %v err %v status %+v: the summary stands in for the description", found, err, st)
	}
}

// Batch throttles with 429 TooManyRequestsException; the SDK's retryer
// retries it, so Submit succeeds without a retry loop of its own.
func TestThrottlingIsRetriedByTheSDK(t *testing.T) {
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"submitjob": func(n int, body []byte) answer {
			if n < 2 {
				return answer{status: http.StatusTooManyRequests, errType: "TooManyRequestsException", body: map[string]string{"message": "Too Many Requests"}}
			}
			return submitted("j-after-throttle")(n, body)
		},
	})
	id, err := q.Submit(context.Background(), trainingJob())
	if err != nil || id != "j-after-throttle" {
		t.Fatalf("id %q err %v", id, err)
	}
	if n := len(fake.of("submitjob")); n != 3 {
		t.Errorf("%d SubmitJob calls, want 3 (two throttled)", n)
	}
}

// A 5xx may come after Batch created the job: SubmitJob is not retried (a retry
// could make a second job, Batch having no idempotency token); the train use
// case finds the job by name on the next delivery instead. Reads still retry.
func TestServerErrorOnSubmitIsNotRetried(t *testing.T) {
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"submitjob": func(int, []byte) answer {
			return answer{status: http.StatusInternalServerError, errType: "ServerException", body: map[string]string{"message": "internal"}}
		},
	})
	if _, err := q.Submit(context.Background(), trainingJob()); err == nil {
		t.Fatal("Submit succeeded against a failing server")
	}
	if n := len(fake.of("submitjob")); n != 1 {
		t.Fatalf("%d SubmitJob calls after a 500, want 1", n)
	}
}

// A 4xx ClientException is not retried, and comes back typed, with the job,
// the queue and Batch's message in the error.
func TestClientExceptionIsSurfacedWithContext(t *testing.T) {
	q, fake := newQueue(t, map[string]func(int, []byte) answer{
		"submitjob": func(int, []byte) answer {
			return answer{status: http.StatusBadRequest, errType: "ClientException",
				body: map[string]string{"message": "Error executing request, Exception : JobQueue mlops-training not found."}}
		},
	})
	_, err := q.Submit(context.Background(), trainingJob())
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *types.ClientException", err, err)
	}
	for _, want := range []string{"credit-xgb-4f2a9c1e7b3d5a60-1", "queue mlops-training", "definition mlops-trainer", "JobQueue mlops-training not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(fake.of("submitjob")); n != 1 {
		t.Errorf("%d SubmitJob calls: a client error is not retried", n)
	}
}

// What Batch would refuse is refused before any request.
func TestSubmitValidates(t *testing.T) {
	q, fake := newQueue(t, nil)
	for _, tc := range []struct {
		mutate func(*training.Job)
		want   string
	}{
		{func(j *training.Job) { j.Name = "" }, "1 to 128"},
		{func(j *training.Job) { j.Name = strings.Repeat("a", 129) }, "1 to 128"},
		{func(j *training.Job) { j.Name = "run/1" }, "only letters"},
		{func(j *training.Job) { j.Name = "-run" }, "starting with"},
		{func(j *training.Job) { j.Environment = map[string]string{"AWS_BATCH_JOB_ID": "x"} }, "reserved"},
	} {
		job := trainingJob()
		tc.mutate(&job)
		if _, err := q.Submit(context.Background(), job); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("job %q env %v: error %v, want %q", job.Name, job.Environment, err, tc.want)
		}
	}
	if ops := fake.ops(); len(ops) != 0 {
		t.Errorf("requests sent: %v", ops)
	}
}

func TestNewRequiresQueueAndDefinition(t *testing.T) {
	client := awsbatch.New(awsbatch.Options{Region: "us-east-1"})
	for _, cfg := range []batch.Config{{JobQueue: "q"}, {JobDefinition: "d"}} {
		if _, err := batch.New(client, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if _, err := batch.New(nil, batch.Config{JobQueue: "q", JobDefinition: "d"}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestDefinitionName(t *testing.T) {
	a, b := batch.DefinitionName("p", userImage), batch.DefinitionName("p", refImage)
	if a == b || a != batch.DefinitionName("p", userImage) || len(a) != len("p-")+12 {
		t.Errorf("names %s %s", a, b)
	}
	// sha256("") starts e3b0c44298fc.
	if got := batch.DefinitionName("mlops-trainer", ""); got != "mlops-trainer-e3b0c44298fc" {
		t.Errorf("DefinitionName(\"\") = %s", got)
	}
}

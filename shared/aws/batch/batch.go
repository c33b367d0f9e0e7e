// Package batch runs the platform's training jobs on AWS Batch: the production
// training.Batch. It submits a run's job to one job queue, finds a job by name
// (a run whose job ID was never recorded) and reads a job's state back.
//
// The reference trainer runs under a job definition the stack creates
// (Config.JobDefinition). A job whose image is another one (a user's own
// trainer) gets a job definition of its own, registered on first use from
// Config.Definitions and found again by name afterwards: see Queue.Submit.
package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/training"
)

// API is the part of the Batch client the Queue uses; *awsbatch.Client has it.
type API interface {
	SubmitJob(ctx context.Context, in *awsbatch.SubmitJobInput, optFns ...func(*awsbatch.Options)) (*awsbatch.SubmitJobOutput, error)
	ListJobs(ctx context.Context, in *awsbatch.ListJobsInput, optFns ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error)
	DescribeJobs(ctx context.Context, in *awsbatch.DescribeJobsInput, optFns ...func(*awsbatch.Options)) (*awsbatch.DescribeJobsOutput, error)
	DescribeJobDefinitions(ctx context.Context, in *awsbatch.DescribeJobDefinitionsInput, optFns ...func(*awsbatch.Options)) (*awsbatch.DescribeJobDefinitionsOutput, error)
	RegisterJobDefinition(ctx context.Context, in *awsbatch.RegisterJobDefinitionInput, optFns ...func(*awsbatch.Options)) (*awsbatch.RegisterJobDefinitionOutput, error)
}

// Config says where jobs go.
type Config struct {
	// JobQueue is the queue's name or ARN. Required.
	JobQueue string
	// JobDefinition is the reference trainer's job definition: a name (its
	// latest ACTIVE revision), name:revision, or an ARN. Required.
	JobDefinition string
	// DefaultImage is the image JobDefinition runs. A Job whose Image is empty
	// or equal to it runs under JobDefinition; any other image gets a definition
	// of its own (Definitions). Left empty, every Job that names an image gets
	// its own definition, which is correct, only one definition more.
	DefaultImage string
	// Definitions is the template of the job definitions registered for other images.
	Definitions DefinitionTemplate
}

// DefinitionTemplate describes the job definitions Submit registers for images
// other than the default one: what the stack gives the reference trainer's
// definition, so that a user's trainer runs with the same roles and logs.
type DefinitionTemplate struct {
	// NamePrefix starts the definition's name: <NamePrefix>-<first 12 hex digits
	// of the image's SHA-256>. Default "mlops-trainer".
	NamePrefix string
	// JobRoleArn is the role the trainer's code runs as (reads inputs, writes the bundle).
	JobRoleArn string
	// ExecutionRoleArn is the role ECS uses to pull the image and write logs.
	ExecutionRoleArn string
	// LogConfiguration is the container's log driver (awslogs, its group and
	// stream prefix); nil keeps Batch's default (/aws/batch/job).
	LogConfiguration *types.LogConfiguration
	// Command is the container's default command, appended to the image's
	// entrypoint; each Job's own Command overrides it. Default
	// training.ContractArgs(), the container contract's arguments.
	Command []string
	// VCPUs and MemoryMiB are the definition's defaults (a Job's resources
	// override them): default 1 and 2048. Batch requires both on EC2.
	VCPUs, MemoryMiB int
	// Attempts is the retry strategy's attempt count: default 3. Attempts are
	// retried only when the host went away (spot reclaim: a status reason
	// starting "Host EC2"); any other failure is final, since running the same
	// trainer on the same data again would fail the same way.
	Attempts int
	// Tags go on the registered definitions.
	Tags map[string]string
}

// Queue submits and describes jobs on one Batch job queue. It implements
// training.Batch and is safe for concurrent use.
type Queue struct {
	api API
	cfg Config

	mu   sync.Mutex
	defs map[string]string // image → ARN of the job definition found or registered for it
}

var _ training.Batch = (*Queue)(nil)

// New returns a Queue over api, usually a *awsbatch.Client built by the caller.
func New(api API, cfg Config) (*Queue, error) {
	if api == nil {
		return nil, errors.New("batch: a client is required")
	}
	if cfg.JobQueue == "" || cfg.JobDefinition == "" {
		return nil, errors.New("batch: JobQueue and JobDefinition are required")
	}
	t := &cfg.Definitions
	if t.NamePrefix == "" {
		t.NamePrefix = "mlops-trainer"
	}
	if len(t.Command) == 0 {
		t.Command = training.ContractArgs()
	}
	if t.VCPUs <= 0 {
		t.VCPUs = 1
	}
	if t.MemoryMiB <= 0 {
		t.MemoryMiB = 2048
	}
	if t.Attempts <= 0 {
		t.Attempts = 3
	}
	return &Queue{api: api, cfg: cfg, defs: map[string]string{}}, nil
}

// submitRetries retries SubmitJob only when Batch refused it outright
// (throttling): a retry after a lost answer (a 5xx, a reset connection) could
// make a second job, since Batch has no idempotency token. The caller's claim
// recovers from those instead: the next delivery finds the job by its name.
func submitRetries(o *awsbatch.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.RetryableErrorCode{Codes: map[string]struct{}{
			"TooManyRequestsException": {}, "ThrottlingException": {}, "Throttling": {}}}}
	})
}

// MinTimeout is the shortest attempt timeout Batch accepts; shorter timeouts
// are raised to it.
const MinTimeout = 60 * time.Second

// Submit submits job and returns its Batch job ID. Batch has no idempotency
// token: every call makes a new job (the train use case claims a run before it
// submits, so it submits once).
//
// Parameters are the job's; the job's Command (if any) replaces the
// definition's, and Batch substitutes its "Ref::<name>" arguments from the
// parameters. Resources override the definition's (GPU only when asked for),
// Timeout bounds each attempt (at least MinTimeout), and the job's tags are
// propagated to its ECS task.
func (q *Queue) Submit(ctx context.Context, job training.Job) (string, error) {
	if err := ValidateJob(job); err != nil {
		return "", fmt.Errorf("batch: submit %s: %w", job.Name, err)
	}
	def, err := q.definitionFor(ctx, job.Image)
	if err != nil {
		return "", fmt.Errorf("batch: submit %s: %w", job.Name, err)
	}
	in := &awsbatch.SubmitJobInput{
		JobName:       aws.String(job.Name),
		JobQueue:      aws.String(q.cfg.JobQueue),
		JobDefinition: aws.String(def),
		Parameters:    maps.Clone(job.Parameters),
		Tags:          maps.Clone(job.Tags),
		PropagateTags: aws.Bool(true),
		ContainerOverrides: &types.ContainerOverrides{
			Command:              slices.Clone(job.Command),
			Environment:          environment(job.Environment),
			ResourceRequirements: resources(job.GPUs, job.VCPUs, job.MemoryMiB),
		},
	}
	if job.Timeout > 0 {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(timeoutSeconds(job.Timeout))}
	}
	out, err := q.api.SubmitJob(ctx, in, submitRetries)
	if err != nil {
		return "", fmt.Errorf("batch: submit %s to queue %s (definition %s): %w", job.Name, q.cfg.JobQueue, def, err)
	}
	id := aws.ToString(out.JobId)
	if id == "" {
		return "", fmt.Errorf("batch: submit %s to queue %s: Batch returned no job ID", job.Name, q.cfg.JobQueue)
	}
	return id, nil
}

// FindByName returns the newest job named name on the queue. ListJobs with a
// JOB_NAME filter lists jobs in every status (a status filter would list only
// RUNNING ones), for as long as Batch keeps them (about a week after they end).
func (q *Queue) FindByName(ctx context.Context, name string) (training.JobStatus, bool, error) {
	p := awsbatch.NewListJobsPaginator(q.api, &awsbatch.ListJobsInput{
		JobQueue: aws.String(q.cfg.JobQueue),
		Filters:  []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{name}}},
	})
	var newest *types.JobSummary
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return training.JobStatus{}, false, fmt.Errorf("batch: list jobs named %s on queue %s: %w", name, q.cfg.JobQueue, err)
		}
		for i := range page.JobSummaryList {
			s := &page.JobSummaryList[i]
			// The filter matches names case-insensitively; run IDs are exact.
			if aws.ToString(s.JobName) != name {
				continue
			}
			if newest == nil || aws.ToInt64(s.CreatedAt) > aws.ToInt64(newest.CreatedAt) {
				newest = s
			}
		}
	}
	if newest == nil {
		return training.JobStatus{}, false, nil
	}
	st, err := q.Describe(ctx, aws.ToString(newest.JobId))
	if errors.Is(err, training.ErrJobNotFound) {
		// Forgotten between the two calls: the summary is all there is.
		return training.JobStatusFromDetail(summaryDetail(newest)), true, nil
	}
	if err != nil {
		return training.JobStatus{}, false, err
	}
	return st, true, nil
}

// Describe returns the job's current state, or training.ErrJobNotFound when
// Batch does not know the ID (or no longer does).
func (q *Queue) Describe(ctx context.Context, jobID string) (training.JobStatus, error) {
	out, err := q.api.DescribeJobs(ctx, &awsbatch.DescribeJobsInput{Jobs: []string{jobID}})
	if err != nil {
		return training.JobStatus{}, fmt.Errorf("batch: describe job %s: %w", jobID, err)
	}
	for _, j := range out.Jobs {
		if aws.ToString(j.JobId) == jobID {
			return StatusOf(j), nil
		}
	}
	return training.JobStatus{}, fmt.Errorf("batch: describe job %s: %w", jobID, training.ErrJobNotFound)
}

// StatusOf maps DescribeJobs' answer to a JobStatus, through the same mapping
// as the "Batch Job State Change" event (training.JobStatusFromDetail).
func StatusOf(j types.JobDetail) training.JobStatus {
	return training.JobStatusFromDetail(Detail(j))
}

// Detail converts DescribeJobs' job to the event detail type: the event's
// detail is this same job shape.
func Detail(j types.JobDetail) event.BatchJobDetail {
	d := event.BatchJobDetail{
		JobArn:        aws.ToString(j.JobArn),
		JobName:       aws.ToString(j.JobName),
		JobID:         aws.ToString(j.JobId),
		JobQueue:      aws.ToString(j.JobQueue),
		Status:        string(j.Status),
		StatusReason:  aws.ToString(j.StatusReason),
		CreatedAt:     aws.ToInt64(j.CreatedAt),
		StartedAt:     aws.ToInt64(j.StartedAt),
		StoppedAt:     aws.ToInt64(j.StoppedAt),
		JobDefinition: aws.ToString(j.JobDefinition),
		Parameters:    j.Parameters,
		Tags:          j.Tags,
	}
	if c := j.Container; c != nil {
		d.Container = &event.BatchContainer{Image: aws.ToString(c.Image), ExitCode: exitCode(c.ExitCode),
			Reason: aws.ToString(c.Reason), LogStreamName: aws.ToString(c.LogStreamName)}
	}
	for _, a := range j.Attempts {
		ea := event.BatchAttempt{StartedAt: aws.ToInt64(a.StartedAt), StoppedAt: aws.ToInt64(a.StoppedAt),
			StatusReason: aws.ToString(a.StatusReason)}
		if c := a.Container; c != nil {
			ea.Container = event.BatchContainer{ExitCode: exitCode(c.ExitCode), Reason: aws.ToString(c.Reason),
				LogStreamName: aws.ToString(c.LogStreamName)}
		}
		d.Attempts = append(d.Attempts, ea)
	}
	return d
}

func summaryDetail(s *types.JobSummary) event.BatchJobDetail {
	d := event.BatchJobDetail{
		JobArn: aws.ToString(s.JobArn), JobName: aws.ToString(s.JobName), JobID: aws.ToString(s.JobId),
		Status: string(s.Status), StatusReason: aws.ToString(s.StatusReason), JobDefinition: aws.ToString(s.JobDefinition),
		CreatedAt: aws.ToInt64(s.CreatedAt), StartedAt: aws.ToInt64(s.StartedAt), StoppedAt: aws.ToInt64(s.StoppedAt),
	}
	if c := s.Container; c != nil {
		d.Container = &event.BatchContainer{ExitCode: exitCode(c.ExitCode), Reason: aws.ToString(c.Reason)}
	}
	return d
}

func exitCode(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// definitionFor returns the job definition that runs image.
//
// For an image other than the default one, the definition is named after the
// image's hash. DescribeJobDefinitions finds an ACTIVE revision that runs it
// with the template's roles; when there is none, one is registered. Two
// processes doing this at once both register, which makes two revisions of the
// same definition with the same content: harmless, and not worth a lock that
// Batch does not offer. A template change (new roles) registers a new revision.
func (q *Queue) definitionFor(ctx context.Context, image string) (string, error) {
	if image == "" || image == q.cfg.DefaultImage {
		return q.cfg.JobDefinition, nil
	}
	q.mu.Lock()
	arn, ok := q.defs[image]
	q.mu.Unlock()
	if ok {
		return arn, nil
	}
	name := DefinitionName(q.cfg.Definitions.NamePrefix, image)
	arn, err := q.findDefinition(ctx, name, image)
	if err != nil {
		return "", err
	}
	if arn == "" {
		if arn, err = q.registerDefinition(ctx, name, image); err != nil {
			return "", err
		}
	}
	q.mu.Lock()
	q.defs[image] = arn
	q.mu.Unlock()
	return arn, nil
}

// DefinitionName is the name of the job definition registered for image:
// prefix-<first 12 hex digits of SHA-256(image)>, which fits Batch's 128
// characters and its letters, digits, '-' and '_' whatever the image reference.
func DefinitionName(prefix, image string) string {
	sum := sha256.Sum256([]byte(image))
	return prefix + "-" + hex.EncodeToString(sum[:])[:12]
}

// findDefinition returns the ARN of the newest ACTIVE revision of name that
// runs image with the template's roles, or "".
func (q *Queue) findDefinition(ctx context.Context, name, image string) (string, error) {
	p := awsbatch.NewDescribeJobDefinitionsPaginator(q.api, &awsbatch.DescribeJobDefinitionsInput{
		JobDefinitionName: aws.String(name),
		Status:            aws.String("ACTIVE"),
	})
	var best *types.JobDefinition
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("find job definition %s for image %s: %w", name, image, err)
		}
		for i := range page.JobDefinitions {
			d := &page.JobDefinitions[i]
			if !q.matches(d, image) {
				continue
			}
			if best == nil || aws.ToInt32(d.Revision) > aws.ToInt32(best.Revision) {
				best = d
			}
		}
	}
	if best == nil {
		return "", nil
	}
	return aws.ToString(best.JobDefinitionArn), nil
}

func (q *Queue) matches(d *types.JobDefinition, image string) bool {
	c := d.ContainerProperties
	t := q.cfg.Definitions
	return c != nil && aws.ToString(d.Status) != "INACTIVE" && aws.ToString(c.Image) == image &&
		aws.ToString(c.JobRoleArn) == t.JobRoleArn && aws.ToString(c.ExecutionRoleArn) == t.ExecutionRoleArn
}

func (q *Queue) registerDefinition(ctx context.Context, name, image string) (string, error) {
	t := q.cfg.Definitions
	out, err := q.api.RegisterJobDefinition(ctx, &awsbatch.RegisterJobDefinitionInput{
		JobDefinitionName:    aws.String(name),
		Type:                 types.JobDefinitionTypeContainer,
		PlatformCapabilities: []types.PlatformCapability{types.PlatformCapabilityEc2},
		ContainerProperties: &types.ContainerProperties{
			Image:                aws.String(image),
			Command:              slices.Clone(t.Command),
			JobRoleArn:           strOrNil(t.JobRoleArn),
			ExecutionRoleArn:     strOrNil(t.ExecutionRoleArn),
			LogConfiguration:     t.LogConfiguration,
			ResourceRequirements: resources(0, t.VCPUs, t.MemoryMiB),
		},
		RetryStrategy: &types.RetryStrategy{
			Attempts: aws.Int32(int32(t.Attempts)),
			// Batch evaluates these in order: a lost host (spot reclaim) is
			// retried, anything else ends the job.
			EvaluateOnExit: []types.EvaluateOnExit{
				{OnStatusReason: aws.String("Host EC2*"), Action: types.RetryActionRetry},
				{OnReason: aws.String("*"), Action: types.RetryActionExit},
			},
		},
		PropagateTags: aws.Bool(true),
		Tags:          maps.Clone(t.Tags),
	})
	if err != nil {
		return "", fmt.Errorf("register job definition %s for image %s: %w", name, image, err)
	}
	arn := aws.ToString(out.JobDefinitionArn)
	if arn == "" {
		return "", fmt.Errorf("register job definition %s for image %s: Batch returned no ARN", name, image)
	}
	return arn, nil
}

// environment lists the variables sorted by name, so that the same job makes
// the same request.
func environment(env map[string]string) []types.KeyValuePair {
	if len(env) == 0 {
		return nil
	}
	kv := make([]types.KeyValuePair, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		kv = append(kv, types.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	return kv
}

// resources lists the requirements that are set; Batch wants GPU only when
// GPUs are asked for (a GPU requirement of 0 is refused).
func resources(gpus, vcpus, memoryMiB int) []types.ResourceRequirement {
	var rr []types.ResourceRequirement
	add := func(t types.ResourceType, v int) {
		if v > 0 {
			rr = append(rr, types.ResourceRequirement{Type: t, Value: aws.String(strconv.Itoa(v))})
		}
	}
	add(types.ResourceTypeGpu, gpus)
	add(types.ResourceTypeVcpu, vcpus)
	add(types.ResourceTypeMemory, memoryMiB)
	return rr
}

// timeoutSeconds rounds up to whole seconds, at least MinTimeout.
func timeoutSeconds(d time.Duration) int32 {
	d = max(d, MinTimeout)
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(s)
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// ValidateJob checks what Batch would refuse, so that the error names the job
// rather than arriving as a ClientException: the job name (letters, digits,
// '-' and '_', starting with a letter or digit, at most 128) and environment
// variables named AWS_BATCH*, which Batch reserves for the ones it sets.
func ValidateJob(job training.Job) error {
	if err := validName(job.Name); err != nil {
		return err
	}
	for k := range job.Environment {
		if strings.HasPrefix(k, "AWS_BATCH") {
			return fmt.Errorf("environment variable %s: names starting with AWS_BATCH are reserved by Batch", k)
		}
	}
	return nil
}

func validName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("job name %q: must be 1 to 128 characters", s)
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_') {
			return fmt.Errorf("job name %q: only letters, digits, '-' and '_', starting with a letter or digit", s)
		}
	}
	return nil
}

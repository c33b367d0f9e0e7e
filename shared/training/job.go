package training

import (
	"context"
	"errors"
	"time"
)

// Job is what the train use case asks a batch system to run: AWS Batch in the
// cloud (shared/aws/batch), the trainer as a process locally (shared/local/batch).
// Its shape follows Batch's SubmitJob so that both sides run one contract.
type Job struct {
	// Name is the run ID (Batch job names allow letters, digits, '-' and '_', ≤128).
	Name string
	// Image is the trainer's container image, pinned by digest (AWS only).
	Image string
	// Command is the program and its arguments. Arguments of the form
	// "Ref::<name>" are replaced by Parameters[name], as Batch does; the local
	// runner first stages s3:// parameter values to local files (see StagedParams).
	Command []string
	// Parameters are the container contract's inputs (ParamData, ParamContract, ...).
	Parameters map[string]string
	// Environment is passed to the trainer as environment variables.
	Environment map[string]string
	// Tags label the job (dataset, model, run).
	Tags map[string]string
	// Timeout bounds one attempt; the job fails when it runs longer.
	Timeout time.Duration
	// Resources: GPUs (0 = CPU only), vCPUs and memory.
	GPUs      int
	VCPUs     int
	MemoryMiB int
}

// Container contract parameters (trainer/README.md): every trainer is invoked with
// --data, --contract, --spec, --output, --run-id, --dataset-version and --trainer.
const (
	ParamData           = "data"           // comma-separated URIs of the canonical CSV partitions (gzip), in order
	ParamContract       = "contract"       // URI of the contract's canonical JSON
	ParamSpec           = "spec"           // URI of the model spec's canonical JSON
	ParamOutput         = "output"         // URI of the folder the bundle goes to (ends in "/")
	ParamRunID          = "runid"          // the run ID
	ParamDatasetVersion = "datasetversion" // the dataset version id
	ParamTrainer        = "trainer"        // the trainer's identity (image digest or local hash)
)

// StagedParams are the parameters whose values are s3:// URIs of inputs that a
// local runner downloads before the trainer starts (ParamData may hold several,
// comma-separated), and the one output folder it uploads afterwards.
var StagedParams = []string{ParamData, ParamContract, ParamSpec}

// ContractArgs are the standard arguments appended to a trainer's command.
func ContractArgs() []string {
	return []string{
		"--data", "Ref::" + ParamData,
		"--contract", "Ref::" + ParamContract,
		"--spec", "Ref::" + ParamSpec,
		"--output", "Ref::" + ParamOutput,
		"--run-id", "Ref::" + ParamRunID,
		"--dataset-version", "Ref::" + ParamDatasetVersion,
		"--trainer", "Ref::" + ParamTrainer,
	}
}

// Batch job states, as AWS Batch names them.
const (
	StatusSubmitted = "SUBMITTED"
	StatusPending   = "PENDING"
	StatusRunnable  = "RUNNABLE"
	StatusStarting  = "STARTING"
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
)

// JobStatus is a job's state as the batch system reports it (DescribeJobs, or the
// detail of a "Batch Job State Change" event).
type JobStatus struct {
	ID           string
	Name         string
	Status       string
	StatusReason string
	ExitCode     *int
	// LogStream is where the job's log is: a CloudWatch Logs stream name in AWS,
	// a key in the platform bucket locally ("s3://bucket/key").
	LogStream string
	CreatedAt time.Time
	StartedAt time.Time
	StoppedAt time.Time
	Tags      map[string]string
}

// Final reports whether the status is SUCCEEDED or FAILED: a final state is final.
func (s JobStatus) Final() bool { return s.Status == StatusSucceeded || s.Status == StatusFailed }

// ErrJobNotFound is returned by Describe when the batch system does not know the job
// (AWS Batch forgets jobs some days after they end).
var ErrJobNotFound = errors.New("job not found")

// Batch is the batch system the train use case needs.
type Batch interface {
	// Submit starts a job and returns its ID. Batch has no idempotency token: the
	// caller must make sure it submits a run's job once (see Service).
	Submit(ctx context.Context, job Job) (jobID string, err error)
	// FindByName returns the newest job with that name, if any, so that a run whose
	// job ID was never recorded is recovered instead of submitted again.
	FindByName(ctx context.Context, name string) (JobStatus, bool, error)
	// Describe returns a job's current state; ErrJobNotFound if unknown.
	Describe(ctx context.Context, jobID string) (JobStatus, error)
}

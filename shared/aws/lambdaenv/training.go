package lambdaenv

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/openmlops/mlops/shared/aws/batch"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
)

// Training are the settings of the functions that submit and follow training
// jobs (train, and reconcile's run sweep).
type Training struct {
	JobQueue         string        // JOB_QUEUE
	JobDefinition    string        // JOB_DEFINITION: the reference trainer's
	TrainerImage     string        // TRAINER_IMAGE: the reference trainer's image, pinned by digest
	JobRoleArn       string        // TRAINER_JOB_ROLE_ARN: for definitions registered for other images
	ExecutionRoleArn string        // TRAINER_EXECUTION_ROLE_ARN
	LogGroup         string        // TRAINER_LOG_GROUP (default: Batch's /aws/batch/job)
	RunLease         time.Duration // RUN_LEASE (default 5m)
	BatchEndpoint    string        // MLOPS_BATCH_ENDPOINT: tests only
}

// ReadTraining reads the training settings through getenv.
func ReadTraining(getenv func(string) string) (Training, error) {
	t := Training{JobQueue: getenv("JOB_QUEUE"), JobDefinition: getenv("JOB_DEFINITION"), TrainerImage: getenv("TRAINER_IMAGE"),
		JobRoleArn: getenv("TRAINER_JOB_ROLE_ARN"), ExecutionRoleArn: getenv("TRAINER_EXECUTION_ROLE_ARN"),
		LogGroup: getenv("TRAINER_LOG_GROUP"), BatchEndpoint: getenv("MLOPS_BATCH_ENDPOINT")}
	for name, v := range map[string]string{"JOB_QUEUE": t.JobQueue, "JOB_DEFINITION": t.JobDefinition, "TRAINER_IMAGE": t.TrainerImage} {
		if v == "" {
			return t, fmt.Errorf("environment variable %s is required", name)
		}
	}
	if _, err := (training.ImageTrainers{Default: t.TrainerImage}).Resolve(&spec.Spec{Name: "(default)"}); err != nil {
		return t, fmt.Errorf("TRAINER_IMAGE=%q: must be pinned by digest (<repo>@sha256:<64 hex>)", t.TrainerImage)
	}
	if v := getenv("RUN_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return t, fmt.Errorf("RUN_LEASE=%q: expected a duration such as 5m", v)
		}
		t.RunLease = d
	}
	return t, nil
}

// NewTrainService builds the train use case over AWS: Batch for jobs, S3 for
// state and bundles, EventBridge for events.
func NewTrainService(s Settings, t Training, c *Clients, log *slog.Logger) (*training.Service, error) {
	q, err := t.Queue(c.AWS)
	if err != nil {
		return nil, err
	}
	return training.New(c.Store, c.Publisher, q, training.StoreSpecs{Store: c.Store, Bucket: s.PlatformBucket},
		training.ImageTrainers{Default: t.TrainerImage}, training.BundleVerifier(c.Store),
		training.Config{Bucket: s.PlatformBucket, Lease: t.RunLease, Logger: log}), nil
}

// Queue builds the Batch adapter.
func (t Training) Queue(cfg aws.Config) (*batch.Queue, error) {
	client := awsbatch.NewFromConfig(cfg, func(o *awsbatch.Options) {
		if t.BatchEndpoint != "" {
			o.BaseEndpoint = aws.String(t.BatchEndpoint)
		}
	})
	tmpl := batch.DefinitionTemplate{JobRoleArn: t.JobRoleArn, ExecutionRoleArn: t.ExecutionRoleArn,
		Tags: map[string]string{"mlops:component": "trainer"}}
	if t.LogGroup != "" {
		tmpl.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
			Options: map[string]string{"awslogs-group": t.LogGroup, "awslogs-stream-prefix": "trainer"}}
	}
	return batch.New(client, batch.Config{JobQueue: t.JobQueue, JobDefinition: t.JobDefinition,
		DefaultImage: t.TrainerImage, Definitions: tmpl})
}

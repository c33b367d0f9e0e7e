package lambdaenv

import (
	"fmt"
	"time"
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

// ReadTraining reads the training settings through getenv. Whether the
// trainer image is pinned by digest is the training use case's rule, checked
// where the service is built (shared/wire).
func ReadTraining(getenv func(string) string) (Training, error) {
	t := Training{JobQueue: getenv("JOB_QUEUE"), JobDefinition: getenv("JOB_DEFINITION"), TrainerImage: getenv("TRAINER_IMAGE"),
		JobRoleArn: getenv("TRAINER_JOB_ROLE_ARN"), ExecutionRoleArn: getenv("TRAINER_EXECUTION_ROLE_ARN"),
		LogGroup: getenv("TRAINER_LOG_GROUP"), BatchEndpoint: getenv("MLOPS_BATCH_ENDPOINT")}
	for name, v := range map[string]string{"JOB_QUEUE": t.JobQueue, "JOB_DEFINITION": t.JobDefinition, "TRAINER_IMAGE": t.TrainerImage} {
		if v == "" {
			return t, fmt.Errorf("environment variable %s is required", name)
		}
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

// ReadOptionalTraining is ReadTraining for a function that follows training
// only where the stack deploys it: nil, and no error, when JOB_QUEUE is unset.
func ReadOptionalTraining(getenv func(string) string) (*Training, error) {
	if getenv("JOB_QUEUE") == "" {
		return nil, nil
	}
	t, err := ReadTraining(getenv)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

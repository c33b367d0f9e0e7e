package events

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/event"
)

// awsBatchJob is the whole "Batch Job State Change" detail as AWS documents it
// (DescribeJobs' JobDetail for a container job on EC2). event.BatchJobDetail keeps
// only what the platform reads, so the samples' strict round trip goes through
// this fuller shape instead: a field AWS sends that the samples mistype, or one
// they invent, fails the test.
type awsBatchJob struct {
	JobArn               string            `json:"jobArn"`
	JobName              string            `json:"jobName"`
	JobID                string            `json:"jobId"`
	JobQueue             string            `json:"jobQueue"`
	Status               string            `json:"status"`
	StatusReason         string            `json:"statusReason,omitempty"`
	Attempts             []awsBatchAttempt `json:"attempts"`
	CreatedAt            int64             `json:"createdAt"`
	RetryStrategy        *awsRetryStrategy `json:"retryStrategy,omitempty"`
	StartedAt            int64             `json:"startedAt,omitempty"`
	StoppedAt            int64             `json:"stoppedAt,omitempty"`
	DependsOn            []json.RawMessage `json:"dependsOn"`
	JobDefinition        string            `json:"jobDefinition"`
	Parameters           map[string]string `json:"parameters"`
	Container            *awsContainer     `json:"container,omitempty"`
	Timeout              *awsTimeout       `json:"timeout,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
	PropagateTags        bool              `json:"propagateTags"`
	PlatformCapabilities []string          `json:"platformCapabilities"`
	EksAttempts          []json.RawMessage `json:"eksAttempts"`
}

type awsBatchAttempt struct {
	Container    awsAttemptContainer `json:"container"`
	StartedAt    int64               `json:"startedAt,omitempty"`
	StoppedAt    int64               `json:"stoppedAt,omitempty"`
	StatusReason string              `json:"statusReason,omitempty"`
}

type awsAttemptContainer struct {
	ContainerInstanceArn string            `json:"containerInstanceArn,omitempty"`
	TaskArn              string            `json:"taskArn,omitempty"`
	ExitCode             *int              `json:"exitCode,omitempty"`
	Reason               string            `json:"reason,omitempty"`
	LogStreamName        string            `json:"logStreamName,omitempty"`
	NetworkInterfaces    []json.RawMessage `json:"networkInterfaces"`
}

type awsRetryStrategy struct {
	Attempts       int `json:"attempts"`
	EvaluateOnExit []struct {
		OnStatusReason string `json:"onStatusReason,omitempty"`
		OnReason       string `json:"onReason,omitempty"`
		OnExitCode     string `json:"onExitCode,omitempty"`
		Action         string `json:"action"`
	} `json:"evaluateOnExit"`
}

type awsContainer struct {
	Image                string               `json:"image"`
	Command              []string             `json:"command"`
	JobRoleArn           string               `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn     string               `json:"executionRoleArn,omitempty"`
	Volumes              []json.RawMessage    `json:"volumes"`
	Environment          []awsKeyValue        `json:"environment"`
	MountPoints          []json.RawMessage    `json:"mountPoints"`
	Ulimits              []json.RawMessage    `json:"ulimits"`
	ExitCode             *int                 `json:"exitCode,omitempty"`
	ContainerInstanceArn string               `json:"containerInstanceArn,omitempty"`
	TaskArn              string               `json:"taskArn,omitempty"`
	LogStreamName        string               `json:"logStreamName,omitempty"`
	Reason               string               `json:"reason,omitempty"`
	NetworkInterfaces    []json.RawMessage    `json:"networkInterfaces"`
	ResourceRequirements []awsResource        `json:"resourceRequirements"`
	LogConfiguration     *awsLogConfiguration `json:"logConfiguration,omitempty"`
	Secrets              []json.RawMessage    `json:"secrets"`
}

type awsKeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type awsResource struct {
	Value string `json:"value"`
	Type  string `json:"type"`
}

type awsLogConfiguration struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options"`
	SecretOptions []json.RawMessage `json:"secretOptions"`
}

type awsTimeout struct {
	AttemptDurationSeconds int `json:"attemptDurationSeconds"`
}

// batchTrip round-trips a Batch sample through the whole AWS shape.
func batchTrip() roundTrip {
	var env event.Envelope
	var detail awsBatchJob
	return envelopeTrip(&env, &detail)
}

// TestBatchSamples checks what the platform reads from the Batch samples: the
// production type decodes them (leniently, as the train handler does, since AWS
// sends more than it keeps) into the values the samples carry.
func TestBatchSamples(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		exitCode     *int
		logStream    string
		attempts     int
	}{
		{"batch-job-state-change-running", "RUNNING", nil, "mlops-trainer/default/1b7e9d3c5a2f4e6b8d0c1a3e5f7b9d2c", 0},
		{"batch-job-state-change-succeeded", "SUCCEEDED", ptr(0), "mlops-trainer/default/1b7e9d3c5a2f4e6b8d0c1a3e5f7b9d2c", 1},
		{"batch-job-state-change-failed", "FAILED", ptr(137), "mlops-trainer/default/9e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env event.Envelope
			if err := json.Unmarshal(Sample(tc.name), &env); err != nil {
				t.Fatal(err)
			}
			if env.Source != event.BatchSource || env.DetailType != event.BatchJobStateChange {
				t.Errorf("envelope %s/%s", env.Source, env.DetailType)
			}
			var d event.BatchJobDetail
			if err := json.Unmarshal(env.Detail, &d); err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.status || len(d.Attempts) != tc.attempts {
				t.Errorf("status %s with %d attempts, want %s with %d", d.Status, len(d.Attempts), tc.status, tc.attempts)
			}
			if len(env.Resources) != 1 || env.Resources[0] != d.JobArn || !strings.HasSuffix(d.JobArn, "/"+d.JobID) {
				t.Errorf("resources %v, job %s (%s)", env.Resources, d.JobArn, d.JobID)
			}
			if d.Container == nil || d.Container.LogStreamName != tc.logStream {
				t.Fatalf("container %+v, want log stream %s", d.Container, tc.logStream)
			}
			if (d.Container.ExitCode == nil) != (tc.exitCode == nil) ||
				d.Container.ExitCode != nil && *d.Container.ExitCode != *tc.exitCode {
				t.Errorf("exit code %v, want %v", d.Container.ExitCode, tc.exitCode)
			}
			if d.Parameters["runid"] != d.JobName || d.Tags["run"] != d.JobName ||
				d.Parameters["output"] != "s3://mlops-platform/runs/"+d.JobName+"/bundle/" {
				t.Errorf("job %s: parameters %v, tags %v", d.JobName, d.Parameters, d.Tags)
			}
			if d.CreatedAt == 0 || d.StartedAt < d.CreatedAt || tc.status != "RUNNING" && d.StoppedAt < d.StartedAt {
				t.Errorf("times created %d started %d stopped %d", d.CreatedAt, d.StartedAt, d.StoppedAt)
			}
		})
	}
}

func ptr(v int) *int { return &v }

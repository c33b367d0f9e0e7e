// Package event defines the platform's events: the EventBridge envelope, the
// detail-types it publishes (source "mlops"), the S3 "Object Created" detail that
// AWS delivers, and the Publisher interface every use case publishes through.
//
// Details carry ids, keys and hashes, never payloads: PutEvents caps an entry at 256 KB.
package event

import (
	"context"
	"encoding/json"
	"time"
)

// Source is the EventBridge source of every event the platform publishes.
const Source = "mlops"

// SchemaVersion is the version of the detail schemas in this package.
const SchemaVersion = "1"

// Detail-types, in AWS's own style.
const (
	DatasetVersioned   = "Dataset Versioned"
	DatasetRejected    = "Dataset Rejected"
	TrainingSucceeded  = "Training Succeeded"
	TrainingFailed     = "Training Failed"
	ModelRegistered    = "Model Registered"
	PromotionPending   = "Promotion Pending"
	ModelPromoted      = "Model Promoted"
	ModelRejected      = "Model Rejected"
	ModelRolledBack    = "Model Rolled Back"
	ModelRetired       = "Model Retired"
	ModelLoadFailed    = "Model Load Failed"
	DriftDetected      = "Drift Detected"
	RetrainRequested   = "Retrain Requested"
	S3ObjectCreated    = "Object Created"
	S3Source           = "aws.s3"
	ScheduledEventType = "Scheduled Event"
	ScheduledSource    = "aws.events"
)

// Envelope is an EventBridge event as a rule target receives it.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Event is one event to publish: the envelope's source, detail-type and detail.
type Event struct {
	Source     string
	DetailType string
	Resources  []string
	Detail     any // marshalled to JSON
}

// Publisher sends events. It returns an error unless every event was accepted,
// so a caller that gets nil knows each one went out at least once.
type Publisher interface {
	Publish(ctx context.Context, events ...Event) error
}

// S3ObjectCreated is the detail of the "Object Created" event S3 sends to EventBridge.
type S3ObjectCreatedDetail struct {
	Version         string   `json:"version"`
	Bucket          S3Bucket `json:"bucket"`
	Object          S3Object `json:"object"`
	RequestID       string   `json:"request-id"`
	Requester       string   `json:"requester"`
	SourceIPAddress string   `json:"source-ip-address"`
	Reason          string   `json:"reason"`
}

// S3Bucket names the bucket in an S3 event detail.
type S3Bucket struct {
	Name string `json:"name"`
}

// S3Object is the object in an S3 event detail. Keys are URL-encoded, as AWS sends them.
type S3Object struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	VersionID string `json:"version-id,omitempty"`
	Sequencer string `json:"sequencer"`
}

// DatasetVersionedDetail announces a committed dataset version.
type DatasetVersionedDetail struct {
	SchemaVersion string    `json:"schemaVersion"`
	Dataset       string    `json:"dataset"`
	VersionID     string    `json:"versionId"`
	Mode          string    `json:"mode"`
	ManifestKey   string    `json:"manifestKey"`
	Bucket        string    `json:"bucket"`
	ContractHash  string    `json:"contractHash"`
	PayloadSHA256 string    `json:"payloadSha256"`
	Partitions    []string  `json:"partitions,omitempty"`
	Rows          int64     `json:"rows"`
	SourceKey     string    `json:"sourceKey"`
	CreatedAt     time.Time `json:"createdAt"`
}

// DatasetRejectedDetail announces an upload that failed its contract.
type DatasetRejectedDetail struct {
	SchemaVersion string   `json:"schemaVersion"`
	Dataset       string   `json:"dataset"`
	Bucket        string   `json:"bucket"`
	SourceKey     string   `json:"sourceKey"`
	SourceETag    string   `json:"sourceETag"`
	PayloadSHA256 string   `json:"payloadSha256,omitempty"`
	ContractHash  string   `json:"contractHash,omitempty"`
	ReportKey     string   `json:"reportKey"`
	ReportTextKey string   `json:"reportTextKey"`
	QuarantineKey string   `json:"quarantineKey"`
	Reasons       []string `json:"reasons"` // rule names, at most a few dozen
}

// AWS Batch's job state events.
const (
	BatchSource         = "aws.batch"
	BatchJobStateChange = "Batch Job State Change"
)

// BatchJobDetail is the detail of a "Batch Job State Change" event: the job as
// DescribeJobs returns it (only the fields the platform reads). Times are
// milliseconds since the Unix epoch, as Batch sends them.
type BatchJobDetail struct {
	JobArn        string            `json:"jobArn,omitempty"`
	JobName       string            `json:"jobName"`
	JobID         string            `json:"jobId"`
	JobQueue      string            `json:"jobQueue,omitempty"`
	Status        string            `json:"status"`
	StatusReason  string            `json:"statusReason,omitempty"`
	Attempts      []BatchAttempt    `json:"attempts,omitempty"`
	CreatedAt     int64             `json:"createdAt,omitempty"`
	StartedAt     int64             `json:"startedAt,omitempty"`
	StoppedAt     int64             `json:"stoppedAt,omitempty"`
	JobDefinition string            `json:"jobDefinition,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Container     *BatchContainer   `json:"container,omitempty"`
}

// BatchAttempt is one attempt of a Batch job.
type BatchAttempt struct {
	Container    BatchContainer `json:"container"`
	StartedAt    int64          `json:"startedAt,omitempty"`
	StoppedAt    int64          `json:"stoppedAt,omitempty"`
	StatusReason string         `json:"statusReason,omitempty"`
}

// BatchContainer is the container part of a Batch job or attempt.
type BatchContainer struct {
	Image         string `json:"image,omitempty"`
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
}

// TrainingSucceededDetail announces a run whose bundle is complete and verified.
type TrainingSucceededDetail struct {
	SchemaVersion  string    `json:"schemaVersion"`
	RunID          string    `json:"runId"`
	Model          string    `json:"model"`
	Dataset        string    `json:"dataset"`
	DatasetVersion string    `json:"datasetVersion"`
	ContractHash   string    `json:"contractHash"`
	SpecHash       string    `json:"specHash"`
	Trainer        string    `json:"trainer"`
	Bucket         string    `json:"bucket"`
	RunKey         string    `json:"runKey"`       // the run record
	BundlePrefix   string    `json:"bundlePrefix"` // runs/<id>/bundle/
	BundleSHA256   string    `json:"bundleSha256"` // SHA-256 of the bundle's manifest.json
	Headline       string    `json:"headline"`     // e.g. "auc"
	HeadlineValue  float64   `json:"headlineValue"`
	JobID          string    `json:"jobId"`
	FinishedAt     time.Time `json:"finishedAt"`
}

// TrainingFailedDetail announces a run that ended without a usable bundle.
type TrainingFailedDetail struct {
	SchemaVersion  string    `json:"schemaVersion"`
	RunID          string    `json:"runId"`
	Model          string    `json:"model"`
	Dataset        string    `json:"dataset"`
	DatasetVersion string    `json:"datasetVersion"`
	SpecHash       string    `json:"specHash"`
	Bucket         string    `json:"bucket"`
	RunKey         string    `json:"runKey"`
	JobID          string    `json:"jobId,omitempty"`
	Reason         string    `json:"reason"`
	ExitCode       *int      `json:"exitCode,omitempty"`
	LogLocation    string    `json:"logLocation,omitempty"` // CloudWatch stream, or s3://bucket/key locally
	Attempt        int       `json:"attempt"`
	FinishedAt     time.Time `json:"finishedAt"`
}

// RetrainRequestedDetail asks for a model to be trained again on its dataset's
// latest version (drift, or a person). RequestID makes duplicates harmless: one
// request starts at most one run.
type RetrainRequestedDetail struct {
	SchemaVersion string `json:"schemaVersion"`
	RequestID     string `json:"requestId"`
	Model         string `json:"model"`
	// DatasetVersion, if set, pins the version; otherwise the dataset's latest.
	DatasetVersion string `json:"datasetVersion,omitempty"`
	Reason         string `json:"reason"`
	Principal      string `json:"principal,omitempty"`
	// RetryOf names a failed run to start the next attempt of (mlops runs retry);
	// Model must then be that run's model.
	RetryOf string `json:"retryOf,omitempty"`
}

// ModelDetail is the detail of the registry's events: Model Registered,
// Promotion Pending, Model Promoted, Model Rejected, Model Rolled Back and Model
// Retired. Fields that do not apply to an event are left out.
type ModelDetail struct {
	SchemaVersion string `json:"schemaVersion"`
	Model         string `json:"model"`
	Version       int    `json:"version,omitempty"` // 0: the bundle never became a version (refused)
	RunID         string `json:"runId,omitempty"`
	BundleSHA256  string `json:"bundleSha256,omitempty"`
	BundlePrefix  string `json:"bundlePrefix,omitempty"`
	Bucket        string `json:"bucket"`
	State         string `json:"state,omitempty"` // the version's state afterwards
	PolicyHash    string `json:"policyHash,omitempty"`
	// Reasons are the failed checks (or the refusal), for a rejection.
	Reasons []string `json:"reasons,omitempty"`
	// Approvers are who may approve a pending version (patterns).
	Approvers []string `json:"approvers,omitempty"`
	// PreviousChampion is the version a promotion or rollback replaced.
	PreviousChampion int       `json:"previousChampion,omitempty"`
	Principal        string    `json:"principal,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	AuditKey         string    `json:"auditKey,omitempty"` // the audit record of the decision
	At               time.Time `json:"at"`
}

// DriftDetectedDetail announces a drift report that raised alerts: data
// drift, prediction drift or quality decay. The report itself is at
// ReportKey in Bucket (too large for an event); the stack routes this to SNS.
type DriftDetectedDetail struct {
	SchemaVersion    string   `json:"schemaVersion"`
	Model            string   `json:"model"`
	Version          int      `json:"version"`                    // the champion compared
	Window           string   `json:"window"`                     // from/to, YYYY-MM-DD/YYYY-MM-DD
	Bucket           string   `json:"bucket"`                     // the monitoring bucket
	ReportKey        string   `json:"reportKey"`                  // drift/<model>/<window>.json
	ReportSHA256     string   `json:"reportSha256"`               // of the report's bytes
	DriftedFeatures  []string `json:"driftedFeatures"`            // may be empty (prediction drift or quality alone)
	Alerts           []string `json:"alerts"`                     // why, in words
	RetrainRequestID string   `json:"retrainRequestId,omitempty"` // the retraining it asked for, if any
}

// ModelLoadFailedDetail announces that the prediction endpoint refused a
// champion's (or shadow candidate's) bundle: a hash that differs from the
// registry's, a model that does not reproduce its samples, a missing file. The
// endpoint keeps serving what it served before; ops must look.
type ModelLoadFailedDetail struct {
	SchemaVersion string    `json:"schemaVersion"`
	Model         string    `json:"model"`
	Version       int       `json:"version"`
	BundleSHA256  string    `json:"bundleSha256"` // the registry's
	BundlePrefix  string    `json:"bundlePrefix"`
	Bucket        string    `json:"bucket"`
	Role          string    `json:"role"`    // "champion" or "shadow"
	Serving       int       `json:"serving"` // the version still served (0: none)
	Reason        string    `json:"reason"`
	At            time.Time `json:"at"`
}

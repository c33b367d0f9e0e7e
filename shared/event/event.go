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

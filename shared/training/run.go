package training

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Run states. A run moves claimed → submitted → succeeded | failed, and a final
// state is final: late or reordered events never move it back.
const (
	StateClaimed   = "claimed"
	StateSubmitted = "submitted"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Causes of a run.
const (
	CauseDatasetVersioned = "dataset.versioned"
	CauseRetrain          = "retrain.requested"
	CauseRetry            = "retry"
)

// Run is runs/<run-id>/run.json.
type Run struct {
	SchemaVersion  string `json:"schemaVersion"`
	RunID          string `json:"runId"`
	Base           string `json:"base"` // hash of (dataset, version, spec hash, trainer)
	Attempt        int    `json:"attempt"`
	Model          string `json:"model"`
	Dataset        string `json:"dataset"`
	DatasetVersion string `json:"datasetVersion"`
	ManifestKey    string `json:"manifestKey"`
	ContractHash   string `json:"contractHash"`
	SpecHash       string `json:"specHash"`
	SpecKey        string `json:"specKey"`
	Trainer        string `json:"trainer"` // image digest, or the local trainer's hash
	Rows           int64  `json:"rows"`    // the dataset version's rows
	Cause          Cause  `json:"cause"`

	State string `json:"state"`
	// Owner and ClaimedAt are the claim's lease: another delivery takes the claim
	// over only after the lease ran out.
	Owner     string    `json:"owner"`
	ClaimedAt time.Time `json:"claimedAt"`

	Job        JobRecord `json:"job"`
	Bundle     *Bundle   `json:"bundle,omitempty"`
	Reason     string    `json:"reason,omitempty"` // why it failed
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	History    []Step    `json:"history"`
}

// Cause says what started a run.
type Cause struct {
	Kind      string `json:"kind"` // CauseDatasetVersioned | CauseRetrain | CauseRetry
	RequestID string `json:"requestId,omitempty"`
	Principal string `json:"principal,omitempty"`
	Reason    string `json:"reason,omitempty"`
	RetryOf   string `json:"retryOf,omitempty"` // the failed run a retry follows
}

// JobRecord is what the run knows of its batch job.
type JobRecord struct {
	Name         string            `json:"name"`
	ID           string            `json:"id,omitempty"`
	Status       string            `json:"status,omitempty"` // Batch's status
	StatusReason string            `json:"statusReason,omitempty"`
	ExitCode     *int              `json:"exitCode,omitempty"`
	LogLocation  string            `json:"logLocation,omitempty"`
	Parameters   map[string]string `json:"parameters,omitempty"`
	SubmittedAt  time.Time         `json:"submittedAt,omitzero"`
	StartedAt    time.Time         `json:"startedAt,omitzero"`
	StoppedAt    time.Time         `json:"stoppedAt,omitzero"`
}

// Bundle is the verified bundle of a succeeded run.
type Bundle struct {
	Prefix        string  `json:"prefix"`
	SHA256        string  `json:"sha256"` // of manifest.json
	Headline      string  `json:"headline"`
	HeadlineValue float64 `json:"headlineValue"`
	HeadlineLower float64 `json:"headlineLower"`
	HeadlineUpper float64 `json:"headlineUpper"`
}

// Step is one entry of a run's history.
type Step struct {
	At     time.Time `json:"at"`
	State  string    `json:"state"`
	Status string    `json:"status,omitempty"` // Batch's status, when the step came from the job
	Note   string    `json:"note,omitempty"`
}

// Final reports whether the run reached a final state.
func (r *Run) Final() bool { return r.State == StateSucceeded || r.State == StateFailed }

// BaseHash is the identity of what a run trains: the same dataset version, spec
// and trainer always give the same base, so duplicate events find one run.
func BaseHash(dataset, datasetVersion, specHash, trainer string) string {
	h := sha256.Sum256([]byte(dataset + "\x00" + datasetVersion + "\x00" + specHash + "\x00" + trainer))
	return hex.EncodeToString(h[:8])
}

// statusRank orders Batch statuses so that a late event never moves a run back.
func statusRank(s string) int {
	switch s {
	case StatusSubmitted:
		return 1
	case StatusPending:
		return 2
	case StatusRunnable:
		return 3
	case StatusStarting:
		return 4
	case StatusRunning:
		return 5
	case StatusSucceeded, StatusFailed:
		return 6
	}
	return 0
}

package ingest

import (
	"encoding/json"
	"math"
	"time"

	"github.com/openmlops/mlops/shared/pointer"

	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/validate"
)

// ManifestSchemaVersion is the version of the Manifest JSON written by this package.
const ManifestSchemaVersion = "1"

// Upload names exactly one uploaded object, as an S3 event does.
type Upload struct {
	Bucket    string
	Key       string // decoded, not URL-encoded
	ETag      string
	VersionID string
	Size      int64
	Requester string
	SourceIP  string
	EventTime time.Time
	Sequencer string
}

// Manifest is a dataset version: written create-once, after everything it names.
type Manifest struct {
	SchemaVersion string          `json:"schemaVersion"`
	Dataset       string          `json:"dataset"`
	VersionID     string          `json:"versionId"`
	Mode          string          `json:"mode"`
	ContractHash  string          `json:"contractHash"`
	Contract      json.RawMessage `json:"contract"` // canonical JSON
	Partitions    []Partition     `json:"partitions"`
	Rows          int64           `json:"rows"`
	Bytes         int64           `json:"bytes"`
	ProfileKey    string          `json:"profileKey"`
	ProfileSHA256 string          `json:"profileSha256"`
	Columns       []ColumnSummary `json:"columns"`
	CreatedAt     time.Time       `json:"createdAt"`
}

// Partition is one accepted payload within a version.
type Partition struct {
	PayloadSHA256   string    `json:"payloadSha256"`
	PayloadKey      string    `json:"payloadKey"`
	CanonicalKey    string    `json:"canonicalKey"`
	ProfileKey      string    `json:"profileKey"`
	Rows            int64     `json:"rows"`
	Bytes           int64     `json:"bytes"`
	Compressed      bool      `json:"compressed,omitempty"`
	SourceBucket    string    `json:"sourceBucket"`
	SourceKey       string    `json:"sourceKey"`
	SourceETag      string    `json:"sourceETag"`
	SourceVersionID string    `json:"sourceVersionId,omitempty"`
	Requester       string    `json:"requester,omitempty"`
	SourceIP        string    `json:"sourceIp,omitempty"`
	UploadedAt      time.Time `json:"uploadedAt"`
	ValidatedAt     time.Time `json:"validatedAt"`
	DurationMillis  int64     `json:"durationMillis"`
}

// ColumnSummary is the headline of a column's profile, kept in the manifest so that
// listing versions needs no profile reads.
type ColumnSummary struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Count    int64    `json:"count"`
	Nulls    int64    `json:"nulls"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Mean     *float64 `json:"mean,omitempty"`
	Distinct int64    `json:"distinct"`
}

// Receipt records what became of one uploaded object; a redelivered event reads it
// instead of reading the upload again.
type Receipt struct {
	Upload        UploadRecord `json:"upload"`
	Status        string       `json:"status"` // accepted | rejected
	Dataset       string       `json:"dataset"`
	VersionID     string       `json:"versionId,omitempty"`
	PayloadSHA256 string       `json:"payloadSha256,omitempty"`
	ContractHash  string       `json:"contractHash,omitempty"`
	Rejection     *Rejection   `json:"rejection,omitempty"`
	At            time.Time    `json:"at"`
}

// Receipt statuses.
const (
	Accepted = "accepted"
	Rejected = "rejected"
)

// UploadRecord is the JSON form of Upload.
type UploadRecord struct {
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	ETag      string    `json:"etag"`
	VersionID string    `json:"versionId,omitempty"`
	Size      int64     `json:"size"`
	Requester string    `json:"requester,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	EventTime time.Time `json:"eventTime"`
}

// Rejection says where a rejected upload and its reports went.
type Rejection struct {
	Bucket        string   `json:"bucket"`
	QuarantineKey string   `json:"quarantineKey"`
	ReportKey     string   `json:"reportKey"`
	ReportTextKey string   `json:"reportTextKey"`
	Reasons       []string `json:"reasons"`
}

// Report is the readable account of a rejection (report.json).
type Report struct {
	SchemaVersion string               `json:"schemaVersion"`
	Dataset       string               `json:"dataset"`
	Upload        UploadRecord         `json:"upload"`
	PayloadSHA256 string               `json:"payloadSha256,omitempty"`
	ContractHash  string               `json:"contractHash,omitempty"`
	Rows          int64                `json:"rows"`
	Violations    []validate.Violation `json:"violations"`
	At            time.Time            `json:"at"`
}

// Latest is the pointer to a dataset's newest version.
type Latest struct {
	VersionID string    `json:"versionId"`
	EventTime time.Time `json:"eventTime"`
	Sequencer string    `json:"sequencer,omitempty"`
	At        time.Time `json:"at"`
	// Append datasets only: when the contract of the partition set was applied,
	// and how many partitions the version has.
	Series     time.Time `json:"series,omitzero"`
	Partitions int       `json:"partitions,omitempty"`
}

// Head is an append dataset's partition set under one contract.
type Head struct {
	ContractHash string   `json:"contractHash"`
	Partitions   []string `json:"partitions"` // payload SHA-256s, sorted
	VersionID    string   `json:"versionId"`
}

// ContractPointer is the body of contracts/<dataset>/current.
type ContractPointer = pointer.Pointer

func (u Upload) record() UploadRecord {
	return UploadRecord{Bucket: u.Bucket, Key: u.Key, ETag: u.ETag, VersionID: u.VersionID, Size: u.Size,
		Requester: u.Requester, SourceIP: u.SourceIP, EventTime: u.EventTime}
}

// summarize keeps the headline numbers of each column for the manifest.
func summarize(p *profile.Dataset) []ColumnSummary {
	if p == nil {
		return nil
	}
	out := make([]ColumnSummary, 0, len(p.Columns))
	for _, c := range p.Columns {
		out = append(out, ColumnSummary{Name: c.Name, Type: string(c.Type), Count: c.Count, Nulls: c.Nulls,
			Min: c.Min, Max: c.Max, Mean: c.Mean, Distinct: int64(math.Round(c.Distinct))})
	}
	return out
}

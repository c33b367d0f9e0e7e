package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
)

// Kind is the kind of an audit record.
type Kind string

// The kinds of audit record. A record of kind pending marks a version as
// waiting for a person (issue 4's pending_approval).
const (
	KindRegistered Kind = "registered"  // a run's bundle became version N
	KindChecked    Kind = "checked"     // policy check results for (version, policy hash)
	KindPending    Kind = "pending"     // the policy wants a person to approve
	KindApproved   Kind = "approved"    // approved, naming the bundle SHA-256 the approver saw
	KindRejected   Kind = "rejected"    // rejected, with reasons
	KindPromoted   Kind = "promoted"    // became champion; the one it replaced was archived
	KindRolledBack Kind = "rolled_back" // the previous champion is champion again
	KindRetired    Kind = "retired"     // never served again
	KindRefused    Kind = "refused"     // something was refused (tampered bundle, wrong approval)
)

// Kinds lists every kind.
var Kinds = []Kind{KindRegistered, KindChecked, KindPending, KindApproved, KindRejected,
	KindPromoted, KindRolledBack, KindRetired, KindRefused}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Verdict is the outcome of a policy check.
type Verdict string

// Verdicts.
const (
	VerdictPass Verdict = "pass"
	VerdictFail Verdict = "fail"
)

// Hashes are the artifacts a record is about.
type Hashes struct {
	BundleSHA256   string `json:"bundleSha256,omitempty"`
	PolicyHash     string `json:"policyHash,omitempty"`
	SpecHash       string `json:"specHash,omitempty"`
	DatasetVersion string `json:"datasetVersion,omitempty"`
	ContractHash   string `json:"contractHash,omitempty"`
	ChecksSHA256   string `json:"checksSha256,omitempty"` // of the check results object
}

// Link names a record and the SHA-256 of its bytes.
type Link struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// AuditRecord is one event of a model's audit trail. The trail is the truth:
// version records and the champion pointer are derived from it.
type AuditRecord struct {
	SchemaVersion string    `json:"schemaVersion"`
	Seq           int       `json:"seq"`
	Kind          Kind      `json:"kind"`
	Model         string    `json:"model"`
	Version       int       `json:"version,omitempty"` // the version it is about (0: none, e.g. a refused bundle)
	RunID         string    `json:"runId,omitempty"`
	Principal     string    `json:"principal"`
	Time          time.Time `json:"time"`
	Reason        string    `json:"reason,omitempty"`
	Hashes        Hashes    `json:"hashes"`
	// Verdict of a checked record; ChecksKey is where the results are.
	Verdict   Verdict `json:"verdict,omitempty"`
	ChecksKey string  `json:"checksKey,omitempty"`
	// Previous is the champion a promotion or rollback archived (0: none).
	Previous int `json:"previous,omitempty"`
	// Approval is the approval record a promotion rests on.
	Approval string `json:"approval,omitempty"`
	// Approver is who made that approval.
	Approver string `json:"approver,omitempty"`
	// WasChampion: a forced retirement of the champion, which leaves the model
	// with no champion.
	WasChampion bool `json:"wasChampion,omitempty"`
	Force       bool `json:"force,omitempty"`
	// Override: an approval of a version with no passing check under the
	// policy in force, by someone the policy lets override.
	Override bool `json:"override,omitempty"`
	// Prev links the previous record (none for seq 1).
	Prev *Link `json:"prev,omitempty"`
}

// SchemaVersion of the records this package writes.
const SchemaVersion = "1"

// ParseAudit reads an audit record and checks that it is well formed.
func ParseAudit(b []byte) (*AuditRecord, error) {
	var r AuditRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	switch {
	case r.Seq < 1:
		return nil, fmt.Errorf("audit record: sequence number %d", r.Seq)
	case !r.Kind.Valid():
		return nil, fmt.Errorf("audit record %d: unknown kind %q", r.Seq, r.Kind)
	case validModel(r.Model) != nil:
		return nil, fmt.Errorf("audit record %d: bad model %q", r.Seq, r.Model)
	case r.Version < 0 || r.Previous < 0:
		return nil, fmt.Errorf("audit record %d: negative version", r.Seq)
	case r.Principal == "":
		return nil, fmt.Errorf("audit record %d: no principal", r.Seq)
	case r.Seq == 1 && r.Prev != nil:
		return nil, fmt.Errorf("audit record 1 names a previous record")
	case r.Seq > 1 && (r.Prev == nil || r.Prev.Key == "" || !hashid.Valid(r.Prev.SHA256)):
		return nil, fmt.Errorf("audit record %d: no link to the previous record", r.Seq)
	}
	switch r.Kind {
	case KindRefused:
	case KindRegistered, KindChecked, KindPending, KindApproved, KindRejected, KindPromoted, KindRolledBack, KindRetired:
		if r.Version < 1 {
			return nil, fmt.Errorf("audit record %d (%s): no version", r.Seq, r.Kind)
		}
	}
	if r.Kind == KindChecked && r.Verdict != VerdictPass && r.Verdict != VerdictFail {
		return nil, fmt.Errorf("audit record %d: verdict %q", r.Seq, r.Verdict)
	}
	return &r, nil
}

// Version is a model version's record. Its identity fields are written once, at
// registration; State and the fields after it are derived from the audit trail
// (Seq is the last audit record applied to it).
type Version struct {
	SchemaVersion  string             `json:"schemaVersion"`
	Model          string             `json:"model"`
	Version        int                `json:"version"`
	RunID          string             `json:"runId"`
	BundleSHA256   string             `json:"bundleSha256"`
	BundlePrefix   string             `json:"bundlePrefix,omitempty"`
	DatasetVersion string             `json:"datasetVersion,omitempty"`
	ContractHash   string             `json:"contractHash,omitempty"`
	SpecHash       string             `json:"specHash,omitempty"`
	Metrics        map[string]float64 `json:"metrics,omitempty"`
	// Compiled is the model pre-compiled from the bundle's model.json, when
	// the platform wrote one at registration (older versions have none:
	// serving parses model.json).
	Compiled     *CompiledModel `json:"compiled,omitempty"`
	RegisteredBy string         `json:"registeredBy"`
	RegisteredAt time.Time      `json:"registeredAt"`

	State     State               `json:"state"`
	Seq       int                 `json:"seq"`                 // last audit record applied (0: registration not yet audited)
	LastEvent string              `json:"lastEvent,omitempty"` // its key
	Checks    map[string]CheckRef `json:"checks,omitempty"`    // by policy hash
	Decision  string              `json:"decision,omitempty"`  // the approval or rejection record
	Events    map[Kind]string     `json:"events,omitempty"`    // the last record of each kind about it
	UpdatedAt time.Time           `json:"updatedAt"`
}

// CheckRef is a checked record, as a version remembers it.
type CheckRef struct {
	Verdict Verdict `json:"verdict"`
	Key     string  `json:"key"`   // the check results object
	Audit   string  `json:"audit"` // the checked audit record
	Seq     int     `json:"seq"`
}

// ParseVersion reads a version record.
func ParseVersion(b []byte) (*Version, error) {
	var v Version
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("version record: %w", err)
	}
	switch {
	case v.Version < 1:
		return nil, fmt.Errorf("version record: number %d", v.Version)
	case validModel(v.Model) != nil:
		return nil, fmt.Errorf("version record %d: bad model %q", v.Version, v.Model)
	case !v.State.Valid():
		return nil, fmt.Errorf("version record %d: unknown state %q", v.Version, v.State)
	case v.Seq < 0:
		return nil, fmt.Errorf("version record %d: sequence number %d", v.Version, v.Seq)
	}
	return &v, nil
}

// Champion is the body of models/<model>/champion. Version 0 means the model
// has no champion (its champion was retired with force): the pointer is kept,
// not deleted, so that its Seq still orders later changes.
type Champion struct {
	Model        string    `json:"model"`
	Version      int       `json:"version"`
	BundleSHA256 string    `json:"bundleSha256,omitempty"`
	Decision     string    `json:"decision"` // the audit record that made it so
	Seq          int       `json:"seq"`      // that record's sequence number
	At           time.Time `json:"at"`
}

// ParseChampion reads a champion pointer.
func ParseChampion(b []byte) (*Champion, error) {
	var c Champion
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("champion pointer: %w", err)
	}
	if c.Version < 0 || c.Seq < 1 || c.Decision == "" {
		return nil, fmt.Errorf("champion pointer: version %d, seq %d, decision %q", c.Version, c.Seq, c.Decision)
	}
	return &c, nil
}

// Head is the body of audit/<model>/head: the trail's last record, with a copy
// of its bytes so that an append that crashed after moving the head is
// finished by whoever comes next.
type Head struct {
	Seq    int    `json:"seq"`
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Record []byte `json:"record"`
}

// ParseHead reads a trail's head pointer.
func ParseHead(b []byte) (*Head, error) {
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	if h.Seq < 1 || h.Key == "" || !hashid.Valid(h.SHA256) || len(h.Record) == 0 {
		return nil, fmt.Errorf("audit head: incomplete (seq %d, key %q)", h.Seq, h.Key)
	}
	if got := hashid.Of(h.Record); got != h.SHA256 {
		return nil, fmt.Errorf("audit head: its copy of %s hashes to %s, not %s", h.Key, hashid.Short(got), hashid.Short(h.SHA256))
	}
	return &h, nil
}

// RunIndex is the body of models/<model>/runs/<run-id>.json: the version the
// run is registering (moved up by CAS while numbers are taken by other runs),
// with what the registration needs so that anyone can finish it.
type RunIndex struct {
	RunID   string        `json:"runId"`
	Version int           `json:"version"`
	Input   RegisterInput `json:"input"`
	At      time.Time     `json:"at"`
}

// ParseRunIndex reads a run index entry.
func ParseRunIndex(b []byte) (*RunIndex, error) {
	var r RunIndex
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	if r.Version < 1 || r.RunID == "" || r.Input.RunID != r.RunID {
		return nil, fmt.Errorf("run index: version %d, run %q", r.Version, r.RunID)
	}
	return &r, nil
}

// ChecksRecord is the body of a check results object.
type ChecksRecord struct {
	Model      string          `json:"model"`
	Version    int             `json:"version"`
	PolicyHash string          `json:"policyHash"`
	Verdict    Verdict         `json:"verdict"`
	Checks     json.RawMessage `json:"checks"`
	Principal  string          `json:"principal"`
	At         time.Time       `json:"at"`
}

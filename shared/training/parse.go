package training

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/naming"
)

// Reading stored records: a run record is read back by every delivery, by the
// reconcile sweep and by the CLI, so a damaged one (a partial write by hand, a
// bug of an older version) must be an error that names it, never a run half
// understood that panics later or publishes an event without a bundle.

// ParseRun decodes a stored run record and checks what the code relies on: its
// ID names its model, base and attempt; its state and cause are known; the
// fields that become keys have their shapes; a succeeded run has its bundle.
func ParseRun(b []byte) (*Run, error) {
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamagedRun, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrDamagedRun, r.RunID, err)
	}
	return &r, nil
}

// ErrDamagedRun is matched (errors.Is) by the errors of a stored run record
// that is not a valid run: ParseRun's and GetRun's.
var ErrDamagedRun = errors.New("damaged run record")

// check is ParseRun's invariants, also checked before a record is written.
func (r *Run) check() error {
	model, base, attempt, err := ParseRunID(r.RunID)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.Model != model || r.Base != base || r.Attempt != attempt {
		bad("model %q, base %q and attempt %d do not match the run ID", r.Model, r.Base, r.Attempt)
	}
	if !naming.Valid(r.Dataset) {
		bad("dataset %q: %s", r.Dataset, naming.Rule)
	}
	if err := CheckDatasetVersion(r.DatasetVersion); err != nil {
		bad("%w", err)
	}
	if r.ManifestKey != ingest.ManifestKey(r.Dataset, r.DatasetVersion) {
		bad("manifestKey %q is not the dataset version's manifest", r.ManifestKey)
	}
	if !hashid.Valid(r.ContractHash) || !hashid.Valid(r.SpecHash) {
		bad("contractHash %q or specHash %q is not a SHA-256", r.ContractHash, r.SpecHash)
	}
	if r.SpecKey == "" || r.Trainer == "" {
		bad("specKey and trainer are required")
	}
	if r.Job.Name != r.RunID {
		bad("job name %q is not the run ID", r.Job.Name)
	}
	if err := r.Cause.check(model); err != nil {
		bad("cause: %w", err)
	}
	switch r.State {
	case StateClaimed, StateSubmitted, StateFailed:
		if r.Bundle != nil {
			bad("a %s run with a bundle", r.State)
		}
	case StateSucceeded:
		switch {
		case r.Bundle == nil:
			bad("a succeeded run without a bundle")
		case r.Bundle.Prefix != BundlePrefix(r.RunID) || !hashid.Valid(r.Bundle.SHA256):
			bad("bundle prefix %q or sha256 %q is not this run's", r.Bundle.Prefix, r.Bundle.SHA256)
		}
	default:
		bad("unknown state %q", r.State)
	}
	return errors.Join(errs...)
}

func (c Cause) check(model string) error {
	switch c.Kind {
	case CauseDatasetVersioned:
		return nil
	case CauseRetrain, CauseRetry:
		if err := CheckRequestID(c.RequestID); err != nil {
			return err
		}
		if c.Kind == CauseRetry {
			return CheckRetryOf(c.RetryOf, model)
		}
		return nil
	}
	return fmt.Errorf("unknown kind %q", c.Kind)
}

// CheckDatasetVersion reports whether id has the shape of a dataset version ID
// (ingest.ValidVersionID), before it becomes part of a key.
func CheckDatasetVersion(id string) error {
	if ingest.ValidVersionID(id) {
		return nil
	}
	return fmt.Errorf("datasetVersion %q: expected %d lower-case hex digits, as ingest names versions", id, ingest.VersionIDLen)
}

// CheckRetryOf reports whether id names a run of model (any model if model is
// ""), before it is read as a key.
func CheckRetryOf(id, model string) error {
	m, _, _, err := ParseRunID(id)
	if err != nil {
		return fmt.Errorf("retryOf: %w", err)
	}
	if model != "" && m != model {
		return fmt.Errorf("retryOf %q is a run of model %s, not of %s", id, m, model)
	}
	return nil
}

// A request ID becomes an S3 key segment; the CLI makes "retry-<run-id>" and
// "retrain-<model>-<UTC time>".
const maxRequestIDLen = 200

// CheckRequestID reports whether id is an acceptable request ID: 1 to 200
// characters of letters, digits, '.', '_' or '-', starting with a letter or digit.
func CheckRequestID(id string) error {
	ok := id != "" && len(id) <= maxRequestIDLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("requestId %q: expected 1 to %d characters of letters, digits, '.', '_' or '-', starting with a letter or digit", id, maxRequestIDLen)
	}
	return nil
}

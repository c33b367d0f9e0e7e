package predlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/jsonappend"
	"github.com/openmlops/mlops/shared/naming"
)

// RecordSchema names the record's schema and its major version. Fields added
// later keep "/1"; any other change (a field renamed, removed or given another
// meaning or type) makes "/2", which readers of /1 refuse.
const RecordSchema = schemaName + "1"

const (
	schemaName   = "mlops.prediction/"
	schemaMajor  = 1
	maxRequestID = 256
)

// MaxRecordBytes bounds one encoded record (its JSON line, newline included).
// CloudWatch Logs caps a log event at 256 KiB, counting 26 bytes of its own,
// and splits longer stdout lines, so a longer record could not cross the
// Lambda path whole; both sinks refuse it, so both paths keep the same rule.
const MaxRecordBytes = 256<<10 - 26

// Record is what the endpoint logs for one scored instance. Its JSON (the
// field tags) is the schema docs/prediction-log.md documents.
type Record struct {
	// Schema is RecordSchema; the sinks fill it in when empty.
	Schema    string `json:"schema"`
	RequestID string `json:"requestId"`
	// Index is the instance's position in its request's instances, from 0.
	Index int `json:"index"`
	// Time is when the request was received; written in UTC, and its UTC day
	// is the record's partition.
	Time time.Time `json:"time"`
	// Model, Version and BundleSHA256 name the champion that answered.
	Model        string `json:"model"`
	Version      int    `json:"version"`
	BundleSHA256 string `json:"bundleSha256"`
	// Features are the instance's values by contract column name, after the
	// PII rule (Redactor.Apply): JSON numbers, strings, booleans, or null for
	// a missing value (an absent optional feature is logged as null). A
	// column dropped by the PII rule is absent.
	Features map[string]any `json:"features"`
	// SortedFeatures, where Features is nil, are the features as members in
	// name order, each name once: a writer's way to hand them over without
	// building a map per record (the endpoint's). They are written exactly
	// as Features with the same members; a record read back has Features.
	SortedFeatures []Member `json:"-"`
	// Outputs is the prediction the response carried for the instance:
	// "label" and "p_<class>", or "prediction" (bundle.OutputColumns).
	Outputs map[string]any `json:"outputs"`
	// SortedOutputs, where Outputs is nil, are the outputs as members in
	// name order, as SortedFeatures are the features. The endpoint gives
	// each number as the json.Number of the text its answer carried, so
	// that it is written once (the same bytes as the float64 would be).
	SortedOutputs []Member `json:"-"`
	// Flags are the contract rules the instance broke and was scored anyway
	// (out-of-range values in flag mode), "<column>: <rule>", such as
	// "Age: above max 120". They never quote the value.
	Flags []string `json:"flags,omitempty"`
	// Shadow is the candidate scored beside the champion, if any.
	Shadow *Shadow `json:"shadow,omitempty"`
	// LatencyMs is the server's time for the whole request, in milliseconds.
	LatencyMs float64 `json:"latencyMs"`
}

// Shadow is a candidate's answer for the same instance. Outputs is set when it
// scored, Error when it failed (its failure never reaches the response).
type Shadow struct {
	Version      int            `json:"version"`
	BundleSHA256 string         `json:"bundleSha256"`
	Outputs      map[string]any `json:"outputs,omitempty"`
	Error        string         `json:"error,omitempty"`
}

// VersionError is a record of a schema major version this reader does not
// know. Readers refuse it rather than guess what its fields mean.
type VersionError struct {
	Schema string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("record schema %q: this reader knows %s only (a newer platform wrote it: upgrade the reader)",
		e.Schema, RecordSchema)
}

// Validate checks r against the schema: the rules a writer keeps and a reader
// relies on. The error names the field.
func (r *Record) Validate() error {
	if err := r.validateExceptValues(r.Schema, r.Time); err != nil {
		return err
	}
	if err := checkScalars("features", r.Features); err != nil {
		return err
	}
	if r.Features == nil {
		if err := checkMembers("features", r.SortedFeatures); err != nil {
			return err
		}
	}
	if err := checkScalars("outputs", r.Outputs); err != nil {
		return err
	}
	if r.Outputs == nil {
		if err := checkMembers("outputs", r.SortedOutputs); err != nil {
			return err
		}
	}
	if r.Shadow != nil {
		return checkScalars("shadow.outputs", r.Shadow.Outputs)
	}
	return nil
}

// validateExceptValues is Validate of r with schema and t in place of its
// own, but for the values in its maps: the encoder checks those as it writes
// them, rather than walk the maps twice.
func (r *Record) validateExceptValues(schema string, t time.Time) error {
	if err := r.validateHead(schema, t); err != nil {
		return err
	}
	return r.validateBody()
}

// validateHead checks what a request's records share: the schema, request
// id, time, model, version and bundle.
func (r *Record) validateHead(schema string, t time.Time) error {
	if err := checkSchema(schema); err != nil {
		return err
	}
	switch {
	case r.RequestID == "":
		return errors.New("requestId: empty")
	case len(r.RequestID) > maxRequestID:
		return fmt.Errorf("requestId: %d bytes, at most %d", len(r.RequestID), maxRequestID)
	case t.IsZero():
		return errors.New("time: missing")
	case t.UTC().Year() < 1 || t.UTC().Year() > 9999:
		return fmt.Errorf("time: year %d outside 1..9999", t.UTC().Year())
	case !naming.Valid(r.Model):
		return fmt.Errorf("model: %q is not a model name (%s)", r.Model, naming.Rule)
	case r.Version < 1:
		return fmt.Errorf("version: %d, want 1 or more", r.Version)
	case !hashid.Valid(r.BundleSHA256):
		return fmt.Errorf("bundleSha256: %q is not a hex SHA-256", r.BundleSHA256)
	}
	return nil
}

// validateBody checks the rest, but for the values in the maps.
func (r *Record) validateBody() error {
	switch {
	case r.Index < 0:
		return fmt.Errorf("index: %d, want 0 or more", r.Index)
	case r.Features == nil && r.SortedFeatures == nil:
		return errors.New("features: missing")
	case len(r.Outputs) == 0 && (r.Outputs != nil || len(r.SortedOutputs) == 0):
		return errors.New("outputs: missing")
	case math.IsNaN(r.LatencyMs) || math.IsInf(r.LatencyMs, 0) || r.LatencyMs < 0:
		return fmt.Errorf("latencyMs: %v, want a finite number, 0 or more", r.LatencyMs)
	}
	for i, f := range r.Flags {
		if f == "" {
			return fmt.Errorf("flags[%d]: empty", i)
		}
	}
	if s := r.Shadow; s != nil {
		switch {
		case s.Version < 1:
			return fmt.Errorf("shadow.version: %d, want 1 or more", s.Version)
		case !hashid.Valid(s.BundleSHA256):
			return fmt.Errorf("shadow.bundleSha256: %q is not a hex SHA-256", s.BundleSHA256)
		case len(s.Outputs) == 0 && s.Error == "":
			return errors.New("shadow: neither outputs nor error")
		}
	}
	return nil
}

// checkSchema accepts RecordSchema and refuses another major version of it
// with a *VersionError.
func checkSchema(s string) error {
	if s == RecordSchema {
		return nil
	}
	rest, ok := strings.CutPrefix(s, schemaName)
	if !ok {
		return fmt.Errorf("schema: %q, want %q", s, RecordSchema)
	}
	major, _, _ := strings.Cut(rest, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 1 || n == schemaMajor {
		return fmt.Errorf("schema: %q, want %q", s, RecordSchema)
	}
	return &VersionError{Schema: s}
}

// Member is one named value of a record's map.
type Member struct {
	Name  string
	Value any
	// JSON is Value's JSON text where its writer has it already (the
	// endpoint's check keeps a request's numbers, plain strings and literals
	// as they came): the encoder writes it as it is, unchecked, in place of
	// Value's. Set it only to exactly what encoding/json writes of Value
	// without HTML escaping, or leave it "". A Redactor never keeps it for a
	// column of personal data.
	JSON string
}

// checkMembers is checkScalars for a map given as members, which must also
// be in name order, each name once, as a map is written.
func checkMembers(field string, ms []Member) error {
	for i, m := range ms {
		if i > 0 && m.Name <= ms[i-1].Name {
			return fmt.Errorf("%s: %q after %q: members must be in name order, each name once", field, m.Name, ms[i-1].Name)
		}
		if err := checkScalars(field, map[string]any{m.Name: m.Value}); err != nil {
			return err
		}
	}
	return nil
}

// checkScalars requires JSON scalars (or null): a nested value in a record
// means the writer logged something other than a contract column's value.
func checkScalars(field string, m map[string]any) error {
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("%s: an empty name", field)
		}
		switch x := v.(type) {
		case nil, string, bool,
			int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		case json.Number:
			if x != "" && !jsonappend.Number(string(x)) { // "" is written as 0, as encoding/json does
				return fmt.Errorf("%s.%s: json.Number %q is not a JSON number", field, k, string(x))
			}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s.%s: %v is not a JSON number", field, k, x)
			}
		case float32:
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%s.%s: %v is not a JSON number", field, k, x)
			}
		default:
			return fmt.Errorf("%s.%s: a %T, want a number, string, boolean or null", field, k, v)
		}
	}
	return nil
}

// DecodeRecord decodes one record (one JSON object, surrounding white space
// allowed) and validates it. Unknown fields are ignored: they are what later
// /1 writers may add. A record of another major version is a *VersionError.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		// Another major version may give a field another type: say so, rather
		// than that the record is malformed.
		var s struct {
			Schema string `json:"schema"`
		}
		if json.Unmarshal(b, &s) == nil {
			if verr := (*VersionError)(nil); errors.As(checkSchema(s.Schema), &verr) {
				return Record{}, verr
			}
		}
		return Record{}, fmt.Errorf("not a JSON record: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Record{}, errors.New("not a JSON record: data after the object")
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	normalize(&r)
	return r, nil
}

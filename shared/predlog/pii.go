package predlog

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/contract"
)

// Mode is what the PII rule does with a personal-data column's value.
type Mode string

const (
	// ModeHMAC replaces the value by HMACPrefix and the hex HMAC-SHA-256 of
	// the column and the value under the deployment's key.
	ModeHMAC Mode = "hmac"
	// ModeDrop removes the column from the record.
	ModeDrop Mode = "drop"
)

// HMACPrefix starts every keyed hash in a record.
const HMACPrefix = "hmac-sha256:"

// MinKeyBytes is the shortest HMAC key accepted: 256 bits, SHA-256's own
// strength, so the key cannot be searched for either.
const MinKeyBytes = 32

// Redactor applies the PII rule of one contract to records: the values of its
// columns marked pii are replaced by keyed hashes or removed. It is safe for
// concurrent use.
type Redactor struct {
	mode Mode
	key  []byte
	pii  map[string]bool
}

// NewRedactor returns the redactor for c's pii columns. mode "" means ModeHMAC
// when a key is configured and ModeDrop otherwise; ModeHMAC needs a key of
// MinKeyBytes or more, which should be random and kept per deployment (a
// secret, never in the repository).
func NewRedactor(c *contract.Contract, mode Mode, key []byte) (*Redactor, error) {
	if c == nil {
		return nil, fmt.Errorf("pii: no contract")
	}
	if mode == "" {
		mode = ModeDrop
		if len(key) > 0 {
			mode = ModeHMAC
		}
	}
	r := &Redactor{mode: mode, pii: map[string]bool{}}
	switch mode {
	case ModeHMAC:
		if len(key) < MinKeyBytes {
			return nil, fmt.Errorf("pii: mode hmac needs a key of at least %d bytes, got %d", MinKeyBytes, len(key))
		}
		r.key = append([]byte(nil), key...)
	case ModeDrop:
	default:
		return nil, fmt.Errorf("pii: mode %q, want %q or %q", mode, ModeHMAC, ModeDrop)
	}
	for _, col := range c.Columns {
		if col.PII {
			r.pii[col.Name] = true
		}
	}
	return r, nil
}

// Mode is the redactor's mode.
func (r *Redactor) Mode() Mode { return r.mode }

// HasPII reports whether the contract has any pii column, that is whether
// Apply can change anything.
func (r *Redactor) HasPII() bool { return len(r.pii) > 0 }

// Apply applies the rule to rec: a pii feature's value becomes its keyed hash
// (null stays null) or the feature is removed, and a flag about a pii column
// that quotes its value loses the value. rec.Features is replaced by a new map
// when anything changes, never modified, since it may be the request's own.
func (r *Redactor) Apply(rec *Record) {
	if len(r.pii) == 0 {
		return
	}
	if rec.Features == nil && rec.SortedFeatures != nil {
		r.applyMembers(rec)
		return
	}
	var out map[string]any
	for name, v := range rec.Features {
		if !r.pii[name] {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(rec.Features))
			for k, v := range rec.Features {
				out[k] = v
			}
		}
		switch {
		case r.mode == ModeDrop:
			delete(out, name)
		case v != nil:
			out[name] = r.hash(name, v)
		}
		rec.Flags = redactFlags(rec.Flags, name, v)
	}
	if out != nil {
		rec.Features = out
	}
}

// applyMembers is Apply for a record's SortedFeatures: replaced by a new
// slice when anything changes, never modified.
func (r *Redactor) applyMembers(rec *Record) {
	var out []Member
	for i, m := range rec.SortedFeatures {
		if !r.pii[m.Name] {
			if out != nil {
				out = append(out, m)
			}
			continue
		}
		if out == nil {
			out = append(make([]Member, 0, len(rec.SortedFeatures)), rec.SortedFeatures[:i]...)
		}
		switch {
		case r.mode == ModeDrop:
		case m.Value != nil:
			out = append(out, Member{Name: m.Name, Value: r.hash(m.Name, m.Value)})
		default:
			out = append(out, Member{Name: m.Name}) // null, and no text of the value's
		}
		rec.Flags = redactFlags(rec.Flags, m.Name, m.Value)
	}
	if out != nil {
		rec.SortedFeatures = out
	}
}

// hash is HMAC-SHA-256 over the column's name, a NUL, and the value's
// canonical form (canonical), in hex after HMACPrefix. The name keeps one
// value's hashes in two columns apart, so they cannot be linked.
func (r *Redactor) hash(column string, v any) string {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(column))
	mac.Write([]byte{0})
	mac.Write([]byte(canonical(v)))
	return HMACPrefix + hex.EncodeToString(mac.Sum(nil))
}

// canonical is the form of a value that is hashed: a type tag, a colon, and
// the value's text, so that one value hashes alike however it was spelled
// (30, 30.0 and 3e1 are "number:30") and a string never collides with a
// number. Numbers are written as JSON (ECMAScript) writes a double.
func canonical(v any) string {
	switch x := v.(type) {
	case string:
		return "string:" + x
	case bool:
		return "bool:" + strconv.FormatBool(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return canonical(f)
		}
		return "number:" + x.String()
	}
	var f float64
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Float32, reflect.Float64:
		f = rv.Float()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f = float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f = float64(rv.Uint())
	default:
		// Not a JSON scalar: the endpoint never logs one, but whatever it
		// is, it is hashed, never written.
		if b, err := json.Marshal(v); err == nil {
			return "json:" + string(b)
		}
		return fmt.Sprintf("go:%#v", v)
	}
	if b, err := json.Marshal(f); err == nil {
		return "number:" + string(b)
	}
	return "number:" + strconv.FormatFloat(f, 'g', -1, 64) // NaN, ±Inf: no JSON form
}

// redactFlags replaces a flag about column that quotes its value by one that
// does not. Flags name the rule, not the value ("Age: above max 120"), so this
// is a guard against a writer that forgets.
func redactFlags(flags []string, column string, v any) []string {
	if v == nil || len(flags) == 0 {
		return flags
	}
	text := strings.TrimPrefix(canonical(v), "number:")
	if s, ok := v.(string); ok {
		text = s
	}
	if text == "" {
		return flags
	}
	var out []string
	for i, f := range flags {
		if strings.HasPrefix(f, column+":") && strings.Contains(f[len(column)+1:], text) {
			if out == nil {
				out = append([]string(nil), flags...)
			}
			out[i] = column + ": (a rule broken; the value is personal data)"
		}
	}
	if out == nil {
		return flags
	}
	return out
}

package yamldoc

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Canonical returns v's canonical JSON, the stored and hashed form of a
// document: encoding/json's fixed field order and sorted map keys, no HTML
// escaping (it would turn "<" and "&" into \u003c and \u0026: harmless, but
// the stored bytes should read like what the author wrote), no insignificant
// whitespace. It returns nil when v cannot be written as JSON (a NaN).
func Canonical(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ParseCanonical reads a document stored by the platform (or any JSON of the
// same shape). Unknown fields are errors, because a field this code
// does not know is a setting it would silently ignore; so is anything after
// the object. A number in an untyped field stays a json.Number, its digits
// kept, rather than failing on one outside float64's range after the fact.
// what names the document in the error ("spec").
func ParseCanonical[T any](data []byte, what string) (*T, error) {
	v := new(T)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return nil, &Error{Msg: "canonical " + what + " JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Msg: "canonical " + what + " JSON: unexpected data after the " + what + " object"}
	}
	return v, nil
}

// Present reports, by dotted path (split.seed), which fields the JSON object
// data has, null ones included. A struct cannot tell an absent field, which
// takes its default, from an explicit zero, which stays.
func Present(data []byte) func(path string) bool {
	return func(path string) bool {
		cur := json.RawMessage(data)
		for _, k := range strings.Split(path, ".") {
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return false
			}
			v, ok := m[k]
			if !ok {
				return false
			}
			cur = v
		}
		return true
	}
}

package predlog

import (
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The fast line decoder. Read spends most of its time turning log lines into
// records: encoding/json (decodeLineJSON) reflects over Record, builds a
// json.RawMessage per record and decodes every line twice. decodeLine below
// parses the shape the sinks write (the record's fields spelled as the
// schema spells them, each once, plain strings, scalar features and outputs)
// in one pass with few allocations, and hands anything else, from the first
// byte it does not know what to do with, to decodeLineJSON, which stays the
// definition of what a line means. So the two accept the same lines and give
// the same records and errors (FuzzDecodeFast compares them); the fast path
// only has to be right about the subset it takes.

// maxSkipDepth bounds the nesting of an unknown field's value the fast path
// skips; a deeper one goes to encoding/json, which has its own limit.
const maxSkipDepth = 64

// maxInterned bounds the strings a lineDecoder keeps to share between
// records (feature names, categories, model and bundle names).
const maxInterned = 4096

// lineDecoder decodes the lines of one stream, sharing the strings that
// repeat from record to record.
type lineDecoder struct {
	strs map[string]string
	// recent holds the strings interned in the last record, by their place
	// in it: records of one model spell their names in the same order (the
	// encoder sorts them), so most are found here without hashing.
	recent    []string
	at        int // the place of the next string interned in this record
	nFeatures int // the last record's, as the next one's map size
	nOutputs  int
}

func newLineDecoder() *lineDecoder { return &lineDecoder{strs: map[string]string{}} }

// decodeLine is decodeLineJSON, faster on the lines the sinks write.
func (d *lineDecoder) decodeLine(line []byte, fn func(Record) error, check func(Record) error) error {
	i := 0
	for {
		i = skipSpace(line, i)
		if i == len(line) {
			return nil
		}
		d.at = 0
		r, end, ok := d.record(line, i)
		if !ok {
			// Whatever the rest holds (another shape, a syntax error, a
			// value of the wrong type), encoding/json says what it means.
			return decodeLineJSON(line[i:], fn, check)
		}
		if err := r.Validate(); err != nil {
			return err
		}
		normalize(&r)
		if check != nil {
			if err := check(r); err != nil {
				return err
			}
		}
		if err := fn(r); err != nil {
			return errStop{err}
		}
		i = end
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// The record's fields, as bits of a set of those seen.
const (
	fSchema = 1 << iota
	fRequestID
	fIndex
	fTime
	fModel
	fVersion
	fBundle
	fFeatures
	fOutputs
	fFlags
	fShadow
	fLatency
)

var recordFields = map[string]int{
	"schema": fSchema, "requestId": fRequestID, "index": fIndex, "time": fTime, "model": fModel,
	"version": fVersion, "bundleSha256": fBundle, "features": fFeatures, "outputs": fOutputs,
	"flags": fFlags, "shadow": fShadow, "latencyMs": fLatency,
}

var shadowFields = map[string]int{"version": 1, "bundleSha256": 2, "outputs": 4, "error": 8}

// foldsToField says whether encoding/json would take key, which is none of
// fields' names as spelled, for one of them: it matches names without regard
// to case (Unicode's folding, so any key with a byte above ASCII is taken to
// match, to be safe).
func foldsToField(key []byte, fields map[string]int) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for name := range fields {
		if strings.EqualFold(unsafeString(key), name) {
			return true
		}
	}
	return false
}

// record parses the object at b[i]. ok is false where the fast path does not
// decide: the caller then hands b[i:] to encoding/json. On ok, end is just
// past the object's closing brace.
func (d *lineDecoder) record(b []byte, i int) (r Record, end int, ok bool) {
	if b[i] != '{' {
		return r, 0, false
	}
	seen := 0
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r, i + 1, true
	}
	for {
		key, j, esc, ok := scanString(b, i)
		if !ok || esc {
			return r, 0, false
		}
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return r, 0, false
		}
		i = skipSpace(b, i+1)
		if i == len(b) {
			return r, 0, false
		}
		f := recordFields[unsafeString(key)]
		if f == 0 {
			if foldsToField(key, recordFields) {
				return r, 0, false
			}
			if i, ok = skipValue(b, i, 0); !ok {
				return r, 0, false
			}
		} else {
			if seen&f != 0 {
				return r, 0, false // encoding/json merges a repeated field
			}
			seen |= f
			if i, ok = d.field(&r, f, b, i); !ok {
				return r, 0, false
			}
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return r, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return r, i + 1, true
		default:
			return r, 0, false
		}
	}
}

// field parses the value at b[i] of the record's field f.
func (d *lineDecoder) field(r *Record, f int, b []byte, i int) (int, bool) {
	var ok bool
	switch f {
	case fSchema:
		r.Schema, i, ok = d.str(b, i, true)
	case fRequestID:
		r.RequestID, i, ok = d.str(b, i, false)
	case fModel:
		r.Model, i, ok = d.str(b, i, true)
	case fBundle:
		r.BundleSHA256, i, ok = d.str(b, i, true)
	case fIndex:
		r.Index, i, ok = integer(b, i)
	case fVersion:
		r.Version, i, ok = integer(b, i)
	case fLatency:
		r.LatencyMs, i, ok = number(b, i)
	case fTime:
		if b[i] != '"' {
			return 0, false
		}
		start := i
		if _, i, _, ok = scanString(b, i); !ok {
			return 0, false
		}
		// What encoding/json does with a time: hand the literal to it.
		if r.Time.UnmarshalJSON(b[start:i]) != nil {
			return 0, false
		}
	case fFeatures:
		r.Features, i, ok = d.scalars(b, i, d.nFeatures)
		d.nFeatures = len(r.Features)
	case fOutputs:
		r.Outputs, i, ok = d.scalars(b, i, d.nOutputs)
		d.nOutputs = len(r.Outputs)
	case fFlags:
		r.Flags, i, ok = d.flagList(b, i)
	case fShadow:
		r.Shadow, i, ok = d.shadow(b, i)
	}
	return i, ok
}

// str reads a string value without escapes; share says it repeats from
// record to record.
func (d *lineDecoder) str(b []byte, i int, share bool) (string, int, bool) {
	if b[i] != '"' {
		return "", 0, false
	}
	s, j, esc, ok := scanString(b, i)
	if !ok || esc || !utf8.Valid(s) {
		// encoding/json unescapes and replaces bad UTF-8: let it.
		return "", 0, false
	}
	if share {
		return d.intern(s), j, true
	}
	return string(s), j, true
}

func (d *lineDecoder) intern(s []byte) string {
	at := d.at
	d.at++
	if at < len(d.recent) && d.recent[at] == unsafeString(s) {
		return d.recent[at]
	}
	v, ok := d.strs[unsafeString(s)]
	if !ok {
		v = string(s)
		if len(d.strs) < maxInterned {
			d.strs[v] = v
		}
	}
	switch {
	case at < len(d.recent):
		d.recent[at] = v
	case at < maxInterned:
		d.recent = append(d.recent, v)
	}
	return v
}

// scalars reads an object of JSON scalars as encoding/json decodes it into a
// map[string]any: float64, string, bool, nil. A nested value is not the
// fast path's (Validate refuses it, with encoding/json's types).
func (d *lineDecoder) scalars(b []byte, i, hint int) (map[string]any, int, bool) {
	if b[i] != '{' {
		return nil, 0, false
	}
	m := make(map[string]any, hint)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, i + 1, true
	}
	for {
		key, j, esc, ok := scanString(b, i)
		if !ok || esc || !utf8.Valid(key) {
			return nil, 0, false
		}
		name := d.intern(key)
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return nil, 0, false
		}
		i = skipSpace(b, i+1)
		if i == len(b) {
			return nil, 0, false
		}
		var v any
		switch c := b[i]; {
		case c == '"':
			var s string
			if s, i, ok = d.str(b, i, true); !ok {
				return nil, 0, false
			}
			v = s
		case c == '-' || (c >= '0' && c <= '9'):
			var f float64
			if f, i, ok = number(b, i); !ok {
				return nil, 0, false
			}
			v = f
		case c == 't' && hasLiteral(b, i, "true"):
			v, i = true, i+4
		case c == 'f' && hasLiteral(b, i, "false"):
			v, i = false, i+5
		case c == 'n' && hasLiteral(b, i, "null"):
			v, i = nil, i+4
		default:
			return nil, 0, false
		}
		m[name] = v
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// flagList reads an array of plain strings.
func (d *lineDecoder) flagList(b []byte, i int) ([]string, int, bool) {
	if b[i] != '[' {
		return nil, 0, false
	}
	out := []string{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, i + 1, true
	}
	for {
		if i == len(b) {
			return nil, 0, false
		}
		s, j, ok := d.str(b, i, true)
		if !ok {
			return nil, 0, false
		}
		out = append(out, s)
		i = skipSpace(b, j)
		if i == len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// shadow reads the shadow object.
func (d *lineDecoder) shadow(b []byte, i int) (*Shadow, int, bool) {
	if b[i] != '{' {
		return nil, 0, false
	}
	s := &Shadow{}
	seen := 0
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return s, i + 1, true
	}
	for {
		key, j, esc, ok := scanString(b, i)
		if !ok || esc {
			return nil, 0, false
		}
		i = skipSpace(b, j)
		if i == len(b) || b[i] != ':' {
			return nil, 0, false
		}
		i = skipSpace(b, i+1)
		if i == len(b) {
			return nil, 0, false
		}
		f := shadowFields[unsafeString(key)]
		if f == 0 {
			if foldsToField(key, shadowFields) {
				return nil, 0, false
			}
			i, ok = skipValue(b, i, 1)
		} else if seen&f != 0 {
			return nil, 0, false
		} else {
			seen |= f
			switch f {
			case 1:
				s.Version, i, ok = integer(b, i)
			case 2:
				s.BundleSHA256, i, ok = d.str(b, i, true)
			case 4:
				s.Outputs, i, ok = d.scalars(b, i, 0)
			case 8:
				s.Error, i, ok = d.str(b, i, false)
			}
		}
		if !ok {
			return nil, 0, false
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return s, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanString scans the JSON string at b[i] (its opening quote) and returns
// its raw contents, the index past its closing quote, and whether it holds
// escapes. ok is false where it is not a valid JSON string.
func scanString(b []byte, i int) (s []byte, end int, esc bool, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false, false
	}
	start := i + 1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[start:j], j + 1, esc, true
		case c < 0x20:
			return nil, 0, false, false
		case c == '\\':
			esc = true
			j++
			if j == len(b) {
				return nil, 0, false, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 {
					return nil, 0, false, false
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return nil, 0, false, false
					}
				}
				j += 4
			default:
				return nil, 0, false, false
			}
		}
	}
	return nil, 0, false, false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanNumber scans the JSON number at b[i] and returns the index past it.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i == len(b):
		return 0, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return 0, false
		}
	}
	return i, true
}

// number reads a JSON number as encoding/json decodes it into a float64.
func number(b []byte, i int) (float64, int, bool) {
	end, ok := scanNumber(b, i)
	if !ok {
		return 0, 0, false
	}
	lit := b[i:end]
	// Small integers, most features, are exact as float64: no need to
	// parse them in general.
	if len(lit) <= 15 && lit[0] != '-' {
		n := 0.0
		for _, c := range lit {
			if c < '0' || c > '9' {
				goto general
			}
			n = n*10 + float64(c-'0')
		}
		return n, end, true
	}
general:
	f, err := strconv.ParseFloat(unsafeString(lit), 64)
	if err != nil {
		return 0, 0, false
	}
	return f, end, true
}

// integer reads a JSON number as encoding/json decodes it into an int.
func integer(b []byte, i int) (int, int, bool) {
	end, ok := scanNumber(b, i)
	if !ok {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(unsafeString(b[i:end]), 10, 64)
	if err != nil || int64(int(n)) != n {
		return 0, 0, false
	}
	return int(n), end, true
}

// skipValue scans any JSON value at b[i] (an unknown field's, which
// encoding/json checks and ignores) and returns the index past it.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxSkipDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		_, end, _, ok := scanString(b, i)
		return end, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case c == 't' && hasLiteral(b, i, "true"):
		return i + 4, true
	case c == 'f' && hasLiteral(b, i, "false"):
		return i + 5, true
	case c == 'n' && hasLiteral(b, i, "null"):
		return i + 4, true
	case c == '[':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValue(b, i, depth+1); !ok {
				return 0, false
			}
			i = skipSpace(b, i)
			if i == len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '{':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			_, j, _, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			i = skipSpace(b, j)
			if i == len(b) || b[i] != ':' {
				return 0, false
			}
			if i, ok = skipValue(b, skipSpace(b, i+1), depth+1); !ok {
				return 0, false
			}
			i = skipSpace(b, i)
			if i == len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

// unsafeString views b as a string for a lookup or a parse that does not keep
// it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// normalize gives a valid record one form for what its JSON cannot tell
// apart from absent.
func normalize(r *Record) {
	r.Time = r.Time.UTC()
	if len(r.Flags) == 0 {
		r.Flags = nil
	}
	if r.Shadow != nil && len(r.Shadow.Outputs) == 0 {
		r.Shadow.Outputs = nil
	}
}

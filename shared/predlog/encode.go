package predlog

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/openmlops/mlops/shared/jsonappend"
)

// The sinks write records by hand rather than through encoding/json: on the
// endpoint's request path encoding/json's reflection over a record's maps was
// a third of the server's CPU (docs/benchmarks.md). The bytes are exactly
// encoding/json's (SetEscapeHTML(false)) for the Record's field tags: the
// fields in their declaration order, map keys sorted, strings and numbers as
// it writes them; FuzzEncodeMatchesReference holds the two together.

// encoder holds one call's lines and the scratch that writing them needs;
// encoders are pooled, so a call allocates nothing once the pool is warm.
type encoder struct {
	buf  []byte
	ends []int    // each record's line ends at buf[ends[i]]
	kvs  []Member // a map's members, sorted by name
	// names are the last names met in each kind of map, sorted: one
	// model's records all have the same, and when a map has them, its
	// members are found by name in that order, with neither a walk of the
	// map nor a sort.
	names [numMaps][]string
	// quoted are the last names met in each kind of map, by place, with
	// their JSON text.
	quoted [numMaps]quotedNames
	head   head
}

// quotedNames are names with their JSON text and the colon after it.
type quotedNames struct {
	names []string
	text  [][]byte
	// after[i] says names[i] sorts after names[i-1]: a map whose members
	// are these names at these places needs no comparison of its own.
	after []bool
}

// set makes name the i-th, whose text is text (copied).
func (q *quotedNames) set(i int, name string, text []byte) {
	if i > len(q.names) || i == len(q.names) && i >= 1024 {
		return // only a run of names from the first is kept, and not without end
	}
	if i == len(q.names) {
		q.names, q.text, q.after = append(q.names, name), append(q.text, nil), append(q.after, false)
	}
	q.names[i] = name
	q.text[i] = append(q.text[i][:0], text...)
	q.after[i] = i > 0 && q.names[i-1] < name
	if i+1 < len(q.names) {
		q.after[i+1] = name < q.names[i+1]
	}
}

// is reports whether name is the i-th: by the string's address first, as
// the endpoint's records share their names' strings.
func (q *quotedNames) is(i int, name string) bool {
	if i >= len(q.names) {
		return false
	}
	n := q.names[i]
	return len(n) == len(name) && (unsafe.StringData(n) == unsafe.StringData(name) || n == name)
}

// head is the start of the last record written, up to its features but for
// its index: a request's records share it, and each after the first is
// written from it without validating or formatting it again.
type head struct {
	schema, requestID, model, bundle string
	time                             time.Time
	version                          int
	valid                            bool
	buf                              []byte // the bytes, from {"schema" to "features":
	index                            int    // where the index goes in buf
	// latency is the text of the last latency written, whose bits are
	// latencyBits (where latencyOK).
	latency     []byte
	latencyBits uint64
	latencyOK   bool
}

// same reports whether r, with schema and t, starts as the last record.
func (h *head) same(schema string, t time.Time, r *Record) bool {
	return h.valid && r.RequestID == h.requestID && r.Version == h.version && t.Equal(h.time) &&
		schema == h.schema && r.Model == h.model && r.BundleSHA256 == h.bundle
}

// The kinds of maps a record has.
const (
	featuresMap = iota
	outputsMap
	shadowMap
	numMaps
)

var mapField = [numMaps]string{"features", "outputs", "shadow.outputs"}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// maxPooled keeps an encoder whose lines grew past it (a call of many large
// records) out of the pool, so one such call does not pin its memory.
const maxPooled = 1 << 20

func getEncoder() *encoder { return encoders.Get().(*encoder) }

func (e *encoder) release() {
	if cap(e.buf) > maxPooled {
		return
	}
	clear(e.kvs[:cap(e.kvs)]) // drop the values' references; names are kept
	encoders.Put(e)
}

// encodeAll encodes every record first, each as one JSON line, so that one
// bad record refuses the whole call rather than leave part of a request
// logged.
func (e *encoder) encodeAll(recs []Record) error {
	e.buf, e.ends = e.buf[:0], e.ends[:0]
	for i := range recs {
		start := len(e.buf)
		var err error
		if e.buf, err = e.appendRecord(e.buf, &recs[i]); err != nil {
			return fmt.Errorf("record %s[%d]: %w", recs[i].RequestID, recs[i].Index, err)
		}
		if n := len(e.buf) - start; n > MaxRecordBytes {
			return fmt.Errorf("record %s[%d]: %d bytes encoded, at most %d", recs[i].RequestID, recs[i].Index, n, MaxRecordBytes)
		}
		e.ends = append(e.ends, len(e.buf))
	}
	return nil
}

// line is record i's line, newline included.
func (e *encoder) line(i int) []byte {
	start := 0
	if i > 0 {
		start = e.ends[i-1]
	}
	return e.buf[start:e.ends[i]]
}

// appendRecord validates r, with an empty schema taken as RecordSchema, and
// appends its JSON line, the time in UTC.
func (e *encoder) appendRecord(b []byte, r *Record) ([]byte, error) {
	schema := r.Schema
	if schema == "" {
		schema = RecordSchema
	}
	t := r.Time.UTC()
	// The maps' values are checked as they are written.
	h := &e.head
	if !h.same(schema, t, r) {
		h.valid = false
		if err := r.validateHead(schema, t); err != nil {
			return nil, err
		}
		// The schema, the model's name and the bundle's hash, once valid,
		// are plain ASCII that JSON carries as it is.
		hb := append(h.buf[:0], `{"schema":"`...)
		hb = append(hb, schema...)
		hb = append(hb, `","requestId":`...)
		hb = jsonappend.String(hb, r.RequestID)
		hb = append(hb, `,"index":`...)
		h.index = len(hb)
		hb = append(hb, `,"time":"`...)
		hb = t.AppendFormat(hb, time.RFC3339Nano) // as time.Time.MarshalJSON writes a year in 0..9999
		hb = append(hb, `","model":"`...)
		hb = append(hb, r.Model...)
		hb = append(hb, `","version":`...)
		hb = strconv.AppendInt(hb, int64(r.Version), 10)
		hb = append(hb, `,"bundleSha256":"`...)
		hb = append(hb, r.BundleSHA256...)
		hb = append(hb, `","features":`...)
		*h = head{schema: schema, requestID: r.RequestID, model: r.Model, bundle: r.BundleSHA256, time: t,
			version: r.Version, valid: true, buf: hb, index: h.index, latency: h.latency[:0]}
	}
	if err := r.validateBody(); err != nil {
		return nil, err
	}
	var err error
	b = append(b, h.buf[:h.index]...)
	b = strconv.AppendInt(b, int64(r.Index), 10)
	b = append(b, h.buf[h.index:]...)
	if r.Features == nil && r.SortedFeatures != nil {
		if b, err = e.appendMembers(b, featuresMap, r.SortedFeatures); err != nil {
			return nil, err
		}
	} else if b, err = e.appendMap(b, featuresMap, r.Features); err != nil {
		return nil, err
	}
	b = append(b, `,"outputs":`...)
	if r.Outputs == nil && r.SortedOutputs != nil {
		if b, err = e.appendMembers(b, outputsMap, r.SortedOutputs); err != nil {
			return nil, err
		}
	} else if b, err = e.appendMap(b, outputsMap, r.Outputs); err != nil {
		return nil, err
	}
	if len(r.Flags) > 0 {
		b = append(b, `,"flags":[`...)
		for i, f := range r.Flags {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonappend.String(b, f)
		}
		b = append(b, ']')
	}
	if s := r.Shadow; s != nil {
		b = append(b, `,"shadow":{"version":`...)
		b = strconv.AppendInt(b, int64(s.Version), 10)
		b = append(b, `,"bundleSha256":"`...)
		b = append(b, s.BundleSHA256...)
		b = append(b, '"')
		if len(s.Outputs) > 0 {
			b = append(b, `,"outputs":`...)
			if b, err = e.appendMap(b, shadowMap, s.Outputs); err != nil {
				return nil, err
			}
		}
		if s.Error != "" {
			b = append(b, `,"error":`...)
			b = jsonappend.String(b, s.Error)
		}
		b = append(b, '}')
	}
	b = append(b, `,"latencyMs":`...)
	// A request's records share their latency: formatted once.
	if bits := math.Float64bits(r.LatencyMs); !h.latencyOK || bits != h.latencyBits {
		h.latency = jsonappend.Float(h.latency[:0], r.LatencyMs, 64)
		h.latencyBits, h.latencyOK = bits, true
	}
	b = append(b, h.latency...)
	return append(b, '}', '\n'), nil
}

// appendMap appends m, a map of kind, as a JSON object of scalars, its names
// sorted.
func (e *encoder) appendMap(b []byte, kind int, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	kvs := e.kvs[:0]
	if names := e.names[kind]; len(names) == len(m) {
		for _, name := range names {
			v, ok := m[name]
			if !ok {
				kvs = kvs[:0]
				break
			}
			kvs = append(kvs, Member{Name: name, Value: v})
		}
	}
	if len(kvs) != len(m) {
		kvs = kvs[:0]
		for k, v := range m {
			kvs = append(kvs, Member{Name: k, Value: v})
		}
		sortMembers(kvs)
		names := e.names[kind][:0]
		for _, kv := range kvs {
			names = append(names, kv.Name)
		}
		e.names[kind] = names
	}
	e.kvs = kvs
	return e.appendMembers(b, kind, kvs)
}

// appendMembers appends the members of a map of kind, which must be in name
// order, each name once, as a JSON object.
func (e *encoder) appendMembers(b []byte, kind int, kvs []Member) ([]byte, error) {
	b = append(b, '{')
	q := &e.quoted[kind]
	known := false // the previous member's name was the quoted one at its place
	for i := range kvs {
		kv := &kvs[i]
		if kv.Name == "" {
			return nil, fmt.Errorf("%s: an empty name", mapField[kind])
		}
		// One model's records have the same names at the same places:
		// each is quoted once, and copied after; and a run of them is in
		// order without comparing them again.
		isKnown := q.is(i, kv.Name)
		if i > 0 {
			if !(known && isKnown && q.after[i]) && kv.Name <= kvs[i-1].Name {
				return nil, fmt.Errorf("%s: %q after %q: members must be in name order, each name once", mapField[kind], kv.Name, kvs[i-1].Name)
			}
			b = append(b, ',')
		}
		known = isKnown
		if isKnown {
			b = append(b, q.text[i]...)
		} else {
			start := len(b)
			b = append(jsonappend.String(b, kv.Name), ':')
			q.set(i, kv.Name, b[start:])
			known = q.is(i, kv.Name)
		}
		if kv.JSON != "" {
			b = append(b, kv.JSON...)
			continue
		}
		var err error
		if b, err = appendScalar(b, kv.Value); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", mapField[kind], kv.Name, err)
		}
	}
	return append(b, '}'), nil
}

// sortMembers sorts by name: by insertion for the few members a record's
// maps have, where it beats a general sort.
func sortMembers(kvs []Member) {
	if len(kvs) > 24 {
		slices.SortFunc(kvs, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && kvs[j].Name < kvs[j-1].Name; j-- {
			kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
		}
	}
}

// appendScalar appends a value of a record's map, or refuses it: a JSON
// scalar or null, as checkScalars allows.
func appendScalar(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return jsonappend.String(b, x), nil
	case float64:
		if !jsonappend.Finite(x) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return jsonappend.Float(b, x, 64), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float32:
		if !jsonappend.Finite(float64(x)) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return jsonappend.Float(b, float64(x), 32), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil // as encoding/json writes it
		}
		if !jsonappend.Number(string(x)) {
			return nil, fmt.Errorf("json.Number %q is not a JSON number", string(x))
		}
		return append(b, x...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	}
	return nil, fmt.Errorf("a %T, want a number, string, boolean or null", v)
}

package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/reuse"
)

// Limits bound a prediction request; zero fields take the defaults.
type Limits struct {
	// MaxBodyBytes bounds the body (413 too_large over it).
	MaxBodyBytes int64
	// MaxInstances bounds the instances of one request (413 too_large over it).
	MaxInstances int
}

// The defaults of Limits, and the bound on a string value or a field name.
const (
	DefaultMaxBodyBytes = 5 << 20
	DefaultMaxInstances = 1000
	// MaxStringBytes bounds a string value and a field's name (decoded
	// UTF-8): a category, an id or a timestamp is far shorter, and the
	// prediction log keeps what comes.
	MaxStringBytes = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxInstances <= 0 {
		l.MaxInstances = DefaultMaxInstances
	}
	return l
}

// unlimited is what a Go caller decoding a file it chose uses: the body's
// rules without the server's bounds on size.
var unlimited = Limits{MaxBodyBytes: math.MaxInt64, MaxInstances: math.MaxInt}

// DecodeRequest reads a prediction request, strictly: one JSON object with
// "instances", a non-empty array of at most lim.MaxInstances objects, and
// optionally "explain", a boolean; no other field. An instance's values are
// JSON scalars: strings of at most MaxStringBytes, numbers within float32's
// range (the model reads float32), true, false or null; an array or object
// is refused where it starts, so that a deeply nested value costs nothing.
// No name twice in an instance. The body is at most lim.MaxBodyBytes.
//
// Every error is an *apierror.Error, bad_request (400) or too_large (413),
// whose message names the place: body, instances, instances[3] or
// instances[3].Age. The contract's rules are the Checker's.
func DecodeRequest(r io.Reader, lim Limits) (*Request, error) {
	return decodeRequest(r, -1, lim, &requestBuf{})
}

// DecodeRequestSized is DecodeRequest of a body whose length the caller
// expects to be size (an HTTP request's ContentLength; -1 for unknown): it is
// read into one buffer of that size, up to 16 KiB, rather than one grown by
// doubling. A body of another length is read all the same.
//
// The request's instances are in memory that Release gives back for the next
// request to reuse: a server's requests, one after another, then allocate
// next to nothing for them.
func DecodeRequestSized(r io.Reader, size int64, lim Limits) (*Request, error) {
	buf := requestBufs.Get().(*requestBuf)
	req, err := decodeRequest(r, size, lim, buf)
	if err != nil {
		buf.put()
		return nil, err
	}
	req.buf = buf
	return req, nil
}

// decodeRequest decodes the body r gives into buf's memory.
func decodeRequest(r io.Reader, size int64, lim Limits, buf *requestBuf) (*Request, error) {
	lim = lim.withDefaults()
	b, err := readBody(io.LimitReader(r, min(lim.MaxBodyBytes, math.MaxInt64-1)+1), size, buf.body[:0])
	buf.body = b
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, tooLarge(mb.Limit)
		}
		return nil, apierror.Errorf(apierror.CodeBadRequest, "body: could not be read: %v", err)
	}
	if int64(len(b)) > lim.MaxBodyBytes {
		return nil, tooLarge(lim.MaxBodyBytes)
	}
	return decodeInto(b, lim, buf)
}

// requestBuf is the memory of one request's decoding: its body, the slab
// its fields are cut from, its instances.
type requestBuf struct {
	body       []byte
	slab       []Field
	instances  []Instance
	fields     int     // how many fields the request had: the slab the next one starts with
	names      []Field // the last request's first instance's names (no values)
	namesPlain uint64  // plainNames(names)
}

var requestBufs = sync.Pool{New: func() any { return new(requestBuf) }}

// The largest memory a requestBuf keeps for the next request: a batch of a
// few hundred instances. A larger request's is left to the collector.
const (
	maxPooledBody      = 64 << 10
	maxPooledFields    = 4096
	maxPooledInstances = 1024
	maxPooledNames     = 256
)

// put clears b (nothing it points to is kept alive by the pool) and gives
// it back, sized for requests like the last.
func (b *requestBuf) put() {
	if cap(b.body) > maxPooledBody || b.fields > maxPooledFields || cap(b.instances) > maxPooledInstances {
		return
	}
	// The first instance's names start the next request's: its instances,
	// named as these were, then share these strings rather than copy their
	// own (they are distinct: the instance was read whole).
	b.names = b.names[:0]
	if len(b.instances) > 0 && len(b.instances[0].Fields) <= maxPooledNames {
		for _, f := range b.instances[0].Fields {
			b.names = append(b.names, Field{Name: f.Name})
		}
	}
	b.namesPlain = plainNames(b.names)
	b.slab = reuse.Clear(b.slab)
	if cap(b.slab) < b.fields {
		// The last request's fields took more than one slab: the next
		// starts with one large enough for all of them.
		b.slab = make([]Field, 0, b.fields)
	}
	clear(b.names[len(b.names):cap(b.names)])
	// A caller's data does not wait in the pool.
	b.body, b.instances, b.fields = reuse.Clear(b.body), reuse.Clear(b.instances), 0
	requestBufs.Put(b)
}

// Keep says that the request's instances are read after the call that got
// the request returns (by a goroutine it started): Release then leaves their
// memory to the garbage collector rather than reusing it.
func (r *Request) Keep() { r.kept = true }

// Release gives the memory of a request from DecodeRequestSized back for
// another request to reuse, unless Keep was called: its instances, their
// fields and values are not to be read afterwards. It is for the server,
// which knows when a request is done with; any other request it leaves alone.
// Release the request once, through the pointer DecodeRequestSized gave: a
// copy of the Request released as well would give its memory twice.
func (r *Request) Release() {
	if r.buf == nil || r.kept {
		return
	}
	b := r.buf
	r.buf, r.Instances = nil, nil
	b.put()
}

// readBody is io.ReadAll into b, starting with room for size bytes (at most
// 16 KiB, a batch of a few dozen instances: a client's word is not worth
// more memory before its bytes come) and the EOF.
func readBody(r io.Reader, size int64, b []byte) ([]byte, error) {
	if size <= 0 {
		size = 512 // as io.ReadAll starts
	}
	if want := int(min(size, 16<<10)) + 1; cap(b) < want {
		b = make([]byte, 0, want)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // room for more
		}
	}
}

func tooLarge(limit int64) *apierror.Error {
	return apierror.Errorf(apierror.CodeTooLarge, "body: over %d bytes: send fewer instances a request", limit)
}

// scanner reads the request's JSON by hand: it never recurses (a value that
// nests is refused where it starts), refuses what encoding/json would let
// through (invalid UTF-8, names twice) and keeps each value's text.
type scanner struct {
	b   []byte
	i   int
	lim Limits
	// prev is the previous instance's fields: instances mostly name the same
	// fields in the same order, and then share their names' strings.
	prev      []Field
	prevPlain uint64     // plainNames(prev)
	slab      []Field    // what instances' fields are cut from
	out       []Instance // what the instances are appended to
	// fields counts the fields read, to size the next request's slab.
	fields int
}

// at names a place of the request for a message (body, explain,
// instances, instances[3], instances[3].Age), made into text only for one.
type at struct {
	top      string // body, explain, instances, instance
	index    int    // the instance's, -1 for none
	field    string
	hasField bool
}

var (
	atBody      = at{top: "body", index: -1}
	atExplain   = at{top: "explain", index: -1}
	atInstances = at{top: "instances", index: -1}
)

func (a at) String() string {
	s := a.top
	if a.index >= 0 {
		s += "[" + strconv.Itoa(a.index) + "]"
	}
	if a.hasField {
		return FieldPath(s, a.field)
	}
	return s
}

func (a at) with(field string) at {
	a.field, a.hasField = field, true
	return a
}

func decode(b []byte, lim Limits) (*Request, error) {
	return decodeInto(b, lim, nil)
}

// decodeInto decodes b with the slab and instances of buf (nil: new ones).
func decodeInto(b []byte, lim Limits, buf *requestBuf) (*Request, error) {
	s := &scanner{b: b, lim: lim}
	if buf != nil {
		s.slab, s.out, s.prev, s.prevPlain = buf.slab[:0], buf.instances[:0], buf.names, buf.namesPlain
		// The slab given back is the one the scanner started with, even if
		// the fields outgrew it (put then makes one large enough).
		defer func() { buf.instances, buf.fields = s.out, s.fields }()
	}
	s.ws()
	if s.i == len(b) {
		return nil, s.fail(atBody, `empty: expected a JSON object {"instances": [{...}, ...]}`)
	}
	if b[s.i] != '{' {
		hint := ""
		if b[s.i] == '[' {
			hint = ` (send an array of instances as {"instances": [...]})`
		}
		return nil, s.fail(atBody, `expected a JSON object {"instances": [{...}, ...]}, got %s%s`, s.what(), hint)
	}
	s.i++
	req := &Request{}
	var seenInstances, seenExplain bool
	if s.ws(); s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			key, _, _, err := s.name(atBody, -1)
			if err != nil {
				return nil, err
			}
			if err := s.colon(atBody); err != nil {
				return nil, err
			}
			switch key {
			case "instances":
				if seenInstances {
					return nil, s.fail(atBody, "instances is given twice")
				}
				seenInstances = true
				if req.Instances, err = s.instances(); err != nil {
					return nil, err
				}
			case "explain":
				if seenExplain {
					return nil, s.fail(atBody, "explain is given twice")
				}
				seenExplain = true
				if req.Explain, err = s.boolean(atExplain); err != nil {
					return nil, err
				}
			default:
				return nil, s.fail(atBody, "unknown field %s: a request has instances and explain", strconv.Quote(clip.Bytes(key, 80)))
			}
			done, err := s.next(atBody, '}')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
		}
	}
	if s.ws(); s.i < len(b) {
		return nil, s.fail(atBody, "one JSON object expected, found more after it (at byte %d)", s.i)
	}
	if !seenInstances {
		return nil, s.fail(atBody, `instances is required: {"instances": [{...}, ...]}`)
	}
	if len(req.Instances) == 0 {
		return nil, s.fail(atInstances, "empty: expected at least one instance")
	}
	return req, nil
}

func (s *scanner) fail(path at, format string, a ...any) *apierror.Error {
	return apierror.Errorf(apierror.CodeBadRequest, "%s: %s", path.String(), fmt.Sprintf(format, a...))
}

// syntax is a refusal of text that is not JSON where path's value is.
func (s *scanner) syntax(path at, want string) *apierror.Error {
	if s.i >= len(s.b) {
		return s.fail(path, "not JSON: the body ends where %s was expected", want)
	}
	return s.fail(path, "not JSON at byte %d: expected %s, got %s", s.i, want, s.char())
}

func (s *scanner) char() string {
	r, _ := utf8.DecodeRune(s.b[s.i:])
	return strconv.QuoteRune(r)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// colon reads the ':' after a member's name.
func (s *scanner) colon(path at) error {
	s.ws()
	if s.peek() != ':' {
		return s.syntax(path, "':' after a name")
	}
	s.i++
	s.ws()
	return nil
}

// next reads what follows a member or element: ',' (done false) or the
// closing byte (done true).
func (s *scanner) next(path at, closing byte) (done bool, err error) {
	s.ws()
	switch s.peek() {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, s.syntax(path, fmt.Sprintf("',' or '%c'", closing))
}

// what says what the value at s.i is, for a message.
func (s *scanner) what() string {
	if s.i >= len(s.b) {
		return "nothing (the body ends)"
	}
	if k := kindOf(s.b[s.i]); k != kindNone {
		return k.String()
	}
	return "something that is not JSON (" + s.char() + ")"
}

// jsonKind is the kind of a JSON value, known by its first byte.
type jsonKind uint8

const (
	kindNone jsonKind = iota // no value, or a byte no JSON value starts with
	kindNull
	kindBool
	kindString
	kindNumber
	kindObject
	kindArray
)

// String names the kind in a message ("" for none).
func (k jsonKind) String() string {
	return [...]string{"", "null", "a boolean", "a string", "a number", "an object", "an array"}[k]
}

// kindOf is the kind of the JSON value that starts with c.
func kindOf(c byte) jsonKind {
	switch {
	case c == '"':
		return kindString
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	}
	return kindNone
}

func (s *scanner) instances() ([]Instance, error) {
	if s.peek() != '[' {
		return nil, s.fail(atInstances, "expected an array of objects, got %s", s.what())
	}
	s.i++
	out := s.out[:0]
	defer func() { s.out = out }()
	if s.ws(); s.peek() == ']' {
		s.i++
		return out, nil
	}
	for {
		if len(out) == s.lim.MaxInstances {
			return nil, apierror.Errorf(apierror.CodeTooLarge,
				"instances: more than %d in one request: send at most %d a request", s.lim.MaxInstances, s.lim.MaxInstances)
		}
		path := at{top: "instances", index: len(out)}
		s.ws()
		fields, err := s.instance(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Instance{Fields: fields})
		if done, err := s.next(atInstances, ']'); err != nil || done {
			return out, err
		}
	}
}

// instance reads one instance, an object of scalars.
func (s *scanner) instance(path at) ([]Field, error) {
	if s.peek() != '{' {
		return nil, s.fail(path, "expected an object of fields, got %s", s.what())
	}
	s.i++
	// The instances' fields are carved from one slab, a few instances'
	// worth at a time, rather than allocated one instance at a time.
	if cap(s.slab)-len(s.slab) < len(s.prev) {
		s.slab = make([]Field, 0, max(8*len(s.prev), 16))
	}
	n := len(s.slab)
	fields := s.slab[n:n]
	var index map[string]bool // names seen, once there are many
	if s.ws(); s.peek() == '}' {
		s.i++
		return nil, nil // no fields, however the slab stands
	}
	// While every name is the previous instance's at its place, none is
	// given twice: they were distinct there.
	aligned := true
	var plainMask uint64 // of this instance's names, for the next (prevPlain)
	for {
		s.ws()
		name, shared, plain, err := s.name(path, len(fields))
		if err != nil {
			return nil, err
		}
		if plain && len(fields) < 64 {
			plainMask |= 1 << len(fields)
		}
		if !shared || !aligned {
			aligned = false
			if index == nil && len(fields) >= 16 {
				index = make(map[string]bool, 2*len(fields))
				for _, f := range fields {
					index[f.Name] = true
				}
			}
			dup := index[name]
			for k := 0; index == nil && k < len(fields) && !dup; k++ {
				dup = fields[k].Name == name
			}
			if dup {
				return nil, s.fail(path.with(name), "given twice in one instance")
			}
			if index != nil {
				index[name] = true
			}
		}
		if s.ws(); s.peek() != ':' {
			return nil, s.syntax(path.with(name), "':' after a name")
		}
		s.i++
		s.ws()
		v, ok := s.quick()
		if !ok {
			if v, err = s.scalar(path.with(name)); err != nil {
				return nil, err
			}
		}
		fields = append(fields, Field{Name: name, Value: v})
		s.fields++
		if done, err := s.next(path, '}'); err != nil || done {
			if cap(fields) == cap(s.slab)-n { // still in the slab: the rest of it is free
				s.slab = s.slab[:n+len(fields)]
			}
			fields = fields[:len(fields):len(fields)]
			s.prev, s.prevPlain = fields, plainMask
			return fields, err
		}
	}
}

// name reads a member's name; at is its place in an instance (-1 for the
// body's), to share the name with the previous instance's (shared true).
func (s *scanner) name(path at, at int) (name string, shared, plain bool, err error) {
	if s.peek() != '"' {
		return "", false, false, s.syntax(path, "a field name in double quotes")
	}
	// The previous instance's name at this place, written as plainly as it
	// was there (no escape, no byte a JSON string must escape), is compared
	// where it stands: the bytes then need no other check.
	if at >= 0 && at < len(s.prev) && at < 64 && s.prevPlain&(1<<at) != 0 {
		p := s.prev[at].Name
		if end := s.i + 1 + len(p); end < len(s.b) && s.b[end] == '"' && string(s.b[s.i+1:end]) == p {
			s.i = end + 1
			return p, true, true, nil
		}
	}
	start := s.i
	n, escaped, err := s.str(path)
	if err != nil {
		return "", false, false, err
	}
	if n > MaxStringBytes {
		return "", false, false, s.fail(path, "a field name of %d bytes: at most %d", n, MaxStringBytes)
	}
	if !escaped {
		raw := s.b[start+1 : s.i-1]
		if at >= 0 && at < len(s.prev) && s.prev[at].Name == string(raw) { // compared without a copy
			return s.prev[at].Name, true, true, nil
		}
		return string(raw), false, true, nil
	}
	var unescaped string                                               // not the result itself: its address would move it to the heap on every call
	if err := json.Unmarshal(s.b[start:s.i], &unescaped); err != nil { // str checked it: cannot fail
		return "", false, false, s.fail(path, "a field name: %v", err)
	}
	return unescaped, false, false, nil
}

// plainNames is the mask of names (the first 64) whose JSON text is the name
// in quotes: no byte a JSON string escapes. Names are valid UTF-8 (the
// decoder refuses any other).
func plainNames(fields []Field) uint64 {
	var mask uint64
	for k := range min(len(fields), 64) {
		plain := true
		for _, c := range []byte(fields[k].Name) {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			mask |= 1 << k
		}
	}
	return mask
}

// quick reads the usual scalar, and returns its text: a string of printable
// ASCII without escapes, a number without an exponent, true, false or null.
// Anything else, valid or not, it leaves unread (false) to scalar, which
// reads every JSON scalar and explains a refusal: quick accepts nothing that
// scalar refuses, and ends where scalar ends (FuzzQuickScalar).
func (s *scanner) quick() (json.RawMessage, bool) {
	b, start := s.b, s.i
	if start >= len(b) {
		return nil, false
	}
	i := start
	switch c := b[i]; {
	case c == '"':
		for i++; i < len(b) && b[i] >= 0x20 && b[i] < utf8.RuneSelf && b[i] != '"' && b[i] != '\\'; i++ {
		}
		if i == len(b) || b[i] != '"' || i-start-1 > MaxStringBytes {
			return nil, false
		}
		i++
	case c == '-' || c >= '0' && c <= '9':
		if c == '-' {
			i++
		}
		lead := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		whole := i - lead
		if whole == 0 || whole > 38 || whole > 1 && b[lead] == '0' {
			return nil, false
		}
		if i < len(b) && b[i] == '.' {
			i++
			k := i
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			if i == k {
				return nil, false
			}
		}
		if i < len(b) && (b[i] == 'e' || b[i] == 'E') || i-start > MaxStringBytes {
			return nil, false
		}
	case c == 't' || c == 'f' || c == 'n':
		word := "null"
		if c == 't' {
			word = "true"
		} else if c == 'f' {
			word = "false"
		}
		if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
			return nil, false
		}
		i += len(word)
	default:
		return nil, false
	}
	s.i = i
	return b[start:i:i], true
}

// scalar reads an instance's value and returns its text.
func (s *scanner) scalar(path at) (json.RawMessage, error) {
	start := s.i
	switch c := s.peek(); {
	case c == '"':
		n, _, err := s.str(path)
		if err != nil {
			return nil, err
		}
		if n > MaxStringBytes {
			return nil, s.fail(path, "a string of %d bytes: at most %d", n, MaxStringBytes)
		}
	case c == 't':
		if err := s.literal(path, "true"); err != nil {
			return nil, err
		}
	case c == 'f':
		if err := s.literal(path, "false"); err != nil {
			return nil, err
		}
	case c == 'n':
		if err := s.literal(path, "null"); err != nil {
			return nil, err
		}
	case c == '-' || c >= '0' && c <= '9' || c == 'N' || c == 'I' || c == '+':
		if err := s.number(path); err != nil {
			return nil, err
		}
	case c == '{' || c == '[':
		return nil, s.fail(path, "expected a number, string, boolean or null, got %s", s.what())
	default:
		return nil, s.syntax(path, "a number, string, boolean or null")
	}
	return s.b[start:s.i:s.i], nil
}

func (s *scanner) boolean(path at) (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal(path, "true")
	case 'f':
		return false, s.literal(path, "false")
	}
	return false, s.fail(path, "expected true or false, got %s", s.what())
}

func (s *scanner) literal(path at, word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.syntax(path, word)
	}
	s.i += len(word)
	return nil
}

// number reads a JSON number and checks that the model can read it: it must
// fit float32.
func (s *scanner) number(path at) error {
	start := s.i
	if c := s.peek(); c == 'N' || c == 'I' || (c == '+' || c == '-') && s.i+1 < len(s.b) && s.b[s.i+1] == 'I' {
		return s.fail(path, "not JSON: NaN and Infinity are not numbers in JSON (a missing value is null)")
	}
	if s.peek() == '+' {
		return s.fail(path, "not JSON at byte %d: a number may not start with '+'", s.i)
	}
	if s.peek() == '-' {
		s.i++
	}
	lead := s.i
	whole := s.digits()
	switch {
	case whole == 0:
		return s.syntax(path, "a digit")
	case whole > 1 && s.b[lead] == '0':
		s.i = lead
		return s.fail(path, "not JSON at byte %d: a number may not start with 0", lead)
	}
	if s.peek() == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntax(path, "a digit after the decimal point")
		}
	}
	exponent := false
	if c := s.peek(); c == 'e' || c == 'E' {
		exponent = true
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntax(path, "a digit in the exponent")
		}
	}
	text := s.b[start:s.i]
	if len(text) > MaxStringBytes {
		return s.fail(path, "a number of %d characters: at most %d", len(text), MaxStringBytes)
	}
	// Without an exponent, a number of at most 38 whole digits is below
	// 10^38 < MaxFloat32: in range without a parse.
	if !exponent && whole <= 38 {
		return nil
	}
	if _, ok := float32Number(string(text)); !ok {
		return s.fail(path, "%s is beyond the float32 range (±3.4028235e38): the model reads float32", clip.Bytes(string(text), 40))
	}
	return nil
}

// digits reads a run of decimal digits and returns its length.
func (s *scanner) digits() int {
	k := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - k
}

// float32Number parses a decimal number and reports whether it fits float32
// (rounded to nearest, as the encoder casts it).
func float32Number(text string) (float64, bool) {
	// Most values are short whole numbers: exact in a float64, far inside
	// float32's range, and read without ParseFloat's general path.
	if f, ok := bundle.ShortWhole(text); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(float64(float32(f)), 0) {
		return 0, false
	}
	return f, true
}

// str reads a JSON string: its decoded length in bytes, and whether it has
// escapes. Control characters and invalid UTF-8 are refused.
func (s *scanner) str(path at) (n int, escaped bool, err error) {
	s.i++ // the opening quote
	for s.i < len(s.b) {
		// Most strings are plain ASCII: run over it.
		k := s.i
		for k < len(s.b) && s.b[k] >= 0x20 && s.b[k] < utf8.RuneSelf && s.b[k] != '"' && s.b[k] != '\\' {
			k++
		}
		n += k - s.i
		s.i = k
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return n, escaped, nil
		case c == '\\':
			escaped = true
			k, err := s.escape(path)
			if err != nil {
				return 0, false, err
			}
			n += k
		case c < 0x20:
			return 0, false, s.fail(path, "not JSON at byte %d: a control character (U+%04X) in a string: escape it", s.i, c)
		case c < utf8.RuneSelf:
			s.i++
			n++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, s.fail(path, "a string that is not UTF-8 (at byte %d)", s.i)
			}
			s.i += size
			n += size
		}
	}
	return 0, false, s.fail(path, "not JSON: a string that never ends")
}

// escape reads one escape sequence and returns the bytes it decodes to.
func (s *scanner) escape(path at) (int, error) {
	if s.i+1 >= len(s.b) {
		return 0, s.fail(path, "not JSON: a string that never ends")
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return 1, nil
	case 'u':
		r, ok := s.hex4(s.i + 2)
		if !ok {
			return 0, s.fail(path, `not JSON at byte %d: \u takes four hex digits`, s.i)
		}
		s.i += 6
		if utf16IsHigh(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
			if lo, ok := s.hex4(s.i + 2); ok && utf16IsLow(lo) {
				s.i += 6
				return 4, nil
			}
		}
		if r >= 0xd800 && r < 0xe000 {
			return 3, nil // a lone surrogate decodes to U+FFFD
		}
		return utf8.RuneLen(r), nil
	}
	return 0, s.fail(path, "not JSON at byte %d: an unknown escape \\%c", s.i, s.b[s.i+1])
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func utf16IsHigh(r rune) bool { return r >= 0xd800 && r < 0xdc00 }
func utf16IsLow(r rune) bool  { return r >= 0xdc00 && r < 0xe000 }

// FieldPath is the path of an instance's field in messages:
// instances[3].Age, or instances[3]["a name"] for a name that is not a plain
// identifier (clipped: a name can be a kilobyte).
func FieldPath(instance, name string) string {
	plain := name != ""
	for i := 0; i < len(name) && plain; i++ {
		c := name[i]
		plain = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')
	}
	if plain && len(name) <= 80 {
		return instance + "." + name
	}
	return instance + "[" + strconv.Quote(clip.Bytes(name, 80)) + "]"
}

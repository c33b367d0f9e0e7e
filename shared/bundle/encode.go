package bundle

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Encoder turns a row of canonical CSV values into the model's feature vector,
// exactly as the trainer did (Encoding documents the rules). It is immutable and
// safe for concurrent use; encoding a row does not allocate.
type Encoder struct {
	features []featureCodec
	names    []string // feature names, in order
	columns  []string // model columns, in order
}

type featureCodec struct {
	name   string
	kind   string
	col    int // first model column
	n      int // number of model columns (1, or the number of categories)
	layout string
	index  map[string]int // one-hot: category → offset from col
}

// UnseenMissing is Feature.Unseen's only value (and its default, when empty): a
// value outside the categories leaves every one of the feature's columns missing.
const UnseenMissing = "missing"

var nan32 = float32(math.NaN())

// NewEncoder validates enc's features and columns and builds their encoder:
// feature names are unique and non-empty, kinds are known, one-hot categories
// are non-empty and unique, and Columns are exactly the names the features
// give (the feature's name, or "<name>=<category>" per category), in order.
// It does not look at the target (Open checks it against the model).
func NewEncoder(enc Encoding) (*Encoder, error) {
	if len(enc.Features) == 0 {
		return nil, errors.New("no features")
	}
	e := &Encoder{features: make([]featureCodec, len(enc.Features)), names: make([]string, len(enc.Features))}
	seen := make(map[string]int, len(enc.Features))
	col := 0
	for i, f := range enc.Features {
		where := fmt.Sprintf("features[%d] (%q)", i, f.Name)
		if f.Name == "" {
			return nil, fmt.Errorf("features[%d]: empty name", i)
		}
		if j, dup := seen[f.Name]; dup {
			return nil, fmt.Errorf("%s: the name of features[%d] too", where, j)
		}
		seen[f.Name] = i
		c := featureCodec{name: f.Name, kind: f.Kind, col: col, n: 1}
		switch f.Kind {
		case KindNumeric, KindBoolean:
		case KindTimestamp:
			c.layout = f.Format
			if c.layout == "" {
				c.layout = time.RFC3339Nano // as the contract validator reads an empty format
			}
		case KindOneHot:
			if len(f.Categories) == 0 {
				return nil, fmt.Errorf("%s: a one-hot feature needs categories", where)
			}
			if f.Unseen != "" && f.Unseen != UnseenMissing {
				return nil, fmt.Errorf("%s: unseen %q, want %q", where, f.Unseen, UnseenMissing)
			}
			c.n = len(f.Categories)
			c.index = make(map[string]int, len(f.Categories))
			for k, cat := range f.Categories {
				if cat == "" {
					// An empty cell is a missing value, never a category.
					return nil, fmt.Errorf("%s: categories[%d] is empty", where, k)
				}
				if _, dup := c.index[cat]; dup {
					return nil, fmt.Errorf("%s: category %q is listed twice", where, cat)
				}
				c.index[cat] = k
			}
		default:
			return nil, fmt.Errorf("%s: unknown kind %q (want %s, %s, %s or %s)", where, f.Kind,
				KindNumeric, KindBoolean, KindTimestamp, KindOneHot)
		}
		if f.Kind != KindTimestamp && f.Format != "" {
			return nil, fmt.Errorf("%s: format is for timestamps, not %s", where, f.Kind)
		}
		if f.Kind != KindOneHot && (len(f.Categories) > 0 || f.Unseen != "") {
			return nil, fmt.Errorf("%s: categories and unseen are for one-hot features, not %s", where, f.Kind)
		}
		e.features[i] = c
		e.names[i] = f.Name
		col += c.n
	}
	e.columns = make([]string, 0, col)
	for _, f := range enc.Features {
		if f.Kind == KindOneHot {
			for _, cat := range f.Categories {
				e.columns = append(e.columns, f.Name+"="+cat)
			}
		} else {
			e.columns = append(e.columns, f.Name)
		}
	}
	if len(enc.Columns) != len(e.columns) {
		return nil, fmt.Errorf("%d columns, but the features make %d: %q", len(enc.Columns), len(e.columns), e.columns)
	}
	cols := make(map[string]bool, len(e.columns))
	for i, c := range e.columns {
		if enc.Columns[i] != c {
			return nil, fmt.Errorf("columns[%d] is %q, but the features make %q there", i, enc.Columns[i], c)
		}
		// "a=b" can be a feature's name and also feature a's category b.
		if cols[c] {
			return nil, fmt.Errorf("columns[%d] %q appears twice", i, c)
		}
		cols[c] = true
	}
	return e, nil
}

// Features returns the input feature names, in the order Encode takes values.
// The caller must not modify the slice.
func (e *Encoder) Features() []string { return e.names }

// Columns returns the model column names, in the order Encode writes them.
// The caller must not modify the slice.
func (e *Encoder) Columns() []string { return e.columns }

// ValueError is the error Encode returns for a value it cannot encode.
type ValueError struct {
	Feature int    // index in Features
	Column  string // the feature's (input column's) name
	Value   string
	Want    string // what was expected, e.g. "a number"
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("column %q: expected %s, got %q", e.Column, e.Want, e.Value)
}

// Encode writes the feature vector of one row into out. values are canonical
// CSV values in Features order ("" = missing); out must have len(Columns())
// values. On error, out holds a partial row.
func (e *Encoder) Encode(values []string, out []float32) error {
	if len(values) != len(e.features) || len(out) != len(e.columns) {
		return fmt.Errorf("bundle: encode: %d values into %d columns, want %d values into %d columns",
			len(values), len(out), len(e.features), len(e.columns))
	}
	for i, v := range values {
		if err := e.encodeOne(i, v, out); err != nil {
			return err
		}
	}
	return nil
}

func (e *Encoder) encodeOne(i int, v string, out []float32) error {
	f := &e.features[i]
	dst := out[f.col : f.col+f.n]
	if v == "" {
		for k := range dst {
			dst[k] = nan32
		}
		return nil
	}
	switch f.kind {
	case KindNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return e.valueErr(i, v, "a finite decimal number within float32 range")
		}
		dst[0] = x
	case KindBoolean:
		switch {
		case strings.EqualFold(v, "true") || v == "1" || strings.EqualFold(v, "yes"):
			dst[0] = 1
		case strings.EqualFold(v, "false") || v == "0" || strings.EqualFold(v, "no"):
			dst[0] = 0
		default:
			return e.valueErr(i, v, "a boolean (true/false, 1/0, yes/no)")
		}
	case KindTimestamp:
		t, err := time.Parse(f.layout, v)
		if err != nil {
			if f.layout == time.RFC3339Nano {
				return e.valueErr(i, v, "an RFC 3339 timestamp (e.g. 2024-01-31T09:30:00Z)")
			}
			return e.valueErr(i, v, fmt.Sprintf("a timestamp in the layout %q", f.layout))
		}
		// Unix seconds with their fraction, as float64, then float32 like any
		// number (the contract validator profiles timestamps the same way).
		dst[0] = float32(float64(t.Unix()) + float64(t.Nanosecond())/1e9)
	case KindOneHot:
		k, ok := f.index[v]
		if !ok {
			// Unseen: every column missing, so each tree takes the branch it
			// learned for a missing value.
			for j := range dst {
				dst[j] = nan32
			}
			return nil
		}
		for j := range dst {
			dst[j] = 0
		}
		dst[k] = 1
	}
	return nil
}

func (e *Encoder) valueErr(i int, v, want string) error {
	return &ValueError{Feature: i, Column: e.names[i], Value: v, Want: want}
}

// float32Limit is the smallest magnitude that rounds to ±Inf in float32:
// MaxFloat32 plus half its ULP (the tie rounds to even, which is the infinity).
var float32Limit = float64(math.MaxFloat32) + math.Ldexp(1, 103)

// parseNumber parses a canonical CSV number: plain decimal notation (optional
// sign, digits with an optional point, optional exponent), which is what the
// contract validator lets into the canonical CSV and what Python's float() and
// strconv.ParseFloat read identically. strconv alone would also take hex
// floats, underscores and "Inf", which Python reads differently or not at all.
// The float64 is rounded to float32 (to nearest even, like numpy's cast before
// xgboost sees it); a value that would round to infinity is refused, as xgboost
// refuses infinite inputs.
func parseNumber(s string) (float32, bool) {
	if f, ok := ShortWhole(s); ok {
		return float32(f), true
	}
	return parseDecimal(s)
}

// parseDecimal is parseNumber's general path, for any text.
func parseDecimal(s string) (float32, bool) {
	if !PlainDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Abs(f) >= float32Limit {
		return 0, false
	}
	return float32(f), true
}

// ShortWhole reads the usual number, a whole one of at most 15 digits with an
// optional sign, past ParseFloat's general path: exact in a float64, so the
// same value (-0 included) that ParseFloat gives; false for any other text.
func ShortWhole(s string) (float64, bool) {
	i := 0
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		i = 1
	}
	if n := len(s) - i; n == 0 || n > 15 {
		return 0, false
	}
	var v int64
	for _, c := range []byte(s[i:]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	f := float64(v)
	if s[0] == '-' {
		f = -f
	}
	return f, true
}

// PlainDecimal reports whether s has the canonical CSV's number syntax (the
// trainer's parse_number): an optional sign, digits with an optional point, an
// optional exponent; no hex, underscores, Inf or NaN, which strconv alone takes.
func PlainDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// HeaderEncoder encodes records of a CSV file whose header names the features
// in any order, among other columns. It is immutable and safe for concurrent use.
type HeaderEncoder struct {
	enc   *Encoder
	pos   []int // pos[i]: feature i's index in a record
	width int   // the header's length
}

// ForHeader maps a CSV header to the encoder's features by name. Columns that
// are no feature are ignored; a feature column missing from the header, or
// present twice, is an error naming every such column.
func (e *Encoder) ForHeader(header []string) (*HeaderEncoder, error) {
	at := make(map[string]int, len(header))
	var twice []string
	for i, h := range header {
		if _, dup := at[h]; dup {
			twice = append(twice, h)
			continue
		}
		at[h] = i
	}
	h := &HeaderEncoder{enc: e, pos: make([]int, len(e.names)), width: len(header)}
	var missing []string
	for i, name := range e.names {
		p, ok := at[name]
		if !ok {
			missing = append(missing, strconv.Quote(name))
		}
		h.pos[i] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the input has no column for feature %s (the model's features: %s)",
			strings.Join(missing, ", "), quoteAll(e.names))
	}
	for _, name := range twice {
		if _, isFeature := e.index(name); isFeature {
			return nil, fmt.Errorf("the input has the feature column %q twice", name)
		}
	}
	return h, nil
}

func (e *Encoder) index(name string) (int, bool) {
	for i, n := range e.names {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// Position returns the index, in a record, of feature i's column.
func (h *HeaderEncoder) Position(feature int) int { return h.pos[feature] }

// Encode writes the feature vector of one record (as many fields as the
// header) into out, which must have len(Columns()) values. Errors are
// *ValueError for a value that cannot be encoded.
func (h *HeaderEncoder) Encode(record []string, out []float32) error {
	return h.EncodeParsed(record, nil, out)
}

// EncodeParsed is Encode of a record some of whose numbers the caller has
// read already (the prediction API's contract check reads each number it
// checks): parsed, nil or as long as record, holds record[i]'s value as
// the encoding reads a number (float32 of its float64) where the caller
// read it, NaN where not, and such a value of a numeric feature is taken
// rather than read again. It must be the value of record[i]: a missing
// value is "" in record and NaN in parsed.
func (h *HeaderEncoder) EncodeParsed(record []string, parsed []float32, out []float32) error {
	if len(record) != h.width || len(out) != len(h.enc.columns) || parsed != nil && len(parsed) != len(record) {
		return fmt.Errorf("bundle: encode: a record of %d fields (%d parsed) into %d columns, want %d fields into %d columns",
			len(record), len(parsed), len(out), h.width, len(h.enc.columns))
	}
	feats := h.enc.features
	for i, p := range h.pos {
		if parsed != nil && feats[i].kind == KindNumeric {
			if x := parsed[p]; x == x { // not NaN
				out[feats[i].col] = x
				continue
			}
		}
		if err := h.enc.encodeOne(i, record[p], out); err != nil {
			return err
		}
	}
	return nil
}

package contract

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/naming"

	"go.yaml.in/yaml/v3"
)

// InferOptions tunes Infer. The zero value is ready to use.
type InferOptions struct {
	// Delimiter forces the field delimiter; empty means sniff among , ; tab |.
	Delimiter string
	// MaxDistinct caps the distinct values remembered per column, which keeps
	// memory bounded whatever the file's size (default 1000).
	MaxDistinct int
}

// Inference is a proposed contract and what was seen in the data that led to
// it. It is a starting point for a person, never a contract to apply unread.
type Inference struct {
	Contract *Contract
	// Rows is the number of data rows (header excluded).
	Rows int64
	// Ragged counts rows whose field count differed from the header's.
	Ragged  int64
	Gzip    bool
	BOM     bool
	Columns []Observed
	// TargetGuessed is true when the target was picked by its column name.
	TargetGuessed bool
}

// Observed is what Infer saw in one column.
type Observed struct {
	Name     string
	Missing  int64   // empty cells, cells equal to a null token, and cells absent from short rows
	NullRate float64 // Missing / Rows
	// Min and Max are the observed range of integer, number and timestamp
	// columns (timestamps as Unix seconds).
	Min, Max *float64
	// Distinct counts distinct present values; exact unless DistinctCapped.
	Distinct       int
	DistinctCapped bool
	// Values are the distinct values with their counts, most frequent first,
	// when the column was typed category.
	Values []ValueCount
}

// ValueCount is one value and how often it occurred.
type ValueCount struct {
	Value string
	Count int64
}

// naCandidates are the spellings of "missing" that Infer recognises. The empty
// cell is always missing (it is the canonical form's spelling); the others
// count as missing only with evidence, see chooseNullTokens.
var naCandidates = []string{"NA", "N/A", "null", "NULL", "NaN", "None", "-"}

// timeLayouts are the timestamp spellings Infer recognises; "" (RFC 3339) is
// the contract's default layout.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// maxTracked is the longest value remembered as a possible category: longer
// values are free text, and remembering them would let one column hold
// MaxDistinct long lines in memory.
const maxTracked = 256

type colState struct {
	n        int64 // present values, null-token candidates excluded
	missing  int64
	tokens   []int64 // per naCandidates
	isInt    bool
	isFloat  bool
	isBool   bool
	layouts  uint // bit i: every value so far parses with timeLayouts[i]
	min, max float64
	tmin     float64
	tmax     float64
	distinct map[string]int64
	capped   bool
}

func newColState() *colState {
	return &colState{tokens: make([]int64, len(naCandidates)), isInt: true, isFloat: true, isBool: true,
		layouts: 1<<len(timeLayouts) - 1, min: math.Inf(1), max: math.Inf(-1), tmin: math.Inf(1), tmax: math.Inf(-1),
		distinct: map[string]int64{}}
}

func (s *colState) track(v string, k int64, maxDistinct int) {
	if s.capped {
		return
	}
	if _, ok := s.distinct[v]; ok {
		s.distinct[v] += k
		return
	}
	if len(s.distinct) >= maxDistinct || len(v) > maxTracked {
		s.capped = true
		return
	}
	s.distinct[strings.Clone(v)] = k
}

func (s *colState) observe(v string, maxDistinct int) {
	s.n++
	if s.isInt {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			s.isInt = false
		}
	}
	if s.isFloat {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			s.isFloat = false
		} else {
			s.min, s.max = math.Min(s.min, f), math.Max(s.max, f)
		}
	}
	if s.isBool {
		switch strings.ToLower(v) {
		case "true", "false":
		default:
			s.isBool = false
		}
	}
	if s.layouts != 0 {
		for i, l := range timeLayouts {
			if s.layouts&(1<<i) == 0 {
				continue
			}
			t, err := time.Parse(l, v)
			if err != nil {
				s.layouts &^= 1 << i
				continue
			}
			u := float64(t.Unix())
			s.tmin, s.tmax = math.Min(s.tmin, u), math.Max(s.tmax, u)
		}
	}
	s.track(v, 1, maxDistinct)
}

// Infer reads a whole CSV (optionally gzip-compressed, with or without a UTF-8
// byte order mark) and proposes a contract for it, streaming, in memory
// bounded by the number of columns and opt.MaxDistinct.
func Infer(r io.Reader, dataset string, opt InferOptions) (*Inference, error) {
	if !naming.Valid(dataset) {
		return nil, fmt.Errorf("contract: infer: dataset name %q is not valid: expected %s", dataset, naming.Rule)
	}
	if opt.MaxDistinct <= 0 {
		opt.MaxDistinct = 1000
	}
	inf := &Inference{}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("contract: infer: reading gzip header: %w", err)
		}
		defer gz.Close()
		inf.Gzip = true
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		inf.BOM = true
		_, _ = br.Discard(3)
	}
	delim := opt.Delimiter
	if delim == "" {
		sample, err := br.Peek(64 << 10)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("contract: infer: %w", err)
		}
		delim = sniffDelimiter(sample)
	}
	if len(delim) != 1 || delim == "\r" || delim == "\n" || delim == "\"" || delim[0] >= 0x80 {
		return nil, fmt.Errorf("contract: infer: delimiter %q is not valid: expected one ASCII character other than a quote or line break", delim)
	}

	cr := csv.NewReader(br)
	cr.Comma = rune(delim[0])
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("contract: infer: the file is empty: expected a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("contract: infer: reading the header: %w", err)
	}
	names := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		// Names are kept byte for byte: the gate matches the header exactly.
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("contract: infer: header column %d is not valid UTF-8: save the file as UTF-8", i+1)
		}
		if h == "" {
			return nil, fmt.Errorf("contract: infer: header column %d is empty: every column needs a name", i+1)
		}
		if j, dup := seen[h]; dup {
			return nil, fmt.Errorf("contract: infer: header columns %d and %d are both named %q: names must be unique", j+1, i+1, h)
		}
		seen[h] = i
		names[i] = h
	}
	cols := make([]*colState, len(names))
	for i := range cols {
		cols[i] = newColState()
	}
	token := make(map[string]int, len(naCandidates))
	for i, t := range naCandidates {
		token[t] = i
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("contract: infer: %w", err)
		}
		inf.Rows++
		if len(rec) != len(cols) {
			inf.Ragged++
		}
		for i, s := range cols {
			if i >= len(rec) || rec[i] == "" {
				s.missing++
				continue
			}
			if t, ok := token[rec[i]]; ok {
				s.tokens[t]++
				continue
			}
			s.observe(rec[i], opt.MaxDistinct)
		}
	}

	chosen := chooseNullTokens(cols)
	c := &Contract{Dataset: dataset, Version: "0.1.0", Mode: Replace,
		Dialect: Dialect{Delimiter: delim, Quote: DefaultQuote, Header: true, Compression: DefaultCompression}}
	for t, ok := range chosen {
		if ok {
			c.Dialect.NullTokens = append(c.Dialect.NullTokens, naCandidates[t])
		}
	}
	for i, s := range cols {
		// A candidate that is not a null token is an ordinary value.
		for t, k := range s.tokens {
			if k == 0 {
				continue
			}
			if chosen[t] {
				s.missing += k
				continue
			}
			s.n += k
			s.isInt, s.isFloat, s.isBool, s.layouts = false, false, false, 0
			s.track(naCandidates[t], k, opt.MaxDistinct)
		}
		col, obs := proposeColumn(names[i], s, inf.Rows)
		c.Columns = append(c.Columns, col)
		inf.Columns = append(inf.Columns, obs)
	}
	for _, col := range c.Columns {
		if c.Target == "" && looksLikeTarget(col.Name) {
			c.Target = col.Name
			inf.TargetGuessed = true
		}
	}
	for _, col := range c.Columns {
		if col.Name != c.Target {
			c.Features = append(c.Features, col.Name)
		}
	}
	inf.Contract = c
	return inf, nil
}

// chooseNullTokens picks the candidates that mean "missing": those seen in a
// column whose other values are all numbers, booleans or timestamps, where a
// word can only be a stand-in for a missing value. In a text column "None" or
// "-" may well be real values, so text alone is no evidence.
func chooseNullTokens(cols []*colState) []bool {
	chosen := make([]bool, len(naCandidates))
	for _, s := range cols {
		typed := s.n > 0 && (s.isFloat || s.isBool || s.layouts != 0)
		for t, k := range s.tokens {
			if k > 0 && typed {
				chosen[t] = true
			}
		}
	}
	return chosen
}

func proposeColumn(name string, s *colState, rows int64) (Column, Observed) {
	col := Column{Name: name}
	obs := Observed{Name: name, Missing: s.missing, Distinct: len(s.distinct), DistinctCapped: s.capped}
	if rows > 0 {
		obs.NullRate = float64(s.missing) / float64(rows)
	}
	switch {
	case s.n == 0:
		col.Type = String
	case s.isBool:
		col.Type = Boolean
	case s.isInt:
		col.Type = Integer
	case s.isFloat:
		col.Type = Number
	case s.layouts != 0:
		col.Type = Timestamp
		for i := range timeLayouts {
			if s.layouts&(1<<i) != 0 {
				if i > 0 {
					col.Format = timeLayouts[i]
				}
				break
			}
		}
	case !s.capped && len(s.distinct) <= 50 && float64(len(s.distinct)) <= 0.05*float64(rows) && validKeys(s.distinct):
		col.Type = Category
	default:
		col.Type = String
	}
	switch col.Type {
	case Integer, Number:
		obs.Min, obs.Max = copyFloat(&s.min), copyFloat(&s.max)
	case Timestamp:
		obs.Min, obs.Max = copyFloat(&s.tmin), copyFloat(&s.tmax)
	case Category:
		for v, k := range s.distinct {
			obs.Values = append(obs.Values, ValueCount{v, k})
			col.Allowed = append(col.Allowed, v)
		}
		sort.Strings(col.Allowed)
		sort.Slice(obs.Values, func(i, j int) bool {
			a, b := obs.Values[i], obs.Values[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Value < b.Value
		})
	}
	if s.missing == 0 && rows > 0 {
		col.Required = true
	} else if rows > 0 {
		r := headroom(obs.NullRate)
		col.MaxNullRate = &r
	}
	return col, obs
}

// headroom proposes a missing-value ceiling above the observed rate: half as
// much again plus half a point, rounded up to the next half percent, so that an
// ordinary next upload passes and a broken one does not.
func headroom(rate float64) float64 {
	r := math.Ceil((rate*1.5+0.005)*200-1e-9) / 200
	return math.Min(r, 1)
}

// validKeys reports whether every value is UTF-8, which a YAML list of
// allowed values needs.
func validKeys(m map[string]int64) bool {
	for v := range m {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func looksLikeTarget(name string) bool {
	switch strings.ToLower(name) {
	case "status", "target", "label", "class", "y":
		return true
	}
	return false
}

// sniffDelimiter picks the candidate that splits the sample's lines into the
// same number of fields most consistently, preferring a comma on ties.
func sniffDelimiter(sample []byte) string {
	lines := splitLines(sample, 50)
	best, bestScore := ",", 0
	for _, d := range []byte{',', ';', '\t', '|'} {
		var counts []int
		for _, l := range lines {
			counts = append(counts, countOutsideQuotes(l, d))
		}
		if len(counts) == 0 || counts[0] == 0 {
			continue
		}
		score := 0
		for _, k := range counts {
			if k == counts[0] {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = string(d), score
		}
	}
	return best
}

// splitLines cuts at line breaks outside quotes, dropping the last line when
// the sample may have cut it short.
func splitLines(b []byte, max int) [][]byte {
	var out [][]byte
	inQ, start := false, 0
	for i, ch := range b {
		switch {
		case ch == '"':
			inQ = !inQ
		case ch == '\n' && !inQ:
			out = append(out, bytes.TrimSuffix(b[start:i], []byte("\r")))
			start = i + 1
			if len(out) >= max {
				return out
			}
		}
	}
	if start < len(b) && len(out) == 0 {
		out = append(out, b[start:])
	}
	return out
}

func countOutsideQuotes(l []byte, d byte) int {
	n, inQ := 0, false
	for _, ch := range l {
		if ch == '"' {
			inQ = !inQ
		} else if ch == d && !inQ {
			n++
		}
	}
	return n
}

// YAML renders the proposal as ODCS YAML for a person to finish, with what was
// observed written beside each rule as comments. Ranges are shown but not
// enforced: an observed extreme is a fact about one file, not a rule.
func (inf *Inference) YAML() []byte {
	c := inf.Contract
	t := c.odcsTree("draft")
	var head []string
	head = append(head,
		fmt.Sprintf("Proposed contract for dataset %q, inferred from %s data rows.", c.Dataset, thousands(inf.Rows)),
		"Review every rule before use: the proposals describe this file, which may not be typical.",
		"Missing-value ceilings (nullValues) carry headroom over the observed rates; ranges are",
		"suggested in comments only. Comments and formatting never change the contract's hash.")
	var seenAs []string
	if inf.Gzip {
		seenAs = append(seenAs, "gzip-compressed")
	}
	if inf.BOM {
		seenAs = append(seenAs, "with a UTF-8 byte order mark")
	}
	if len(seenAs) > 0 {
		head = append(head, "The file was "+strings.Join(seenAs, " and ")+"; both are handled automatically.")
	}
	if inf.Ragged > 0 {
		head = append(head, fmt.Sprintf("%s rows had a different number of fields from the header.", thousands(inf.Ragged)))
	}
	t.doc.HeadComment = strings.Join(head, "\n")

	// Comment on the top-level custom properties: the target guess, and which
	// columns look like protected attributes.
	top := t.doc.Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value != "customProperties" {
			continue
		}
		for _, cp := range top[i+1].Content {
			if len(cp.Content) < 4 {
				continue
			}
			switch cp.Content[1].Value {
			case "target":
				if inf.TargetGuessed {
					cp.Content[3].LineComment = "a guess from the column name: check it, or remove it for unlabelled data"
				}
			case "features":
				cp.Content[3].LineComment = "every column but the target: drop identifiers and leaky columns"
			}
		}
		var sens []string
		for _, col := range c.Columns {
			if looksSensitive(col.Name) {
				sens = append(sens, col.Name)
			}
		}
		hint := "No target was recognised by name: add {property: target, value: <column>} if the data is labelled."
		if c.Target != "" {
			hint = ""
		}
		if len(sens) > 0 {
			if hint != "" {
				hint += "\n"
			}
			hint += fmt.Sprintf("Fairness slices: consider {property: sensitive, value: [%s]}.", strings.Join(sens, ", "))
		}
		top[i].HeadComment = hint
	}
	obj := t.object.n.Content
	for i := 0; i+1 < len(obj); i += 2 {
		if obj[i].Value == "customProperties" && len(c.Dialect.NullTokens) > 0 {
			obj[i].HeadComment = fmt.Sprintf("CSV dialect as detected; null tokens seen standing in for numbers: %s.", strings.Join(quoteAll(c.Dialect.NullTokens), ", "))
		}
	}

	for i, obs := range inf.Columns {
		if i >= len(t.types) {
			break
		}
		col := &c.Columns[i]
		missing := "no missing values"
		if obs.Missing > 0 {
			missing = fmt.Sprintf("%s missing (%s)", percent(obs.NullRate), thousands(obs.Missing))
		}
		var note string
		switch col.Type {
		case Integer, Number:
			if obs.Min != nil && !math.IsInf(*obs.Min, 0) {
				note = fmt.Sprintf("observed: %s … %s, %s", fmtNum(*obs.Min), fmtNum(*obs.Max), missing)
				suggest(t.props[i], t.types[i], fmt.Sprintf("to enforce a range, add: logicalTypeOptions: {minimum: %s, maximum: %s}", fmtNum(*obs.Min), fmtNum(*obs.Max)))
			}
		case Timestamp:
			if obs.Min != nil && !math.IsInf(*obs.Min, 0) {
				lo := time.Unix(int64(*obs.Min), 0).UTC().Format(time.RFC3339)
				hi := time.Unix(int64(*obs.Max), 0).UTC().Format(time.RFC3339)
				note = fmt.Sprintf("observed: %s … %s, %s", lo, hi, missing)
			}
		case Category:
			var vs []string
			for j, v := range obs.Values {
				if j == 8 {
					vs = append(vs, "…")
					break
				}
				vs = append(vs, fmt.Sprintf("%s %s", v.Value, thousands(v.Count)))
			}
			note = fmt.Sprintf("%d categories seen (%s), %s", len(obs.Values), strings.Join(vs, ", "), missing)
		case String:
			switch {
			case obs.Distinct == 0:
				note = "no values seen: the type is a placeholder"
			case obs.DistinctCapped:
				note = fmt.Sprintf("text, over %s distinct values, %s", thousands(int64(obs.Distinct)), missing)
			default:
				note = fmt.Sprintf("text, %s distinct values, %s", thousands(int64(obs.Distinct)), missing)
			}
		default:
			note = missing
		}
		if note == "" {
			note = missing
		}
		t.types[i].LineComment = note
	}
	out, err := encode(t.doc)
	if err != nil {
		// Encoding a tree of plain scalars does not fail; fall back to the
		// uncommented form rather than return nothing.
		out, _ = c.MarshalODCS()
	}
	return out
}

// suggest writes a comment line under the logicalType line: as the head
// comment of the next key, since a foot comment would leave a blank line.
func suggest(m mapping, typ *yaml.Node, text string) {
	kids := m.n.Content
	for j := 1; j < len(kids); j += 2 {
		if kids[j] == typ {
			if j+1 < len(kids) {
				kids[j+1].HeadComment = text
			} else {
				typ.FootComment = text
			}
			return
		}
	}
}

func looksSensitive(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"age", "sex", "gender", "marital", "race", "ethnic", "religion", "nationality", "disab"} {
		if n == w || strings.HasPrefix(n, w+"_") || strings.HasSuffix(n, "_"+w) || (len(w) > 3 && strings.Contains(n, w)) {
			return true
		}
	}
	return false
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}

func percent(r float64) string {
	p := r * 100
	switch {
	case p > 0 && p < 0.1:
		return "<0.1%"
	default:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

package validate

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/table"
)

// worker parses and checks chunks. Its accumulators hold the order-independent
// statistics (counts, distinct sketches, exact value counts); the order-sensitive ones
// travel with each chunk to the collector.
type worker struct {
	p      *plan
	parser *table.Parser
	acc    []*profile.Accumulator
	null   []bool // per contract column: this row's value is missing
	vals   [][]byte
	// Booleans are profiled by their normalised spelling.
	trueB, falseB []byte
}

func newWorker(p *plan) *worker {
	w := &worker{p: p, parser: table.NewParser(p.d), null: make([]bool, p.ncols), vals: make([][]byte, p.ncols),
		trueB: []byte("true"), falseB: []byte("false")}
	for _, c := range p.c.Columns {
		w.acc = append(w.acc, profile.NewAccumulator(c.Name, c.Type, c.PII, 1))
	}
	return w
}

func (j *job) reset(p *plan) {
	j.rows, j.lines, j.fatal = 0, 0, false
	j.examples = j.examples[:0]
	clear(j.perKey)
	j.out = j.out[:0]
	j.keys = j.keys[:0]
	if j.counts == nil {
		j.counts = make([]int64, int(numRules)*(p.ncols+1))
	}
	clear(j.counts)
	for _, a := range j.acc {
		if a != nil {
			a.Reset(uint64(j.seq) + 1) // seeded by position: the same file gives the same sketch
			a.SetSampling(samplingShift(j.seq))
		}
	}
}

func keyOf(r rule, col int, ncols int) int32 { return int32(int(r)*(ncols+1) + col + 1) }

// flag counts a violation and keeps it as an example while the chunk has fewer than
// MaxExamples for that rule and column. The chunk's first examples are the file's
// first examples among its rows, so the collector needs no more than these.
func (w *worker) flag(j *job, r rule, col int, row, line int64, value []byte, detail string) {
	k := keyOf(r, col, w.p.ncols)
	j.counts[k]++
	if j.perKey[k] >= w.p.opt.MaxExamples {
		return
	}
	j.perKey[k]++
	pii := col >= 0 && w.p.c.Columns[col].PII
	j.examples = append(j.examples, example{rule: r, col: col, row: row, line: line, value: exampleValue(value, pii), detail: detail})
}

func (w *worker) process(j *job) {
	j.reset(w.p)
	p := w.p
	data := j.ch.Data
	pos := j.start
	utf8OK := utf8.Valid(data[pos:])
	var row, line int64 // line: lines before the current row, relative to the chunk
	for pos < len(data) {
		r, next := w.parser.Next(data, pos, j.ch.Last, row+1, line)
		pos = next
		if r.Blank {
			line += int64(r.Lines)
			continue
		}
		row++
		start := line
		line += int64(r.Lines)
		if r.Err != nil {
			col := -1
			if r.Err.Column-1 < len(p.colMap) && r.Err.Column >= 1 {
				col = p.colMap[r.Err.Column-1]
			}
			var v []byte
			if r.Err.Column >= 1 && r.Err.Column <= len(r.Fields) {
				v = r.Fields[r.Err.Column-1]
			}
			w.flag(j, ruleOfKind(r.Err.Kind), col, row, start, v, r.Err.Detail)
			if r.Err.Kind.Fatal() {
				j.fatal = true
				break
			}
			continue
		}
		if !utf8OK {
			if c, off, ok := table.CheckUTF8(r.Fields); !ok {
				col := -1
				if c-1 < len(p.colMap) {
					col = p.colMap[c-1]
				}
				w.flag(j, rInvalidUTF8, col, row, start, r.Fields[c-1], fmt.Sprintf("invalid UTF-8 at byte %d of field %d", off, c))
				continue
			}
		}
		w.row(j, r.Fields, row, start)
	}
	j.rows, j.lines = row, line
}

func (w *worker) row(j *job, fields [][]byte, row, line int64) {
	p := w.p
	if len(fields) != p.width {
		var v []byte
		if len(fields) > 0 {
			v = fields[0]
		}
		w.flag(j, rRaggedRow, -1, row, line, v, fmt.Sprintf("expected %d fields, got %d", p.width, len(fields)))
		return
	}
	for i, f := range fields {
		ci := p.colMap[i]
		if ci < 0 {
			continue
		}
		w.vals[ci] = f
		w.null[ci] = w.cell(j, ci, f, row, line)
	}
	if p.opt.Canonical != nil {
		j.out = w.canonical(j.out)
	}
	if len(p.keyCols) > 0 {
		w.key(j, row, line)
	}
}

// cell checks and profiles one value; it reports whether the value is missing.
func (w *worker) cell(j *job, ci int, v []byte, row, line int64) bool {
	p := w.p
	c := &p.cols[ci]
	a := w.acc[ci]
	if p.isNull(v) {
		a.Null()
		if c.c.Required {
			w.flag(j, rRequired, ci, row, line, v, "")
		}
		return true
	}
	switch c.c.Type {
	case contract.Integer:
		n, ok := parseInt(v)
		if !ok {
			a.Invalid()
			w.flag(j, rType, ci, row, line, v, "an integer")
			return false
		}
		w.number(j, ci, float64(n), v, row, line)
	case contract.Number:
		f, st := parseNumber(v)
		switch st {
		case numBad:
			a.Invalid()
			w.flag(j, rType, ci, row, line, v, "a number")
			return false
		case numNotFinite:
			a.Invalid()
			w.flag(j, rNotFinite, ci, row, line, v, "")
			return false
		}
		w.number(j, ci, f, v, row, line)
	case contract.Timestamp:
		layout := c.c.Format
		if layout == "" {
			layout = time.RFC3339Nano
		}
		t, err := time.Parse(layout, string(v))
		if err != nil {
			a.Invalid()
			want := "an RFC 3339 timestamp (e.g. 2024-01-31T09:30:00Z)"
			if c.c.Format != "" {
				want = fmt.Sprintf("a timestamp in the layout %q", c.c.Format)
			}
			w.flag(j, rType, ci, row, line, v, want)
			return false
		}
		w.number(j, ci, float64(t.Unix())+float64(t.Nanosecond())/1e9, v, row, line)
	case contract.Boolean:
		b, ok := parseBool(v)
		if !ok {
			a.Invalid()
			w.flag(j, rType, ci, row, line, v, "a boolean (true/false, 1/0, yes/no)")
			return false
		}
		if b {
			a.Text(w.trueB)
		} else {
			a.Text(w.falseB)
		}
	default:
		w.text(j, c, v, row, line)
		a.Text(v)
	}
	return false
}

func (w *worker) number(j *job, ci int, f float64, v []byte, row, line int64) {
	c := w.p.cols[ci].c
	if c.Min != nil && f < *c.Min {
		w.flag(j, rMin, ci, row, line, v, "")
	}
	if c.Max != nil && f > *c.Max {
		w.flag(j, rMax, ci, row, line, v, "")
	}
	a := w.acc[ci]
	a.CountValue()
	a.Distinct(profile.HashFloat(f))
	j.acc[ci].NumberStats(f)
}

func (w *worker) text(j *job, c *column, v []byte, row, line int64) {
	if c.allowed != nil {
		found := false
		if len(c.allowedL) <= 8 {
			for _, a := range c.allowedL {
				if string(a) == string(v) {
					found = true
					break
				}
			}
		} else {
			_, found = c.allowed[string(v)]
		}
		if !found {
			w.flag(j, rAllowed, c.idx, row, line, v, "")
		}
	}
	if c.pattern != nil && !c.pattern.Match(v) {
		w.flag(j, rPattern, c.idx, row, line, v, "")
	}
	if isFormula(v) {
		w.flag(j, rFormula, c.idx, row, line, v, "")
	}
}

// isFormula reports text a spreadsheet would run as a formula (CSV injection): a
// leading '=' (even "=1+2" is evaluated), a leading '+', '-' or '@' followed by
// something other than a digit or '.', or a leading tab or CR.
func isFormula(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '\t', '\r':
		return true
	case '=':
		return len(v) > 1
	case '+', '-', '@':
		return len(v) > 1 && !(v[1] >= '0' && v[1] <= '9' || v[1] == '.')
	}
	return false
}

// canonical appends the row in canonical form: contract column order, comma, LF,
// missing values as empty cells, quotes only where needed.
func (w *worker) canonical(out []byte) []byte {
	p := w.p
	for ci := 0; ci < p.ncols; ci++ {
		if ci > 0 {
			out = append(out, ',')
		}
		if p.inv[ci] < 0 || w.null[ci] {
			if p.ncols == 1 {
				out = append(out, '"', '"') // an empty line would read as no row at all
			}
			continue
		}
		out = appendCell(out, w.vals[ci])
	}
	return append(out, '\n')
}

func appendCell(out, v []byte) []byte {
	need := false
	for _, c := range v {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			need = true
			break
		}
	}
	if !need {
		return append(out, v...)
	}
	out = append(out, '"')
	for _, c := range v {
		if c == '"' {
			out = append(out, '"')
		}
		out = append(out, c)
	}
	return append(out, '"')
}

// key hashes the row's unique key to 128 bits. Rows with a missing key part do not
// take part (as in SQL, a missing value equals nothing).
func (w *worker) key(j *job, row, line int64) {
	var h1, h2 uint64 = 0x1234567, 0x89abcdef
	for _, ci := range w.p.keyCols {
		if w.null[ci] || w.p.inv[ci] < 0 {
			return
		}
		v := w.vals[ci]
		h1 = profile.Hash64(v, h1)
		h2 = profile.Hash64(v, h2^0x9e3779b97f4a7c15)
	}
	j.keys = append(j.keys, keyRec{h1: h1, h2: h2, row: row, line: line})
}

type numStatus int

const (
	numOK numStatus = iota
	numBad
	numNotFinite
)

// pow10 holds the powers of ten that float64 represents exactly.
func pow10(e int) float64 {
	return [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
		1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}[e]
}

// parseNumber parses a decimal number. The fast path (Clinger's: a mantissa below
// 2^53 and a power of ten below 10^23, both exact in float64, give a correctly rounded
// product or quotient) covers ordinary data; anything else goes to strconv, so every
// result is exactly what strconv.ParseFloat returns.
func parseNumber(v []byte) (float64, numStatus) {
	i := 0
	neg := false
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	sawDot := false
	exp := 0
	fast := true
	for ; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			if mant == 0 && c == '0' {
				if sawDot {
					frac++
				}
				digits++
				continue
			}
			if mant >= 1<<53/10 {
				fast = false
				break
			}
			mant = mant*10 + uint64(c-'0')
			digits++
			if sawDot {
				frac++
			}
			continue
		}
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		break
	}
	if fast && i < len(v) && (v[i] == 'e' || v[i] == 'E') && digits > 0 {
		j := i + 1
		eneg := false
		if j < len(v) && (v[j] == '+' || v[j] == '-') {
			eneg = v[j] == '-'
			j++
		}
		ed := 0
		for ; j < len(v) && v[j] >= '0' && v[j] <= '9' && ed < 4; j++ {
			exp = exp*10 + int(v[j]-'0')
			ed++
		}
		if ed == 0 || j != len(v) {
			fast = false
		}
		if eneg {
			exp = -exp
		}
		i = j
	}
	if fast && i == len(v) && digits > 0 {
		e := exp - frac
		f := float64(mant)
		switch {
		case mant == 0:
			f = 0
		case e >= 0 && e <= 22:
			f *= pow10(e)
		case e < 0 && e >= -22:
			f /= pow10(-e)
		default:
			return slowNumber(v)
		}
		if neg {
			f = -f
		}
		return f, numOK
	}
	return slowNumber(v)
}

func slowNumber(v []byte) (float64, numStatus) {
	// strconv also reads hex floats, underscores and "Infinity"; only plain decimal
	// notation and the spellings of NaN and infinity are allowed through.
	letters := false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9', c == '.', c == '+', c == '-', c == 'e', c == 'E':
		default:
			letters = true
		}
	}
	if letters {
		s := string(v)
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		switch toLower(s) {
		case "nan", "inf", "infinity":
			return 0, numNotFinite
		}
		return 0, numBad
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && math.IsInf(f, 0) {
			return 0, numNotFinite
		}
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, numBad
		}
	}
	return f, numOK
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parseInt parses a decimal integer (optional sign); strconv decides the rare
// 19-digit cases so that overflow is exact.
func parseInt(v []byte) (int64, bool) {
	i := 0
	neg := false
	if len(v) > 0 && (v[0] == '+' || v[0] == '-') {
		neg = v[0] == '-'
		i = 1
	}
	if i == len(v) {
		return 0, false
	}
	if len(v)-i > 18 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	var n int64
	for ; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func parseBool(v []byte) (bool, bool) {
	if len(v) > 5 {
		return false, false
	}
	var buf [5]byte
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(v)]) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// samplingShift is how much a chunk's quantile sketch may sample, from the chunk's
// position alone (so results do not depend on scheduling). Chunk m is merged into a
// sketch of about m·30,000 values whose top level weighs about m·150; sampling 1 in
// 2^s adds rank variance like a compaction at level s, negligible while 2^s (here
// about m/4, at most 256) stays far below that weight.
func samplingShift(seq int) int {
	return min(max(bits.Len(uint(seq))-2, 0), 8)
}

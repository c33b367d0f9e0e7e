package validate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/table"
)

// worker parses and checks chunks. Its accumulators hold the order-independent
// statistics (counts, distinct sketches, exact value counts); the order-sensitive ones
// travel with each chunk to the collector.
//
// The inner loop only checks values and gathers them per column (numbers in a small
// buffer, categories and booleans as counts); the buffers go to the sketches in
// batches, in row order, so the statistics are exactly those of adding value by value.
type worker struct {
	p      *plan
	parser *table.Parser
	acc    []*profile.Accumulator
	null   []bool // per contract column: this row's value is missing
	vals   [][]byte
	fields [][]byte // a simple row's fields (p.width of them)
	cs     []colState
	slots  []slot // per file column
	// Batched simple rows (when no row values are kept): nb rows of p.width fields.
	batch [][]byte
	bRows []int64 // their row numbers in the chunk
	bLine []int64 // their first lines
	nb    int
	// Booleans are profiled by their normalised spelling.
	trueB, falseB []byte
}

// numBatch is how many numbers a column buffers before they go to the sketches.
const numBatch = 1024

// smallInts is the range of whole numbers whose distinct hashes are remembered in a
// bitmap, so a repeated value skips the hash.
const smallInts = 1 << 16

// slot is what the inner loop needs about a file column; c is nil for a column the
// contract does not have.
type slot struct {
	c  *column
	st *colState
	ci int
}

// colState is one column's values gathered since the last flush.
type colState struct {
	nulls, invalid int64
	nums           []float64
	cats           []int64 // per catIndex value
	nTrue, nFalse  int64
	// Distinct-count shortcuts (per worker: HyperLogLog ignores repeats).
	seenSmall []uint64
	last      float64
	hasLast   bool
}

func newWorker(p *plan) *worker {
	w := &worker{p: p, parser: table.NewParser(p.d), null: make([]bool, p.ncols), vals: make([][]byte, p.ncols),
		fields: make([][]byte, p.width), cs: make([]colState, p.ncols),
		trueB: []byte("true"), falseB: []byte("false")}
	w.batch = make([][]byte, batchRows*p.width)
	w.bRows = make([]int64, batchRows)
	w.bLine = make([]int64, batchRows)
	w.slots = make([]slot, len(p.colMap))
	for i, ci := range p.colMap {
		if ci >= 0 {
			w.slots[i] = slot{c: &p.cols[ci], st: &w.cs[ci], ci: ci}
		}
	}
	for ci, c := range p.c.Columns {
		w.acc = append(w.acc, profile.NewAccumulator(c.Name, c.Type, c.PII, 1))
		st := &w.cs[ci]
		switch p.cols[ci].kind {
		case kInt, kNum, kTime:
			st.nums = make([]float64, 0, numBatch)
			st.seenSmall = make([]uint64, smallInts/64)
		case kCat:
			st.cats = make([]int64, len(p.cols[ci].cat.vals))
		}
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
	if p.opt.Canonical != nil && p.batched {
		// The canonical form is about as long as the input: one allocation, not a
		// series of doublings.
		j.out = slices.Grow(j.out, len(data)-pos+len(data)/16)
	}
	var row, line int64 // line: lines before the current row, relative to the chunk
	for pos < len(data) {
		// Nearly every row is simple: parse it straight into the column slots.
		fields := w.fields
		if p.batched {
			// Batched: the row's fields go straight into the batch.
			fields = w.batch[w.nb*p.width : (w.nb+1)*p.width]
		}
		if next, ok := w.parser.Simple(data, pos, fields); ok {
			span := data[pos:next]
			pos = next
			row++
			start := line
			line++
			if !utf8OK {
				if c, off, ok := table.CheckUTF8(fields); !ok {
					col := -1
					if c-1 < len(p.colMap) {
						col = p.colMap[c-1]
					}
					w.flag(j, rInvalidUTF8, col, row, start, fields[c-1], fmt.Sprintf("invalid UTF-8 at byte %d of field %d", off, c))
					continue
				}
			}
			if !p.batched {
				w.cells(j, fields, row, start)
				continue
			}
			if p.opt.Canonical != nil {
				// Rows are written in input order: a row that leaves the simple
				// parser is written by cells, after the batch before it.
				j.out = w.canonicalSimple(j.out, span, fields)
			}
			w.bRows[w.nb], w.bLine[w.nb] = row, start
			w.nb++
			if w.nb == batchRows {
				w.columns(j)
			}
			continue
		}
		if w.nb > 0 {
			// Values go to the statistics in row order per column.
			w.columns(j)
		}
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
		if len(r.Fields) != p.width {
			var v []byte
			if len(r.Fields) > 0 {
				v = r.Fields[0]
			}
			w.flag(j, rRaggedRow, -1, row, start, v, fmt.Sprintf("expected %d fields, got %d", p.width, len(r.Fields)))
			continue
		}
		w.cells(j, r.Fields, row, start)
	}
	if w.nb > 0 {
		w.columns(j)
	}
	j.rows, j.lines = row, line
	w.flush(j)
}

// cells checks and gathers one row of p.width fields.
func (w *worker) cells(j *job, fields [][]byte, row, line int64) {
	p := w.p
	if p.rowVals {
		for i, v := range fields {
			if ci := p.colMap[i]; ci >= 0 {
				w.vals[ci] = v
				w.null[ci] = p.isNull(v)
			}
		}
	}
	slots := w.slots[:len(fields)]
	for i, v := range fields {
		if sl := &slots[i]; sl.c != nil {
			w.value(j, sl, v, row, line)
		}
	}
	if p.opt.Canonical != nil {
		j.out = w.canonical(j.out)
	}
	if len(p.keyCols) > 0 {
		w.key(j, row, line)
	}
}

// value checks and gathers one value of a contract column.
func (w *worker) value(j *job, sl *slot, v []byte, row, line int64) {
	p := w.p
	c, st, ci := sl.c, sl.st, sl.ci
	if len(v) == 0 || p.nullFirst[v[0]] && p.isNull(v) {
		st.nulls++
		if c.required {
			w.flag(j, rRequired, ci, row, line, v, "")
		}
		return
	}
	var f float64
	switch c.kind {
	case kCat:
		if k := c.cat.find(v); k >= 0 {
			st.cats[k]++
			if c.catFlags[k] != 0 {
				w.catFlag(j, c, c.catFlags[k], v, row, line)
			}
			return
		}
		w.text(j, c, v, row, line)
		w.acc[ci].Text(v)
		return
	case kNum:
		var ok bool
		if f, ok = parseDigits(v); !ok {
			var ns numStatus
			f, ns = parseNumber(v)
			switch ns {
			case numBad:
				st.invalid++
				w.flag(j, rType, ci, row, line, v, "a number")
				return
			case numNotFinite:
				st.invalid++
				w.flag(j, rNotFinite, ci, row, line, v, "")
				return
			}
		}
	case kInt:
		n, ok := ParseInt(v)
		if !ok {
			st.invalid++
			w.flag(j, rType, ci, row, line, v, "an integer")
			return
		}
		f = float64(n)
	case kTime:
		t, err := time.Parse(c.layout, string(v))
		if err != nil {
			st.invalid++
			want := "an RFC 3339 timestamp (e.g. 2024-01-31T09:30:00Z)"
			if c.c.Format != "" {
				want = fmt.Sprintf("a timestamp in the layout %q", c.c.Format)
			}
			w.flag(j, rType, ci, row, line, v, want)
			return
		}
		f = float64(t.Unix()) + float64(t.Nanosecond())/1e9
	case kBool:
		b, ok := ParseBool(v)
		if !ok {
			st.invalid++
			w.flag(j, rType, ci, row, line, v, "a boolean (true/false, 1/0, yes/no)")
			return
		}
		if b {
			st.nTrue++
		} else {
			st.nFalse++
		}
		return
	default:
		w.text(j, c, v, row, line)
		w.acc[ci].Text(v)
		return
	}
	// A number: check its bounds and buffer it.
	if c.hasMin && f < c.minv || c.hasMax && f > c.maxv {
		w.bounds(j, ci, c, f, v, row, line)
	}
	st.nums = append(st.nums, f)
	if len(st.nums) == numBatch {
		w.flushNums(j, ci, st)
	}
}

// batchRows is how many simple rows are gathered before they are checked column by
// column.
const batchRows = 128

// columns checks and gathers the batched rows column by column: the common column
// kinds get loops of their own, with no dispatch per value. Per column, values still
// go to the statistics in row order, and the examples of a rule and column stay in
// row order, so the result is the same as row by row.
func (w *worker) columns(j *job) {
	p := w.p
	nb, width := w.nb, p.width
	w.nb = 0
	batch, rows, lines := w.batch[:nb*width], w.bRows[:nb], w.bLine[:nb]
	for i := range w.slots {
		sl := &w.slots[i]
		c, st, ci := sl.c, sl.st, sl.ci
		if c == nil {
			continue
		}
		switch c.kind {
		case kNum, kInt:
			for r, row := range rows {
				v := batch[r*width+i]
				if len(v) == 0 || p.nullFirst[v[0]] && p.isNull(v) {
					st.nulls++
					if c.required {
						w.flag(j, rRequired, ci, row, lines[r], v, "")
					}
					continue
				}
				f, ok := parseDigits(v)
				if !ok {
					// Signs, decimals, exponents, errors: the general path.
					w.value(j, sl, v, row, lines[r])
					continue
				}
				if c.hasMin && f < c.minv || c.hasMax && f > c.maxv {
					w.bounds(j, ci, c, f, v, row, lines[r])
				}
				st.nums = append(st.nums, f)
				if len(st.nums) == numBatch {
					w.flushNums(j, ci, st)
				}
			}
		case kCat:
			cat, flags, cats := c.cat, c.catFlags, st.cats
			for r, row := range rows {
				v := batch[r*width+i]
				if k := cat.find(v); k >= 0 {
					cats[k]++
					if flags[k] != 0 {
						w.catFlag(j, c, flags[k], v, row, lines[r])
					}
					continue
				}
				w.value(j, sl, v, row, lines[r])
			}
		default:
			for r, row := range rows {
				w.value(j, sl, batch[r*width+i], row, lines[r])
			}
		}
	}
}

func (w *worker) catFlag(j *job, c *column, f catFlags, v []byte, row, line int64) {
	if f&catPattern != 0 {
		w.flag(j, rPattern, c.idx, row, line, v, "")
	}
	if f&catFormula != 0 {
		w.flag(j, rFormula, c.idx, row, line, v, "")
	}
}

func (w *worker) bounds(j *job, ci int, c *column, f float64, v []byte, row, line int64) {
	if c.hasMin && f < c.minv {
		w.flag(j, rMin, ci, row, line, v, "")
	}
	if c.hasMax && f > c.maxv {
		w.flag(j, rMax, ci, row, line, v, "")
	}
}

// flushNums hands a column's buffered numbers to the sketches, in order.
func (w *worker) flushNums(j *job, ci int, st *colState) {
	nums := st.nums
	if len(nums) == 0 {
		return
	}
	a := w.acc[ci]
	a.CountValues(int64(len(nums)))
	// Adding a value twice to a HyperLogLog changes nothing, so a repeat (of a small
	// whole number seen before, or of the previous value) skips the hash.
	seen := st.seenSmall[:smallInts/64]
	last, hasLast := st.last, st.hasLast
	for _, f := range nums {
		if f >= 0 && f < smallInts {
			if u := uint32(f); float64(u) == f {
				if seen[u>>6]&(1<<(u&63)) != 0 {
					continue
				}
				seen[u>>6] |= 1 << (u & 63)
				a.Distinct(profile.HashFloat(f))
				continue
			}
		}
		if hasLast && f == last {
			continue
		}
		a.Distinct(profile.HashFloat(f))
		last, hasLast = f, true
	}
	st.last, st.hasLast = last, hasLast
	j.acc[ci].NumberStatsBatch(nums)
	st.nums = nums[:0]
}

// flush hands everything gathered for the chunk to the accumulators.
func (w *worker) flush(j *job) {
	p := w.p
	for ci := range w.cs {
		st := &w.cs[ci]
		a := w.acc[ci]
		if st.nulls > 0 {
			a.NullN(st.nulls)
			st.nulls = 0
		}
		if st.invalid > 0 {
			a.InvalidN(st.invalid)
			st.invalid = 0
		}
		switch p.cols[ci].kind {
		case kInt, kNum, kTime:
			w.flushNums(j, ci, st)
		case kCat:
			for k, n := range st.cats {
				if n > 0 {
					a.TextN(p.cols[ci].cat.vals[k], n)
					st.cats[k] = 0
				}
			}
		case kBool:
			a.TextN(w.trueB, st.nTrue)
			a.TextN(w.falseB, st.nFalse)
			st.nTrue, st.nFalse = 0, 0
		}
	}
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
	if IsFormula(v) {
		w.flag(j, rFormula, c.idx, row, line, v, "")
	}
}

// IsFormula reports text a spreadsheet would run as a formula (CSV injection): a
// leading '=' (even "=1+2" is evaluated), a leading '+', '-' or '@' followed by
// something other than a digit or '.', or a leading tab or CR.
func IsFormula(v []byte) bool {
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

// canonicalSimple appends a simple row in canonical form, the same bytes as
// canonical: span is the row as read (its LF included), fields its p.width fields.
func (w *worker) canonicalSimple(out, span []byte, fields [][]byte) []byte {
	p := w.p
	plain := false
	body := span[:len(span)-1] // a CR before the LF is not part of the last value
	if len(body) > 0 && body[len(body)-1] == '\r' {
		body = body[:len(body)-1]
	}
	if p.canonPlain && bytes.IndexByte(body, '\r') < 0 {
		// A simple field holds no '"' or LF, and a comma only when quoted.
		plain = bytes.Count(span, comma) == len(fields)-1
		if plain && p.canonCopy {
			// Unquoted fields with no null token: the row is its own canonical form
			// (quotes would make the row longer than its fields and delimiters).
			n := len(fields)
			clean := true
			for _, v := range fields {
				n += len(v)
				if len(v) > 0 && p.nullFirst[v[0]] && p.isNull(v) {
					clean = false
					break
				}
			}
			if clean && n == len(span) {
				return append(out, span...)
			}
		}
	}
	if plain && p.ncols > 1 {
		// No value needs quotes: copy the values, a word at a time where they are
		// short. The row takes at most its fields, ncols commas and an LF, and a word
		// may run 8 bytes past its value.
		out = slices.Grow(out, len(span)+p.ncols+8)
		b, n := out[:cap(out)], len(out)
		for ci, fi := range p.inv {
			if ci > 0 {
				b[n] = ','
				n++
			}
			if fi < 0 {
				continue
			}
			v := fields[fi]
			if p.isNull(v) {
				continue
			}
			if len(v) <= 8 && cap(v) >= 8 {
				// Reading past len within cap is allowed; the bytes past the value are
				// overwritten by what follows it.
				binary.LittleEndian.PutUint64(b[n:], binary.LittleEndian.Uint64(v[:8:8]))
			} else {
				copy(b[n:], v)
			}
			n += len(v)
		}
		b[n] = '\n'
		return b[:n+1]
	}
	for ci := 0; ci < p.ncols; ci++ {
		if ci > 0 {
			out = append(out, ',')
		}
		fi := p.inv[ci]
		if fi < 0 || p.isNull(fields[fi]) {
			if p.ncols == 1 {
				out = append(out, '"', '"') // an empty line would read as no row at all
			}
			continue
		}
		out = appendCell(out, fields[fi])
	}
	return append(out, '\n')
}

var comma = []byte{','}

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

// samplingShift is how much a chunk's quantile sketch may sample, from the chunk's
// position alone (so results do not depend on scheduling). Chunk m is merged into a
// sketch of about m·30,000 values whose top level weighs about m·150; sampling 1 in
// 2^s adds rank variance like a compaction at level s, negligible while 2^s (here
// about m/4, at most 256) stays far below that weight.
func samplingShift(seq int) int {
	return min(max(bits.Len(uint(seq))-2, 0), 8)
}

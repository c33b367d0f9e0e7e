package validate

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/table"
)

// collector takes chunks in input order. Everything here runs on one goroutine
// (header before the workers start, collect while they run, finish after).
type collector struct {
	p         *plan
	counts    []int64
	examples  map[int32][]example
	acc       []*profile.Accumulator
	rows      int64
	line      int64 // line where the next chunk starts
	next      int
	pending   map[int]*job
	stop      atomic.Bool
	fatal     bool
	ioErr     error
	keys      *keyIndex
	hasHeader bool // a header row was read
}

func newCollector(p *plan) *collector {
	c := &collector{p: p, counts: make([]int64, int(numRules)*(p.ncols+1)), examples: make(map[int32][]example),
		pending: make(map[int]*job), line: 1}
	for _, col := range p.c.Columns {
		c.acc = append(c.acc, profile.NewAccumulator(col.Name, col.Type, col.PII, 1))
	}
	if len(p.keyCols) > 0 {
		c.keys = newKeyIndex(p.opt.TempDir, p.opt.keyMemRows)
	}
	return c
}

func (c *collector) stopped() bool { return c.stop.Load() }

// add records one violation found outside the workers.
func (c *collector) add(r rule, col int, ex example) {
	k := keyOf(r, col, c.p.ncols)
	c.counts[k]++
	ex.rule, ex.col = r, col
	if len(c.examples[k]) < c.p.opt.MaxExamples {
		c.examples[k] = append(c.examples[k], ex)
	}
}

func (c *collector) fileViolation(r rule, msg string) {
	c.fatal = true
	c.add(r, -1, example{row: 0, line: 0, detail: msg, value: ""})
}

// header reads the header row (when the dialect has one) from the first chunk,
// maps file columns to contract columns and reports header problems. It returns where
// data rows start, and false when nothing more can be read.
func (c *collector) header(first table.Chunk) (int, bool) {
	p := c.p
	p.colMap = make([]int, 0, p.ncols)
	p.inv = make([]int, p.ncols)
	if !p.c.Dialect.Header {
		for i := range p.ncols {
			p.colMap = append(p.colMap, i)
			p.inv[i] = i
		}
		p.width = p.ncols
		return 0, true
	}
	c.hasHeader = true
	parser := table.NewParser(p.d)
	pos := 0
	var r table.Row
	for {
		var next int
		r, next = parser.Next(first.Data, pos, first.Last, 0, c.line)
		pos = next
		c.line += int64(r.Lines)
		if !r.Blank || pos >= len(first.Data) {
			break
		}
	}
	if r.Err != nil {
		c.add(ruleOfKind(r.Err.Kind), -1, example{row: 0, line: 1, detail: "in the header row: " + r.Err.Detail})
		if r.Err.Kind.Fatal() {
			c.fatal = true
			return 0, false
		}
	}
	if col, off, ok := table.CheckUTF8(r.Fields); !ok {
		c.add(rInvalidUTF8, -1, example{row: 0, line: 1, value: exampleValue(r.Fields[col-1], false),
			detail: fmt.Sprintf("the header row is not valid UTF-8 (byte %d of column %d)", off, col)})
		c.fatal = true
		return 0, false
	}
	names := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		names[i] = string(f)
	}
	p.width = len(names)
	for i := range p.inv {
		p.inv[i] = -1
	}
	seen := make(map[string]bool)
	for i, n := range names {
		ci := slices.IndexFunc(p.c.Columns, func(col contractColumn) bool { return col.Name == n })
		switch {
		case seen[n]:
			c.add(rDuplicateColumn, ci, example{row: 0, line: 1, value: exampleValue([]byte(n), false),
				detail: fmt.Sprintf("column %q appears more than once in the header (position %d)", n, i+1)})
			ci = -1
		case ci < 0:
			c.add(rUnexpectedColumn, -1, example{row: 0, line: 1, value: exampleValue([]byte(n), false),
				detail: fmt.Sprintf("unexpected column %q (position %d): the contract has no such column", n, i+1)})
		default:
			p.inv[ci] = i
		}
		seen[n] = true
		p.colMap = append(p.colMap, ci)
	}
	missing := false
	for ci, col := range p.c.Columns {
		if p.inv[ci] < 0 {
			missing = true
			c.add(rMissingColumn, ci, example{row: 0, line: 1, value: exampleValue([]byte(col.Name), false),
				detail: fmt.Sprintf("missing column %q: the contract requires it", col.Name)})
		}
	}
	if !missing && len(names) == p.ncols {
		for ci := range p.c.Columns {
			if p.inv[ci] != ci {
				want := make([]string, p.ncols)
				for i, col := range p.c.Columns {
					want[i] = col.Name
				}
				c.add(rColumnOrder, -1, example{row: 0, line: 1, value: exampleValue([]byte(strings.Join(names, ",")), false),
					detail: fmt.Sprintf("the columns are in a different order; expected %s", strings.Join(want, ","))})
				break
			}
		}
	}
	return pos, true
}

// collect takes finished chunks, puts them back in input order and folds them in.
func (c *collector) collect(done <-chan *job, free chan<- *job) {
	for j := range done {
		c.pending[j.seq] = j
		for {
			j, ok := c.pending[c.next]
			if !ok {
				break
			}
			delete(c.pending, c.next)
			c.next++
			if !c.fatal {
				c.fold(j)
			}
			if cap(j.buf) > 4*c.p.opt.chunkBytes {
				j.buf = nil // a long row grew it; do not keep the memory
			}
			if cap(j.out) > 4*c.p.opt.chunkBytes {
				j.out = nil
			}
			free <- j
		}
	}
}

func (c *collector) fold(j *job) {
	rowBase, lineBase := c.rows, c.line
	for i, n := range j.counts {
		c.counts[i] += n
	}
	for _, ex := range j.examples {
		k := keyOf(ex.rule, ex.col, c.p.ncols)
		if len(c.examples[k]) < c.p.opt.MaxExamples {
			ex.row += rowBase
			ex.line += lineBase
			c.examples[k] = append(c.examples[k], ex)
		}
	}
	c.rows += j.rows
	c.line += j.lines
	if w := c.p.opt.Canonical; w != nil && c.ioErr == nil && len(j.out) > 0 {
		if _, err := w.Write(j.out); err != nil {
			c.ioErr = fmt.Errorf("writing the canonical CSV: %w", err)
			c.stop.Store(true)
		}
	}
	for ci, a := range j.acc {
		if a != nil {
			_ = c.acc[ci].Merge(a) // same column by construction
		}
	}
	if c.keys != nil && c.ioErr == nil {
		for _, k := range j.keys {
			k.row += rowBase
			k.line += lineBase
			if err := c.keys.add(k); err != nil {
				c.ioErr = err
				c.stop.Store(true)
				break
			}
		}
	}
	if j.fatal {
		c.fatal = true
		c.stop.Store(true)
	}
}

func (c *collector) mergeWorker(w *worker) {
	for ci, a := range w.acc {
		_ = c.acc[ci].Merge(a)
	}
}

// finish turns counters and examples into the result.
func (c *collector) finish(res *Result) *Result {
	p := c.p
	res.Rows = c.rows
	if !c.fatal {
		switch {
		case c.rows > 0:
		case p.c.Dialect.Header && !c.hasHeader:
			// Only a byte order mark or blank lines: nothing to read.
			c.add(rEmptyFile, -1, example{detail: p.fileName() + ": the file holds no header row and no data; expected a CSV file with a header row"})
		case c.hasHeader:
			c.add(rNoRows, -1, example{row: 0, line: 1, detail: "the file has a header row but no data rows"})
		default:
			c.add(rNoRows, -1, example{detail: "the file has no data rows"})
		}
		b := p.c.Rows
		if (b.Min > 0 && c.rows < b.Min) || (b.Max > 0 && c.rows > b.Max) {
			c.add(rRowCount, -1, example{detail: fmt.Sprintf("%d data rows; expected %s", c.rows, boundsText(b.Min, b.Max))})
		}
		for ci, col := range p.c.Columns {
			a := c.acc[ci]
			if col.MaxNullRate == nil || p.inv == nil || p.inv[ci] < 0 {
				continue
			}
			prof := a.Column()
			if prof.Count == 0 {
				continue
			}
			rate := float64(prof.Nulls) / float64(prof.Count)
			if rate > *col.MaxNullRate {
				c.add(rNullRate, ci, example{detail: fmt.Sprintf("%.4g%% of values are missing (%d of %d); at most %.4g%% allowed",
					100*rate, prof.Nulls, prof.Count, 100**col.MaxNullRate)})
			}
		}
		if c.keys != nil && c.ioErr == nil {
			dups, n, err := c.keys.duplicates(p.opt.MaxExamples)
			if err != nil {
				c.ioErr = err
			}
			for _, d := range dups {
				c.add(rUniqueKey, -1, d)
			}
			c.counts[keyOf(rUniqueKey, -1, p.ncols)] += n - int64(len(dups))
		}
	}
	if c.keys != nil {
		c.keys.close()
	}
	if c.rows > 0 || c.hasHeader {
		res.Profile = profile.NewDataset(c.rows, c.acc)
	}
	for r := range numRules {
		for col := -1; col < p.ncols; col++ {
			k := keyOf(r, col, p.ncols)
			n := c.counts[k]
			if n == 0 {
				continue
			}
			exs := c.examples[k]
			v := Violation{Rule: r.String(), Count: n}
			if col >= 0 {
				v.Column = p.c.Columns[col].Name
			}
			if len(exs) > 0 {
				v.Message = c.message(r, col, exs[0], n)
			}
			for _, e := range exs {
				if e.row > 0 || e.line > 0 {
					v.Examples = append(v.Examples, Example{Row: e.row, Line: e.line, Value: e.value})
				}
			}
			res.Violations = append(res.Violations, v)
		}
	}
	return res
}

func boundsText(lo, hi int64) string {
	switch {
	case lo > 0 && hi > 0:
		return fmt.Sprintf("between %d and %d", lo, hi)
	case lo > 0:
		return fmt.Sprintf("at least %d", lo)
	}
	return fmt.Sprintf("at most %d", hi)
}

// message says what was expected, with the first example's position.
func (c *collector) message(r rule, col int, e example, n int64) string {
	p := c.p
	name := ""
	if col >= 0 {
		name = fmt.Sprintf("column %q: ", p.c.Columns[col].Name)
	}
	at := fmt.Sprintf(" (row %d, line %d)", e.row, e.line)
	more := ""
	if n > 1 {
		more = fmt.Sprintf("; %d rows in all", n)
	}
	q := fmt.Sprintf("%q", e.value)
	switch r {
	case rType:
		return fmt.Sprintf("%sexpected %s, got %s%s%s", name, e.detail, q, at, more)
	case rNotFinite:
		return fmt.Sprintf("%sexpected a finite number, got %s%s%s", name, q, at, more)
	case rRequired:
		return fmt.Sprintf("%sexpected a value (the column is required), got a missing value %s%s%s", name, q, at, more)
	case rMin:
		return fmt.Sprintf("%sexpected a value ≥ %g, got %s%s%s", name, *p.c.Columns[col].Min, q, at, more)
	case rMax:
		return fmt.Sprintf("%sexpected a value ≤ %g, got %s%s%s", name, *p.c.Columns[col].Max, q, at, more)
	case rAllowed:
		allowed := p.c.Columns[col].Allowed
		list := strings.Join(allowed[:min(len(allowed), 20)], ", ")
		if len(allowed) > 20 {
			list += ", …"
		}
		return fmt.Sprintf("%sunknown category %s; expected one of %s%s%s", name, q, list, at, more)
	case rPattern:
		if e := p.cols[col].patErr; e != nil {
			return fmt.Sprintf("%sthe contract's pattern does not compile (%v)", name, e)
		}
		return fmt.Sprintf("%sexpected a value matching %q, got %s%s%s", name, p.c.Columns[col].Pattern, q, at, more)
	case rFormula:
		return fmt.Sprintf("%s%s starts like a spreadsheet formula (=, +, -, @, tab or CR), a CSV injection risk; expected plain text%s%s", name, q, at, more)
	case rRaggedRow, rUnterminatedQuote, rFieldTooLarge, rBareQuote, rInvalidUTF8:
		if e.row == 0 && e.line == 0 {
			return e.detail
		}
		return fmt.Sprintf("%s%s%s%s", name, e.detail, at, more)
	case rUniqueKey:
		return fmt.Sprintf("duplicate key (%s): %s%s%s", strings.Join(p.c.UniqueKey, ", "), e.detail, at, more)
	case rMissingColumn, rUnexpectedColumn, rDuplicateColumn, rColumnOrder:
		return fmt.Sprintf("%s: header (line 1): %s", p.fileName(), e.detail)
	case rNullRate:
		return name + e.detail
	}
	return e.detail
}

// Text is the human report: one block per violation.
func (r *Result) Text() string {
	var b strings.Builder
	name := r.Name
	if name == "" {
		name = "input"
	}
	if r.Valid() {
		fmt.Fprintf(&b, "%s: valid (%d rows, %d bytes)\n", name, r.Rows, r.Bytes)
		return b.String()
	}
	fmt.Fprintf(&b, "%s: REJECTED: %d problem(s) in %d rows, %d bytes\n", name, len(r.Violations), r.Rows, r.Bytes)
	WriteViolations(&b, r.Violations)
	return b.String()
}

// WriteViolations writes the human form of violations, one block each: rule,
// column, count, message and the example rows (values quoted, so control
// characters and odd bytes show as escapes). Every report a person reads uses it.
func WriteViolations(w io.Writer, vs []Violation) {
	for _, v := range vs {
		fmt.Fprintf(w, "\nrule:    %s\n", v.Rule)
		if v.Column != "" {
			fmt.Fprintf(w, "column:  %s\n", v.Column)
		}
		fmt.Fprintf(w, "count:   %d\nmessage: %s\n", v.Count, v.Message)
		for _, e := range v.Examples {
			fmt.Fprintf(w, "  row %d (line %d): %q\n", e.Row, e.Line, e.Value)
		}
	}
}

// keyRec is a row's unique-key hash and position.
type keyRec struct {
	h1, h2    uint64
	row, line int64
}

const keyRecBytes = 32
const keyParts = 64

// keyIndex finds duplicate keys in bounded memory: records stay in memory up to a
// limit, then all go to hash-partitioned spill files, each checked on its own at the
// end (a partition is 1/64 of the records).
type keyIndex struct {
	dir   string
	limit int
	mem   []keyRec
	files []*os.File
	w     []*bufio.Writer
}

func newKeyIndex(dir string, limit int) *keyIndex { return &keyIndex{dir: dir, limit: limit} }

func (k *keyIndex) add(r keyRec) error {
	if k.files == nil {
		k.mem = append(k.mem, r)
		if len(k.mem) <= k.limit {
			return nil
		}
		if err := k.spillStart(); err != nil {
			return err
		}
		for _, m := range k.mem {
			if err := k.write(m); err != nil {
				return err
			}
		}
		k.mem = nil
		return nil
	}
	return k.write(r)
}

func (k *keyIndex) spillStart() error {
	for range keyParts {
		f, err := os.CreateTemp(k.dir, "unique-key-*.bin")
		if err != nil {
			k.close()
			return fmt.Errorf("unique key check: %w", err)
		}
		k.files = append(k.files, f)
		k.w = append(k.w, bufio.NewWriterSize(f, 32<<10))
	}
	return nil
}

func (k *keyIndex) write(r keyRec) error {
	var b [keyRecBytes]byte
	binary.LittleEndian.PutUint64(b[0:], r.h1)
	binary.LittleEndian.PutUint64(b[8:], r.h2)
	binary.LittleEndian.PutUint64(b[16:], uint64(r.row))
	binary.LittleEndian.PutUint64(b[24:], uint64(r.line))
	if _, err := k.w[r.h1>>58].Write(b[:]); err != nil {
		return fmt.Errorf("unique key check: %w", err)
	}
	return nil
}

// duplicates returns the first max duplicate rows (by row number) and how many
// duplicate rows there are in all.
func (k *keyIndex) duplicates(max int) ([]example, int64, error) {
	var first []example
	var n int64
	check := func(recs []keyRec) {
		slices.SortFunc(recs, func(a, b keyRec) int {
			if c := cmp.Compare(a.h1, b.h1); c != 0 {
				return c
			}
			if c := cmp.Compare(a.h2, b.h2); c != 0 {
				return c
			}
			return cmp.Compare(a.row, b.row)
		})
		for i := 1; i < len(recs); i++ {
			if recs[i].h1 != recs[i-1].h1 || recs[i].h2 != recs[i-1].h2 {
				continue
			}
			g := i - 1
			for g > 0 && recs[g-1].h1 == recs[i].h1 && recs[g-1].h2 == recs[i].h2 {
				g--
			}
			n++
			ex := example{row: recs[i].row, line: recs[i].line,
				value:  fmt.Sprintf("same key as row %d (line %d)", recs[g].row, recs[g].line),
				detail: fmt.Sprintf("row %d repeats the key of row %d (line %d)", recs[i].row, recs[g].row, recs[g].line)}
			pos, _ := slices.BinarySearchFunc(first, ex.row, func(e example, r int64) int { return cmp.Compare(e.row, r) })
			if pos < max {
				first = slices.Insert(first, pos, ex)
				if len(first) > max {
					first = first[:max]
				}
			}
		}
	}
	if k.files == nil {
		check(k.mem)
		return first, n, nil
	}
	for i, f := range k.files {
		if err := k.w[i].Flush(); err != nil {
			return nil, 0, fmt.Errorf("unique key check: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("unique key check: %w", err)
		}
		data, err := io.ReadAll(bufio.NewReader(f))
		if err != nil {
			return nil, 0, fmt.Errorf("unique key check: %w", err)
		}
		recs := make([]keyRec, len(data)/keyRecBytes)
		for j := range recs {
			b := data[j*keyRecBytes:]
			recs[j] = keyRec{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]),
				int64(binary.LittleEndian.Uint64(b[16:])), int64(binary.LittleEndian.Uint64(b[24:]))}
		}
		check(recs)
	}
	return first, n, nil
}

func (k *keyIndex) close() {
	for _, f := range k.files {
		f.Close()
		os.Remove(f.Name())
	}
	k.files, k.w = nil, nil
}

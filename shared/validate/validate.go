// Package validate checks a CSV file against its dataset contract, profiles it and
// writes its canonical form, all in one streaming pass.
//
// The pass is a pipeline: one goroutine cuts the decompressed stream into chunks at
// row boundaries (table.Splitter), workers parse, check and profile chunks into
// per-worker state, and a collector takes finished chunks in input order to number
// their rows, keep the first examples, merge order-sensitive sketches and write the
// canonical CSV. Memory is bounded by chunk size times the number of chunks in
// flight, whatever the file's size, and the result does not depend on scheduling.
package validate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/table"
)

// Options tune a Scan.
type Options struct {
	Name          string    // file name used in messages (e.g. the S3 key)
	MaxExamples   int       // example rows kept per violation rule+column, default 5
	Canonical     io.Writer // if non-nil: receives the canonical CSV, uncompressed, in input row order
	TempDir       string    // for the bounded on-disk unique-key check
	MaxFieldBytes int       // default 1 MiB
	MaxBytes      int64     // 0 = no limit; more (decompressed) bytes than this → rule "too_large"
	Workers       int       // default GOMAXPROCS

	// chunkBytes and keyMemRows let tests force small chunks and the spill path;
	// rowPath forces the row-by-row path, to compare the columnar one against it.
	chunkBytes int
	keyMemRows int
	rowPath    bool
}

// Result is the outcome of a Scan.
type Result struct {
	Name       string
	Rows       int64 // data rows read (header excluded)
	Bytes      int64 // decompressed bytes read
	Compressed bool
	Violations []Violation
	Profile    *profile.Dataset
}

// Valid says whether the file passed every rule.
func (r *Result) Valid() bool { return len(r.Violations) == 0 }

// Violation is one rule broken in one column (Column is empty for file-level rules).
type Violation struct {
	Rule     string    `json:"rule"`
	Column   string    `json:"column,omitempty"`
	Count    int64     `json:"count"`
	Message  string    `json:"message"`
	Examples []Example `json:"examples,omitempty"`
}

// Example is one offending row. Value is "***" for PII columns, and otherwise
// truncated to 80 runes with control characters escaped.
type Example struct {
	Row   int64  `json:"row"`
	Line  int64  `json:"line"`
	Value string `json:"value"`
}

// Rule names, in the order reports list them.
const (
	RuleEmptyFile         = "empty_file"
	RuleTooLarge          = "too_large"
	RuleUnterminatedQuote = "unterminated_quote"
	RuleFieldTooLarge     = "field_too_large"
	RuleInvalidUTF8       = "invalid_utf8"
	RuleBareQuote         = "bare_quote"
	RuleMissingColumn     = "missing_column"
	RuleUnexpectedColumn  = "unexpected_column"
	RuleDuplicateColumn   = "duplicate_column"
	RuleColumnOrder       = "column_order"
	RuleNoRows            = "no_rows"
	RuleRowCount          = "row_count"
	RuleRaggedRow         = "ragged_row"
	RuleType              = "type"
	RuleNotFinite         = "not_finite"
	RuleRequired          = "required"
	RuleNullRate          = "null_rate"
	RuleMin               = "min"
	RuleMax               = "max"
	RuleAllowed           = "allowed"
	RulePattern           = "pattern"
	RuleFormula           = "formula"
	RuleUniqueKey         = "unique_key"
)

// rule indexes counters; its order is the report order.
type rule int

const (
	rEmptyFile rule = iota
	rTooLarge
	rUnterminatedQuote
	rFieldTooLarge
	rInvalidUTF8
	rBareQuote
	rMissingColumn
	rUnexpectedColumn
	rDuplicateColumn
	rColumnOrder
	rNoRows
	rRowCount
	rRaggedRow
	rType
	rNotFinite
	rRequired
	rNullRate
	rMin
	rMax
	rAllowed
	rPattern
	rFormula
	rUniqueKey
	numRules
)

func (r rule) String() string {
	return [...]string{RuleEmptyFile, RuleTooLarge, RuleUnterminatedQuote, RuleFieldTooLarge, RuleInvalidUTF8,
		RuleBareQuote, RuleMissingColumn, RuleUnexpectedColumn, RuleDuplicateColumn, RuleColumnOrder, RuleNoRows,
		RuleRowCount, RuleRaggedRow, RuleType, RuleNotFinite, RuleRequired, RuleNullRate, RuleMin, RuleMax,
		RuleAllowed, RulePattern, RuleFormula, RuleUniqueKey}[r]
}

func ruleOfKind(k table.Kind) rule {
	switch k {
	case table.UnterminatedQuote:
		return rUnterminatedQuote
	case table.FieldTooLarge:
		return rFieldTooLarge
	case table.InvalidUTF8:
		return rInvalidUTF8
	}
	return rBareQuote
}

// example is an example as workers record it: rows and lines relative to the chunk
// until the collector fixes them, plus what the message needs.
type example struct {
	rule   rule
	col    int // contract column, or -1
	row    int64
	line   int64
	value  string
	detail string // rule-specific words for the message
}

// column is a contract column prepared for checking.
type column struct {
	c        *contract.Column
	idx      int
	allowed  map[string]struct{}
	allowedL [][]byte
	pattern  *regexp.Regexp
	patErr   error
	isText   bool
	// Prepared for the worker's inner loop.
	kind           colKind
	required       bool
	hasMin, hasMax bool
	minv, maxv     float64
	layout         string     // timestamps
	cat            *catIndex  // allowed values, for kind kCat
	catFlags       []catFlags // per distinct allowed value: rules it breaks by itself
}

// colKind picks the worker's code path for a column.
type colKind uint8

const (
	kText colKind = iota // strings, and categories whose allowed values need the map
	kCat                 // category or string with a small allowed list: counted per value
	kInt
	kNum
	kTime
	kBool
)

type catFlags uint8

const (
	catFormula catFlags = 1 << iota
	catPattern
)

type plan struct {
	c          *contract.Contract
	opt        Options
	d          table.Dialect
	cols       []column
	nullTokens [][]byte
	nullFirst  [256]bool // first bytes of non-empty null tokens
	keyCols    []int     // contract indexes of the unique key
	ncols      int
	// Set from the header before workers start, read-only afterwards.
	colMap []int // file column → contract column, or -1
	inv    []int // contract column → file column, or -1
	width  int   // fields a row must have
	// rowVals says workers keep each row's values (canonical output, unique key).
	rowVals bool
	// batched says simple rows are gathered in batches and checked column by column
	// (no unique key: each row's canonical form is written as it is parsed).
	batched bool
	// canonCopy says a simple row with no quotes, CR or null tokens is its own
	// canonical form: file columns are the contract's, in order, with a comma
	// delimiter and '"' quote, and more than one column.
	canonCopy bool
	// canonPlain says a simple row with exactly width-1 commas and no CR has no value
	// that needs quotes in canonical form (a comma delimiter and '"' quote).
	canonPlain bool
}

type contractColumn = contract.Column

func newPlan(c *contract.Contract, opt Options) (*plan, error) {
	p := &plan{c: c, opt: opt, ncols: len(c.Columns)}
	var err error
	if p.d, err = dialectOf(c.Dialect, opt.MaxFieldBytes); err != nil {
		return nil, err
	}
	for _, t := range c.Dialect.NullTokens {
		p.nullTokens = append(p.nullTokens, []byte(t))
		if t != "" {
			p.nullFirst[t[0]] = true
		}
	}
	for i := range c.Columns {
		col := &c.Columns[i]
		pc := column{c: col, idx: i, isText: col.Type == contract.Category || col.Type == contract.String}
		if len(col.Allowed) > 0 {
			pc.allowed = make(map[string]struct{}, len(col.Allowed))
			for _, a := range col.Allowed {
				pc.allowed[a] = struct{}{}
				pc.allowedL = append(pc.allowedL, []byte(a))
			}
		}
		if col.Pattern != "" {
			pc.pattern, pc.patErr = regexp.Compile(`^(?:` + col.Pattern + `)$`)
		}
		pc.prepare()
		p.cols = append(p.cols, pc)
	}
	for _, k := range c.UniqueKey {
		i := slices.IndexFunc(c.Columns, func(col contract.Column) bool { return col.Name == k })
		if i < 0 {
			return nil, fmt.Errorf("contract %q: unique key column %q is not a column", c.Dataset, k)
		}
		p.keyCols = append(p.keyCols, i)
	}
	p.rowVals = opt.Canonical != nil || len(p.keyCols) > 0
	p.batched = len(p.keyCols) == 0 && !opt.rowPath
	return p, nil
}

// mapped fills in what depends on the header's column map.
func (p *plan) mapped() {
	p.canonPlain = p.d.Delimiter == ',' && p.d.Quote == '"'
	p.canonCopy = p.canonPlain && p.ncols > 1 && p.width == p.ncols
	for i, ci := range p.colMap {
		if ci != i {
			p.canonCopy = false
		}
	}
}

func dialectOf(d contract.Dialect, maxField int) (table.Dialect, error) {
	td := table.Dialect{Delimiter: ',', Quote: '"', MaxFieldBytes: maxField}
	if d.Delimiter != "" {
		if len(d.Delimiter) != 1 {
			return td, fmt.Errorf("contract dialect: delimiter %q is not one byte", d.Delimiter)
		}
		td.Delimiter = d.Delimiter[0]
	}
	if d.Quote != "" {
		if len(d.Quote) != 1 {
			return td, fmt.Errorf("contract dialect: quote %q is not one byte", d.Quote)
		}
		td.Quote = d.Quote[0]
	}
	return td, td.Check()
}

// prepare fills in the fields the worker's inner loop reads.
func (pc *column) prepare() {
	col := pc.c
	pc.required = col.Required
	if col.Min != nil {
		pc.hasMin, pc.minv = true, *col.Min
	}
	if col.Max != nil {
		pc.hasMax, pc.maxv = true, *col.Max
	}
	switch col.Type {
	case contract.Integer:
		pc.kind = kInt
	case contract.Number:
		pc.kind = kNum
	case contract.Timestamp:
		pc.kind = kTime
		pc.layout = col.Format
		if pc.layout == "" {
			pc.layout = time.RFC3339Nano
		}
	case contract.Boolean:
		pc.kind = kBool
	default:
		pc.kind = kText
		if len(pc.allowedL) > 0 {
			if pc.cat = newCatIndex(pc.allowedL); pc.cat != nil {
				pc.kind = kCat
				for _, v := range pc.cat.vals {
					var f catFlags
					if IsFormula(v) {
						f |= catFormula
					}
					if pc.pattern != nil && !pc.pattern.Match(v) {
						f |= catPattern
					}
					pc.catFlags = append(pc.catFlags, f)
				}
			}
		}
	}
}

// catIndex finds a value among a category's allowed values with one multiplicative
// hash of its length and first 8 bytes into a collision-free table, and (for values
// of at most 8 bytes) one word comparison.
type catIndex struct {
	vals  [][]byte // distinct allowed values
	words []uint64 // their first 8 bytes, zero-padded
	mult  uint64
	shift uint
	slots []int16 // value index + 1, 0 for none
}

// prefixMask[n] keeps the first n bytes of a little-endian word.
var prefixMask = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

// prefixWord returns v's first 8 bytes, zero-padded.
func prefixWord(v []byte) uint64 {
	if cap(v) >= 8 {
		// Reading past len within cap is allowed; the mask drops those bytes.
		return binary.LittleEndian.Uint64(v[:8:8]) & prefixMask[min(len(v), 8)]
	}
	var b [8]byte
	copy(b[:], v)
	return binary.LittleEndian.Uint64(b[:])
}

func catKey(w uint64, n int) uint64 { return w ^ uint64(n)*0x9e3779b97f4a7c15 }

// newCatIndex returns nil when no collision-free table is found (many values, or
// values that share length and first 8 bytes); the caller then uses the map.
func newCatIndex(allowed [][]byte) *catIndex {
	var vals [][]byte
	var keys []uint64
	for _, a := range allowed {
		if slices.ContainsFunc(vals, func(v []byte) bool { return string(v) == string(a) }) {
			continue
		}
		k := catKey(prefixWord(a), len(a))
		if slices.Contains(keys, k) {
			return nil
		}
		keys = append(keys, k)
		vals = append(vals, a)
	}
	if len(vals) == 0 || len(vals) > 256 {
		return nil
	}
	words := make([]uint64, len(vals))
	for i, v := range vals {
		words[i] = prefixWord(v)
	}
	minBits := bits.Len(uint(len(vals)))
	rng := uint64(0x9e3779b97f4a7c15)
	for b := minBits + 1; b <= minBits+5; b++ {
		for range 200 {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			mult := rng | 1
			shift := uint(64 - b)
			slots := make([]int16, 1<<b)
			ok := true
			for i, k := range keys {
				s := (k * mult) >> shift
				if slots[s] != 0 {
					ok = false
					break
				}
				slots[s] = int16(i + 1)
			}
			if ok {
				return &catIndex{vals: vals, words: words, mult: mult, shift: shift, slots: slots}
			}
		}
	}
	return nil
}

// find returns the index of v among the values, or -1.
func (c *catIndex) find(v []byte) int {
	w := prefixWord(v)
	s := int(c.slots[(catKey(w, len(v))*c.mult)>>c.shift]) - 1
	if s < 0 || c.words[s] != w || len(c.vals[s]) != len(v) {
		return -1
	}
	if len(v) > 8 && string(c.vals[s][8:]) != string(v[8:]) {
		return -1
	}
	return s
}

func (p *plan) isNull(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	if !p.nullFirst[v[0]] {
		return false
	}
	for _, t := range p.nullTokens {
		// The first-byte test keeps ordinary values away from the comparison call.
		if len(t) == len(v) && t[0] == v[0] && string(v) == string(t) {
			return true
		}
	}
	return false
}

// countingReader counts bytes and enforces MaxBytes.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

var errTooLarge = errors.New("input over the size limit")

func (c *countingReader) Read(b []byte) (int, error) {
	if c.limit > 0 && c.n >= c.limit {
		// Probe one byte: exactly limit bytes is fine, one more is not.
		var one [1]byte
		k, err := c.r.Read(one[:])
		if k > 0 {
			c.over = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if c.limit > 0 && int64(len(b)) > c.limit-c.n {
		b = b[:c.limit-c.n]
	}
	k, err := c.r.Read(b)
	c.n += int64(k)
	return k, err
}

// Scan validates, profiles and canonicalises r under contract c. The error is only
// for I/O and context errors; problems with the data are Violations.
func Scan(ctx context.Context, r io.Reader, c *contract.Contract, opt Options) (*Result, error) {
	if c == nil {
		return nil, errors.New("validate: nil contract")
	}
	if opt.MaxExamples <= 0 {
		opt.MaxExamples = 5
	}
	if opt.MaxFieldBytes <= 0 {
		opt.MaxFieldBytes = table.DefaultMaxFieldBytes
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.chunkBytes <= 0 {
		opt.chunkBytes = table.DefaultChunkBytes
	}
	if opt.keyMemRows <= 0 {
		opt.keyMemRows = 1 << 19 // 16 MiB of key records before spilling
	}
	p, err := newPlan(c, opt)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: opt.Name}
	col := newCollector(p)

	raw := &countingReader{r: r}
	var in io.Reader = raw
	if comp := strings.ToLower(c.Dialect.Compression); comp != "none" {
		dr, gz, err := table.Decompress(raw)
		if err != nil {
			if raw.n == 0 {
				return nil, err
			}
			// A gzip header that does not parse: the file is damaged, not our I/O.
			col.fileViolation(rInvalidUTF8, fmt.Sprintf("%s: the file starts like gzip but does not decompress: %v", p.fileName(), err))
			res.Compressed = true
			return col.finish(res), nil
		}
		in, res.Compressed = dr, gz
	}
	counted := &countingReader{r: in, limit: opt.MaxBytes}
	err = run(ctx, p, counted, col)
	res.Bytes = counted.n
	if counted.over {
		col.fileViolation(rTooLarge, fmt.Sprintf("%s: the file is larger than the allowed %d bytes; reading stopped there", p.fileName(), opt.MaxBytes))
	} else if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if res.Compressed && !errors.Is(err, io.ErrUnexpectedEOF) {
			// A corrupt gzip stream is a property of the upload, not an I/O failure.
			col.fileViolation(rInvalidUTF8, fmt.Sprintf("%s: the gzip stream is corrupt: %v", p.fileName(), err))
		} else if errors.Is(err, io.ErrUnexpectedEOF) && res.Compressed {
			col.fileViolation(rUnterminatedQuote, fmt.Sprintf("%s: the gzip stream ends early (a truncated upload?)", p.fileName()))
		} else {
			return nil, err
		}
	}
	if counted.n == 0 && !counted.over && len(col.counts) > 0 && !col.fatal {
		col.fileViolation(rEmptyFile, fmt.Sprintf("%s: the file is empty (0 bytes); expected a CSV file with a header row", p.fileName()))
	}
	res = col.finish(res)
	if col.ioErr != nil {
		return nil, col.ioErr
	}
	return res, nil
}

func (p *plan) fileName() string {
	if p.opt.Name != "" {
		return p.opt.Name
	}
	return "input"
}

// job is one chunk travelling through the pipeline, with its results.
type job struct {
	seq   int
	buf   []byte
	ch    table.Chunk
	start int // where data rows start (after the header, in the first chunk)
	// Results.
	rows, lines int64
	examples    []example
	perKey      map[int32]int // examples per rule+column in this chunk
	out         []byte
	keys        []keyRec
	acc         []*profile.Accumulator // order-sensitive statistics (moments, quantiles)
	counts      []int64                // violations per rule+column
	fatal       bool
}

func run(ctx context.Context, p *plan, in io.Reader, col *collector) error {
	sp := table.NewSplitter(in, p.d, p.opt.chunkBytes)
	first, err := sp.Next(nil)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		if first.Data == nil {
			return err
		}
	}
	if sniffBinary(col, p, first.Data) {
		return nil
	}
	start, ok := col.header(first)
	if !ok {
		return nil
	}
	p.mapped()
	if w := p.opt.Canonical; w != nil {
		var h []byte
		for i, cc := range p.c.Columns {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendCell(h, []byte(cc.Name))
		}
		if _, err := w.Write(append(h, '\n')); err != nil {
			col.ioErr = fmt.Errorf("writing the canonical CSV: %w", err)
			return nil
		}
	}
	nw := max(p.opt.Workers, 1)
	depth := 2*nw + 2
	free := make(chan *job, depth)
	for i := range depth {
		j := &job{perKey: make(map[int32]int)}
		if i == 0 {
			j.buf = first.Data[:0:cap(first.Data)]
		}
		j.acc = make([]*profile.Accumulator, p.ncols)
		for ci, cc := range p.c.Columns {
			if cc.Type == contract.Integer || cc.Type == contract.Number || cc.Type == contract.Timestamp {
				j.acc[ci] = profile.NewAccumulator(cc.Name, cc.Type, cc.PII, 1)
			}
		}
		free <- j
	}
	work := make(chan *job, depth)
	done := make(chan *job, depth)
	workers := make([]*worker, nw)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = newWorker(p)
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for j := range work {
				w.process(j)
				done <- j
			}
		}(workers[i])
	}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		col.collect(done, free)
	}()

	// Split on this goroutine.
	var readErr error
	seq := 0
	j := <-free
	j.seq, j.ch, j.start, j.buf = 0, first, start, first.Data
	work <- j
	for readErr == nil && !col.stopped() {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		var j *job
		select {
		case j = <-free:
		case <-ctx.Done():
			readErr = ctx.Err()
		}
		if j == nil {
			break
		}
		ch, err := sp.Next(j.buf)
		if err != nil {
			free <- j
			if err != io.EOF {
				readErr = err
			}
			break
		}
		seq++
		j.seq, j.ch, j.start, j.buf = seq, ch, 0, ch.Data
		work <- j
	}
	close(work)
	wg.Wait()
	close(done)
	<-collected
	for _, w := range workers {
		col.mergeWorker(w)
	}
	return readErr
}

// sniffBinary reports input that is plainly not text (an image, an archive, a
// spreadsheet) with one clear message instead of a list of garbled rows.
func sniffBinary(col *collector, p *plan, b []byte) bool {
	head := b[:min(len(b), 8<<10)]
	kinds := []struct{ magic, name string }{
		{"\x89PNG\r\n\x1a\n", "a PNG image"}, {"\xff\xd8\xff", "a JPEG image"}, {"GIF8", "a GIF image"},
		{"%PDF", "a PDF document"}, {"PK\x03\x04", "a ZIP archive (an .xlsx spreadsheet is one)"},
		{"\xd0\xcf\x11\xe0", "an old Office document (.xls)"}, {"\x28\xb5\x2f\xfd", "zstd-compressed data"},
		{"BZh", "bzip2-compressed data"}, {"\xfd7zXZ", "xz-compressed data"}, {"PAR1", "a Parquet file"},
	}
	for _, k := range kinds {
		if strings.HasPrefix(string(head), k.magic) {
			col.fileViolation(rInvalidUTF8, fmt.Sprintf("%s is not a CSV file: it starts like %s; expected UTF-8 text", p.fileName(), k.name))
			return true
		}
	}
	if i := slices.Index(head, 0); i >= 0 {
		col.fileViolation(rInvalidUTF8, fmt.Sprintf("%s is not a CSV file: it holds a NUL byte at offset %d (binary data); expected UTF-8 text", p.fileName(), i))
		return true
	}
	return false
}

// exampleValue renders a value for a report: masked for PII, at most 80 runes,
// control characters escaped so a report cannot be forged or garbled.
func exampleValue(v []byte, pii bool) string {
	if pii {
		return "***"
	}
	var b strings.Builder
	n := 0
	for len(v) > 0 {
		r, size := utf8.DecodeRune(v)
		first := v[0]
		v = v[size:]
		if n == 80 {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, first)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			s := fmt.Sprintf("%q", string(r))
			b.WriteString(s[1 : len(s)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Package profile computes per-column profiles of a dataset with mergeable sketches:
// the datasheet's numbers and the drift baseline.
//
// Every statistic is mergeable (moments by Chan et al.'s formula, quantiles by a KLL
// sketch, distinct counts by HyperLogLog, top values exactly up to 10,000 distinct
// and by a bounded summary past that), so workers profile parts of a file in parallel
// and append-mode datasets merge their partitions' profiles without rereading data.
// A profile's JSON carries the sketch states, so Merge works on stored profiles.
//
// PII columns keep only counts and a distinct estimate: no value, no extreme, no
// sketch that holds values ever enters their profile.
package profile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/contract"
)

// TopExactLimit is how many distinct values are counted exactly.
const TopExactLimit = 10000

// TopN is how many top values a profile lists.
const TopN = 20

// Freq counts values exactly up to a limit of distinct values; past it, it turns into
// a bounded summary (space-saving with batch pruning: at twice the limit the least
// frequent half is dropped, and later newcomers start from the largest count dropped,
// so counts are upper bounds and Err bounds the overcount).
type Freq struct {
	exact  bool
	limit  int
	idx    map[string]int32
	keys   []string
	counts []int64
	errs   []int64
	floor  int64
}

// NewFreq returns an empty, exact counter.
func NewFreq(limit int) *Freq {
	if limit <= 0 {
		limit = TopExactLimit
	}
	return &Freq{exact: true, limit: limit, idx: make(map[string]int32)}
}

// Add counts one occurrence of v. Looking up string(v) does not allocate, so only a
// new distinct value costs an allocation.
func (f *Freq) Add(v []byte) { f.AddN(v, 1) }

func (f *Freq) insert(k string, c, e int64) {
	if !f.exact {
		c += f.floor
		e += f.floor
	}
	f.idx[k] = int32(len(f.keys))
	f.keys = append(f.keys, k)
	f.counts = append(f.counts, c)
	f.errs = append(f.errs, e)
	if f.exact && len(f.keys) > f.limit {
		f.exact = false
	}
	if !f.exact && len(f.keys) >= 2*f.limit {
		f.prune(f.limit)
	}
}

func (f *Freq) order() []int {
	o := make([]int, len(f.keys))
	for i := range o {
		o[i] = i
	}
	// Ties break by value so output does not depend on insertion order.
	slices.SortFunc(o, func(a, b int) int {
		if c := cmp.Compare(f.counts[b], f.counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(f.keys[a], f.keys[b])
	})
	return o
}

func (f *Freq) prune(keep int) {
	o := f.order()
	if len(o) <= keep {
		return
	}
	for _, i := range o[keep:] {
		f.floor = max(f.floor, f.counts[i])
	}
	keys, counts, errs := make([]string, 0, 2*f.limit), make([]int64, 0, 2*f.limit), make([]int64, 0, 2*f.limit)
	idx := make(map[string]int32, 2*f.limit)
	for _, i := range o[:keep] {
		idx[f.keys[i]] = int32(len(keys))
		keys = append(keys, f.keys[i])
		counts = append(counts, f.counts[i])
		errs = append(errs, f.errs[i])
	}
	f.keys, f.counts, f.errs, f.idx = keys, counts, errs, idx
}

// Merge folds o into f.
func (f *Freq) Merge(o *Freq) {
	if o == nil {
		return
	}
	if !o.exact && f.exact {
		f.exact = false
	}
	if !f.exact {
		// A value missing from one side may have been counted up to that side's floor.
		for i, k := range f.keys {
			if _, ok := o.idx[k]; !ok {
				f.counts[i] += o.floor
				f.errs[i] += o.floor
			}
		}
	}
	for j, k := range o.keys {
		if i, ok := f.idx[k]; ok {
			f.counts[i] += o.counts[j]
			f.errs[i] += o.errs[j]
			continue
		}
		f.insert(k, o.counts[j], o.errs[j])
	}
	if !f.exact {
		f.floor += o.floor
		f.prune(f.limit)
	}
}

// Exact says whether the counts are exact.
func (f *Freq) Exact() bool { return f.exact }

// Len is the number of values tracked.
func (f *Freq) Len() int { return len(f.keys) }

// Top returns the n most frequent values.
func (f *Freq) Top(n int) []ValueCount {
	o := f.order()
	if len(o) > n {
		o = o[:n]
	}
	out := make([]ValueCount, len(o))
	for j, i := range o {
		out[j] = ValueCount{Value: f.keys[i], Count: f.counts[i]}
	}
	return out
}

// ValueCount is a value and how often it occurs.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// kind groups column types by the statistics they get.
type kind int

const (
	numericKind kind = iota
	textKind
)

func kindOf(t contract.Type) kind {
	switch t {
	case contract.Integer, contract.Number, contract.Timestamp:
		return numericKind
	}
	return textKind
}

// Accumulator gathers one column's statistics. It is not safe for concurrent use;
// each worker keeps its own and they are merged.
type Accumulator struct {
	Name string
	Type contract.Type
	PII  bool

	count, nulls, invalid int64
	mom                   Moments
	sums                  ShiftedSums
	kll                   *KLL
	hll                   *HLL
	freq                  *Freq
	minLen, maxLen        int
	seed                  uint64
	hllSynced             bool // the tracked values' hashes are in hll
}

// syncHLL adds the tracked values to the distinct sketch (idempotent: HLL ignores
// repeats).
func (a *Accumulator) syncHLL() {
	if a.freq == nil {
		return
	}
	for _, k := range a.freq.keys {
		a.hll.Add(Hash64([]byte(k), 0))
	}
	if !a.freq.exact {
		a.hllSynced = true
	}
}

// NewAccumulator returns an empty accumulator for a column. seed seeds the quantile
// sketch's coin flips.
func NewAccumulator(name string, t contract.Type, pii bool, seed uint64) *Accumulator {
	a := &Accumulator{Name: name, Type: t, PII: pii, hll: NewHLL(), minLen: -1, seed: seed}
	if !pii {
		if kindOf(t) == numericKind {
			a.kll = NewKLL(KLLK, seed)
		} else {
			a.freq = NewFreq(TopExactLimit)
		}
	}
	return a
}

// Null records a missing value.
func (a *Accumulator) Null() { a.count++; a.nulls++ }

// Invalid records a value that failed its type check: counted, not profiled.
func (a *Accumulator) Invalid() { a.count++; a.invalid++ }

// Number records a numeric value (timestamps as Unix seconds), with its distinct-count
// hash. Callers that keep moments and quantiles apart from distinct counts (to merge
// them in a fixed order) use NumberStats and Distinct instead.
func (a *Accumulator) Number(v float64) {
	a.count++
	a.hll.Add(HashFloat(v))
	if !a.PII && a.kll != nil {
		a.sums.Add(v)
		a.kll.Add(v)
	}
}

// NumberStats records v's moments and quantile without counting it or its distinct
// hash (see Number).
func (a *Accumulator) NumberStats(v float64) {
	if !a.PII && a.kll != nil {
		a.sums.Add(v)
		a.kll.Add(v)
	}
}

// SetSampling lets the quantile sketch sample blocks of 2^shift values (see
// KLL.SetSampling): for parts of a stream already known to be large.
func (a *Accumulator) SetSampling(shift int) {
	if a.kll != nil {
		a.kll.SetSampling(shift)
	}
}

// Distinct records a value's hash in the distinct-count sketch.
func (a *Accumulator) Distinct(h uint64) { a.hll.Add(h) }

// Text records a category, string or (normalised) boolean value.
func (a *Accumulator) Text(v []byte) { a.TextN(v, 1) }

// Reset empties a, keeping its storage; seed reseeds the quantile sketch.
func (a *Accumulator) Reset(seed uint64) {
	a.count, a.nulls, a.invalid = 0, 0, 0
	a.mom, a.sums = Moments{}, ShiftedSums{}
	if a.kll != nil {
		a.kll.Reset(seed)
	}
	clear(a.hll.reg)
	if a.freq != nil {
		a.freq = NewFreq(TopExactLimit)
	}
	a.minLen, a.maxLen = -1, 0
	a.hllSynced = false
}

func (a *Accumulator) moments() Moments {
	m := a.mom
	m.Merge(a.sums.Moments())
	return m
}

// Merge folds o (same column) into a.
func (a *Accumulator) Merge(o *Accumulator) error {
	if a.Name != o.Name || a.Type != o.Type || a.PII != o.PII {
		return fmt.Errorf("profile: cannot merge column %q (%s) with %q (%s)", a.Name, a.Type, o.Name, o.Type)
	}
	a.count += o.count
	a.nulls += o.nulls
	a.invalid += o.invalid
	a.syncHLL()
	o.syncHLL()
	a.hll.Merge(o.hll)
	if a.PII {
		return nil
	}
	m := a.moments()
	m.Merge(o.moments())
	a.mom, a.sums = m, ShiftedSums{}
	if a.kll != nil && o.kll != nil {
		a.kll.Merge(o.kll)
	}
	if a.freq != nil && o.freq != nil {
		a.freq.Merge(o.freq)
	}
	if o.minLen >= 0 && (a.minLen < 0 || o.minLen < a.minLen) {
		a.minLen = o.minLen
	}
	a.maxLen = max(a.maxLen, o.maxLen)
	return nil
}

// quantileNames name the quantiles every numeric profile reports.
func quantileNames() []string { return []string{"p1", "p5", "p25", "p50", "p75", "p95", "p99"} }

func quantileLevels() []float64 { return []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} }

func decileLevels() []float64 { return []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} }

// Column is one column's profile.
type Column struct {
	Name     string        `json:"name"`
	Type     contract.Type `json:"type"`
	PII      bool          `json:"pii,omitempty"`
	Count    int64         `json:"count"`   // rows seen
	Nulls    int64         `json:"nulls"`   // missing values
	Invalid  int64         `json:"invalid"` // values that failed the type check
	Distinct float64       `json:"distinct"`

	// Numeric and timestamp columns (timestamps as Unix seconds).
	Min       *float64           `json:"min,omitempty"`
	Max       *float64           `json:"max,omitempty"`
	Mean      *float64           `json:"mean,omitempty"`
	Std       *float64           `json:"std,omitempty"`
	Quantiles map[string]float64 `json:"quantiles,omitempty"`
	Deciles   []float64          `json:"deciles,omitempty"`
	Histogram *Histogram         `json:"histogram,omitempty"`

	// Category, string and boolean columns.
	Top       []ValueCount `json:"top,omitempty"`
	TopExact  *bool        `json:"topExact,omitempty"`
	MinLength *int         `json:"minLength,omitempty"`
	MaxLength *int         `json:"maxLength,omitempty"`

	// State holds the sketches, so that stored profiles merge.
	State State `json:"state"`
}

// State is the mergeable part of a column profile. []byte fields encode as base64.
type State struct {
	HLL     []byte   `json:"hll"`
	KLL     []byte   `json:"kll,omitempty"`
	Moments *Moments `json:"moments,omitempty"`
	// Freq lists every tracked value with its count (and overcount bound when the
	// summary is not exact), so merged top values stay exact while both sides are.
	Freq      []FreqEntry `json:"freq,omitempty"`
	FreqExact bool        `json:"freqExact,omitempty"`
	FreqFloor int64       `json:"freqFloor,omitempty"`
	MinLen    int         `json:"minLen,omitempty"`
	MaxLen    int         `json:"maxLen,omitempty"`
}

// FreqEntry is one tracked value.
type FreqEntry struct {
	Value string `json:"v"`
	Count int64  `json:"c"`
	Err   int64  `json:"e,omitempty"`
}

// Histogram counts values in bins whose edges are a baseline's quantiles: bin i holds
// values in (Edges[i-1], Edges[i]], with −∞ and +∞ beyond the ends, so there are
// len(Edges)+1 bins.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int64   `json:"counts"`
	// Estimated says the counts come from the quantile sketch rather than a count.
	Estimated bool `json:"estimated"`
}

// Bin returns the histogram bin of v for the given edges (see Histogram), or −1 for
// NaN, which belongs to no bin.
func Bin(edges []float64, v float64) int {
	if v != v {
		return -1
	}
	return sort.SearchFloat64s(edges, v) // first edge ≥ v
}

// Binner bins values on fixed edges, so drift can count new data on a baseline's
// bins exactly.
type Binner struct {
	Edges  []float64
	Counts []int64
}

// NewBinner returns a Binner with len(edges)+1 empty bins.
func NewBinner(edges []float64) *Binner {
	return &Binner{Edges: slices.Clone(edges), Counts: make([]int64, len(edges)+1)}
}

// Add counts v (NaN is ignored).
func (b *Binner) Add(v float64) {
	if i := Bin(b.Edges, v); i >= 0 {
		b.Counts[i]++
	}
}

// Column builds the profile.
func (a *Accumulator) Column() Column {
	a.syncHLL()
	c := Column{Name: a.Name, Type: a.Type, PII: a.PII, Count: a.count, Nulls: a.nulls, Invalid: a.invalid,
		Distinct: math.Round(a.hll.Estimate())}
	c.State.HLL, _ = a.hll.MarshalBinary()
	if a.PII {
		return c
	}
	if a.kll != nil {
		m := a.moments()
		c.State.Moments = &m
		c.State.KLL, _ = a.kll.MarshalBinary()
		if m.N > 0 {
			mean, std, lo, hi := m.Mean, m.Std(), m.Min, m.Max
			c.Min, c.Max, c.Mean, c.Std = &lo, &hi, &mean, &std
			qs := a.kll.Quantiles(quantileLevels())
			c.Quantiles = make(map[string]float64, len(qs))
			names := quantileNames()
			for i, q := range qs {
				c.Quantiles[names[i]] = q
			}
			c.Deciles = a.kll.Quantiles(decileLevels())
			c.Histogram = a.HistogramOn(c.Deciles)
		}
		// The sketch can overshoot on tiny columns; there cannot be more distinct
		// values than values.
		c.Distinct = min(c.Distinct, float64(m.N))
	}
	if a.freq != nil {
		exact := a.freq.Exact()
		c.TopExact = &exact
		c.Top = a.freq.Top(TopN)
		if exact {
			// Exact counts know the distinct count exactly.
			c.Distinct = float64(a.freq.Len())
		}
		o := a.freq.order()
		c.State.Freq = make([]FreqEntry, len(o))
		for j, i := range o {
			c.State.Freq[j] = FreqEntry{a.freq.keys[i], a.freq.counts[i], a.freq.errs[i]}
		}
		c.State.FreqExact, c.State.FreqFloor = exact, a.freq.floor
		if a.minLen >= 0 {
			lo, hi := a.minLen, a.maxLen
			c.MinLength, c.MaxLength = &lo, &hi
			c.State.MinLen, c.State.MaxLen = lo, hi
		}
	}
	return c
}

// HistogramOn estimates, from the quantile sketch, how many of the column's values
// fall in each bin of edges (see Histogram). It returns nil for columns without a
// sketch (PII, text).
func (a *Accumulator) HistogramOn(edges []float64) *Histogram {
	if a.kll == nil || a.PII {
		return nil
	}
	n := a.kll.N()
	cdf := a.kll.CDF(edges)
	h := &Histogram{Edges: slices.Clone(edges), Counts: make([]int64, len(edges)+1), Estimated: true}
	prev := int64(0)
	for i, f := range cdf {
		at := int64(math.Round(f * float64(n)))
		h.Counts[i] = max(at-prev, 0)
		prev = max(at, prev)
	}
	h.Counts[len(edges)] = max(n-prev, 0)
	return h
}

// accumulatorOf rebuilds an accumulator from a stored column profile.
func accumulatorOf(c *Column) (*Accumulator, error) {
	a := NewAccumulator(c.Name, c.Type, c.PII, 1)
	a.count, a.nulls, a.invalid = c.Count, c.Nulls, c.Invalid
	if err := a.hll.UnmarshalBinary(c.State.HLL); err != nil {
		return nil, fmt.Errorf("column %q: %w", c.Name, err)
	}
	if c.PII {
		return a, nil
	}
	if a.kll != nil {
		if c.State.Moments != nil {
			a.mom = *c.State.Moments
		}
		if len(c.State.KLL) > 0 {
			if err := a.kll.UnmarshalBinary(c.State.KLL); err != nil {
				return nil, fmt.Errorf("column %q: %w", c.Name, err)
			}
		}
	}
	if a.freq != nil {
		f := a.freq
		for _, e := range c.State.Freq {
			if _, dup := f.idx[e.Value]; dup {
				return nil, fmt.Errorf("column %q: value listed twice in the frequency state", c.Name)
			}
			f.idx[e.Value] = int32(len(f.keys))
			f.keys = append(f.keys, e.Value)
			f.counts = append(f.counts, e.Count)
			f.errs = append(f.errs, e.Err)
		}
		f.exact, f.floor = c.State.FreqExact, c.State.FreqFloor
		if len(c.State.Freq) > 0 || c.State.MaxLen > 0 {
			a.minLen, a.maxLen = c.State.MinLen, c.State.MaxLen
		}
	}
	return a, nil
}

// Dataset is a dataset's profile.
type Dataset struct {
	Rows    int64    `json:"rows"`
	Columns []Column `json:"columns"`
}

// NewDataset builds a profile from accumulators.
func NewDataset(rows int64, acc []*Accumulator) *Dataset {
	d := &Dataset{Rows: rows, Columns: make([]Column, len(acc))}
	for i, a := range acc {
		d.Columns[i] = a.Column()
	}
	return d
}

// Merge combines two profiles of the same columns (append-mode partitions).
func Merge(a, b *Dataset) (*Dataset, error) {
	if a == nil || b == nil {
		return nil, fmt.Errorf("profile: merge of a nil profile")
	}
	if len(a.Columns) != len(b.Columns) {
		return nil, fmt.Errorf("profile: cannot merge profiles with %d and %d columns", len(a.Columns), len(b.Columns))
	}
	acc := make([]*Accumulator, len(a.Columns))
	for i := range a.Columns {
		x, err := accumulatorOf(&a.Columns[i])
		if err != nil {
			return nil, err
		}
		y, err := accumulatorOf(&b.Columns[i])
		if err != nil {
			return nil, err
		}
		if err := x.Merge(y); err != nil {
			return nil, err
		}
		acc[i] = x
	}
	return NewDataset(a.Rows+b.Rows, acc), nil
}

// Column returns the named column's profile, or nil.
func (d *Dataset) Column(name string) *Column {
	for i := range d.Columns {
		if d.Columns[i].Name == name {
			return &d.Columns[i]
		}
	}
	return nil
}

// JSON encodes the profile (indented, stable).
func (d *Dataset) JSON() ([]byte, error) { return json.MarshalIndent(d, "", "  ") }

// AddN counts n occurrences of v at once (n ≥ 1); the same as n calls to Add while
// the counts are exact.
func (f *Freq) AddN(v []byte, n int64) {
	if len(f.keys) <= 8 {
		for i, k := range f.keys {
			if k == string(v) {
				f.counts[i] += n
				return
			}
		}
	} else if i, ok := f.idx[string(v)]; ok {
		f.counts[i] += n
		return
	}
	f.insert(string(v), n, 0)
}

// NullN records n missing values.
func (a *Accumulator) NullN(n int64) { a.count += n; a.nulls += n }

// InvalidN records n values that failed their type check.
func (a *Accumulator) InvalidN(n int64) { a.count += n; a.invalid += n }

// CountValues counts n present, valid values whose statistics go elsewhere.
func (a *Accumulator) CountValues(n int64) { a.count += n }

// NumberStatsBatch is NumberStats for each of vs in order, with the same result.
func (a *Accumulator) NumberStatsBatch(vs []float64) {
	if !a.PII && a.kll != nil {
		a.sums.AddBatch(vs)
		a.kll.AddBatch(vs)
	}
}

// TextN records n occurrences of the text value v (n ≥ 1): the same statistics as n
// calls to Text while the top values are counted exactly.
func (a *Accumulator) TextN(v []byte, n int64) {
	if n <= 0 {
		return
	}
	a.count += n
	if a.PII || a.freq == nil {
		a.hll.Add(Hash64(v, 0))
		return
	}
	if !a.freq.exact {
		a.hll.Add(Hash64(v, 0))
	}
	a.freq.AddN(v, n)
	if !a.freq.exact && !a.hllSynced {
		a.syncHLL()
	}
	l := len(v)
	for _, c := range v {
		if c >= utf8.RuneSelf {
			l = utf8.RuneCount(v)
			break
		}
	}
	if a.minLen < 0 || l < a.minLen {
		a.minLen = l
	}
	if l > a.maxLen {
		a.maxLen = l
	}
}

package driftstat

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/profile"
)

// ErrPII says a feature is personal data: its profile holds no values, so it
// has no baseline and is never compared.
var ErrPII = errors.New("PII column: not compared")

// ErrText says a string feature is free text (most values distinct, or more
// distinct values than the profile counts exactly): a window would be mostly
// unseen values, so it is not compared.
var ErrText = errors.New("free-text column: not compared")

// ExactLimit is how many values a window keeps exactly before it turns them
// into a quantile sketch: up to it, KS and Wasserstein see every value.
const ExactLimit = 10000

type kind int

const (
	numericKind kind = iota
	categoryKind
)

func kindOf(t contract.Type) (kind, bool) {
	switch t {
	case contract.Integer, contract.Number, contract.Timestamp:
		return numericKind, true
	case contract.Category, contract.Boolean, contract.String:
		return categoryKind, true
	}
	return 0, false
}

// Reference is one feature's training baseline, read from its profile and
// its contract column.
type Reference struct {
	name  string
	typ   contract.Type
	kind  kind
	rows  int64 // rows profiled, nulls included
	nulls int64

	// Numeric features.
	sketch    Sketch
	n         int64 // values in the sketch
	mean, std float64
	edges     []float64 // the baseline's deciles, without repeats
	counts    []int64   // per bin (see profile.Histogram)
	lo, hi    *float64  // the contract's bounds

	// Categorical features.
	cats      []string // training values, sorted
	catIdx    map[string]int
	catCounts []int64
	allowed   map[string]bool // nil: any value
}

// Name is the feature's name.
func (r *Reference) Name() string { return r.name }

// Type is the feature's contract type.
func (r *Reference) Type() contract.Type { return r.typ }

// NewReference reads a feature's baseline from its training profile column
// and its contract column. Numeric (integer, number, timestamp as Unix
// seconds): the KLL sketch, moments, and the deciles as bin edges with the
// profile's histogram counts (PSI and JS are computed on these quantile
// bins). Category, boolean and string: the exact value counts. PII columns
// give ErrPII, free text ErrText (test with errors.Is); a profile whose name
// or type differs from the contract's is an error naming both.
func NewReference(col profile.Column, cc contract.Column) (*Reference, error) {
	if col.Name != cc.Name {
		return nil, fmt.Errorf("baseline column %q does not match contract column %q", col.Name, cc.Name)
	}
	if col.PII || cc.PII {
		return nil, fmt.Errorf("feature %q: %w", cc.Name, ErrPII)
	}
	if col.Type != cc.Type {
		return nil, fmt.Errorf("feature %q: the baseline profiled it as %s, the contract says %s", cc.Name, col.Type, cc.Type)
	}
	k, ok := kindOf(cc.Type)
	if !ok {
		return nil, fmt.Errorf("feature %q: type %q has no drift statistics", cc.Name, cc.Type)
	}
	if col.Count < 0 || col.Nulls < 0 || col.Nulls > col.Count {
		return nil, fmt.Errorf("feature %q: baseline counts %d nulls of %d rows", cc.Name, col.Nulls, col.Count)
	}
	r := &Reference{name: cc.Name, typ: cc.Type, kind: k, rows: col.Count, nulls: col.Nulls}
	if k == numericKind {
		return r, r.readNumeric(col, cc)
	}
	return r, r.readCategories(col, cc)
}

func (r *Reference) readNumeric(col profile.Column, cc contract.Column) error {
	r.lo, r.hi = cc.Min, cc.Max
	kll := profile.NewKLL(profile.KLLK, 1)
	if len(col.State.KLL) > 0 {
		if err := kll.UnmarshalBinary(col.State.KLL); err != nil {
			return fmt.Errorf("feature %q: baseline sketch: %w", r.name, err)
		}
	}
	r.sketch = NewSketch(kll)
	r.n = r.sketch.N()
	if m := col.State.Moments; m != nil {
		r.mean, r.std = m.Mean, m.Std()
	}
	if r.n == 0 {
		return nil
	}
	// Repeated deciles (a column with many equal values) bound empty bins;
	// dropping the repeats leaves the same partition of the line.
	var edges []float64
	for _, e := range col.Deciles {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			continue
		}
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	r.edges = edges
	r.counts = make([]int64, len(edges)+1)
	if h := col.Histogram; h != nil && len(h.Counts) == len(h.Edges)+1 && slices.Equal(h.Edges, col.Deciles) {
		for i, c := range h.Counts {
			// Bin i is (Edges[i-1], Edges[i]]: its values fall in the
			// deduplicated bin of its upper edge.
			j := len(edges)
			if i < len(h.Edges) {
				j = profile.Bin(edges, h.Edges[i])
			}
			if j >= 0 {
				r.counts[j] += max(c, 0)
			}
		}
		return nil
	}
	// No usable histogram: estimate the bins from the sketch, as the profile does.
	prev := int64(0)
	for i, e := range edges {
		at := int64(math.Round(r.sketch.CDF(e) * float64(r.n)))
		r.counts[i] = max(at-prev, 0)
		prev = max(at, prev)
	}
	r.counts[len(edges)] = max(r.n-prev, 0)
	return nil
}

func (r *Reference) readCategories(col profile.Column, cc contract.Column) error {
	if len(cc.Allowed) > 0 {
		r.allowed = make(map[string]bool, len(cc.Allowed))
		for _, a := range cc.Allowed {
			r.allowed[a] = true
		}
	}
	values := col.Count - col.Nulls - col.Invalid
	if cc.Type == contract.String && len(col.State.Freq) > 0 &&
		(!col.State.FreqExact || (len(col.State.Freq) > 50 && int64(2*len(col.State.Freq)) > values)) {
		return fmt.Errorf("feature %q: %d distinct values in %d: %w", r.name, len(col.State.Freq), values, ErrText)
	}
	entries := slices.Clone(col.State.Freq)
	slices.SortFunc(entries, func(a, b profile.FreqEntry) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
	r.catIdx = make(map[string]int, len(entries))
	for _, e := range entries {
		if _, dup := r.catIdx[e.Value]; dup {
			return fmt.Errorf("feature %q: baseline lists value %q twice", r.name, e.Value)
		}
		r.catIdx[e.Value] = len(r.cats)
		r.cats = append(r.cats, e.Value)
		r.catCounts = append(r.catCounts, max(e.Count, 0))
	}
	return nil
}

// NewCurrent starts an empty window for the feature.
func (r *Reference) NewCurrent() *Current {
	c := &Current{ref: r}
	if r.kind == numericKind {
		// Seeded by the name: a re-run over the same values gives the same sketch.
		c.num.seed = profile.Hash64([]byte(r.name), 0)
		c.num.bins = make([]int64, len(r.edges)+1)
	} else {
		c.cats = make([]int64, len(r.cats)+1) // the last counts unseen values
	}
	return c
}

// numeric accumulates a window's numeric values in memory that does not
// grow past ExactLimit values: exact values until then, a KLL sketch after,
// counts on fixed bins, moments.
type numeric struct {
	exact []float64
	kll   *profile.KLL
	mom   profile.Moments
	sums  profile.ShiftedSums
	bins  []int64
	seed  uint64
}

func (a *numeric) add(v float64) {
	a.sums.Add(v)
	if a.kll != nil {
		a.kll.Add(v)
		return
	}
	a.exact = append(a.exact, v)
	if len(a.exact) > ExactLimit {
		a.toSketch()
	}
}

func (a *numeric) toSketch() {
	if a.kll != nil {
		return
	}
	a.kll = profile.NewKLL(profile.KLLK, a.seed|1)
	for _, v := range a.exact {
		a.kll.Add(v)
	}
	a.exact = nil
}

func (a *numeric) moments() profile.Moments {
	m := a.mom
	m.Merge(a.sums.Moments())
	return m
}

func (a *numeric) merge(o *numeric) {
	m := a.moments()
	m.Merge(o.moments())
	a.mom, a.sums = m, profile.ShiftedSums{}
	for i := range a.bins {
		a.bins[i] += o.bins[i]
	}
	if a.kll == nil && o.kll == nil && len(a.exact)+len(o.exact) <= ExactLimit {
		a.exact = append(a.exact, o.exact...)
		return
	}
	a.toSketch()
	if o.kll != nil {
		a.kll.Merge(o.kll)
		return
	}
	for _, v := range o.exact {
		a.kll.Add(v)
	}
}

func (a *numeric) distribution() Distribution {
	if a.kll != nil {
		return NewSketch(a.kll)
	}
	return NewSample(a.exact)
}

// Current is one feature's window of recent values. It is not safe for
// concurrent use: workers keep one each and Merge them.
type Current struct {
	ref        *Reference
	rows       int64
	nulls      int64
	outOfRange int64 // numeric: outside the contract's bounds or infinite; categorical: unseen
	unseen     int64
	num        numeric
	cats       []int64
}

// Number records a numeric value (integers as they are, timestamps as Unix
// seconds, as profile does). NaN counts as missing; ±Inf as out of range and
// outside the distribution. On a categorical feature v counts as the value
// strconv.FormatFloat(v, 'g', -1, 64).
func (c *Current) Number(v float64) {
	if c.ref.kind != numericKind {
		if v != v {
			c.Null()
			return
		}
		c.Category(strconv.FormatFloat(v, 'g', -1, 64))
		return
	}
	c.rows++
	if v != v {
		c.nulls++
		return
	}
	if math.IsInf(v, 0) {
		c.outOfRange++
		return
	}
	r := c.ref
	if (r.lo != nil && v < *r.lo) || (r.hi != nil && v > *r.hi) {
		c.outOfRange++
	}
	c.num.bins[profile.Bin(r.edges, v)]++
	c.num.add(v)
}

// Category records a categorical, boolean or string value, spelled as the
// profile spells it (booleans normalised to "true" and "false"). A value the
// contract does not allow or the training data never held counts as unseen.
// On a numeric feature the value is parsed as a number; one that does not
// parse counts as out of range.
func (c *Current) Category(v string) {
	if c.ref.kind == numericKind {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			c.rows++
			c.outOfRange++
			return
		}
		c.Number(f)
		return
	}
	c.rows++
	i, seen := c.ref.catIdx[v]
	if !seen || (c.ref.allowed != nil && !c.ref.allowed[v]) {
		c.unseen++
		c.outOfRange++
		c.cats[len(c.cats)-1]++
		return
	}
	c.cats[i]++
}

// Null records a missing value.
func (c *Current) Null() {
	c.rows++
	c.nulls++
}

// Rows is the number of values recorded, missing ones included.
func (c *Current) Rows() int64 { return c.rows }

// Merge folds o, a window of the same feature's baseline, into c (days into
// a range).
func (c *Current) Merge(o *Current) error {
	if o == nil {
		return nil
	}
	if c.ref != o.ref && !c.ref.sameBins(o.ref) {
		return fmt.Errorf("cannot merge a window of %q (%s) into one of %q (%s): different baselines", o.ref.name, o.ref.typ, c.ref.name, c.ref.typ)
	}
	c.rows += o.rows
	c.nulls += o.nulls
	c.outOfRange += o.outOfRange
	c.unseen += o.unseen
	if c.ref.kind == numericKind {
		c.num.merge(&o.num)
		return nil
	}
	for i := range c.cats {
		c.cats[i] += o.cats[i]
	}
	return nil
}

func (r *Reference) sameBins(o *Reference) bool {
	return r.name == o.name && r.typ == o.typ && slices.Equal(r.edges, o.edges) && slices.Equal(r.cats, o.cats) &&
		ptrEq(r.lo, o.lo) && ptrEq(r.hi, o.hi)
}

func ptrEq(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// finite returns a pointer to v, or nil where v is NaN or infinite (JSON has
// neither: the statistic does not apply).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func rate(k, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// Compare computes every statistic that applies to the feature's type,
// whichever will decide: for numeric features KS, Wasserstein (normed by the
// baseline's standard deviation), PSI and JS on the baseline's decile bins;
// for categorical ones chi-square, PSI and JS on the training values plus
// one bin for unseen values; for all, the null-rate change and the
// out-of-range rate. Drifted, Test, PValueCorrected and Reason are left for
// Decide.
func Compare(ref *Reference, cur *Current) Feature {
	f := Feature{Feature: ref.name, Type: string(ref.typ), RefRows: ref.rows, Rows: cur.rows,
		RefValues: ref.rows - ref.nulls, Values: cur.rows - cur.nulls, Unseen: cur.unseen,
		RefNullRate: rate(ref.nulls, ref.rows), NullRate: rate(cur.nulls, cur.rows)}
	if ref.kind == numericKind {
		// Infinite values are out of range and outside the distribution.
		f.RefValues = ref.n
		f.Values = cur.num.moments().N
	}
	if cur.rows > 0 && ref.rows > 0 {
		f.NullRateChange = f.NullRate - f.RefNullRate
	}
	f.OutOfRangeRate = rate(cur.outOfRange, cur.rows-cur.nulls)
	if ref.kind == numericKind {
		f.EffectSizeName = EffectWasserstein
		if ref.n == 0 || f.Values == 0 {
			return f
		}
		d := cur.num.distribution()
		ks := KS(ref.sketch, d)
		if finite(ks.Statistic) != nil && finite(ks.PValue) != nil {
			f.KS = &ks
		}
		w := finite(WassersteinNormed(ref.sketch, d, ref.std, ref.mean))
		f.Wasserstein, f.EffectSize = w, w
		f.PSI = finite(PSI(ref.counts, cur.num.bins))
		f.JS = finite(JSDistance(ref.counts, cur.num.bins))
		return f
	}
	f.EffectSizeName = EffectJS
	refCounts := append(slices.Clone(ref.catCounts), 0)
	var refTotal int64
	for _, c := range ref.catCounts {
		refTotal += c
	}
	f.RefValues = refTotal
	if refTotal == 0 || cur.rows-cur.nulls == 0 {
		return f
	}
	chi := ChiSquare(refCounts, cur.cats)
	if finite(chi.Statistic) != nil && finite(chi.PValue) != nil {
		f.Chi2 = &chi
	}
	f.PSI = finite(PSI(refCounts, cur.cats))
	f.JS = finite(JSDistance(refCounts, cur.cats))
	f.EffectSize = f.JS
	return f
}

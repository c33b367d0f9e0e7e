package driftstat

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/profile"
)

// ErrPII: the column is personal data, whose raw values neither the profile
// nor the prediction log keeps; it is not compared.
var ErrPII = errors.New("personal data")

// ErrNotCompared: the column is free text with too many distinct values to
// compare as categories.
var ErrNotCompared = errors.New("not compared")

// Thresholds decide whether a feature drifted (see Decide).
type Thresholds struct {
	// PValue: a test's Benjamini–Hochberg-corrected p-value below this is
	// significant.
	PValue float64 `json:"pValue"`
	// PSI, Wasserstein (in reference standard deviations) and JS (base 2)
	// are the effect sizes beyond which a significant change is drift.
	PSI         float64 `json:"psi"`
	Wasserstein float64 `json:"wasserstein"`
	JS          float64 `json:"js"`
	// NullRateChange: a missing-value rate that moved by more than this is
	// drift by itself.
	NullRateChange float64 `json:"nullRateChange"`
	// OutOfRangeRate: more than this share of a window's values outside the
	// contract's range, or categories never seen in training, is drift by
	// itself.
	OutOfRangeRate float64 `json:"outOfRangeRate"`
	// MinRows is the least number of rows for a verdict.
	MinRows int64 `json:"minRows"`
	// LargeSample is the number of values from which the tests' p-values
	// alone no longer decide: at large samples every p-value is tiny, so an
	// effect size must pass its threshold too.
	LargeSample int64 `json:"largeSample"`
}

// DefaultThresholds are the thresholds where a policy sets none (and mlops
// drift compare's defaults): p 0.05, PSI 0.2, normed Wasserstein 0.1, JS 0.1,
// null-rate change 0.05, out-of-range 1%, at least 100 rows, large samples
// from 1,000 values.
func DefaultThresholds() Thresholds {
	return Thresholds{PValue: 0.05, PSI: 0.2, Wasserstein: 0.1, JS: 0.1, NullRateChange: 0.05, OutOfRangeRate: 0.01,
		MinRows: 100, LargeSample: 1000}
}

// DefaultShare is the share of drifted features that makes the dataset
// drifted where a policy sets none.
const DefaultShare = 0.5

// ExactValues is how many values a window keeps exactly before it folds them
// into a quantile sketch: below it the KS test is exact.
const ExactValues = 10_000

// maxCategories bounds the categories a free-text column may have to be
// compared as a category.
const maxCategories = 1000

// Types of Feature.Type beyond the contract's.
const TypeOutput = "output" // a model output (prediction drift)

// Tests (Feature.Test): the statistic that decided.
const (
	TestKS          = "ks"
	TestChi2        = "chi2"
	TestWasserstein = "wasserstein"
	TestJS          = "js"
	TestPSI         = "psi"
	TestNullRate    = "nullRate"
	TestOutOfRange  = "outOfRange"
	TestNone        = "none" // too few values to test
)

// Reference is one feature's training baseline, from its profile.
type Reference struct {
	name    string
	typ     contract.Type
	numeric bool
	// numeric
	dist      Distribution
	edges     []float64 // the profile's deciles: PSI and JS bins
	binCounts []int64
	std, mean float64
	lo, hi    *float64
	// categorical: cats[i] counted counts[i]; the last bin is "other"
	cats     []string
	index    map[string]int
	counts   []int64
	exact    bool            // the profile counted every value
	allowed  map[string]bool // the contract's allowed values (nil: any)
	rows     int64
	nulls    int64
	nonNulls int64
}

// NewReference reads a column's profile (the ingest profile of the training
// dataset version) under its contract column.
func NewReference(col profile.Column, cc contract.Column) (*Reference, error) {
	if col.PII || cc.PII {
		return nil, fmt.Errorf("column %s: %w", cc.Name, ErrPII)
	}
	r := &Reference{name: cc.Name, typ: cc.Type, rows: col.Count, nulls: col.Nulls + col.Invalid, lo: cc.Min, hi: cc.Max}
	r.nonNulls = max(r.rows-r.nulls, 0)
	switch cc.Type {
	case contract.Integer, contract.Number, contract.Timestamp:
		r.numeric = true
		if len(col.State.KLL) == 0 {
			r.dist = Sample{}
		} else {
			k := profile.NewKLL(profile.KLLK, 1)
			if err := k.UnmarshalBinary(col.State.KLL); err != nil {
				return nil, fmt.Errorf("column %s: the profile's sketch: %w", cc.Name, err)
			}
			r.dist = NewSketch(k)
		}
		if col.Std != nil {
			r.std = *col.Std
		}
		if col.Mean != nil {
			r.mean = *col.Mean
		}
		r.edges = slices.Clone(col.Deciles)
		if col.Histogram != nil && len(col.Histogram.Counts) == len(r.edges)+1 {
			r.binCounts = slices.Clone(col.Histogram.Counts)
		} else {
			r.binCounts = make([]int64, len(r.edges)+1)
		}
		return r, nil
	}
	if cc.Type == contract.String && len(cc.Allowed) == 0 && (!col.State.FreqExact || len(col.State.Freq) > maxCategories) {
		return nil, fmt.Errorf("column %s is free text with %.0f distinct values: %w", cc.Name, col.Distinct, ErrNotCompared)
	}
	r.exact = col.State.FreqExact
	r.index = map[string]int{}
	var tracked int64
	for _, f := range col.State.Freq {
		r.index[f.Value] = len(r.cats)
		r.cats = append(r.cats, f.Value)
		r.counts = append(r.counts, f.Count)
		tracked += f.Count
	}
	if len(cc.Allowed) > 0 {
		r.allowed = map[string]bool{}
		for _, a := range cc.Allowed {
			r.allowed[a] = true
			if _, ok := r.index[a]; !ok {
				r.index[a] = len(r.cats)
				r.cats = append(r.cats, a)
				r.counts = append(r.counts, 0)
			}
		}
	}
	if cc.Type == contract.Boolean {
		for _, b := range []string{"false", "true"} {
			if _, ok := r.index[b]; !ok {
				r.index[b] = len(r.cats)
				r.cats = append(r.cats, b)
				r.counts = append(r.counts, 0)
			}
		}
	}
	// The values the profile did not track (a summary that is not exact)
	// and those never seen: one bin.
	r.counts = append(r.counts, max(r.nonNulls-tracked, 0))
	return r, nil
}

// NewCurrent returns an empty window of the feature.
func (r *Reference) NewCurrent() *Current {
	c := &Current{ref: r}
	if r.numeric {
		c.bins = make([]int64, len(r.edges)+1)
	} else {
		c.counts = make([]int64, len(r.counts))
	}
	return c
}

// Current is one feature's values in a window, in memory that does not grow
// with the rows: exact values up to ExactValues, then a quantile sketch;
// counts on the reference's bins or categories.
type Current struct {
	ref        *Reference
	rows       int64
	nulls      int64
	outOfRange int64
	unseen     int64
	exact      []float64
	kll        *profile.KLL
	bins       []int64
	counts     []int64
}

// Number adds a numeric value (timestamps as Unix seconds).
func (c *Current) Number(v float64) {
	if v != v {
		c.Null()
		return
	}
	c.rows++
	r := c.ref
	if !r.numeric {
		c.Category(fmt.Sprint(v))
		c.rows--
		return
	}
	if r.lo != nil && v < *r.lo || r.hi != nil && v > *r.hi {
		c.outOfRange++
	}
	c.bins[profile.Bin(r.edges, v)]++
	if c.kll != nil {
		c.kll.Add(v)
		return
	}
	c.exact = append(c.exact, v)
	if len(c.exact) > ExactValues {
		c.kll = profile.NewKLL(profile.KLLK, 1)
		for _, x := range c.exact {
			c.kll.Add(x)
		}
		c.exact = nil
	}
}

// Category adds a categorical value (booleans as "true" and "false").
func (c *Current) Category(v string) {
	c.rows++
	r := c.ref
	if r.numeric {
		c.Null()
		c.rows--
		return
	}
	i, ok := r.index[v]
	if !ok {
		c.counts[len(c.counts)-1]++
		if r.exact || r.allowed != nil {
			c.unseen++
		}
		if r.allowed != nil && !r.allowed[v] {
			c.outOfRange++
		}
		return
	}
	c.counts[i]++
	if r.allowed != nil && !r.allowed[v] {
		c.outOfRange++
	}
}

// Null adds a missing value.
func (c *Current) Null() { c.rows++; c.nulls++ }

// Rows is how many values (missing ones included) the window holds.
func (c *Current) Rows() int64 { return c.rows }

func (c *Current) dist() Distribution {
	if c.kll != nil {
		return NewSketch(c.kll)
	}
	return NewSample(c.exact)
}

// Feature is one feature's comparison: every statistic computed for its
// type, whichever decided, with null where one does not apply (the JSON of
// reports and of mlops drift compare).
type Feature struct {
	Feature string `json:"feature"`
	Type    string `json:"type"`
	// Test is the statistic that decided (TestKS, TestChi2, ...): the first
	// that called drift, or the main test of the type when none did.
	Test            string     `json:"test"`
	KS              *KSResult  `json:"ks"`
	Chi2            *ChiResult `json:"chi2"`
	PSI             *float64   `json:"psi"`
	Wasserstein     *float64   `json:"wasserstein"` // in reference standard deviations
	JS              *float64   `json:"js"`
	PValueCorrected *float64   `json:"pValueCorrected"`
	EffectSize      *float64   `json:"effectSize"`
	EffectSizeName  string     `json:"effectSizeName"` // "wasserstein/std" (numeric) or "cramersV" (categorical)
	NullRate        float64    `json:"nullRate"`
	NullRateChange  float64    `json:"nullRateChange"`
	OutOfRangeRate  float64    `json:"outOfRangeRate"`
	Unseen          int64      `json:"unseen"`  // values of categories never seen in training
	RefRows         int64      `json:"refRows"` // the baseline's rows
	Rows            int64      `json:"rows"`    // the window's rows
	Drifted         bool       `json:"drifted"`
	Reason          string     `json:"reason"` // why, or why not, in words
	Categories      []Share    `json:"categories,omitempty"`
	pValue          float64    // the raw p-value (NaN: no test)
	numeric         bool
}

// Share is one category's share of the baseline's and the window's values.
type Share struct {
	Value    string  `json:"value"`
	Baseline float64 `json:"baseline"`
	Current  float64 `json:"current"`
}

func num(v float64) *float64 {
	if v != v || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Compare computes a feature's statistics; Decide then judges them.
func Compare(r *Reference, c *Current) Feature {
	f := Feature{Feature: r.name, Type: string(r.typ), RefRows: r.rows, Rows: c.rows, Unseen: c.unseen,
		numeric: r.numeric, pValue: math.NaN()}
	refNull := 0.0
	if r.rows > 0 {
		refNull = float64(r.nulls) / float64(r.rows)
	}
	if c.rows > 0 {
		f.NullRate = float64(c.nulls) / float64(c.rows)
		f.NullRateChange = f.NullRate - refNull
	}
	if nn := c.rows - c.nulls; nn > 0 {
		f.OutOfRangeRate = float64(c.outOfRange+unseenOutside(r, c)) / float64(nn)
	}
	if r.numeric {
		f.EffectSizeName = "wasserstein/std"
		cur := c.dist()
		if cur.N() > 0 && r.dist.N() > 0 {
			ks := KS(r.dist, cur)
			if ks.Statistic == ks.Statistic {
				f.KS = &KSResult{Statistic: ks.Statistic, PValue: ks.PValue}
				f.pValue = ks.PValue
				if ks.PValue != ks.PValue {
					f.KS.PValue = 1
					f.pValue = 1
				}
			}
			f.Wasserstein = num(WassersteinNormed(r.dist, cur, r.std, r.mean))
			f.EffectSize = f.Wasserstein
			f.PSI = num(PSI(r.binCounts, c.bins))
			f.JS = num(JSDistance(r.binCounts, c.bins))
		}
		return f
	}
	f.EffectSizeName = "cramersV"
	nn := c.rows - c.nulls
	if nn > 0 && r.nonNulls > 0 {
		chi := ChiSquare(r.counts, c.counts)
		if chi.Statistic == chi.Statistic {
			f.Chi2 = &ChiResult{Statistic: chi.Statistic, PValue: chi.PValue, DoF: chi.DoF}
			f.pValue = chi.PValue
			// Cramér's V of the 2×k table: √(χ²/(n·(min(2,k)−1))).
			f.EffectSize = num(math.Sqrt(chi.Statistic / float64(nn+r.nonNulls)))
		}
		f.PSI = num(PSI(r.counts, c.counts))
		f.JS = num(JSDistance(r.counts, c.counts))
	}
	f.Categories = shareTable(r, c)
	return f
}

// unseenOutside counts, for a category with no allowed list, values never
// seen in training: they are out of the training range as an out-of-range
// number is.
func unseenOutside(r *Reference, c *Current) int64 {
	if r.numeric || r.allowed != nil {
		return 0
	}
	return c.unseen
}

// shareTable lists the categories by their largest share, at most 20.
func shareTable(r *Reference, c *Current) []Share {
	var tr, tc float64
	for i := range r.counts {
		tr += float64(r.counts[i])
		tc += float64(c.counts[i])
	}
	if tr == 0 || tc == 0 {
		return nil
	}
	out := make([]Share, 0, len(r.counts))
	for i, n := range r.counts {
		name := "(other)"
		if i < len(r.cats) {
			name = r.cats[i]
		}
		if n == 0 && c.counts[i] == 0 {
			continue
		}
		out = append(out, Share{Value: name, Baseline: float64(n) / tr, Current: float64(c.counts[i]) / tc})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return max(out[i].Baseline, out[i].Current) > max(out[j].Baseline, out[j].Current)
	})
	if len(out) > 20 {
		out = out[:20]
	}
	return out
}

// Verdict is the dataset-level verdict.
type Verdict struct {
	// EnoughData is false when the window had fewer rows than MinRows: no
	// verdict then.
	EnoughData      bool     `json:"enoughData"`
	Drifted         bool     `json:"drifted"`
	DriftedFeatures []string `json:"driftedFeatures"`
	Share           float64  `json:"share"`          // of the compared features that drifted
	ShareThreshold  float64  `json:"shareThreshold"` // the share that makes the dataset drifted
	Reason          string   `json:"reason"`
}

// Decide corrects the features' p-values for their number
// (Benjamini–Hochberg) and judges each:
//
//   - a missing-value rate that moved by more than NullRateChange, or more
//     than OutOfRangeRate of the values outside the contract's range or of
//     categories never seen in training, is drift by itself (nullRate,
//     outOfRange);
//   - below LargeSample values, the test decides: KS (numeric) or chi-square
//     (categorical) with a corrected p-value below PValue;
//   - from LargeSample values on, the test must be significant AND an effect
//     size must pass its threshold: normed Wasserstein or PSI for numeric
//     columns, Jensen–Shannon or PSI for categorical ones; model outputs are
//     judged on PSI alone at any size (their baseline is a histogram).
//
// The dataset drifted when the share of drifted features is at least share,
// and the window has at least MinRows rows.
func Decide(features []Feature, th Thresholds, share float64) ([]Feature, Verdict) {
	out := slices.Clone(features)
	ps := make([]float64, len(out))
	for i, f := range out {
		ps[i] = f.pValue
	}
	adj := BenjaminiHochberg(ps)
	var rows int64
	v := Verdict{ShareThreshold: share, DriftedFeatures: []string{}}
	for i := range out {
		f := &out[i]
		f.PValueCorrected = num(adj[i])
		rows = max(rows, f.Rows)
		decide(f, th)
		if f.Drifted {
			v.DriftedFeatures = append(v.DriftedFeatures, f.Feature)
		}
	}
	v.EnoughData = rows >= th.MinRows && rows > 0
	if len(out) > 0 {
		v.Share = float64(len(v.DriftedFeatures)) / float64(len(out))
	}
	switch {
	case !v.EnoughData:
		v.Reason = fmt.Sprintf("too little data for a verdict: %d rows, at least %d needed", rows, th.MinRows)
		for i := range out {
			out[i].Drifted = false
		}
		v.DriftedFeatures = []string{}
		v.Share = 0
	case len(out) == 0:
		v.Reason = "no feature compared"
	default:
		v.Drifted = v.Share >= share
		names := "none"
		if len(v.DriftedFeatures) > 0 {
			names = strings.Join(v.DriftedFeatures, ", ")
		}
		verb := "below"
		if v.Drifted {
			verb = "at or above"
		}
		v.Reason = fmt.Sprintf("%d of %d features drifted (%s): a share of %.2f, %s the threshold %.2f",
			len(v.DriftedFeatures), len(out), names, v.Share, verb, share)
	}
	return out, v
}

func decide(f *Feature, th Thresholds) {
	main := TestChi2
	if f.numeric || f.Type == TypeOutput {
		main = TestKS
	}
	f.Test, f.Drifted = main, false
	nn := f.Rows - int64(math.Round(f.NullRate*float64(f.Rows)))
	pass := func(v *float64, t float64) bool { return v != nil && *v > t }
	sig := f.PValueCorrected != nil && *f.PValueCorrected < th.PValue
	switch {
	case math.Abs(f.NullRateChange) > th.NullRateChange && f.Type != TypeOutput:
		f.Test, f.Drifted = TestNullRate, true
		f.Reason = fmt.Sprintf("missing values moved from %.1f%% to %.1f%% (more than %.1f points)",
			100*(f.NullRate-f.NullRateChange), 100*f.NullRate, 100*th.NullRateChange)
	case f.OutOfRangeRate > th.OutOfRangeRate && f.Type != TypeOutput:
		f.Test, f.Drifted = TestOutOfRange, true
		f.Reason = fmt.Sprintf("%.1f%% of the values are outside the contract's range or never seen in training (more than %.1f%%)",
			100*f.OutOfRangeRate, 100*th.OutOfRangeRate)
	case nn == 0:
		f.Test, f.Reason = TestNone, "no values to compare"
	case f.Type == TypeOutput:
		if pass(f.PSI, th.PSI) {
			f.Test, f.Drifted = TestPSI, true
			f.Reason = fmt.Sprintf("PSI %.3f above %.3g", *f.PSI, th.PSI)
		} else {
			f.Test, f.Reason = TestPSI, "PSI within its threshold"
		}
	case nn < th.LargeSample:
		if sig {
			f.Drifted = true
			f.Reason = fmt.Sprintf("%s p-value %.3g (corrected) below %.3g", main, *f.PValueCorrected, th.PValue)
		} else {
			f.Reason = fmt.Sprintf("%s not significant at %.3g (corrected)", main, th.PValue)
		}
	case !sig:
		f.Reason = fmt.Sprintf("%s not significant at %.3g (corrected)", main, th.PValue)
	case f.numeric && pass(f.Wasserstein, th.Wasserstein):
		f.Test, f.Drifted = TestWasserstein, true
		f.Reason = fmt.Sprintf("significant, and the distribution moved %.3f standard deviations (above %.3g)", *f.Wasserstein, th.Wasserstein)
	case !f.numeric && pass(f.JS, th.JS):
		f.Test, f.Drifted = TestJS, true
		f.Reason = fmt.Sprintf("significant, and Jensen–Shannon distance %.3f above %.3g", *f.JS, th.JS)
	case pass(f.PSI, th.PSI):
		f.Test, f.Drifted = TestPSI, true
		f.Reason = fmt.Sprintf("significant, and PSI %.3f above %.3g", *f.PSI, th.PSI)
	default:
		f.Reason = "significant at this sample size, but every effect size is within its threshold"
	}
}

// OutputWindow is a model output's values in a window, counted on the
// bins of the trainer's test-set histogram (bundle.OutputDistribution).
type OutputWindow struct {
	ref    bundle.OutputDistribution
	counts []int64
	n      int64
}

// NewOutputWindow returns an empty window for ref's output.
func NewOutputWindow(ref bundle.OutputDistribution) *OutputWindow {
	return &OutputWindow{ref: ref, counts: make([]int64, max(len(ref.Edges)-1, 0))}
}

// Add counts one output value; values beyond the edges count in the end bins.
func (o *OutputWindow) Add(v float64) {
	if v != v || len(o.counts) == 0 {
		return
	}
	o.n++
	e := o.ref.Edges
	i := sort.SearchFloat64s(e, v) // first edge ≥ v
	if i < len(e) && e[i] == v {
		i++ // v on an edge starts the bin above it
	}
	o.counts[min(max(i-1, 0), len(o.counts)-1)]++
}

// CompareOutput compares a window of a model output with the trainer's
// test-set baseline: PSI and Jensen–Shannon on the baseline's bins, and KS
// between the two binned CDFs at the bin edges (a lower bound of the exact
// statistic, since the baseline keeps only its histogram) with its p-value
// at the two sizes. Decide judges it on PSI.
func CompareOutput(o *OutputWindow) Feature {
	f := Feature{Feature: o.ref.Name, Type: TypeOutput, RefRows: o.ref.Count, Rows: o.n, pValue: math.NaN(), EffectSizeName: "psi"}
	if o.n == 0 || len(o.ref.Counts) != len(o.counts) {
		return f
	}
	var tr, tc float64
	for i := range o.counts {
		tr += float64(o.ref.Counts[i])
		tc += float64(o.counts[i])
	}
	if tr == 0 {
		return f
	}
	d, fr, fc := 0.0, 0.0, 0.0
	for i := range o.counts {
		fr += float64(o.ref.Counts[i]) / tr
		fc += float64(o.counts[i]) / tc
		d = max(d, math.Abs(fr-fc))
	}
	p := KSPValue(d, int64(tr), o.n)
	f.KS = &KSResult{Statistic: d, PValue: p}
	f.pValue = p
	f.PSI = num(PSI(o.ref.Counts, o.counts))
	f.JS = num(JSDistance(o.ref.Counts, o.counts))
	f.EffectSize = f.PSI
	return f
}

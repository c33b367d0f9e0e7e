package driftstat

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/openmlops/mlops/shared/profile"
)

// Distribution is a one-dimensional distribution known through its steps: an
// exact sample (Sample) or a quantile sketch (Sketch). Two-sample statistics
// evaluate both CDFs at the union of their points, which is exact for step
// functions.
type Distribution interface {
	// N is how many values the distribution stands for.
	N() int64
	// CDF is the fraction of values ≤ x.
	CDF(x float64) float64
	// Points are the values where the CDF steps, ascending (repeats allowed).
	Points() []float64
}

// Sample is an exact sample: its values, sorted, NaN dropped.
type Sample struct{ sorted []float64 }

// NewSample copies vs into a Sample. NaN has no rank and is dropped.
func NewSample(vs []float64) Sample {
	s := make([]float64, 0, len(vs))
	for _, v := range vs {
		if v == v {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	return Sample{sorted: s}
}

// N is the sample's size.
func (s Sample) N() int64 { return int64(len(s.sorted)) }

// CDF is the empirical CDF: the share of values ≤ x, as ks_2samp's
// searchsorted(side='right')/n computes it.
func (s Sample) CDF(x float64) float64 {
	if len(s.sorted) == 0 {
		return 0
	}
	i := sort.Search(len(s.sorted), func(i int) bool { return s.sorted[i] > x })
	return float64(i) / float64(len(s.sorted))
}

// Points are the sample's values, sorted.
func (s Sample) Points() []float64 { return s.sorted }

// Sketch is a KLL quantile sketch read as a weighted sample: each retained
// value stands for its weight in stream values. Its CDF is within the sketch's
// rank error (about 1.3% for profile.KLLK, 1.65% 99% of the time) of the
// stream's.
type Sketch struct {
	vals []float64
	cum  []int64 // cumulative weights
	n    int64
}

// NewSketch reads a KLL sketch (it is not modified but for flushing values it
// holds pending).
func NewSketch(k *profile.KLL) Sketch {
	if k == nil {
		return Sketch{}
	}
	vals, ws := k.Weighted()
	cum := make([]int64, len(ws))
	var t int64
	for i, w := range ws {
		t += w
		cum[i] = t
	}
	return Sketch{vals: vals, cum: cum, n: t}
}

// N is the number of stream values the sketch summarises.
func (s Sketch) N() int64 { return s.n }

// CDF is the sketch's estimate of the share of values ≤ x.
func (s Sketch) CDF(x float64) float64 {
	if s.n == 0 {
		return 0
	}
	i := sort.Search(len(s.vals), func(i int) bool { return s.vals[i] > x })
	if i == 0 {
		return 0
	}
	return float64(s.cum[i-1]) / float64(s.n)
}

// Points are the sketch's retained values, ascending.
func (s Sketch) Points() []float64 { return s.vals }

// union merges two ascending lists into one without repeats.
func union(a, b []float64) []float64 {
	out := make([]float64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v float64
		switch {
		case j >= len(b) || (i < len(a) && a[i] <= b[j]):
			v = a[i]
			i++
		default:
			v = b[j]
			j++
		}
		if v != v {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// KSResult is a two-sample Kolmogorov–Smirnov test's outcome.
type KSResult struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"pValue"`
}

// KS is the two-sided two-sample Kolmogorov–Smirnov test: the largest gap D
// between the two CDFs and its p-value by KSPValue. On two exact samples it
// is scipy.stats.ks_2samp(method='auto'): D to the last bit, the p-value to a
// relative 1e-9 (the tests' tolerance). With a sketch on either side D is
// off by at most the sketches' rank errors added, and the p-value is that of
// the estimated D at the sizes the sketches stand for. An empty side gives
// NaN for both (scipy raises).
func KS(ref, cur Distribution) KSResult {
	n1, n2 := ref.N(), cur.N()
	if n1 == 0 || n2 == 0 {
		return KSResult{math.NaN(), math.NaN()}
	}
	d := 0.0
	for _, x := range union(ref.Points(), cur.Points()) {
		d = max(d, math.Abs(ref.CDF(x)-cur.CDF(x)))
	}
	return KSResult{Statistic: d, PValue: KSPValue(d, n1, n2)}
}

// Wasserstein is the first Wasserstein (earth mover's) distance between two
// one-dimensional distributions, as scipy.stats.wasserstein_distance computes
// it: ∫|F₁−F₂| over the union of points. NaN when a side is empty; +Inf or
// NaN when a side holds an infinite value. Divide by the reference's
// standard deviation for a scale-free effect size (WassersteinNormed).
func Wasserstein(ref, cur Distribution) float64 {
	if ref.N() == 0 || cur.N() == 0 {
		return math.NaN()
	}
	pts := union(ref.Points(), cur.Points())
	var sum, comp float64 // Kahan: the terms can be many and small
	for i := 0; i+1 < len(pts); i++ {
		t := math.Abs(ref.CDF(pts[i])-cur.CDF(pts[i]))*(pts[i+1]-pts[i]) - comp
		s := sum + t
		comp = (s - sum) - t
		sum = s
	}
	return sum
}

// WassersteinNormed is Wasserstein divided by scale, the reference's
// standard deviation; where the reference has no spread (a constant
// baseline) the scale is the constant's magnitude, or 1 for a constant 0, so
// that a moved constant still reads as a change.
func WassersteinNormed(ref, cur Distribution, std, mean float64) float64 {
	return Wasserstein(ref, cur) / normScale(std, mean)
}

func normScale(std, mean float64) float64 {
	switch {
	case std > 0 && !math.IsInf(std, 0):
		return std
	case mean != 0 && !math.IsInf(mean, 0) && mean == mean:
		return math.Abs(mean)
	}
	return 1
}

// PSIEpsilon is the share that stands in for an empty bin in PSI (either
// side), so that a bin empty on one side adds a large but finite term:
// the convention of the common drift tools (Evidently, NannyML: 0.0001).
const PSIEpsilon = 1e-4

// PSI is the population stability index Σ (c−r)·ln(c/r) over the shares r,
// c of each bin on the two sides, with empty bins at PSIEpsilon. ref and cur
// count the same bins; NaN when their lengths differ or a side is empty.
func PSI(ref, cur []int64) float64 {
	r, c, ok := shares(ref, cur)
	if !ok {
		return math.NaN()
	}
	psi := 0.0
	for i := range r {
		ri, ci := max(r[i], PSIEpsilon), max(c[i], PSIEpsilon)
		psi += (ci - ri) * math.Log(ci/ri)
	}
	return psi
}

// shares turns two count vectors into proportions; negative counts count as 0.
func shares(ref, cur []int64) (r, c []float64, ok bool) {
	if len(ref) != len(cur) || len(ref) == 0 {
		return nil, nil, false
	}
	var tr, tc float64
	for i := range ref {
		tr += float64(max(ref[i], 0))
		tc += float64(max(cur[i], 0))
	}
	if tr == 0 || tc == 0 {
		return nil, nil, false
	}
	r, c = make([]float64, len(ref)), make([]float64, len(cur))
	for i := range ref {
		r[i] = float64(max(ref[i], 0)) / tr
		c[i] = float64(max(cur[i], 0)) / tc
	}
	return r, c, true
}

// JSDistance is the Jensen–Shannon distance in base 2 (in [0, 1]) between the
// two count vectors' shares: scipy.spatial.distance.jensenshannon(p, q,
// base=2). NaN when the lengths differ or a side is empty.
func JSDistance(ref, cur []int64) float64 {
	p, q, ok := shares(ref, cur)
	if !ok {
		return math.NaN()
	}
	js := 0.0
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			js += p[i] * math.Log(p[i]/m)
		}
		if q[i] > 0 {
			js += q[i] * math.Log(q[i]/m)
		}
	}
	js /= math.Ln2
	return math.Sqrt(max(js/2, 0))
}

// ChiResult is a chi-square test's outcome.
type ChiResult struct {
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"pValue"`
	DoF       int     `json:"dof"`
}

// ChiSquare is Pearson's chi-square test of homogeneity on the 2×k table
// whose rows are ref and cur: scipy.stats.chi2_contingency(table,
// correction=False) after dropping the columns empty on both sides (scipy
// refuses a zero expected count). One column left gives statistic 0, p 1,
// DoF 0, as scipy does; a side with no counts gives NaN.
func ChiSquare(ref, cur []int64) ChiResult {
	if len(ref) != len(cur) {
		return ChiResult{math.NaN(), math.NaN(), 0}
	}
	var tr, tc float64
	cols := 0
	for i := range ref {
		r, c := float64(max(ref[i], 0)), float64(max(cur[i], 0))
		tr += r
		tc += c
		if r+c > 0 {
			cols++
		}
	}
	if tr == 0 || tc == 0 {
		return ChiResult{math.NaN(), math.NaN(), 0}
	}
	if cols < 2 {
		return ChiResult{0, 1, 0}
	}
	t := tr + tc
	stat := 0.0
	for i := range ref {
		r, c := float64(max(ref[i], 0)), float64(max(cur[i], 0))
		col := r + c
		if col == 0 {
			continue
		}
		er, ec := col*tr/t, col*tc/t
		stat += (r-er)*(r-er)/er + (c-ec)*(c-ec)/ec
	}
	dof := cols - 1
	return ChiResult{Statistic: stat, PValue: chi2SF(stat, dof), DoF: dof}
}

// BenjaminiHochberg adjusts p-values for the false discovery rate: the i-th
// smallest of m becomes min over j ≥ i of p₍ⱼ₎·m/j, capped at 1 (the textbook
// step-up; R's p.adjust(method="BH")). NaN entries are tests not performed:
// they stay NaN and do not count in m.
func BenjaminiHochberg(p []float64) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if v == v {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	m := float64(len(idx))
	run := 1.0
	for k := len(idx) - 1; k >= 0; k-- {
		i := idx[k]
		v := min(max(p[i], 0), 1) * m / float64(k+1)
		run = min(run, v)
		out[i] = run
	}
	return out
}

package driftstat

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/profile"
)

// OutputWindow is a window of one model output's values (a class
// probability or a regression prediction), counted on the bins of the
// bundle's test-set baseline (predictions.json).
type OutputWindow struct {
	ref        bundle.OutputDistribution
	rows       int64
	nulls      int64
	outOfRange int64
	num        numeric
}

// checkOutput validates a baseline's shape: ascending finite edges, one more
// than the counts.
func checkOutput(ref bundle.OutputDistribution) error {
	if len(ref.Edges) < 2 || len(ref.Edges) != len(ref.Counts)+1 {
		return fmt.Errorf("output %q: baseline has %d edges for %d counts, want counts+1 and at least 2", ref.Name, len(ref.Edges), len(ref.Counts))
	}
	for i, e := range ref.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= ref.Edges[i-1]) {
			return fmt.Errorf("output %q: baseline edge %d (%g) is not finite and above the one before", ref.Name, i, e)
		}
	}
	for i, c := range ref.Counts {
		if c < 0 {
			return fmt.Errorf("output %q: baseline count %d is negative (%d)", ref.Name, i, c)
		}
	}
	return nil
}

// NewOutputWindow starts an empty window for a baseline output; the baseline
// must have ascending finite edges, one more than its counts.
func NewOutputWindow(ref bundle.OutputDistribution) (*OutputWindow, error) {
	if err := checkOutput(ref); err != nil {
		return nil, err
	}
	w := &OutputWindow{ref: ref}
	w.ref.Edges, w.ref.Counts = slices.Clone(ref.Edges), slices.Clone(ref.Counts)
	w.num.bins = make([]int64, len(ref.Counts))
	w.num.seed = profile.Hash64([]byte(ref.Name), 0)
	return w, nil
}

// outputBin is numpy.histogram's bin: [e_i, e_i+1), the last closed; values
// beyond the ends go to the end bins (and count as out of range).
func outputBin(edges []float64, v float64) (int, bool) {
	last := len(edges) - 2
	switch {
	case v < edges[0]:
		return 0, false
	case v > edges[len(edges)-1]:
		return last, false
	case v == edges[len(edges)-1]:
		return last, true
	}
	return sort.SearchFloat64s(edges, math.Nextafter(v, math.Inf(1))) - 1, true
}

// Add records one output value. NaN counts as missing; ±Inf as out of range
// and outside the distribution; values beyond the baseline's edges count in
// its end bins and as out of range.
func (w *OutputWindow) Add(v float64) {
	w.rows++
	if v != v {
		w.nulls++
		return
	}
	if math.IsInf(v, 0) {
		w.outOfRange++
		return
	}
	b, in := outputBin(w.ref.Edges, v)
	if !in {
		w.outOfRange++
	}
	w.num.bins[b]++
	w.num.add(v)
}

// Merge folds o, a window on the same baseline, into w.
func (w *OutputWindow) Merge(o *OutputWindow) error {
	if o == nil {
		return nil
	}
	if w.ref.Name != o.ref.Name || !slices.Equal(w.ref.Edges, o.ref.Edges) {
		return fmt.Errorf("cannot merge a window of output %q into one of %q: different baselines", o.ref.Name, w.ref.Name)
	}
	w.rows += o.rows
	w.nulls += o.nulls
	w.outOfRange += o.outOfRange
	w.num.merge(&o.num)
	return nil
}

// histCDF is the baseline's CDF with its values spread evenly inside each
// bin: continuous, piecewise linear between the edges.
func histCDF(edges []float64, cum []int64, total int64, x float64) float64 {
	switch {
	case x <= edges[0]:
		return 0
	case x >= edges[len(edges)-1]:
		return 1
	}
	i := sort.SearchFloat64s(edges, x) - 1 // edges[i] < x ≤ edges[i+1]
	below := int64(0)
	if i > 0 {
		below = cum[i-1]
	}
	in := float64(cum[i] - below)
	return (float64(below) + in*(x-edges[i])/(edges[i+1]-edges[i])) / float64(total)
}

// CompareOutput compares an output window with the bundle's test-set
// baseline: PSI and JS on the baseline's bins (exact counts on both sides),
// and KS against the baseline's histogram read as a CDF that is linear inside
// each bin (values spread evenly in a bin). That KS is an approximation: D is
// exact against the binned baseline, and the unbinned test set's CDF can
// differ from it inside a bin by up to that bin's share (1/20 for quantile
// bins; for probability bins, the share of the fullest bin); its p-value
// takes the baseline's Count and the window's size as the two sample sizes.
// Decide rules on PSI. A baseline of the wrong shape gives a Feature with
// no statistics and the reason.
func CompareOutput(ref bundle.OutputDistribution, cur *OutputWindow) Feature {
	f := Feature{Feature: ref.Name, Type: OutputType, EffectSizeName: EffectPSI}
	if cur == nil {
		return f
	}
	f.Rows, f.Values = cur.rows, cur.num.moments().N
	f.NullRate = rate(cur.nulls, cur.rows)
	f.OutOfRangeRate = rate(cur.outOfRange, cur.rows-cur.nulls)
	if err := checkOutput(ref); err != nil {
		f.Reason = err.Error()
		return f
	}
	if len(ref.Counts) != len(cur.num.bins) {
		f.Reason = fmt.Sprintf("output %q: window has %d bins, baseline %d", ref.Name, len(cur.num.bins), len(ref.Counts))
		return f
	}
	cum := make([]int64, len(ref.Counts))
	var total int64
	for i, c := range ref.Counts {
		total += c
		cum[i] = total
	}
	f.RefRows, f.RefValues = total, total
	if total == 0 || f.Values == 0 {
		return f
	}
	f.PSI = finite(PSI(ref.Counts, cur.num.bins))
	f.JS = finite(JSDistance(ref.Counts, cur.num.bins))
	f.EffectSize = f.PSI
	d := cur.num.distribution()
	// F (the baseline) is continuous and G (the window) a step function, so
	// |F−G| peaks at a point of either, approached from the left or at it.
	var stat, prevG float64
	for _, x := range union(ref.Edges, d.Points()) {
		fx, gx := histCDF(ref.Edges, cum, total, x), d.CDF(x)
		stat = max(stat, math.Abs(fx-prevG), math.Abs(fx-gx))
		prevG = gx
	}
	n1 := total
	if ref.Count > 0 {
		n1 = ref.Count
	}
	ks := KSResult{Statistic: stat, PValue: KSPValue(stat, n1, f.Values)}
	if finite(ks.PValue) != nil {
		f.KS = &ks
	}
	return f
}

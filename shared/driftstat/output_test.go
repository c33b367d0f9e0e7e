package driftstat_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/driftstat"
)

// probabilityBaseline bins vs as the trainer does: 20 equal bins on [0, 1].
func probabilityBaseline(vs []float64) bundle.OutputDistribution {
	d := bundle.OutputDistribution{Name: "p(bad)", Counts: make([]int64, 20), Count: int64(len(vs))}
	for i := 0; i <= 20; i++ {
		d.Edges = append(d.Edges, math.Round(float64(i)/20*100)/100)
	}
	for _, v := range vs {
		d.Counts[min(int(v*20), 19)]++
	}
	return d
}

// Prediction drift: PSI and JS on the baseline's bins decide; KS against
// the histogram's piecewise-linear CDF is within the fullest bin's share of
// scipy's KS on the raw test-set values.
func TestCompareOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	draw := func(n int, f func(float64) float64) []float64 {
		return seq(n, func(int) float64 { return f(r.Float64()) })
	}
	test := draw(4000, func(u float64) float64 { return u * u })
	ref := probabilityBaseline(test)
	maxShare := float64(slices.Max(ref.Counts)) / float64(ref.Count)
	windows := map[string][]float64{
		"same":    draw(3000, func(u float64) float64 { return u * u }),
		"shifted": draw(3000, math.Sqrt),
	}
	names := []string{"same", "shifted"}
	cases := make([]scipyCase, len(names))
	for i, n := range names {
		cases[i] = scipyCase{"kind": "ks2", "a": test, "b": windows[n]}
	}
	ans := askSciPy(t, cases)
	for i, name := range names {
		w, err := driftstat.NewOutputWindow(ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range windows[name] {
			w.Add(v)
		}
		f := driftstat.CompareOutput(ref, w)
		want := nums(t, ans[i])
		if f.KS == nil || math.Abs(f.KS.Statistic-want[0]) > maxShare {
			t.Errorf("%s: KS %+v, scipy on the raw values D=%g: beyond the fullest bin's share %g", name, f.KS, want[0], maxShare)
		}
		out, _ := driftstat.Decide([]driftstat.Feature{f}, driftstat.DefaultThresholds(), 0)
		if out[0].Drifted != (name == "shifted") || out[0].Test != driftstat.TestPSI {
			t.Errorf("%s: %s", name, out[0].Reason)
		}
		t.Logf("%s: PSI %.4f JS %.4f D %.4f (scipy raw %.4f)", name, *f.PSI, *f.JS, f.KS.Statistic, want[0])
	}
	// Regression outputs beyond the baseline's range count as out of range.
	reg := bundle.OutputDistribution{Name: "prediction", Edges: []float64{0, 10, 20}, Counts: []int64{50, 50}, Count: 100}
	w, err := driftstat.NewOutputWindow(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{-1, 5, 10, 20, 25, math.NaN(), math.Inf(-1)} {
		w.Add(v)
	}
	f := driftstat.CompareOutput(reg, w)
	if f.Rows != 7 || f.Values != 5 || f.OutOfRangeRate != 3.0/6 || f.NullRate != 1.0/7 {
		t.Errorf("regression window: %+v", f)
	}
	if _, err := driftstat.NewOutputWindow(bundle.OutputDistribution{Name: "p", Edges: []float64{0, 1}, Counts: []int64{1, 2}}); err == nil {
		t.Error("a baseline with as many edges as counts was accepted")
	}
}

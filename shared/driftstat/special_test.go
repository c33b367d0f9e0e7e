package driftstat_test

import (
	"math"
	"testing"

	"github.com/openmlops/mlops/shared/driftstat"
)

// Tolerances of the special functions against scipy 1.10.1: relative 1e-9,
// or absolute 1e-15 for values near 0 (where scipy's double-double and our
// log-space sums part in the last bits).
const specialRel, specialAbs = 1e-9, 1e-15

// The Kolmogorov distribution's survival function, across every regime of
// scipy's _kolmogn (Ruben–Gambino ends, Durbin's matrix, Pomeranz,
// Pelz–Good, Smirnov's one-sided sum).
func TestKolmognMatchesSciPy(t *testing.T) {
	type q struct{ n, x float64 }
	var qs []q
	for _, n := range []float64{1, 2, 3, 5, 10, 37, 100, 140, 141, 500, 1000, 4999, 20000, 100000, 100001, 250000, 1e6, 3e6} {
		for _, z := range []float64{0.05, 0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 4.5, 8} {
			qs = append(qs, q{n, z / math.Sqrt(n)})
		}
		for _, x := range []float64{0.5 / n, 0.9 / n, 1 / n, 1.5 / n, 0.49, 0.5, 0.75, 1 - 1.5/n, 0.999} {
			if x > 0 && x < 1 {
				qs = append(qs, q{n, x})
			}
		}
	}
	cases := make([]scipyCase, len(qs))
	for i, c := range qs {
		cases[i] = scipyCase{"kind": "kstwo", "n": c.n, "x": c.x}
	}
	ans := askSciPy(t, cases)
	for i, c := range qs {
		want := num(t, ans[i])
		if got := driftstat.Kolmogn(c.n, c.x, false); !near(got, want, specialRel, specialAbs) {
			t.Errorf("kstwo.sf(%g, n=%g) = %.17g, scipy %.17g", c.x, c.n, got, want)
		}
	}
}

func TestSmirnovMatchesSciPy(t *testing.T) {
	type q struct {
		n int
		x float64
	}
	var qs []q
	for _, n := range []int{1, 2, 3, 7, 10, 11, 50, 140, 1000, 20000, 999999, 1000001} {
		for _, x := range []float64{0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 1 / float64(n), 2 / float64(n), 0.5 / math.Sqrt(float64(n))} {
			if x >= 0 && x <= 1 {
				qs = append(qs, q{n, x})
			}
		}
	}
	cases := make([]scipyCase, len(qs))
	for i, c := range qs {
		cases[i] = scipyCase{"kind": "smirnov", "n": c.n, "x": c.x}
	}
	ans := askSciPy(t, cases)
	for i, c := range qs {
		want := num(t, ans[i])
		if got := driftstat.Smirnov(c.n, c.x); !near(got, want, specialRel, specialAbs) {
			t.Errorf("smirnov(%d, %g) = %.17g, scipy %.17g", c.n, c.x, got, want)
		}
	}
}

func TestChi2SFMatchesSciPy(t *testing.T) {
	type q struct {
		x   float64
		dof int
	}
	var qs []q
	for _, dof := range []int{1, 2, 3, 5, 9, 20, 99, 500, 5000} {
		for _, f := range []float64{0.001, 0.1, 0.5, 0.9, 1, 1.1, 1.5, 2, 4, 10} {
			qs = append(qs, q{f * float64(dof), dof})
		}
		qs = append(qs, q{float64(dof) + 0.5, dof}, q{3e-5, dof})
	}
	cases := make([]scipyCase, len(qs))
	for i, c := range qs {
		cases[i] = scipyCase{"kind": "chi2sf", "x": c.x, "dof": c.dof}
	}
	ans := askSciPy(t, cases)
	for i, c := range qs {
		want := num(t, ans[i])
		if got := driftstat.Chi2SF(c.x, c.dof); !near(got, want, specialRel, 1e-300) {
			t.Errorf("chi2.sf(%g, %d) = %.17g, scipy %.17g", c.x, c.dof, got, want)
		}
	}
}

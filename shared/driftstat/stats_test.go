package driftstat_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/profile"
)

// Tolerances against scipy 1.10.1 on exact samples: the KS statistic to
// 1e-15 (the same CDF arithmetic), p-values, Wasserstein, PSI, JS and the
// chi-square statistic to a relative 1e-9 (summation order and the special
// functions' last bits), absolute 1e-15 near 0.
const rel, abs = 1e-9, 1e-15

type gen func(r *rand.Rand, n int) []float64

func normal(mu, sd float64) gen {
	return func(r *rand.Rand, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = mu + sd*r.NormFloat64()
		}
		return out
	}
}

func cauchy(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Tan(math.Pi * (r.Float64() - 0.5))
	}
	return out
}

// ties rounds a normal sample to few distinct values.
func ties(r *rand.Rand, n int) []float64 {
	out := normal(0, 2)(r, n)
	for i := range out {
		out[i] = math.Round(out[i])
	}
	return out
}

type ksPair struct {
	name string
	a, b []float64
}

func ksPairs() []ksPair {
	r := rand.New(rand.NewPCG(1, 2))
	var ps []ksPair
	add := func(name string, ga gen, na int, gb gen, nb int) {
		ps = append(ps, ksPair{name, ga(r, na), gb(r, nb)})
	}
	// Small samples, every size pair shape scipy's exact paths take: equal
	// sizes (outside-square), unequal with and without a common divisor.
	for _, n1 := range []int{1, 2, 3, 5, 8, 13, 21, 34, 50} {
		for _, n2 := range []int{1, 2, 4, 7, 13, 30, 50} {
			add("normal/shifted", normal(0, 1), n1, normal(0.8, 1), n2)
		}
	}
	add("same", normal(0, 1), 40, normal(0, 1), 40)
	add("scaled", normal(0, 1), 300, normal(0, 2), 450)
	add("heavy-tailed", cauchy, 200, cauchy, 300)
	add("ties", ties, 500, ties, 700)
	add("ties, shifted", ties, 64, func(r *rand.Rand, n int) []float64 {
		v := ties(r, n)
		for i := range v {
			v[i]++
		}
		return v
	}, 48)
	add("exact, largest square", normal(0, 1), 10000, normal(0.02, 1), 10000)
	add("exact, large unequal", normal(0, 1), 3000, normal(0.05, 1), 2000)
	add("asymptotic", normal(0, 1), 20000, normal(0.03, 1), 15000)
	add("asymptotic, small side", normal(0, 1), 20000, normal(0.5, 1), 5)
	add("asymptotic, large", normal(0, 1), 200000, normal(0.005, 1), 100000)
	return ps
}

func TestKSMatchesSciPy(t *testing.T) {
	ps := ksPairs()
	cases := make([]scipyCase, len(ps))
	for i, p := range ps {
		cases[i] = scipyCase{"kind": "ks2", "a": p.a, "b": p.b}
	}
	ans := askSciPy(t, cases)
	for i, p := range ps {
		want := nums(t, ans[i])
		got := driftstat.KS(driftstat.NewSample(p.a), driftstat.NewSample(p.b))
		if !near(got.Statistic, want[0], 0, 1e-15) || !near(got.PValue, want[1], rel, abs) {
			t.Errorf("%s (n=%d, %d): KS = %+v, scipy D=%.17g p=%.17g", p.name, len(p.a), len(p.b), got, want[0], want[1])
		}
	}
}

func TestWassersteinMatchesSciPy(t *testing.T) {
	ps := ksPairs()
	cases := make([]scipyCase, len(ps))
	for i, p := range ps {
		cases[i] = scipyCase{"kind": "wasserstein", "a": p.a, "b": p.b}
	}
	ans := askSciPy(t, cases)
	for i, p := range ps {
		want := num(t, ans[i])
		if got := driftstat.Wasserstein(driftstat.NewSample(p.a), driftstat.NewSample(p.b)); !near(got, want, rel, abs) {
			t.Errorf("%s (n=%d, %d): Wasserstein = %.17g, scipy %.17g", p.name, len(p.a), len(p.b), got, want)
		}
	}
}

// countPairs are histograms on shared bins: equal, shifted, with bins empty
// on one side or both, and a single bin.
func countPairs() [][2][]int64 {
	return [][2][]int64{
		{{10, 20, 30, 40}, {10, 20, 30, 40}},
		{{100, 100, 100, 100, 100}, {50, 80, 100, 120, 150}},
		{{500, 300, 200}, {0, 300, 700}},
		{{5, 0, 5}, {5, 3, 2}},
		{{0, 7, 0, 9}, {0, 2, 0, 1}},
		{{1000}, {3}},
		{{1, 1}, {1000000, 1}},
		{{12, 8, 30, 0, 50}, {3, 40, 1, 2, 0}},
	}
}

func TestCountStatisticsMatchSciPy(t *testing.T) {
	cps := countPairs()
	var cases []scipyCase
	for _, c := range cps {
		cases = append(cases,
			scipyCase{"kind": "chi2", "a": c[0], "b": c[1]},
			scipyCase{"kind": "js", "a": c[0], "b": c[1]},
			scipyCase{"kind": "psi", "a": c[0], "b": c[1]})
	}
	ans := askSciPy(t, cases)
	for i, c := range cps {
		chi := nums(t, ans[3*i])
		got := driftstat.ChiSquare(c[0], c[1])
		if !near(got.Statistic, chi[0], rel, abs) || !near(got.PValue, chi[1], rel, abs) || got.DoF != int(chi[2]) {
			t.Errorf("%v: ChiSquare = %+v, scipy %v", c, got, chi)
		}
		if js, want := driftstat.JSDistance(c[0], c[1]), num(t, ans[3*i+1]); !near(js, want, rel, 1e-12) {
			t.Errorf("%v: JSDistance = %.17g, scipy %.17g", c, js, want)
		}
		if psi, want := driftstat.PSI(c[0], c[1]), num(t, ans[3*i+2]); !near(psi, want, rel, abs) {
			t.Errorf("%v: PSI = %.17g, numpy %.17g", c, psi, want)
		}
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	// The worked example: m = 5 p-values.
	// sorted: .005 .01 .03 .04 .2 → ×5/rank: .025 .025 .05 .05 .2 → step-up min.
	got := driftstat.BenjaminiHochberg([]float64{0.04, 0.005, 0.2, 0.01, 0.03})
	want := []float64{0.05, 0.025, 0.2, 0.025, 0.05}
	for i := range want {
		if !near(got[i], want[i], 1e-12, 0) {
			t.Errorf("BH worked example [%d] = %g, want %g", i, got[i], want[i])
		}
	}
	// NaN marks a test not performed: it stays NaN and m counts the others.
	got = driftstat.BenjaminiHochberg([]float64{0.01, math.NaN(), 0.04})
	if !math.IsNaN(got[1]) || !near(got[0], 0.02, 1e-12, 0) || !near(got[2], 0.04, 1e-12, 0) {
		t.Errorf("BH with a NaN = %v, want [0.02 NaN 0.04]", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var sets [][]float64
	for _, m := range []int{1, 2, 7, 50, 300} {
		p := make([]float64, m)
		for i := range p {
			p[i] = math.Pow(r.Float64(), 3) // many small, some ties below
		}
		if m > 5 {
			p[1], p[3] = p[2], p[2]
		}
		sets = append(sets, p)
	}
	cases := make([]scipyCase, len(sets))
	for i, p := range sets {
		cases[i] = scipyCase{"kind": "bh", "p": p}
	}
	ans := askSciPy(t, cases)
	for i, p := range sets {
		want := nums(t, ans[i])
		got := driftstat.BenjaminiHochberg(p)
		for j := range p {
			if !near(got[j], want[j], 1e-12, 0) {
				t.Errorf("BH m=%d [%d] = %.17g, numpy %.17g", len(p), j, got[j], want[j])
			}
		}
	}
}

// The sketch path: KS with a KLL sketch on the reference side against scipy
// on the raw values. The sketch's CDF is within its rank error ε of the
// stream's (profile.KLLK = 200: about 1.3%, 1.65% 99% of the time), so D is
// within ε; the test allows ε = 0.025, and checks that scipy's p-value lies
// between the p-values of D ± ε at the same sizes.
func TestKSFromSketchWithinKLLError(t *testing.T) {
	const eps = 0.025
	r := rand.New(rand.NewPCG(5, 6))
	type c struct {
		name string
		ref  []float64
		cur  []float64
	}
	cs := []c{
		{"same", normal(0, 1)(r, 50000), normal(0, 1)(r, 800)},
		{"shifted", normal(0, 1)(r, 50000), normal(0.2, 1)(r, 800)},
		{"scaled", normal(0, 1)(r, 20000), normal(0, 1.5)(r, 5000)},
		{"heavy-tailed", cauchy(r, 30000), cauchy(r, 2000)},
		{"ties", ties(r, 40000), ties(r, 3000)},
	}
	cases := make([]scipyCase, len(cs))
	for i, x := range cs {
		cases[i] = scipyCase{"kind": "ks2", "a": x.ref, "b": x.cur}
	}
	ans := askSciPy(t, cases)
	for i, x := range cs {
		k := profile.NewKLL(profile.KLLK, 7)
		for _, v := range x.ref {
			k.Add(v)
		}
		got := driftstat.KS(driftstat.NewSketch(k), driftstat.NewSample(x.cur))
		want := nums(t, ans[i])
		if math.Abs(got.Statistic-want[0]) > eps {
			t.Errorf("%s: sketch D = %g, scipy %g: more than %g apart", x.name, got.Statistic, want[0], eps)
		}
		n1, n2 := int64(len(x.ref)), int64(len(x.cur))
		hi, lo := driftstat.KSPValue(got.Statistic-eps, n1, n2), driftstat.KSPValue(got.Statistic+eps, n1, n2)
		if want[1] < lo || want[1] > hi {
			t.Errorf("%s: scipy p = %g outside [%g, %g], the p-values of the sketch's D ± %g", x.name, want[1], lo, hi, eps)
		}
		w := driftstat.Wasserstein(driftstat.NewSketch(k), driftstat.NewSample(x.cur))
		we := driftstat.Wasserstein(driftstat.NewSample(x.ref), driftstat.NewSample(x.cur))
		t.Logf("%s: D sketch %.4f exact %.4f; W sketch %.4f exact %.4f", x.name, got.Statistic, want[0], w, we)
	}
}

func TestPrimitivesEdgeCases(t *testing.T) {
	empty := driftstat.NewSample(nil)
	one := driftstat.NewSample([]float64{3})
	if r := driftstat.KS(empty, one); !math.IsNaN(r.Statistic) || !math.IsNaN(r.PValue) {
		t.Errorf("KS with an empty side = %+v, want NaN", r)
	}
	if r := driftstat.KS(one, one); r.Statistic != 0 || r.PValue != 1 {
		t.Errorf("KS of one value against itself = %+v, want D 0, p 1", r)
	}
	if w := driftstat.Wasserstein(one, driftstat.NewSample([]float64{5, math.NaN()})); w != 2 {
		t.Errorf("Wasserstein({3}, {5, NaN}) = %g, want 2 (NaN dropped)", w)
	}
	if !math.IsNaN(driftstat.PSI([]int64{1, 2}, []int64{1})) || !math.IsNaN(driftstat.JSDistance([]int64{0, 0}, []int64{1, 1})) {
		t.Error("PSI/JS of mismatched or empty counts should be NaN")
	}
	if c := driftstat.ChiSquare([]int64{5, 0}, []int64{0, 0}); !math.IsNaN(c.PValue) {
		t.Errorf("ChiSquare with an empty side = %+v, want NaN", c)
	}
	if c := driftstat.ChiSquare([]int64{5, 0}, []int64{3, 0}); c.PValue != 1 || c.DoF != 0 {
		t.Errorf("ChiSquare with one non-empty column = %+v, want p 1, DoF 0", c)
	}
	if p := driftstat.KSPValue(math.NaN(), 3, 4); !math.IsNaN(p) {
		t.Errorf("KSPValue(NaN) = %g", p)
	}
	if got := driftstat.BenjaminiHochberg(nil); len(got) != 0 {
		t.Errorf("BH(nil) = %v", got)
	}
}

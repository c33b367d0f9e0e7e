package xgboost

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// compareContribs checks Contributions on rows of dir/name.cases.json (every
// row, or an even spread of about 600 of them)
// against xgboost's pred_contribs, and that each output's contributions sum
// to PredictMargin's margin. The trees must be at least minDepth deep. It
// returns the largest |ours - xgboost|.
func compareContribs(t *testing.T, dir, name string, minDepth uint32) float64 {
	t.Helper()
	path := filepath.Join(dir, name+".model.json")
	m := loadModelFile(t, path)
	rows, _, c := loadCases(t, filepath.Join(dir, name+".cases.json"))
	if len(c.Contribs) != len(rows) || len(rows) == 0 {
		t.Fatalf("%s: %d contributions for %d rows", name, len(c.Contribs), len(rows))
	}
	if m.shap.maxDepth < minDepth {
		t.Fatalf("%s: trees %d deep, want at least %d", name, m.shap.maxDepth, minDepth)
	}
	missing := 0
	for _, r := range rows {
		for _, v := range r {
			if v != v {
				missing++
			}
		}
	}
	if missing == 0 {
		t.Fatalf("%s: no missing values in the rows", name)
	}
	e, err := m.NewExplainer()
	if err != nil {
		t.Fatal(err)
	}
	nf, k := m.NumFeatures(), m.NumOutputs()
	out := make([]float32, m.NumContributions())
	margin := make([]float32, k)
	maxDiff, maxSumDiff := 0.0, 0.0
	bad := 0
	// At most about 600 rows a model, spread over all of them: TreeSHAP is
	// O(trees·leaves·depth²) a row, and the suite runs under -race.
	step := max(1, len(rows)/600)
	for i := 0; i < len(rows); i += step {
		r := rows[i]
		if err := e.Contributions(r, out); err != nil {
			t.Fatal(err)
		}
		if len(c.Contribs[i]) != len(out) {
			t.Fatalf("%s row %d: xgboost has %d contributions, we have %d", name, i, len(c.Contribs[i]), len(out))
		}
		for j, w := range c.Contribs[i] {
			d := math.Abs(float64(out[j]) - w)
			maxDiff = math.Max(maxDiff, d)
			if d > 1e-5*math.Max(1, math.Abs(w)) {
				if bad++; bad <= 10 {
					t.Errorf("%s row %d output %d column %d: got %.9g, xgboost %.9g (diff %.3g)",
						name, i, j/(nf+1), j%(nf+1), out[j], w, d)
				}
			}
		}
		if err := m.PredictMargin(r, margin); err != nil {
			t.Fatal(err)
		}
		for g := range k {
			sum := 0.0
			for _, v := range out[g*(nf+1) : (g+1)*(nf+1)] {
				sum += float64(v)
			}
			d := math.Abs(sum - float64(margin[g]))
			maxSumDiff = math.Max(maxSumDiff, d)
			if d > 1e-5*math.Max(1, math.Abs(float64(margin[g]))) {
				t.Errorf("%s row %d output %d: contributions sum to %.9g, margin %.9g", name, i, g, sum, margin[g])
			}
		}
	}
	t.Logf("%s (%s, %d trees of depth <= %d, %d features, %d rows, %d missing values): contributions max |ours - xgboost| = %.3g, max |sum - margin| = %.3g, %d outside tolerance",
		name, m.Objective(), m.NumTrees(), m.shap.maxDepth, nf, len(rows), missing, maxDiff, maxSumDiff, bad)
	return maxDiff
}

func TestContributionsFixtures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		minDepth uint32
	}{{"small_binary", 3}, {"small_regression", 3}, {"small_multi", 2}, {"small_deep", 6}} {
		t.Run(tc.name, func(t *testing.T) { compareContribs(t, "testdata/fixtures", tc.name, tc.minDepth) })
	}
}

func TestContributionsAgainstXGBoost(t *testing.T) {
	dir := models.For(t)
	for _, tc := range []struct {
		name     string
		minDepth uint32
	}{{"binary", 6}, {"binary_exact_gamma", 3}, {"regression", 6}, {"multi", 5}, {"forest", 4}, {"big", 8}, {"credit", 4}} {
		t.Run(tc.name, func(t *testing.T) { compareContribs(t, dir, tc.name, tc.minDepth) })
	}
}

func TestContributionsDoNotAllocate(t *testing.T) {
	m := loadModelFile(t, "testdata/fixtures/small_multi.model.json")
	rows, _, _ := loadCases(t, "testdata/fixtures/small_multi.cases.json")
	e, err := m.NewExplainer()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, m.NumContributions())
	if n := testing.AllocsPerRun(100, func() { _ = e.Contributions(rows[0], out) }); n != 0 {
		t.Fatalf("Contributions allocates %v times per call", n)
	}
}

func TestContributionsAPI(t *testing.T) {
	m := loadModelFile(t, "testdata/fixtures/small_multi.model.json")
	rows, _, _ := loadCases(t, "testdata/fixtures/small_multi.cases.json")
	if got, want := m.NumContributions(), 3*(5+1); got != want {
		t.Fatalf("NumContributions = %d, want %d", got, want)
	}
	// Model.Contributions is the Explainer's, one-off.
	a := make([]float32, m.NumContributions())
	b := make([]float32, m.NumContributions())
	e, err := m.NewExplainer()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[:10] {
		if err := m.Contributions(r, a); err != nil {
			t.Fatal(err)
		}
		if err := e.Contributions(r, b); err != nil {
			t.Fatal(err)
		}
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
				t.Fatalf("Model.Contributions %v, Explainer.Contributions %v", a, b)
			}
		}
	}
	if err := e.Contributions(rows[0][:4], a); !errors.Is(err, ErrShape) {
		t.Fatalf("short row: err = %v, want ErrShape", err)
	}
	if err := e.Contributions(rows[0], a[:5]); !errors.Is(err, ErrShape) {
		t.Fatalf("short output: err = %v, want ErrShape", err)
	}
}

func TestContributionsCovers(t *testing.T) {
	dropCovers := func(doc map[string]any) {
		for _, tr := range trees(doc) {
			delete(tr.(map[string]any), "sum_hessian")
		}
	}
	m, err := Parse(rewriteFixture(t, "small_binary", dropCovers))
	if err != nil {
		t.Fatalf("a model without sum_hessian must still load for Predict: %v", err)
	}
	if _, err := m.NewExplainer(); !errors.Is(err, ErrNoCovers) {
		t.Fatalf("NewExplainer without covers: err = %v, want ErrNoCovers", err)
	}
	if err := m.Contributions(make([]float32, 5), make([]float32, 6)); !errors.Is(err, ErrNoCovers) {
		t.Fatalf("Contributions without covers: err = %v, want ErrNoCovers", err)
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"negative", -1.5, "sum_hessian -1.5"},
		{"NaN", "NaN", "sum_hessian NaN"},
		{"infinite", "Inf", "sum_hessian +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(rewriteFixture(t, "small_binary", func(doc map[string]any) {
				firstTree(doc)["sum_hessian"].([]any)[1] = tc.v
			}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	_, err = Parse(rewriteFixture(t, "small_binary", func(doc map[string]any) {
		tr := firstTree(doc)
		tr["sum_hessian"] = tr["sum_hessian"].([]any)[1:]
	}))
	if err == nil || !strings.Contains(err.Error(), "sum_hessian has") {
		t.Fatalf("short sum_hessian: err = %v", err)
	}
}

// BenchmarkContributions times TreeSHAP on one row of the "big" model (200
// trees of depth 8); bench/predict compares it with xgboost.
func BenchmarkContributions(b *testing.B) {
	m, rows := benchModel(b, "big")
	e, err := m.NewExplainer()
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float32, m.NumContributions())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := e.Contributions(rows[i%len(rows)], out); err != nil {
			b.Fatal(err)
		}
	}
}

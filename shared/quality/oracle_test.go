package quality_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/openmlops/mlops/shared/pythontest"
	"github.com/openmlops/mlops/shared/quality"
)

type oracleCase struct {
	Y         []float64 `json:"y,omitempty"`
	P         []float64 `json:"p"`
	Threshold float64   `json:"threshold"`
	RefY      []float64 `json:"refY,omitempty"`
	RefP      []float64 `json:"refP,omitempty"`
}

type oracleBinary struct {
	N, Positives                  int
	AUC, DelongAuc, DelongSe, ECE *float64
	Accuracy, Precision, Recall   []float64 // value, lower, upper
}

type oracleRegression struct {
	RMSE, MAE     float64
	RmseCi, MaeCi []float64
}

type oracleCBPE struct {
	KnotsX, KnotsY                       []float64
	TP, FP, FN, TN, Accuracy, AccuracySe float64
	Precision, Recall, AUC, AucSe        float64
}

type oracleAnswers struct {
	Binary     []oracleBinary
	Regression []oracleRegression
	CBPE       []oracleCBPE
}

// askOracle runs testdata/oracle.py (scipy and numpy) on the cases.
func askOracle(t *testing.T, cases map[string][]oracleCase) oracleAnswers {
	t.Helper()
	if out, err := exec.Command(pythontest.Python, "-c", "import numpy, scipy").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import numpy and scipy (%v: %s)", pythontest.Python, err, bytes.TrimSpace(out))
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythontest.Python, "testdata/oracle.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.py: %v: %s", err, stderr.String())
	}
	var a oracleAnswers
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("oracle.py's answer: %v", err)
	}
	return a
}

// binaryCases are scores with labels drawn from them (so that AUC is away
// from 0.5), some rounded to two decimals for ties, some imbalanced, and the
// smallest samples DeLong and Wilson take.
func binaryCases(r *rand.Rand) []oracleCase {
	var cs []oracleCase
	for _, c := range []struct {
		n     int
		ties  bool
		shift float64
	}{{4, false, 0}, {5, true, 0}, {30, false, 0.2}, {200, true, 0}, {1000, false, -0.3}, {5000, true, 0.1}, {3000, false, 0.45}} {
		y, p := make([]float64, c.n), make([]float64, c.n)
		for i := range p {
			v := min(max(r.Float64()*0.9+0.05+c.shift*r.Float64(), 0), 1)
			if c.ties {
				v = math.Round(v*100) / 100
			}
			p[i] = v
			if r.Float64() < v {
				y[i] = 1
			}
		}
		// the smallest samples get both classes twice at least
		if c.n <= 5 {
			y[0], y[1], y[2], y[3] = 1, 1, 0, 0
		}
		cs = append(cs, oracleCase{Y: y, P: p, Threshold: 0.5})
	}
	return cs
}

// within fails t unless got is within tol of want, relative to max(1, |want|).
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if d := math.Abs(got - want); !(d <= tol*max(1, math.Abs(want))) {
		t.Errorf("%s = %.17g, oracle %.17g (|Δ| %.3g > %.0e)", what, got, want, d, tol)
	}
}

func withinEstimate(t *testing.T, what string, e *quality.Estimate, want []float64, tol float64) {
	t.Helper()
	if e == nil || e.Lower == nil || e.Upper == nil {
		t.Errorf("%s: %+v, oracle %v", what, e, want)
		return
	}
	within(t, what, e.Value, want[0], tol)
	within(t, what+" lower", *e.Lower, want[1], tol)
	within(t, what+" upper", *e.Upper, want[2], tol)
}

// The figures agree with scipy and numpy: AUC with scipy's Mann-Whitney U /
// (n₁n₂) to 1e-12 (relative; both are exact up to the last division), DeLong's
// SE with Sun & Xu's published algorithm to 1e-10, Wilson's bounds and ECE,
// the regression intervals, and every CBPE figure to 1e-10 (sums in another
// order).
func TestAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 12))
	bin := binaryCases(r)
	var reg []oracleCase
	for _, n := range []int{2, 3, 100, 4000} {
		y, p := make([]float64, n), make([]float64, n)
		for i := range y {
			y[i] = r.NormFloat64()*10 + 50
			p[i] = y[i] + r.NormFloat64()*3 + 0.5*r.ExpFloat64()
		}
		reg = append(reg, oracleCase{Y: y, P: p})
	}
	var cb []oracleCase
	for i, c := range bin {
		c := oracleCase{P: c.P, Threshold: c.Threshold}
		if i%2 == 1 {
			// reference data from a distorted model: labels ~ Bernoulli(p²)
			n := 400
			c.RefY, c.RefP = make([]float64, n), make([]float64, n)
			for j := range n {
				v := math.Round(r.Float64()*100) / 100 // ties, and few knots for the O(n³) oracle
				c.RefP[j] = v
				if r.Float64() < v*v {
					c.RefY[j] = 1
				}
			}
		}
		cb = append(cb, c)
	}
	want := askOracle(t, map[string][]oracleCase{"binary": bin, "regression": reg, "cbpe": cb})

	for i, c := range bin {
		got, err := quality.MeasureBinary(c.Y, c.P, c.Threshold)
		if err != nil {
			t.Fatal(err)
		}
		w := want.Binary[i]
		if got.N != w.N || got.Positives != w.Positives {
			t.Errorf("case %d: n %d, positives %d; oracle %d, %d", i, got.N, got.Positives, w.N, w.Positives)
		}
		within(t, "auc vs mannwhitneyu", got.AUC.Value, *w.AUC, 1e-12)
		within(t, "auc vs delong", got.AUC.Value, *w.DelongAuc, 1e-12)
		auc, se, ok := quality.DeLong(c.Y, c.P)
		if !ok {
			t.Fatalf("case %d: DeLong undefined", i)
		}
		within(t, "delong auc", auc, *w.DelongAuc, 1e-12)
		within(t, "delong se", se, *w.DelongSe, 1e-10)
		within(t, "auc lower", *got.AUC.Lower, max(auc-1.959963984540054*se, 0), 1e-12)
		withinEstimate(t, "accuracy", got.Accuracy, w.Accuracy, 1e-12)
		withinEstimate(t, "precision", got.Precision, w.Precision, 1e-12)
		withinEstimate(t, "recall", got.Recall, w.Recall, 1e-12)
		within(t, "ece", *got.ECE, *w.ECE, 1e-10)
	}
	for i, c := range reg {
		got, err := quality.MeasureRegression(c.Y, c.P)
		if err != nil {
			t.Fatal(err)
		}
		w := want.Regression[i]
		withinEstimate(t, "rmse", got.RMSE, append([]float64{w.RMSE}, w.RmseCi...), 1e-10)
		withinEstimate(t, "mae", got.MAE, append([]float64{w.MAE}, w.MaeCi...), 1e-10)
	}
	for i, c := range cb {
		var cal *quality.Calibrator
		w := want.CBPE[i]
		if c.RefY != nil {
			var err error
			if cal, err = quality.FitCalibrator(c.RefY, c.RefP); err != nil {
				t.Fatal(err)
			}
			if len(cal.X) != len(w.KnotsX) {
				t.Fatalf("case %d: %d knots, oracle %d", i, len(cal.X), len(w.KnotsX))
			}
			for k := range cal.X {
				within(t, "knot x", cal.X[k], w.KnotsX[k], 0)
				within(t, "isotonic fit", cal.Y[k], w.KnotsY[k], 1e-12)
			}
		}
		got, err := quality.EstimateBinary(c.P, c.Threshold, cal)
		if err != nil {
			t.Fatal(err)
		}
		within(t, "expected tp", got.ExpectedTP, w.TP, 1e-10)
		within(t, "expected fp", got.ExpectedFP, w.FP, 1e-10)
		within(t, "expected fn", got.ExpectedFN, w.FN, 1e-10)
		within(t, "expected tn", got.ExpectedTN, w.TN, 1e-10)
		within(t, "cbpe accuracy", *got.Accuracy, w.Accuracy, 1e-10)
		within(t, "cbpe accuracy se", *got.AccuracyStdErr, w.AccuracySe, 1e-10)
		within(t, "cbpe precision", *got.Precision, w.Precision, 1e-10)
		within(t, "cbpe recall", *got.Recall, w.Recall, 1e-10)
		within(t, "cbpe auc", *got.AUC, w.AUC, 1e-10)
		if got.AUCStdErr != nil || got.ExpectedTP+got.ExpectedFN > 1 && got.ExpectedFP+got.ExpectedTN > 1 {
			within(t, "cbpe auc se", *got.AUCStdErr, w.AucSe, 1e-10)
		}
	}
}

package metrics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/openmlops/mlops/shared/metrics"
)

// python is Debian's interpreter, the one with python3-xgboost (train.py
// imports xgboost at the top).
const python = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import numpy, xgboost").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import numpy and xgboost (%v: %s): the comparison with train.py needs them",
			python, err, bytes.TrimSpace(out))
	}
}

type binaryCase struct {
	Y, P      []float64
	Threshold float64
}

type regressionCase struct{ Y, P []float64 }

type multiCase struct {
	Y []int
	P []float64 // row-major, K per row
	K int
}

type cases struct {
	Binary     []binaryCase
	Regression []regressionCase
	Multi      []multiCase
}

// results are train.py's answers: one map per case (None → absent), and the
// calibration bins of each binary case.
type results struct {
	Binary      []map[string]float64
	Calibration [][]map[string]float64
	Regression  []map[string]float64
	Multi       []map[string]float64
}

// pyScript imports train.py from trainer/ as trainer/test_train.py does and
// applies its own metric functions to every case.
const pyScript = `
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train

cases = json.load(open(sys.argv[2]))
def clean(m):
    return {k: v for k, v in m.items() if v is not None}
out = {"Binary": [], "Calibration": [], "Regression": [], "Multi": []}
for c in cases["Binary"]:
    y, p = np.array(c["Y"], dtype=np.float64), np.array(c["P"], dtype=np.float64)
    out["Binary"].append(clean(train.binary_metrics(y, p, c["Threshold"])))
    out["Calibration"].append(train.calibration(y, p) if len(y) else [])
for c in cases["Regression"]:
    y, p = np.array(c["Y"], dtype=np.float64), np.array(c["P"], dtype=np.float64)
    out["Regression"].append(clean(train.regression_metrics(y, p)))
for c in cases["Multi"]:
    k = c["K"]
    y = np.array(c["Y"], dtype=np.float64)
    P = np.array(c["P"], dtype=np.float64).reshape(len(y), k)
    out["Multi"].append(clean(train.multiclass_metrics(y, P, k)))
json.dump(out, sys.stdout)
`

// f32 rounds to float32 and back, as the trainer's outputs are xgboost's float32.
func f32(x float64) float64 { return float64(float32(x)) }

func makeCases(r *rand.Rand) cases {
	var c cases
	sizes := []int{0, 1, 2, 7, 8, 9, 16, 127, 128, 129, 300, 1000, 4099}
	for _, n := range sizes {
		for variant := 0; variant < 6; variant++ {
			y, p := make([]float64, n), make([]float64, n)
			for i := range y {
				switch variant {
				case 0: // informative scores
					if r.Float64() < 0.3 {
						y[i] = 1
					}
					p[i] = f32(1 / (1 + math.Exp(-(3*y[i] - 1.5 + r.NormFloat64()))))
				case 1: // heavy ties on a coarse grid, including exactly 0, 1 and the threshold
					if r.Float64() < 0.5 {
						y[i] = 1
					}
					p[i] = float64(r.IntN(11)) / 10
				case 2: // one class only
					p[i] = f32(r.Float64())
				case 3: // no predicted positives
					if r.Float64() < 0.4 {
						y[i] = 1
					}
					p[i] = f32(r.Float64() * 0.4)
				case 4: // scores around a float32 threshold: float32(0.42) < 0.42
					if r.Float64() < 0.5 {
						y[i] = 1
					}
					p[i] = []float64{f32(0.42), 0.42, math.Nextafter(0.42, 1), f32(r.Float64())}[r.IntN(4)]
				case 5: // extremes, clipped in the log loss
					y[i] = float64(r.IntN(2))
					p[i] = []float64{0, 1, 1e-20, 1 - 1e-17, f32(r.Float64())}[r.IntN(5)]
				}
			}
			th := 0.5
			if variant == 4 || variant == 3 {
				th = 0.42
			}
			c.Binary = append(c.Binary, binaryCase{Y: y, P: p, Threshold: th})
		}
		for variant := 0; variant < 3; variant++ {
			y, p := make([]float64, n), make([]float64, n)
			for i := range y {
				switch variant {
				case 0:
					y[i] = 1000 + 500*r.NormFloat64()
					p[i] = f32(y[i] + 100*r.NormFloat64())
				case 1: // constant target: no r2
					y[i] = 7
					p[i] = f32(7 + r.NormFloat64())
				case 2: // large offsets: cancellation in the variance
					y[i] = 1e6 + float64(r.IntN(100))
					p[i] = f32(1e6 + 50)
				}
			}
			c.Regression = append(c.Regression, regressionCase{Y: y, P: p})
		}
		for _, k := range []int{3, 6, 8, 11} {
			y, p := make([]int, n), make([]float64, n*k)
			for i := range y {
				y[i] = r.IntN(max(1, k-2)) // the last classes never occur in the truth
				var s float64
				for j := 0; j < k; j++ {
					v := math.Exp(r.NormFloat64())
					if j == y[i] {
						v *= 3
					}
					if r.IntN(20) == 0 {
						v = 0 // a zero probability of the true class is clipped
					}
					p[i*k+j] = v
					s += v
				}
				if s == 0 {
					p[i*k] = 1
					s = 1
				}
				for j := 0; j < k; j++ {
					p[i*k+j] = f32(p[i*k+j] / s) // float32, summing to 1 only roughly
				}
			}
			c.Multi = append(c.Multi, multiCase{Y: y, P: p, K: k})
		}
	}
	return c
}

// close reports whether got is train.py's want within 1e-12 relative.
func close(got, want float64) bool {
	return got == want || math.Abs(got-want) <= 1e-12*math.Max(math.Abs(want), 1e-300)
}

func compare(t *testing.T, what string, got, want map[string]float64, exact *int, total *int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: metrics %v, train.py %v", what, got, want)
		return
	}
	for k, w := range want {
		g, ok := got[k]
		*total++
		switch {
		case !ok:
			t.Errorf("%s: %s missing (train.py %v)", what, k, w)
		case g == w:
			*exact++
		case !close(g, w):
			t.Errorf("%s: %s = %v, train.py %v (relative difference %.3g)", what, k, g, w, math.Abs(g-w)/math.Abs(w))
		}
	}
}

func TestAgainstTrainPy(t *testing.T) {
	needPython(t)
	c := makeCases(rand.New(rand.NewPCG(1, 2)))
	dir := t.TempDir()
	in := filepath.Join(dir, "cases.json")
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	trainerDir, err := filepath.Abs(filepath.Join("..", "..", "trainer"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pyScript, trainerDir, in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var want results
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Binary) != len(c.Binary) || len(want.Regression) != len(c.Regression) || len(want.Multi) != len(c.Multi) {
		t.Fatalf("train.py answered %d/%d/%d cases for %d/%d/%d", len(want.Binary), len(want.Regression),
			len(want.Multi), len(c.Binary), len(c.Regression), len(c.Multi))
	}
	var exact, total int
	for i, bc := range c.Binary {
		what := fmt.Sprintf("binary case %d (%d rows)", i, len(bc.Y))
		compare(t, what, metrics.Binary(bc.Y, bc.P, bc.Threshold), want.Binary[i], &exact, &total)
		if len(bc.Y) == 0 {
			continue
		}
		bins := metrics.Calibration(bc.Y, bc.P, 10)
		for j, w := range want.Calibration[i] {
			g := map[string]float64{"lower": bins[j].Lower, "upper": bins[j].Upper, "count": float64(bins[j].Count),
				"meanPredicted": bins[j].MeanPredicted, "fractionPositive": bins[j].FractionPositive}
			compare(t, fmt.Sprintf("%s calibration bin %d", what, j), g, w, &exact, &total)
		}
	}
	for i, rc := range c.Regression {
		compare(t, fmt.Sprintf("regression case %d (%d rows)", i, len(rc.Y)), metrics.Regression(rc.Y, rc.P),
			want.Regression[i], &exact, &total)
	}
	for i, mc := range c.Multi {
		compare(t, fmt.Sprintf("multiclass case %d (%d rows, %d classes)", i, len(mc.Y), mc.K),
			metrics.Multiclass(mc.Y, mc.P, mc.K), want.Multi[i], &exact, &total)
	}
	t.Logf("%d of %d values equal train.py's bit for bit, the rest within 1e-12 relative", exact, total)
}

func TestSum(t *testing.T) {
	// Pairwise summation is exact on small integers and splits like numpy.
	for _, n := range []int{0, 1, 7, 8, 9, 128, 129, 1000, 100000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i % 13)
		}
		var want float64
		for _, v := range x {
			want += v
		}
		if got := metrics.Sum(x); got != want {
			t.Errorf("Sum of %d: %v, want %v", n, got, want)
		}
	}
	// 1 + 1e-16·n: naive left-to-right summation loses every small term, the
	// pairwise blocks keep them once they gather.
	x := []float64{1}
	for i := 0; i < 1023; i++ {
		x = append(x, 1e-16)
	}
	if got := metrics.Sum(x); got <= 1 {
		t.Errorf("pairwise sum lost the small terms: %v", got)
	}
}

func TestUndefined(t *testing.T) {
	m := metrics.Binary([]float64{1, 1, 1}, []float64{0.1, 0.2, 0.9}, 0.5)
	if _, ok := m[metrics.AUC]; ok {
		t.Errorf("AUC with one class: %v", m)
	}
	if m[metrics.Recall] != 1.0/3 || m[metrics.Precision] != 1 {
		t.Errorf("recall/precision: %v", m)
	}
	m = metrics.Binary([]float64{0, 0}, []float64{0.1, 0.2}, 0.5)
	if _, ok := m[metrics.Recall]; ok || m[metrics.Precision] != 0 {
		t.Errorf("no positives: %v", m)
	}
	if _, ok := m[metrics.F1]; ok {
		t.Errorf("no positives: f1 %v", m)
	}
	if len(metrics.Binary(nil, nil, 0.5)) != 0 || len(metrics.Regression(nil, nil)) != 0 || len(metrics.Multiclass(nil, nil, 3)) != 0 {
		t.Error("empty inputs give metrics")
	}
	if _, ok := metrics.Regression([]float64{2, 2}, []float64{1, 3})[metrics.R2]; ok {
		t.Error("r2 of a constant target")
	}
	for _, v := range metrics.Binary([]float64{0, 1}, []float64{0, 1}, 0.5) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("non-finite metric with probabilities 0 and 1")
		}
	}
	// Ties count half: one positive and one negative with the same score.
	if a, ok := metrics.AUCScore([]float64{0, 1}, []float64{0.3, 0.3}); !ok || a != 0.5 {
		t.Errorf("AUC of a tie: %v %v", a, ok)
	}
	if !metrics.Positive(0.5, 0.5) || metrics.Positive(float64(float32(0.42)), 0.42) != true ||
		metrics.Positive(0.4199999, 0.42) {
		t.Error("Positive does not compare in float32")
	}
}

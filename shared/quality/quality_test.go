package quality_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/metrics"
	"github.com/openmlops/mlops/shared/quality"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	return string(b)
}

func contains(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s\nlacks %s", s, w)
		}
	}
}

func TestBinaryEdges(t *testing.T) {
	t.Run("no labels", func(t *testing.T) {
		b, err := quality.MeasureBinary(nil, nil, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		contains(t, marshal(t, b), `"n":0`, `"auc":null`, `"accuracy":null`, `"precision":null`, `"recall":null`, `"ece":null`,
			`"auc":"no labelled predictions"`)
	})
	t.Run("one class", func(t *testing.T) {
		b, err := quality.MeasureBinary([]float64{1, 1, 1}, []float64{0.9, 0.2, 0.6}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if b.AUC != nil || b.Recall == nil || b.Recall.Value != 2.0/3 || b.Positives != 3 {
			t.Errorf("got %+v", b)
		}
		contains(t, marshal(t, b), `"auc":null`, `"auc":"one class only: 3 positives, 0 negatives"`)
	})
	t.Run("n=1", func(t *testing.T) {
		b, err := quality.MeasureBinary([]float64{0}, []float64{0.3}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := quality.Wilson(1, 1)
		if b.Accuracy.Value != 1 || *b.Accuracy.Lower != lo || *b.Accuracy.Upper != hi || !(lo > 0.2 && lo < 0.21) || hi != 1 {
			t.Errorf("accuracy %+v, want 1 in Wilson's [%v, %v]", b.Accuracy, lo, hi)
		}
		contains(t, marshal(t, b), `"precision":"no prediction is positive"`, `"recall":"no label is positive"`)
	})
	t.Run("one of a class", func(t *testing.T) {
		// AUC is defined, its DeLong variance is not (one positive).
		b, err := quality.MeasureBinary([]float64{1, 0, 0}, []float64{0.9, 0.2, 0.6}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if b.AUC == nil || b.AUC.Value != 1 || b.AUC.Lower != nil || b.AUC.Upper != nil {
			t.Errorf("auc %+v, want 1 with no interval", b.AUC)
		}
		contains(t, marshal(t, b), `"auc":{"value":1,"lower":null,"upper":null,"method":"delong"}`)
	})
	t.Run("agrees with metrics.Binary", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		y, p := make([]float64, 500), make([]float64, 500)
		for i := range p {
			p[i] = r.Float64()
			if r.Float64() < p[i] {
				y[i] = 1
			}
		}
		b, err := quality.MeasureBinary(y, p, 0.42)
		if err != nil {
			t.Fatal(err)
		}
		m := metrics.Binary(y, p, 0.42)
		for name, e := range b.Figures() {
			if e.Value != m[name] {
				t.Errorf("%s: %v, metrics.Binary %v", name, e.Value, m[name])
			}
		}
		bins := metrics.Calibration(y, p, 10)
		for i, bin := range b.Calibration {
			if bin.Count != bins[i].Count || bin.MeanPredicted != bins[i].MeanPredicted || bin.Lower != bins[i].Lower {
				t.Errorf("bin %d: %+v, metrics %+v", i, bin, bins[i])
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"lengths", second(quality.MeasureBinary([]float64{1}, nil, 0.5)), "1 labels but 0 probabilities"},
		{"label", second(quality.MeasureBinary([]float64{1, 2}, []float64{0.5, 0.5}, 0.5)), "row 1: label 2, want 0 or 1"},
		{"nan", second(quality.MeasureBinary([]float64{1}, []float64{math.NaN()}, 0.5)), "row 0: probability NaN"},
		{"above 1", second(quality.EstimateBinary([]float64{0.5, 1.5}, 0.5, nil)), "row 1: probability 1.5, want a number in [0, 1]"},
		{"class", second(quality.MeasureMulticlass([]int{0, 3}, make([]float64, 6), 3)), "row 1: class 3, want 0 to 2"},
		{"probs", second(quality.MeasureMulticlass([]int{0}, make([]float64, 2), 3)), "1 labels of 3 classes but 2 probabilities, want 3"},
		{"inf", second(quality.MeasureRegression([]float64{1}, []float64{math.Inf(1)})), "row 0: target 1, prediction +Inf"},
		{"calibrator", second(quality.EstimateBinary([]float64{0.5}, 0.5, &quality.Calibrator{X: []float64{0.2, 0.1}, Y: []float64{0, 1}})),
			"knot 1 (0.1, 1) after (0.2, 0): want x ascending"},
		{"maxDecay", second(quality.Compare(nil, nil, -0.1)), "maxDecay -0.1: want a finite number, 0 or more"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestMulticlass(t *testing.T) {
	y := []int{0, 1, 2, 2, 1}
	probs := []float64{0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.4, 0.1, 0.2, 0.2, 0.6}
	m, err := quality.MeasureMulticlass(y, probs, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := metrics.Multiclass(y, probs, 3)
	lo, hi := quality.Wilson(3, 5)
	if m.Accuracy.Value != want[metrics.Accuracy] || *m.Accuracy.Lower != lo || *m.Accuracy.Upper != hi || *m.MacroF1 != want[metrics.MacroF1] {
		t.Errorf("got %s, metrics %v", marshal(t, m), want)
	}
	empty, err := quality.MeasureMulticlass(nil, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	contains(t, marshal(t, empty), `"accuracy":null`, `"macroF1":null`, `"macro_f1":"no labelled predictions"`)
}

func TestRegressionEdges(t *testing.T) {
	r, err := quality.MeasureRegression([]float64{3}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	contains(t, marshal(t, r), `"rmse":{"value":2,"lower":null,"upper":null,"method":"normal"}`, `"mae":{"value":2,"lower":null`)
	r, _ = quality.MeasureRegression(nil, nil)
	contains(t, marshal(t, r), `"rmse":null`, `"mae":null`, `"rmse":"no labelled predictions"`)
}

func ptr(v float64) *float64 { return &v }

func TestCompare(t *testing.T) {
	training := map[string]float64{metrics.AUC: 0.80, metrics.Accuracy: 0.75, metrics.RMSE: 10, metrics.MAE: 8, metrics.LogLoss: 0.4}
	live := map[string]quality.Estimate{
		metrics.AUC:       {Value: 0.70, Lower: ptr(0.66), Upper: ptr(0.74)}, // upper 0.74 < 0.80 − 0.05: decayed
		metrics.Accuracy:  {Value: 0.60, Lower: ptr(0.40), Upper: ptr(0.78)}, // small sample: the interval reaches training
		metrics.RMSE:      {Value: 13, Lower: ptr(11.5), Upper: ptr(14)},     // lower 11.5 > 10 + 1: decayed
		metrics.MAE:       {Value: 12},                                       // no interval: never decays
		metrics.Precision: {Value: 0.1, Lower: ptr(0), Upper: ptr(0.2)},      // no training figure: left out
	}
	cs, err := quality.Compare(live, training, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var names []string
	for _, c := range cs {
		got[c.Metric] = c.Decayed
		names = append(names, c.Metric)
	}
	if strings.Join(names, ",") != "accuracy,auc,mae,rmse" {
		t.Fatalf("compared %v", names)
	}
	if !got[metrics.AUC] || got[metrics.Accuracy] || !got[metrics.RMSE] || got[metrics.MAE] || !quality.Decayed(cs) {
		t.Errorf("decayed: %v", got)
	}
	if c := cs[1]; math.Abs(c.Change-(-0.10)) > 1e-12 || c.Training != 0.80 || c.MaxDecay != 0.05 {
		t.Errorf("auc comparison %+v", c)
	}
	// A looser bound: the RMSE's lower end 11.5 is within 10 + 2.
	cs, _ = quality.Compare(map[string]quality.Estimate{metrics.RMSE: live[metrics.RMSE]}, training, 2)
	if quality.Decayed(cs) {
		t.Errorf("rmse decayed within the bound: %+v", cs)
	}
	contains(t, marshal(t, cs), `"metric":"rmse","live":13,"lower":11.5,"upper":14,"training":10,"change":3,"maxDecay":2,"decayed":false`)
}

// A real small sample does not alarm where a large one with the same
// accuracy does: the interval carries the sample size.
func TestSmallSamplesDoNotAlarm(t *testing.T) {
	sample := func(n int) quality.Binary {
		y, p := make([]float64, n), make([]float64, n)
		for i := range y {
			y[i] = float64(i % 2)
			p[i] = 0.9 // predicted positive: right on half
			if i%5 == 0 {
				p[i] = 0.1
			}
		}
		b, err := quality.MeasureBinary(y, p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		n    int
		want bool
	}{{10, false}, {1000, true}} {
		cs, err := quality.Compare(sample(c.n).Figures(), map[string]float64{metrics.Accuracy: 0.7}, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		if quality.Decayed(cs) != c.want {
			t.Errorf("n=%d: decayed %v, want %v: %+v", c.n, !c.want, c.want, cs)
		}
	}
}

func TestCBPEEdges(t *testing.T) {
	e, err := quality.EstimateBinary(nil, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	contains(t, marshal(t, e), `"accuracy":null`, `"auc":null`, `"auc":"no predictions"`)
	e, _ = quality.EstimateBinary([]float64{0, 0}, 0.5, nil)
	if *e.Accuracy != 1 || e.AUC != nil || e.Recall != nil || e.Precision != nil {
		t.Errorf("all zero: %s", marshal(t, e))
	}
	e, _ = quality.EstimateBinary([]float64{0.8}, 0.5, nil)
	if math.Abs(*e.Accuracy-0.8) > 1e-15 || math.Abs(*e.AccuracyStdErr-0.4) > 1e-15 || *e.Precision != 0.8 || *e.Recall != 1 || *e.AUC != 0.5 || e.AUCStdErr != nil {
		t.Errorf("n=1: %s", marshal(t, e))
	}
	live, _ := quality.MeasureBinary([]float64{1}, []float64{0.8}, 0.5)
	vs := quality.Beside(e, live)
	contains(t, marshal(t, vs), `{"metric":"accuracy","estimated":0.8,"realized":1,"difference":0.19999999999999996}`,
		`{"metric":"auc","estimated":0.5,"realized":null,"difference":null}`)
}

func TestCalibrator(t *testing.T) {
	// The last two bins violate monotonicity: they are pooled by count.
	bins := []bundle.CalibrationBin{
		{Count: 10, MeanPredicted: 0.05, FractionPositive: 0.1},
		{Count: 0},
		{Count: 30, MeanPredicted: 0.5, FractionPositive: 0.6},
		{Count: 10, MeanPredicted: 0.9, FractionPositive: 0.4},
	}
	c, err := quality.CalibratorFromBins(bins)
	if err != nil {
		t.Fatal(err)
	}
	pooled := (30*0.6 + 10*0.4) / 40
	if len(c.X) != 3 || c.Y[0] != 0.1 || c.Y[1] != pooled || c.Y[2] != pooled {
		t.Fatalf("calibrator %+v", c)
	}
	for _, p := range [][2]float64{{0, 0.1}, {0.05, 0.1}, {0.275, (0.1 + pooled) / 2}, {0.7, pooled}, {1, pooled}} {
		if got := c.Apply(p[0]); math.Abs(got-p[1]) > 1e-15 {
			t.Errorf("Apply(%v) = %v, want %v", p[0], got, p[1])
		}
	}
	if _, err := quality.CalibratorFromBins([]bundle.CalibrationBin{{Count: 0}}); err == nil {
		t.Error("empty bins made a calibrator")
	}
	if _, err := quality.CalibratorFromBins([]bundle.CalibrationBin{{Count: 1, MeanPredicted: 0.5}, {Count: 1, MeanPredicted: 0.4}}); err == nil ||
		!strings.Contains(err.Error(), "bin 1: mean predicted 0.4 is not above the previous bin's 0.5") {
		t.Errorf("unordered bins: %v", err)
	}
	if _, err := quality.FitCalibrator(nil, nil); err == nil {
		t.Error("no reference rows made a calibrator")
	}
}

// CBPE's estimate is the realised figure's expectation when the labels are
// drawn from the (calibrated) probabilities: over many samples, the realised
// accuracy and AUC fall around the estimate with the spread its standard
// errors state. With z = (realised − estimated)/SE per sample, |mean z| must
// be under 4/√samples and the sd of z within [0.8, 1.2] (accuracy: its SE is
// exact) or [0.7, 1.3] (AUC: Hanley & McNeil's is an approximation).
func TestCBPEProperty(t *testing.T) {
	const samples, n = 200, 2000
	r := rand.New(rand.NewPCG(3, 4))
	var za, zu []float64
	for range samples {
		y, p := make([]float64, n), make([]float64, n)
		for i := range p {
			p[i] = math.Pow(r.Float64(), 1.5) // skewed towards negatives
			if r.Float64() < p[i] {
				y[i] = 1
			}
		}
		est, err := quality.EstimateBinary(p, 0.5, nil)
		if err != nil {
			t.Fatal(err)
		}
		live, err := quality.MeasureBinary(y, p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		za = append(za, (live.Accuracy.Value-*est.Accuracy) / *est.AccuracyStdErr)
		zu = append(zu, (live.AUC.Value-*est.AUC) / *est.AUCStdErr)
	}
	check := func(name string, z []float64, sdLo, sdHi float64) {
		mean := metrics.Mean(z)
		var ss float64
		for _, v := range z {
			ss += (v - mean) * (v - mean)
		}
		sd := math.Sqrt(ss / float64(len(z)-1))
		t.Logf("%s: mean z %.3f, sd z %.3f", name, mean, sd)
		if math.Abs(mean) > 4/math.Sqrt(float64(len(z))) || sd < sdLo || sd > sdHi {
			t.Errorf("%s: realised − estimated over %d samples: mean z %.3f, sd z %.3f", name, len(z), mean, sd)
		}
	}
	check("accuracy", za, 0.8, 1.2)
	check("auc", zu, 0.7, 1.3)
}

// A model whose probabilities are off (the truth is p²) misleads CBPE
// until it is calibrated on reference data from the same model: then the
// estimate is within 4 standard errors of the realised accuracy and AUC.
func TestCBPECalibrated(t *testing.T) {
	// At 0.5 the raw estimate happens to be right (both give 0.75): at 0.3
	// it is 0.71 where the truth is 0.615.
	const threshold = 0.3
	r := rand.New(rand.NewPCG(5, 6))
	draw := func(n int) (y, p []float64) {
		y, p = make([]float64, n), make([]float64, n)
		for i := range p {
			p[i] = r.Float64()
			if r.Float64() < p[i]*p[i] {
				y[i] = 1
			}
		}
		return y, p
	}
	refY, refP := draw(50000) // large, so that the calibrator's own error is small beside the sample's
	y, p := draw(5000)
	live, _ := quality.MeasureBinary(y, p, threshold)
	raw, _ := quality.EstimateBinary(p, threshold, nil)
	cal, err := quality.FitCalibrator(refY, refP)
	if err != nil {
		t.Fatal(err)
	}
	calibrated, err := quality.EstimateBinary(p, threshold, cal)
	if err != nil {
		t.Fatal(err)
	}
	if !calibrated.Calibrated || raw.Calibrated {
		t.Error("Calibrated flag")
	}
	dRaw := math.Abs(live.Accuracy.Value-*raw.Accuracy) / *raw.AccuracyStdErr
	dCal := math.Abs(live.Accuracy.Value-*calibrated.Accuracy) / *calibrated.AccuracyStdErr
	dAUC := math.Abs(live.AUC.Value-*calibrated.AUC) / *calibrated.AUCStdErr
	t.Logf("accuracy: realised %.4f, raw estimate %.4f (%.1f SE off), calibrated %.4f (%.1f SE); auc realised %.4f, calibrated %.4f (%.1f SE)",
		live.Accuracy.Value, *raw.Accuracy, dRaw, *calibrated.Accuracy, dCal, live.AUC.Value, *calibrated.AUC, dAUC)
	if dRaw < 4 || dCal > 4 || dAUC > 4 {
		t.Errorf("raw estimate %.1f SE off (want > 4), calibrated %.1f and auc %.1f (want ≤ 4)", dRaw, dCal, dAUC)
	}
}

// Multiclass CBPE: labels drawn from the probabilities land around the
// estimate within 4 of its standard errors, and the arithmetic is checked on
// a hand case.
func TestMulticlassCBPE(t *testing.T) {
	e, err := quality.EstimateMulticlass([]float64{0.2, 0.8, 0, 0.6, 0.2, 0}, 3) // the second row sums to 0.8
	if err != nil {
		t.Fatal(err)
	}
	if want := (0.8 + 0.75) / 2; math.Abs(*e.Accuracy-want) > 1e-15 || e.N != 2 {
		t.Errorf("accuracy %v, want %v", *e.Accuracy, want)
	}
	r := rand.New(rand.NewPCG(8, 9))
	const n, k = 5000, 4
	probs, y := make([]float64, n*k), make([]int, n)
	for i := range n {
		row := probs[i*k : (i+1)*k]
		var sum float64
		for c := range row {
			row[c] = r.ExpFloat64() * float64(c+1)
			sum += row[c]
		}
		u, acc := r.Float64()*sum, 0.0
		y[i] = k - 1
		for c := range row {
			if acc += row[c]; u < acc {
				y[i] = c
				break
			}
		}
		for c := range row {
			row[c] /= sum
		}
	}
	est, err := quality.EstimateMulticlass(probs, k)
	if err != nil {
		t.Fatal(err)
	}
	live, err := quality.MeasureMulticlass(y, probs, k)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(live.Accuracy.Value-*est.Accuracy) / *est.AccuracyStdErr; d > 4 {
		t.Errorf("realised %v, estimated %v: %.1f SE apart", live.Accuracy.Value, *est.Accuracy, d)
	}
	if _, err := quality.EstimateMulticlass(make([]float64, 5), 2); err == nil {
		t.Error("5 probabilities of 2 classes accepted")
	}
}

// A label far from every prediction overflows the squared error: the figures
// are undefined, with why, and everything still encodes as JSON.
func TestRegressionOverflowIsUndefined(t *testing.T) {
	r, err := quality.MeasureRegression([]float64{1e200, 1}, []float64{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.RMSE != nil || r.MAE != nil || r.Undefined["rmse"] == "" {
		t.Fatalf("%+v", r)
	}
	cs, err := quality.Compare(r.Figures(), map[string]float64{"rmse": 1, "mae": 1}, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(struct {
		R  quality.Regression
		Cs []quality.Comparison
	}{r, cs}); err != nil {
		t.Fatal(err)
	}
}

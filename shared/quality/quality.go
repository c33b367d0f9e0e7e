// Package quality measures a model's live quality once the ground truth
// arrives (shared/feedback), with confidence intervals, compares it with the
// figures the model was trained to (bundle.Metrics.Test), and, for binary
// classifiers, estimates the quality before any label arrives from the
// predicted probabilities alone (confidence-based performance estimation, as
// NannyML's CBPE does).
//
// Every figure reuses shared/metrics' definitions (the trainer's), so a live
// AUC and the bundle's test AUC are the same statistic on different rows. The
// intervals are 95% (Level) and say how they were made (Estimate.Method):
//
//   - "delong": ROC AUC, DeLong's variance (DeLong, DeLong & Clarke-Pearson
//     1988) by Sun & Xu's midrank algorithm (2014), AUC ± z·SE clipped to [0, 1];
//   - "wilson": proportions (accuracy, precision, recall), Wilson's score interval;
//   - "normal": RMSE and MAE, the normal approximation to the mean of the
//     squared (then square-rooted) or absolute errors, clipped at 0.
//
// The report types are embedded in the nightly drift report, so their JSON is
// the schema: camelCase keys, a figure that is undefined on the sample (AUC
// with one class present, anything with no labels) is null and its reason is
// under "undefined", never NaN.
package quality

import (
	"fmt"
	"math"
	"slices"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/metrics"
)

// Level is the confidence level of every interval.
const Level = 0.95

// z is the standard normal's 0.975 quantile: two-sided 95%.
const z = 1.959963984540054

// Interval methods, in Estimate.Method.
const (
	MethodDeLong = "delong"
	MethodWilson = "wilson"
	MethodNormal = "normal"
)

// Estimate is a figure measured on a sample with its confidence interval.
type Estimate struct {
	Value float64 `json:"value"`
	// Lower and Upper bound the Level interval; null where the sample is too
	// small to bound it (DeLong with fewer than 2 of either class, the normal
	// approximation with fewer than 2 rows).
	Lower  *float64 `json:"lower"`
	Upper  *float64 `json:"upper"`
	Method string   `json:"method"` // MethodDeLong, MethodWilson or MethodNormal
}

func estimate(v, lo, hi float64, method string) *Estimate {
	return &Estimate{Value: v, Lower: &lo, Upper: &hi, Method: method}
}

// Binary is a binary classifier's live quality on labelled predictions.
type Binary struct {
	N         int       `json:"n"`         // labelled predictions
	Positives int       `json:"positives"` // of which actually positive
	Threshold float64   `json:"threshold"` // the decision threshold (bundle.Encoding.Threshold)
	Level     float64   `json:"level"`
	AUC       *Estimate `json:"auc"`
	Accuracy  *Estimate `json:"accuracy"`
	Precision *Estimate `json:"precision"` // among predicted positives
	Recall    *Estimate `json:"recall"`    // among actual positives
	// ECE is the expected calibration error over Calibration's bins: the
	// count-weighted mean of |mean predicted − fraction positive|.
	ECE *float64 `json:"ece"`
	// Calibration is the reliability diagram: ten equal-width bins of
	// predicted probability, as the bundle's metrics.json has for the test set.
	Calibration []bundle.CalibrationBin `json:"calibration"`
	// Undefined names each null figure (by its metrics name: "auc") and why.
	Undefined map[string]string `json:"undefined,omitempty"`
}

// CalibrationBins is the number of bins of Binary.Calibration (the trainer's).
const CalibrationBins = 10

// Why figures are undefined.
const (
	reasonNoLabels = "no labelled predictions"
)

func undefined(m *map[string]string, name, why string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[name] = why
}

// MeasureBinary measures a binary classifier on labels y (0 or 1) and the
// positive class's probabilities p, deciding positive at p ≥ threshold as
// metrics.Positive does. Inputs of different lengths, a label other than 0
// or 1, or a probability outside [0, 1] are an error naming the row.
func MeasureBinary(y, p []float64, threshold float64) (Binary, error) {
	if err := checkBinary(y, p); err != nil {
		return Binary{}, err
	}
	b := Binary{N: len(y), Threshold: threshold, Level: Level}
	if len(y) == 0 {
		for _, m := range []string{metrics.AUC, metrics.Accuracy, metrics.Precision, metrics.Recall, "ece"} {
			undefined(&b.Undefined, m, reasonNoLabels)
		}
		return b, nil
	}
	var tp, fp, fn, correct int
	for i, v := range p {
		pos := metrics.Positive(v, threshold)
		actual := y[i] == 1
		switch {
		case pos && actual:
			tp++
		case pos:
			fp++
		case actual:
			fn++
		}
		if pos == actual {
			correct++
		}
	}
	b.Positives = tp + fn
	negatives := b.N - b.Positives

	if auc, ok := metrics.AUCScore(y, p); ok {
		b.AUC = &Estimate{Value: auc, Method: MethodDeLong}
		if se, ok := delongSE(y, p); ok {
			lo, hi := max(auc-z*se, 0), min(auc+z*se, 1)
			b.AUC.Lower, b.AUC.Upper = &lo, &hi
		}
	} else {
		undefined(&b.Undefined, metrics.AUC, fmt.Sprintf("one class only: %d positives, %d negatives", b.Positives, negatives))
	}
	b.Accuracy = wilsonEstimate(correct, b.N)
	if tp+fp > 0 {
		b.Precision = wilsonEstimate(tp, tp+fp)
	} else {
		undefined(&b.Undefined, metrics.Precision, "no prediction is positive")
	}
	if b.Positives > 0 {
		b.Recall = wilsonEstimate(tp, b.Positives)
	} else {
		undefined(&b.Undefined, metrics.Recall, "no label is positive")
	}

	bins := metrics.Calibration(y, p, CalibrationBins)
	b.Calibration = make([]bundle.CalibrationBin, len(bins))
	var ece float64
	for i, bin := range bins {
		b.Calibration[i] = bundle.CalibrationBin{Lower: bin.Lower, Upper: bin.Upper, Count: bin.Count,
			MeanPredicted: bin.MeanPredicted, FractionPositive: bin.FractionPositive}
		ece += float64(bin.Count) * math.Abs(bin.MeanPredicted-bin.FractionPositive)
	}
	ece /= float64(b.N) // every probability is in [0, 1], so in a bin
	b.ECE = &ece
	return b, nil
}

func checkBinary(y, p []float64) error {
	if len(y) != len(p) {
		return fmt.Errorf("%d labels but %d probabilities", len(y), len(p))
	}
	for i := range y {
		if y[i] != 0 && y[i] != 1 {
			return fmt.Errorf("row %d: label %v, want 0 or 1", i, y[i])
		}
	}
	return checkProbabilities(p)
}

func checkProbabilities(p []float64) error {
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("row %d: probability %v, want a number in [0, 1]", i, v)
		}
	}
	return nil
}

// Figures are the measured figures by metrics name, for Compare.
func (b Binary) Figures() map[string]Estimate {
	return figures(map[string]*Estimate{metrics.AUC: b.AUC, metrics.Accuracy: b.Accuracy,
		metrics.Precision: b.Precision, metrics.Recall: b.Recall})
}

func figures(all map[string]*Estimate) map[string]Estimate {
	out := map[string]Estimate{}
	for k, e := range all {
		if e != nil {
			out[k] = *e
		}
	}
	return out
}

// Wilson is Wilson's score interval for k successes in n trials at Level
// (n > 0): it stays inside [0, 1] and keeps a width at k = 0 or k = n, where
// the normal approximation collapses to a point.
func Wilson(k, n int) (lower, upper float64) {
	nf := float64(n)
	ph := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (ph + z2/(2*nf)) / den
	half := z / den * math.Sqrt(ph*(1-ph)/nf+z2/(4*nf*nf))
	return max(center-half, 0), min(center+half, 1)
}

func wilsonEstimate(k, n int) *Estimate {
	lo, hi := Wilson(k, n)
	return estimate(float64(k)/float64(n), lo, hi, MethodWilson)
}

// DeLong returns the ROC AUC of scores p for labels y (0 or 1) and DeLong's
// standard error of it. ok is false with fewer than two of either class,
// where the variance has no estimate.
func DeLong(y, p []float64) (auc, se float64, ok bool) {
	auc, ok = metrics.AUCScore(y, p)
	if !ok {
		return 0, 0, false
	}
	se, ok = delongSE(y, p)
	return auc, se, ok
}

// delongSE is Sun & Xu's fast algorithm: with X the positives' scores (m),
// Y the negatives' (n) and T the midranks of X, of Y and of both together,
// the structural components are V10ᵢ = (T_Zᵢ − T_Xᵢ)/n and
// V01ⱼ = 1 − (T_Z(m+j) − T_Yⱼ)/m, and Var(AUC) = S10/m + S01/n with S the
// components' sample variances.
func delongSE(y, p []float64) (float64, bool) {
	var x, yn []float64
	for i, v := range p {
		if y[i] == 1 {
			x = append(x, v)
		} else {
			yn = append(yn, v)
		}
	}
	m, n := len(x), len(yn)
	if m < 2 || n < 2 {
		return 0, false
	}
	tx, ty := midranks(x), midranks(yn)
	tz := midranks(append(slices.Clip(x), yn...))
	v10 := make([]float64, m)
	for i := range x {
		v10[i] = (tz[i] - tx[i]) / float64(n)
	}
	v01 := make([]float64, n)
	for j := range yn {
		v01[j] = 1 - (tz[m+j]-ty[j])/float64(m)
	}
	v := sampleVariance(v10)/float64(m) + sampleVariance(v01)/float64(n)
	return math.Sqrt(max(v, 0)), true
}

// midranks are the 1-based ranks of x, ties given their mean rank.
func midranks(x []float64) []float64 {
	order := metrics.Ascending(x)
	r := make([]float64, len(x))
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && x[order[j]] == x[order[i]] {
			j++
		}
		// positions i..j-1 hold ranks i+1..j: their mean
		mid := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[order[k]] = mid
		}
		i = j
	}
	return r
}

// sampleVariance is the variance with n−1 in the denominator (numpy's ddof=1).
func sampleVariance(x []float64) float64 {
	mean := metrics.Mean(x)
	d := make([]float64, len(x))
	for i, v := range x {
		d[i] = (v - mean) * (v - mean)
	}
	return metrics.Sum(d) / float64(len(x)-1)
}

// Multiclass is a multiclass classifier's live quality.
type Multiclass struct {
	N        int       `json:"n"`
	Classes  int       `json:"classes"`
	Level    float64   `json:"level"`
	Accuracy *Estimate `json:"accuracy"`
	// MacroF1 is the mean F1 over the classes present in the labels or the
	// predictions (metrics.MacroF1Score); it has no interval.
	MacroF1   *float64          `json:"macroF1"`
	Undefined map[string]string `json:"undefined,omitempty"`
}

// MeasureMulticlass measures a multiclass classifier on class indices y
// (0..k-1) and probabilities probs (row-major, k per row); the predicted
// class is the first of the highest (metrics.Argmax).
func MeasureMulticlass(y []int, probs []float64, k int) (Multiclass, error) {
	if k < 2 {
		return Multiclass{}, fmt.Errorf("%d classes, want at least 2", k)
	}
	if len(probs) != len(y)*k {
		return Multiclass{}, fmt.Errorf("%d labels of %d classes but %d probabilities, want %d", len(y), k, len(probs), len(y)*k)
	}
	if err := checkProbabilities(probs); err != nil {
		return Multiclass{}, err
	}
	m := Multiclass{N: len(y), Classes: k, Level: Level}
	if len(y) == 0 {
		undefined(&m.Undefined, metrics.Accuracy, reasonNoLabels)
		undefined(&m.Undefined, metrics.MacroF1, reasonNoLabels)
		return m, nil
	}
	pred := make([]int, len(y))
	correct := 0
	for i, c := range y {
		if c < 0 || c >= k {
			return Multiclass{}, fmt.Errorf("row %d: class %d, want 0 to %d", i, c, k-1)
		}
		pred[i] = metrics.Argmax(probs[i*k : (i+1)*k])
		if pred[i] == c {
			correct++
		}
	}
	m.Accuracy = wilsonEstimate(correct, m.N)
	f1, _ := metrics.MacroF1Score(metrics.Confusion(y, pred, k)) // n > 0: some class is present
	m.MacroF1 = &f1
	return m, nil
}

// Figures are the measured figures by metrics name, for Compare (macro_f1
// with no interval).
func (m Multiclass) Figures() map[string]Estimate {
	out := figures(map[string]*Estimate{metrics.Accuracy: m.Accuracy})
	if m.MacroF1 != nil {
		out[metrics.MacroF1] = Estimate{Value: *m.MacroF1}
	}
	return out
}

// Regression is a regression model's live quality.
type Regression struct {
	N     int       `json:"n"`
	Level float64   `json:"level"`
	RMSE  *Estimate `json:"rmse"`
	MAE   *Estimate `json:"mae"`
	// Undefined names each null figure and why.
	Undefined map[string]string `json:"undefined,omitempty"`
}

// MeasureRegression measures a regression model on targets y and predictions
// pred (finite numbers). The intervals are the normal approximation: for MAE
// mean |e| ± z·sd(|e|)/√n; for RMSE the same interval of the mean squared
// error, square-rooted; lower bounds clipped at 0.
func MeasureRegression(y, pred []float64) (Regression, error) {
	if len(y) != len(pred) {
		return Regression{}, fmt.Errorf("%d targets but %d predictions", len(y), len(pred))
	}
	for i := range y {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) || math.IsNaN(pred[i]) || math.IsInf(pred[i], 0) {
			return Regression{}, fmt.Errorf("row %d: target %v, prediction %v: want finite numbers", i, y[i], pred[i])
		}
	}
	r := Regression{N: len(y), Level: Level}
	if len(y) == 0 {
		undefined(&r.Undefined, metrics.RMSE, reasonNoLabels)
		undefined(&r.Undefined, metrics.MAE, reasonNoLabels)
		return r, nil
	}
	m := metrics.Regression(y, pred)
	if !finite(m[metrics.RMSE]) || !finite(m[metrics.MAE]) {
		// Errors of 1e155 and more square beyond float64: no figure can be
		// written (JSON has no Inf), and none would mean anything.
		undefined(&r.Undefined, metrics.RMSE, "the errors are too large to square in float64")
		undefined(&r.Undefined, metrics.MAE, "the errors are too large to average in float64")
		return r, nil
	}
	r.RMSE = &Estimate{Value: m[metrics.RMSE], Method: MethodNormal}
	r.MAE = &Estimate{Value: m[metrics.MAE], Method: MethodNormal}
	if r.N < 2 {
		return r, nil
	}
	sq := make([]float64, r.N)
	ab := make([]float64, r.N)
	for i := range y {
		e := pred[i] - y[i]
		sq[i], ab[i] = e*e, math.Abs(e)
	}
	sqrtN := math.Sqrt(float64(r.N))
	mse, seMSE := metrics.Mean(sq), math.Sqrt(sampleVariance(sq))/sqrtN
	lo, hi := math.Sqrt(max(mse-z*seMSE, 0)), math.Sqrt(mse+z*seMSE)
	if finite(lo) && finite(hi) {
		r.RMSE.Lower, r.RMSE.Upper = &lo, &hi
	}
	seMAE := math.Sqrt(sampleVariance(ab)) / sqrtN
	lo2, hi2 := max(r.MAE.Value-z*seMAE, 0), r.MAE.Value+z*seMAE
	if finite(lo2) && finite(hi2) {
		r.MAE.Lower, r.MAE.Upper = &lo2, &hi2
	}
	return r, nil
}

// Figures are the measured figures by metrics name, for Compare.
func (r Regression) Figures() map[string]Estimate {
	return figures(map[string]*Estimate{metrics.RMSE: r.RMSE, metrics.MAE: r.MAE})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Package metrics computes the model metrics the reference trainer records in a
// bundle's metrics.json (shared/bundle.Metrics), in pure Go, with the trainer's
// exact definitions (trainer/train.py: numpy implementations of scikit-learn's
// conventions), so that the gate can score a champion and a candidate on the
// same rows and compare the numbers with the candidate's own.
//
// The arithmetic follows numpy's where the order matters: sums and means use
// numpy's pairwise summation (Sum), so results agree with the trainer's to the
// last bits, not merely to a tolerance.
//
// Names are those of bundle.Metrics.Test. A metric that is undefined on the
// inputs (AUC with one class present, recall and F1 with no actual positive,
// R² with a constant target) is absent from the map, never NaN.
package metrics

import (
	"math"
	"slices"
)

// Metric names, as in bundle.Metrics.Test.
const (
	AUC       = "auc"
	LogLoss   = "log_loss"
	Accuracy  = "accuracy"
	Precision = "precision"
	Recall    = "recall"
	F1        = "f1"
	Brier     = "brier"
	RMSE      = "rmse"
	MAE       = "mae"
	R2        = "r2"
	MacroF1   = "macro_f1"
)

// clipEps is the trainer's log-loss clipping: probabilities are clipped to
// [eps, 1-eps] (binary) or [eps, 1] (multiclass) before the logarithm.
const clipEps = 1e-15

// Sum adds x with numpy's pairwise summation (the algorithm np.sum and np.mean
// use on a contiguous float64 array): blocks of up to 128 values summed with
// eight accumulators, larger arrays split in two at a multiple of eight.
func Sum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range x {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			r[0] += x[i]
			r[1] += x[i+1]
			r[2] += x[i+2]
			r[3] += x[i+3]
			r[4] += x[i+4]
			r[5] += x[i+5]
			r[6] += x[i+6]
			r[7] += x[i+7]
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += x[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return Sum(x[:n2]) + Sum(x[n2:])
	}
}

// Mean is np.mean of a float64 array: Sum divided by the count (NaN when empty).
func Mean(x []float64) float64 { return Sum(x) / float64(len(x)) }

// Positive is the trainer's (and bundle.Encoding.Label's) binary decision:
// p ≥ threshold, both compared as float32 (float32(0.42) is below 0.42).
func Positive(p, threshold float64) bool { return float32(p) >= float32(threshold) }

// AUCScore is the ROC AUC with ties counted half (the Mann-Whitney statistic,
// scikit-learn's roc_auc_score): y holds 0 or 1, p the scores. ok is false
// when one class is absent. The rows are grouped by equal score after a stable
// sort, so the result is exact up to the final division.
func AUCScore(y, p []float64) (auc float64, ok bool) {
	n := len(p)
	if n == 0 || len(y) != n {
		return 0, false
	}
	order := Ascending(p)
	// Per group of equal scores: positives and negatives; below is the count
	// of negatives in lower groups. Every quantity is a multiple of 0.5 well
	// within float64's integers, so the sums are exact.
	var num, P, N, below float64
	for i := 0; i < n; {
		j := i
		var pos, neg float64
		for ; j < n && p[order[j]] == p[order[i]]; j++ {
			pos += y[order[j]]
			neg += 1 - y[order[j]]
		}
		num += float64(pos * float64(below+0.5*neg))
		below += neg
		P += pos
		N += neg
		i = j
	}
	if P <= 0 || N <= 0 {
		return 0, false
	}
	return num / (P * N), true
}

// BinaryLogLoss is the mean negative log-likelihood with p clipped to
// [1e-15, 1-1e-15].
func BinaryLogLoss(y, p []float64) float64 {
	t := make([]float64, len(p))
	for i, v := range p {
		q := min(max(v, clipEps), 1-clipEps)
		// Explicit conversions keep the compiler from fusing into an FMA.
		t[i] = float64(y[i]*math.Log(q)) + float64((1-y[i])*math.Log(1-q))
	}
	return -Mean(t)
}

// Binary returns auc, log_loss, accuracy, precision, recall, f1 and brier for
// labels y (0 or 1) and positive-class probabilities p, deciding positive at
// p ≥ threshold compared in float32 (Positive). Precision is 0 with no
// predicted positive (scikit-learn's zero_division=0); recall and f1 are absent
// with no actual positive; auc is absent with one class. Empty inputs give an
// empty map.
func Binary(y, p []float64, threshold float64) map[string]float64 {
	m := map[string]float64{}
	if len(y) == 0 || len(p) != len(y) {
		return m
	}
	if a, ok := AUCScore(y, p); ok {
		m[AUC] = a
	}
	var tp, fp, fn, correct float64
	sq := make([]float64, len(p))
	for i, v := range p {
		pred := 0.0
		if Positive(v, threshold) {
			pred = 1
		}
		tp += pred * y[i]
		fp += pred * (1 - y[i])
		fn += (1 - pred) * y[i]
		if pred == y[i] {
			correct++
		}
		d := v - y[i]
		sq[i] = d * d
	}
	m[LogLoss] = BinaryLogLoss(y, p)
	m[Accuracy] = correct / float64(len(y))
	if tp+fp != 0 {
		m[Precision] = tp / (tp + fp)
	} else {
		m[Precision] = 0
	}
	if tp+fn != 0 {
		m[Recall] = tp / (tp + fn)
		m[F1] = 2 * tp / (2*tp + fp + fn)
	}
	m[Brier] = Mean(sq)
	return m
}

// Regression returns rmse, mae and r2 (absent when y is constant) for targets
// y and predictions p. Empty inputs give an empty map.
func Regression(y, p []float64) map[string]float64 {
	m := map[string]float64{}
	if len(y) == 0 || len(p) != len(y) {
		return m
	}
	e2 := make([]float64, len(y))
	ae := make([]float64, len(y))
	for i := range y {
		e := p[i] - y[i]
		e2[i] = e * e
		ae[i] = math.Abs(e)
	}
	m[RMSE] = math.Sqrt(Mean(e2))
	m[MAE] = Mean(ae)
	mean := Mean(y)
	d2 := make([]float64, len(y))
	for i, v := range y {
		d := v - mean
		d2[i] = d * d
	}
	if ss := Sum(d2); ss > 0 {
		m[R2] = 1 - Sum(e2)/ss
	}
	return m
}

// Argmax returns the index of the largest value, the first of equals (numpy's
// argmax; bundle.Encoding.Label decides the same).
func Argmax(x []float64) int {
	best := 0
	for k, v := range x {
		if v > x[best] {
			best = k
		}
	}
	return best
}

// Confusion counts [actual][predicted] over k classes.
func Confusion(y, pred []int, k int) [][]int64 {
	cm := make([][]int64, k)
	for i := range cm {
		cm[i] = make([]int64, k)
	}
	for i := range y {
		cm[y[i]][pred[i]]++
	}
	return cm
}

// MacroF1Score is the mean F1 over the classes that occur in the truth or the
// predictions (scikit-learn's macro average); ok is false when none does.
func MacroF1Score(cm [][]int64) (float64, bool) {
	k := len(cm)
	var f1s []float64
	for c := 0; c < k; c++ {
		var tp, col, row int64
		tp = cm[c][c]
		for j := 0; j < k; j++ {
			col += cm[j][c]
			row += cm[c][j]
		}
		if col+row == 0 {
			continue
		}
		fp, fn := col-tp, row-tp
		f1s = append(f1s, float64(2*tp)/float64(2*tp+fp+fn))
	}
	if len(f1s) == 0 {
		return 0, false
	}
	return Mean(f1s), true
}

// Multiclass returns accuracy, macro_f1 and log_loss for class indices y
// (0..k-1) and class probabilities probs, row-major with k values per row.
// Each row is normalised to sum 1 and the true class's probability clipped to
// [1e-15, 1] before the logarithm. The predicted class is the first of the
// highest probabilities. Empty inputs, or probs of the wrong length, give an
// empty map; a label outside 0..k-1 panics.
func Multiclass(y []int, probs []float64, k int) map[string]float64 {
	m := map[string]float64{}
	if len(y) == 0 || k <= 0 || len(probs) != len(y)*k {
		return m
	}
	pred := make([]int, len(y))
	nll := make([]float64, len(y))
	var correct float64
	for i, c := range y {
		row := probs[i*k : (i+1)*k]
		pred[i] = Argmax(row)
		if pred[i] == c {
			correct++
		}
		q := min(max(row[c]/Sum(row), clipEps), 1)
		nll[i] = math.Log(q)
	}
	m[Accuracy] = correct / float64(len(y))
	if f1, ok := MacroF1Score(Confusion(y, pred, k)); ok {
		m[MacroF1] = f1
	}
	m[LogLoss] = -Mean(nll)
	return m
}

// Bin is one bin of a reliability diagram (bundle.CalibrationBin's fields).
type Bin struct {
	Lower, Upper     float64
	Count            int64
	MeanPredicted    float64
	FractionPositive float64
}

// Calibration is the trainer's reliability diagram: bins equal-width bins of
// predicted probability (bin = min(int(p·bins), bins-1)); an empty bin has
// count 0 and zero means.
func Calibration(y, p []float64, bins int) []Bin {
	ps := make([][]float64, bins)
	ys := make([][]float64, bins)
	for i, v := range p {
		// numpy: int64(p·bins) truncates toward zero; a negative or NaN
		// score falls in no bin, one at or above 1 in the last.
		t := math.Trunc(v * float64(bins))
		if math.IsNaN(t) || t < 0 {
			continue
		}
		b := int(min(t, float64(bins-1)))
		ps[b] = append(ps[b], v)
		ys[b] = append(ys[b], y[i])
	}
	out := make([]Bin, bins)
	for i := range out {
		out[i] = Bin{Lower: round10(float64(i) / float64(bins)), Upper: round10(float64(i+1) / float64(bins)),
			Count: int64(len(ps[i]))}
		if len(ps[i]) > 0 {
			out[i].MeanPredicted = Mean(ps[i])
			out[i].FractionPositive = Mean(ys[i])
		}
	}
	return out
}

// round10 is Python's round(x, 10) for the bin edges.
func round10(x float64) float64 { return math.Round(x*1e10) / 1e10 }

// Ascending returns the indexes of x in ascending order of their values, ties
// in index order (NaN compares equal to everything: callers exclude it).
func Ascending(x []float64) []int {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	return order
}

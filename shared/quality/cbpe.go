package quality

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/metrics"
)

// CBPE is a binary classifier's quality estimated from its predicted
// probabilities alone, before labels arrive (confidence-based performance
// estimation). If the probabilities are calibrated, a prediction with
// probability q is positive with probability q, so each prediction adds q to
// the expected true positives and 1−q to the expected false positives when it
// is predicted positive, q to the false negatives and 1−q to the true
// negatives when not; the expected figures are those of the expected
// confusion matrix. The decision is the model's own (the raw probability
// against the threshold); q is the probability after the calibrator, where
// one is given.
type CBPE struct {
	N          int      `json:"n"`
	Threshold  float64  `json:"threshold"`
	Calibrated bool     `json:"calibrated"` // q went through a Calibrator fit on reference data
	ExpectedTP float64  `json:"expectedTp"`
	ExpectedFP float64  `json:"expectedFp"`
	ExpectedTN float64  `json:"expectedTn"`
	ExpectedFN float64  `json:"expectedFn"`
	Accuracy   *float64 `json:"accuracy"`
	// AccuracyStdErr is the standard deviation of the realised accuracy
	// around Accuracy if the labels are drawn as the probabilities say: each
	// prediction is right with probability r (q or 1−q), so it is
	// √(Σ r(1−r))/n, exactly.
	AccuracyStdErr *float64 `json:"accuracyStdErr"`
	Precision      *float64 `json:"precision"` // E[TP] / (E[TP] + E[FP])
	Recall         *float64 `json:"recall"`    // E[TP] / (E[TP] + E[FN])
	// AUC is the area under the expected ROC curve: at each threshold on the
	// raw scores, the expected TPR (the q above it over all q) against the
	// expected FPR (likewise with 1−q), tied scores taken together.
	AUC *float64 `json:"auc"`
	// AUCStdErr is Hanley & McNeil's (1982) standard error for AUC at the
	// expected numbers of positives and negatives: the sampling error of the
	// realised AUC.
	AUCStdErr *float64          `json:"aucStdErr"`
	Undefined map[string]string `json:"undefined,omitempty"`
}

// EstimateBinary estimates a binary classifier's quality from the positive
// class's probabilities p and its threshold. cal, when not nil, maps p to
// calibrated probabilities first (see FitCalibrator, CalibratorFromBins).
func EstimateBinary(p []float64, threshold float64, cal *Calibrator) (CBPE, error) {
	if err := checkProbabilities(p); err != nil {
		return CBPE{}, err
	}
	if cal != nil {
		if err := cal.Check(); err != nil {
			return CBPE{}, err
		}
	}
	e := CBPE{N: len(p), Threshold: threshold, Calibrated: cal != nil}
	if len(p) == 0 {
		for _, m := range []string{metrics.Accuracy, metrics.Precision, metrics.Recall, metrics.AUC} {
			undefined(&e.Undefined, m, "no predictions")
		}
		return e, nil
	}
	q := slices.Clone(p)
	if cal != nil {
		for i, v := range p {
			q[i] = cal.Apply(v)
		}
	}
	tp := make([]float64, 0, len(p))
	fp := make([]float64, 0, len(p))
	fn := make([]float64, 0, len(p))
	tn := make([]float64, 0, len(p))
	rv := make([]float64, len(p)) // r(1−r) per prediction
	for i, v := range p {
		if metrics.Positive(v, threshold) {
			tp, fp = append(tp, q[i]), append(fp, 1-q[i])
		} else {
			fn, tn = append(fn, q[i]), append(tn, 1-q[i])
		}
		rv[i] = q[i] * (1 - q[i]) // the same for r = q and r = 1−q
	}
	e.ExpectedTP, e.ExpectedFP = metrics.Sum(tp), metrics.Sum(fp)
	e.ExpectedFN, e.ExpectedTN = metrics.Sum(fn), metrics.Sum(tn)
	n := float64(e.N)
	acc := (e.ExpectedTP + e.ExpectedTN) / n
	se := math.Sqrt(metrics.Sum(rv)) / n
	e.Accuracy, e.AccuracyStdErr = &acc, &se
	if d := e.ExpectedTP + e.ExpectedFP; d > 0 {
		v := e.ExpectedTP / d
		e.Precision = &v
	} else {
		undefined(&e.Undefined, metrics.Precision, "no prediction is positive")
	}
	pos, neg := e.ExpectedTP+e.ExpectedFN, e.ExpectedFP+e.ExpectedTN
	if pos > 0 {
		v := e.ExpectedTP / pos
		e.Recall = &v
	} else {
		undefined(&e.Undefined, metrics.Recall, "every probability is 0: no positive is expected")
	}
	if pos > 0 && neg > 0 {
		auc := expectedAUC(p, q)
		e.AUC = &auc
		if pos > 1 && neg > 1 {
			s := hanleyMcNeil(auc, pos, neg)
			e.AUCStdErr = &s
		}
	} else {
		undefined(&e.Undefined, metrics.AUC, "every probability is 0 or every one is 1: one class only is expected")
	}
	return e, nil
}

// MulticlassCBPE is a multiclass classifier's accuracy estimated from its
// probabilities alone: each prediction is right with the probability of the
// class it predicts (its highest), if the probabilities are calibrated.
type MulticlassCBPE struct {
	N        int      `json:"n"`
	Accuracy *float64 `json:"accuracy"`
	// AccuracyStdErr is √(Σ r(1−r))/n with r each prediction's chance of
	// being right: the realised accuracy's spread around Accuracy.
	AccuracyStdErr *float64          `json:"accuracyStdErr"`
	Undefined      map[string]string `json:"undefined,omitempty"`
}

// EstimateMulticlass estimates a multiclass classifier's accuracy from
// probs (row-major, k per row, each row normalised to sum 1 as
// metrics.Multiclass does).
func EstimateMulticlass(probs []float64, k int) (MulticlassCBPE, error) {
	if k < 2 || len(probs)%k != 0 {
		return MulticlassCBPE{}, fmt.Errorf("%d probabilities of %d classes: want at least 2 classes and k per row", len(probs), k)
	}
	if err := checkProbabilities(probs); err != nil {
		return MulticlassCBPE{}, err
	}
	e := MulticlassCBPE{N: len(probs) / k}
	if e.N == 0 {
		undefined(&e.Undefined, metrics.Accuracy, "no predictions")
		return e, nil
	}
	right := make([]float64, e.N)
	rv := make([]float64, e.N)
	for i := range right {
		row := probs[i*k : (i+1)*k]
		sum := metrics.Sum(row)
		if sum <= 0 {
			return MulticlassCBPE{}, fmt.Errorf("row %d: probabilities sum to 0", i)
		}
		right[i] = row[metrics.Argmax(row)] / sum
		rv[i] = right[i] * (1 - right[i])
	}
	acc, se := metrics.Mean(right), math.Sqrt(metrics.Sum(rv))/float64(e.N)
	e.Accuracy, e.AccuracyStdErr = &acc, &se
	return e, nil
}

// expectedAUC walks the raw scores p from the highest down, a group of equal
// scores at a time, adding the trapezoid under the expected ROC curve, whose
// steps are the group's Σq (TPR) and Σ(1−q) (FPR).
func expectedAUC(p, q []float64) float64 {
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	var area, tps, fps float64
	for i := 0; i < len(order); {
		var dt, df float64
		j := i
		for ; j < len(order) && p[order[j]] == p[order[i]]; j++ {
			dt += q[order[j]]
			df += 1 - q[order[j]]
		}
		area += df * (tps + dt/2)
		tps += dt
		fps += df
		i = j
	}
	return min(max(area/(tps*fps), 0), 1)
}

// hanleyMcNeil is the standard error of an AUC a from np positives and nn
// negatives: Q1 = a/(2−a), Q2 = 2a²/(1+a),
// SE² = (a(1−a) + (np−1)(Q1−a²) + (nn−1)(Q2−a²)) / (np·nn).
func hanleyMcNeil(a, np, nn float64) float64 {
	q1, q2 := a/(2-a), 2*a*a/(1+a)
	v := (a*(1-a) + (np-1)*(q1-a*a) + (nn-1)*(q2-a*a)) / (np * nn)
	return math.Sqrt(max(v, 0))
}

// Versus is one figure estimated before the labels beside the one realised
// after.
type Versus struct {
	Metric     string   `json:"metric"` // a metrics name
	Estimated  *float64 `json:"estimated"`
	Realized   *float64 `json:"realized"`
	Difference *float64 `json:"difference"` // realized − estimated; null unless both exist
}

// Beside sets the estimate beside the live quality measured on the same
// predictions once labelled: accuracy, precision, recall and auc.
func Beside(est CBPE, live Binary) []Versus {
	pair := func(name string, e *float64, r *Estimate) Versus {
		v := Versus{Metric: name, Estimated: e}
		if r != nil {
			realized := r.Value
			v.Realized = &realized
			if e != nil {
				d := realized - *e
				v.Difference = &d
			}
		}
		return v
	}
	return []Versus{
		pair(metrics.Accuracy, est.Accuracy, live.Accuracy),
		pair(metrics.Precision, est.Precision, live.Precision),
		pair(metrics.Recall, est.Recall, live.Recall),
		pair(metrics.AUC, est.AUC, live.AUC),
	}
}

// Calibrator maps a model's probabilities to calibrated ones: a
// non-decreasing piecewise-linear map through knots (X ascending, Y the
// calibrated probability there), constant beyond the first and last knot, as
// scikit-learn's IsotonicRegression(out_of_bounds="clip") predicts.
type Calibrator struct {
	X []float64 `json:"x"`
	Y []float64 `json:"y"`
}

// FitCalibrator fits an isotonic calibration map on reference data (the
// test set's probabilities p and labels y, 0 or 1): the non-decreasing
// function of p closest to y in squared error (pool-adjacent-violators, equal
// scores pooled first).
func FitCalibrator(y, p []float64) (*Calibrator, error) {
	if err := checkBinary(y, p); err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("calibration: no reference rows")
	}
	order := metrics.Ascending(p)
	var xs, ys, ws []float64
	for i := 0; i < len(order); {
		j := i
		var sum float64
		for ; j < len(order) && p[order[j]] == p[order[i]]; j++ {
			sum += y[order[j]]
		}
		xs = append(xs, p[order[i]])
		ys = append(ys, sum/float64(j-i))
		ws = append(ws, float64(j-i))
		i = j
	}
	return &Calibrator{X: xs, Y: isotonic(ys, ws)}, nil
}

// CalibratorFromBins is the calibration map of a reliability diagram (the
// bundle's metrics.json Calibration, fit by the trainer on the test set):
// knots at each non-empty bin's mean predicted probability and fraction
// positive, made non-decreasing by pooling adjacent violators weighted by the
// bins' counts. It is the histogram-binning calibrator a bundle already
// holds, with no access to the test labels.
func CalibratorFromBins(bins []bundle.CalibrationBin) (*Calibrator, error) {
	var xs, ys, ws []float64
	for i, b := range bins {
		if b.Count < 0 || !(b.MeanPredicted >= 0 && b.MeanPredicted <= 1) || !(b.FractionPositive >= 0 && b.FractionPositive <= 1) {
			return nil, fmt.Errorf("calibration bin %d: count %d, mean predicted %v, fraction positive %v: want a count ≥ 0 and probabilities in [0, 1]",
				i, b.Count, b.MeanPredicted, b.FractionPositive)
		}
		if b.Count == 0 {
			continue
		}
		if n := len(xs); n > 0 && b.MeanPredicted <= xs[n-1] {
			return nil, fmt.Errorf("calibration bin %d: mean predicted %v is not above the previous bin's %v", i, b.MeanPredicted, xs[n-1])
		}
		xs, ys, ws = append(xs, b.MeanPredicted), append(ys, b.FractionPositive), append(ws, float64(b.Count))
	}
	if len(xs) == 0 {
		return nil, errors.New("calibration: every bin is empty")
	}
	return &Calibrator{X: xs, Y: isotonic(ys, ws)}, nil
}

// isotonic is the weighted least-squares non-decreasing fit to y
// (pool-adjacent-violators): each pooled block takes its weighted mean.
func isotonic(y, w []float64) []float64 {
	type block struct {
		sum, weight float64
		n           int
	}
	var st []block
	for i := range y {
		st = append(st, block{y[i] * w[i], w[i], 1})
		for len(st) > 1 {
			a, b := st[len(st)-2], st[len(st)-1]
			if a.sum/a.weight <= b.sum/b.weight {
				break
			}
			st = append(st[:len(st)-2], block{a.sum + b.sum, a.weight + b.weight, a.n + b.n})
		}
	}
	out := make([]float64, 0, len(y))
	for _, b := range st {
		v := b.sum / b.weight
		for range b.n {
			out = append(out, v)
		}
	}
	return out
}

// Check says what is wrong with a calibrator read from JSON: knots of
// different counts, none, X not strictly ascending, or Y not a
// non-decreasing probability.
func (c *Calibrator) Check() error {
	if len(c.X) == 0 || len(c.X) != len(c.Y) {
		return fmt.Errorf("calibrator: %d x and %d y knots, want the same number, at least 1", len(c.X), len(c.Y))
	}
	for i := range c.X {
		if !(c.X[i] >= 0 && c.X[i] <= 1) || !(c.Y[i] >= 0 && c.Y[i] <= 1) {
			return fmt.Errorf("calibrator: knot %d (%v, %v): want probabilities in [0, 1]", i, c.X[i], c.Y[i])
		}
		if i > 0 && (c.X[i] <= c.X[i-1] || c.Y[i] < c.Y[i-1]) {
			return fmt.Errorf("calibrator: knot %d (%v, %v) after (%v, %v): want x ascending and y non-decreasing",
				i, c.X[i], c.Y[i], c.X[i-1], c.Y[i-1])
		}
	}
	return nil
}

// Apply is the calibrated probability of p: linear between the knots around
// it, the end knot's value beyond them. c must pass Check.
func (c *Calibrator) Apply(p float64) float64 {
	n := len(c.X)
	switch {
	case n == 0:
		return p
	case p <= c.X[0]:
		return c.Y[0]
	case p >= c.X[n-1]:
		return c.Y[n-1]
	}
	i, _ := slices.BinarySearch(c.X, p) // X[i-1] < p ≤ X[i]
	x0, x1, y0, y1 := c.X[i-1], c.X[i], c.Y[i-1], c.Y[i]
	return y0 + (y1-y0)*(p-x0)/(x1-x0)
}

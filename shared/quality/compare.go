package quality

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/openmlops/mlops/shared/metrics"
)

// higherIsBetter says, for each metric Compare knows, which way is better.
var higherIsBetter = map[string]bool{
	metrics.AUC: true, metrics.Accuracy: true, metrics.Precision: true, metrics.Recall: true,
	metrics.F1: true, metrics.MacroF1: true, metrics.R2: true,
	metrics.RMSE: false, metrics.MAE: false, metrics.LogLoss: false, metrics.Brier: false,
}

// Comparison is one live figure against the model's training figure.
type Comparison struct {
	Metric   string   `json:"metric"` // a metrics name: "auc", "rmse", …
	Live     float64  `json:"live"`
	Lower    *float64 `json:"lower"` // the live figure's interval; null where it has none
	Upper    *float64 `json:"upper"`
	Training float64  `json:"training"` // bundle.Metrics.Test
	Change   float64  `json:"change"`   // live − training
	MaxDecay float64  `json:"maxDecay"` // the policy's bound, in the metric's units
	// Decayed is true when even the interval's best end is worse than
	// training by more than MaxDecay: for a figure where higher is better,
	// upper < training − maxDecay; where lower is better (rmse, mae),
	// lower > training + maxDecay. A figure without an interval never
	// decays: a small sample alone cannot raise the alarm.
	Decayed bool `json:"decayed"`
}

// Compare sets each live figure beside the training figure of the same name
// (figures in one but not the other, or of a metric whose better direction is
// unknown, are left out), sorted by metric. maxDecay is the largest
// acceptable loss, in the metric's own units (0.05 of AUC; for a regression,
// units of the target), and must be finite and not negative.
func Compare(live map[string]Estimate, training map[string]float64, maxDecay float64) ([]Comparison, error) {
	if !(maxDecay >= 0) || math.IsInf(maxDecay, 0) {
		return nil, fmt.Errorf("maxDecay %v: want a finite number, 0 or more", maxDecay)
	}
	var out []Comparison
	for name, e := range live {
		up, known := higherIsBetter[name]
		t, trained := training[name]
		if !known || !trained || math.IsNaN(t) || math.IsInf(t, 0) || math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
			continue
		}
		c := Comparison{Metric: name, Live: e.Value, Lower: e.Lower, Upper: e.Upper, Training: t,
			Change: e.Value - t, MaxDecay: maxDecay}
		switch {
		case up && e.Upper != nil:
			c.Decayed = *e.Upper < t-maxDecay
		case !up && e.Lower != nil:
			c.Decayed = *e.Lower > t+maxDecay
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Comparison) int { return cmp.Compare(a.Metric, b.Metric) })
	return out, nil
}

// Decayed reports whether any comparison decayed.
func Decayed(cs []Comparison) bool {
	return slices.ContainsFunc(cs, func(c Comparison) bool { return c.Decayed })
}

package bundle

import (
	"fmt"
	"math"
)

// Agrees reports whether an evaluator's output agrees with xgboost's within the
// platform's tolerance: |ours − xgboost| ≤ 1e-6·max(1, |xgboost|).
func Agrees(ours, xgboost float64) bool {
	return math.Abs(ours-xgboost) <= 1e-6*math.Max(1, math.Abs(xgboost))
}

// CheckSamples encodes every row of samples.json with the bundle's Encoder,
// evaluates it with the Go evaluator and compares each output with the one
// xgboost recorded (see Agrees). This is the proof that serving predicts what
// the trainer's xgboost predicted, encoding included. A bundle without samples
// proves nothing and fails. Errors match ErrInvalid.
func (b *Bundle) CheckSamples() error {
	rows := b.Samples.Rows
	if len(rows) == 0 {
		return invalid(SamplesFile, "no samples to check the model against")
	}
	// Sample values are in Features order: the scorer of that header.
	sc, err := b.Scorer(b.Encoder.Features())
	if err != nil {
		return invalid(SamplesFile, "%w", err)
	}
	for i, r := range rows {
		if err := sc.Encode(r.Values); err != nil {
			return invalid(SamplesFile, "rows[%d] (row %d): %w", i, r.Row, err)
		}
		out, err := sc.Predict()
		if err != nil {
			return invalid(SamplesFile, "rows[%d] (row %d): %w", i, r.Row, err)
		}
		for j, want := range r.Output {
			if got := float64(out[j]); !Agrees(got, want) {
				return invalid(SamplesFile, "rows[%d] (row %d) %q: output %d is %v here but xgboost gave %v (difference %.3g, over 1e-6·max(1, |xgboost|))",
					i, r.Row, r.Values, j, got, want, math.Abs(got-want))
			}
		}
	}
	return nil
}

// Label returns the label a model's outputs decide under this encoding:
// for a binary model Classes[1] when the probability is at least Threshold
// (both as float32), else Classes[0]; for a multiclass model the class with the highest
// probability (the first of equals, like numpy's argmax); "" for regression.
func (e *Encoding) Label(out []float32) string {
	t := &e.Target
	switch t.Kind {
	case LabelBinary:
		if len(out) != 1 || len(t.Classes) != 2 {
			return ""
		}
		// Compared in float32, as numpy compares a float32 array with a Python
		// float (the trainer's `p >= threshold`): float32(0.42) is below 0.42.
		if out[0] >= float32(e.Threshold) {
			return t.Classes[1]
		}
		return t.Classes[0]
	case LabelMulticlass:
		if len(out) == 0 || len(out) != len(t.Classes) {
			return ""
		}
		best := 0
		for k, v := range out {
			if v > out[best] {
				best = k
			}
		}
		return t.Classes[best]
	}
	return ""
}

// String describes the bundle in one line: model, run, objective and the
// first 12 hex digits of its SHA-256.
func (b *Bundle) String() string {
	return fmt.Sprintf("%s (run %s, %s, bundle %.12s)", b.Manifest.Model, b.Manifest.RunID, b.Manifest.Objective, b.SHA256)
}

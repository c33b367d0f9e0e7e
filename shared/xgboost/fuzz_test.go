package xgboost

import (
	"math"
	"os"
	"testing"
)

// FuzzLoad checks that Parse never panics and that a model it accepts can be
// evaluated on a row of NaNs and a row of zeros without panicking or looping,
// with the same results in both layouts.
// The seed corpus is in testdata/fuzz/FuzzLoad; the committed fixtures are
// added too.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"small_binary", "small_regression", "small_multi"} {
		data, err := os.ReadFile("testdata/fixtures/" + name + ".model.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if m != nil {
				t.Fatal("Parse returned a model and an error")
			}
			return
		}
		if m.NumFeatures() > 1<<20 {
			// A valid but very wide model; a row would be a large allocation.
			return
		}
		useBlocked = false
		mg, err := Parse(data)
		useBlocked = true
		if err != nil {
			t.Fatalf("Parse with the generic layout: %v", err)
		}
		row := make([]float32, m.NumFeatures())
		out := make([]float32, m.NumOutputs())
		outGeneric := make([]float32, m.NumOutputs())
		for i := range row {
			row[i] = float32(math.NaN())
		}
		for _, what := range []string{"NaNs", "zeros"} {
			if err := m.Predict(row, out); err != nil {
				t.Fatalf("Predict on %s: %v", what, err)
			}
			if err := mg.Predict(row, outGeneric); err != nil {
				t.Fatalf("Predict on %s, generic layout: %v", what, err)
			}
			for i := range out {
				if math.Float32bits(out[i]) != math.Float32bits(outGeneric[i]) && !(out[i] != out[i] && outGeneric[i] != outGeneric[i]) {
					t.Fatalf("Predict on %s: output %d is %v, %v in the generic layout", what, i, out[i], outGeneric[i])
				}
			}
			clear(row)
		}
		batch := make([]float32, 2*m.NumOutputs())
		if err := m.PredictBatch([][]float32{row, row}, batch); err != nil {
			t.Fatalf("PredictBatch: %v", err)
		}
	})
}

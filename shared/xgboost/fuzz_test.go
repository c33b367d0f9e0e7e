package xgboost

import (
	"math"
	"os"
	"testing"
)

// FuzzLoad checks that Parse never panics and that a model it accepts can be
// evaluated on a row of NaNs and a row of zeros without panicking or looping.
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
		row := make([]float32, m.NumFeatures())
		out := make([]float32, m.NumOutputs())
		for i := range row {
			row[i] = float32(math.NaN())
		}
		if err := m.Predict(row, out); err != nil {
			t.Fatalf("Predict on NaNs: %v", err)
		}
		clear(row)
		if err := m.Predict(row, out); err != nil {
			t.Fatalf("Predict on zeros: %v", err)
		}
		batch := make([]float32, 2*m.NumOutputs())
		if err := m.PredictBatch([][]float32{row, row}, batch); err != nil {
			t.Fatalf("PredictBatch: %v", err)
		}
	})
}

package xgboost

import (
	"path/filepath"
	"testing"

	"github.com/openmlops/mlops/shared/pythontest"
)

// synthetic is the shape of bench/predict's synthetic model.
var synthetic = &pythontest.Generated{Script: "testdata/gen_models.py", Args: []string{"synthetic"}, Prefix: "xgboost-bench-"}

// benchModel returns a model trained by testdata/gen_models.py and its
// held-out rows: "big" (200 trees of depth 8, 30 features, trained with the
// tests' models) or "synthetic" (1000 trees of depth 8, 30 features: the shape
// of bench/predict's synthetic model; trained on first use, about 20 s).
func benchModel(b *testing.B, name string) (*Model, [][]float32) {
	dir := models.For(b)
	if name == "synthetic" {
		var err error
		if dir, err = synthetic.Dir(); err != nil {
			b.Fatal(err)
		}
	}
	m := loadModelFile(b, filepath.Join(dir, name+".model.json"))
	rows, _, _ := loadCases(b, filepath.Join(dir, name+".cases.json"))
	return m, rows
}

var benchNames = []string{"big", "synthetic"}

func BenchmarkPredictSingle(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
			out := make([]float32, m.NumOutputs())
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if err := m.Predict(rows[i], out); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(rows) {
					i = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
		})
	}
}

func BenchmarkPredictBatch(b *testing.B) {
	benchPerRow(b, func(m *Model, rows [][]float32) func() error {
		out := make([]float32, len(rows)*m.NumOutputs())
		return func() error { return m.PredictBatch(rows, out) }
	})
}

func BenchmarkPredictFlat(b *testing.B) {
	benchPerRow(b, func(m *Model, rows [][]float32) func() error {
		flat := make([]float32, 0, len(rows)*m.NumFeatures())
		for _, r := range rows {
			flat = append(flat, r...)
		}
		out := make([]float32, len(rows)*m.NumOutputs())
		return func() error { return m.PredictFlat(flat, out) }
	})
}

// benchPerRow runs, for each bench model, what predict makes of it and its
// rows (all the rows at once) in the loop, and reports the time per row.
func benchPerRow(b *testing.B, predict func(m *Model, rows [][]float32) func() error) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
			all := predict(m, rows)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := all(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := models.For(b)
	path := filepath.Join(dir, "big.model.json")
	b.ReportAllocs()
	for b.Loop() {
		loadModelFile(b, path)
	}
}

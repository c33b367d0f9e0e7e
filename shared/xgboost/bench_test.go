package xgboost

import (
	"path/filepath"
	"testing"
)

// benchModel returns the 200-tree, depth-8 binary:logistic model trained by
// testdata/gen_models.py ("big", 30 features) and its held-out rows.
func benchModel(b *testing.B) (*Model, [][]float32) {
	dir := generated(b)
	m := loadModelFile(b, filepath.Join(dir, "big.model.json"))
	rows, _, _ := loadCases(b, filepath.Join(dir, "big.cases.json"))
	return m, rows
}

func BenchmarkPredictSingle(b *testing.B) {
	m, rows := benchModel(b)
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
}

func BenchmarkPredictBatch(b *testing.B) {
	m, rows := benchModel(b)
	out := make([]float32, len(rows)*m.NumOutputs())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.PredictBatch(rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

func BenchmarkPredictFlat(b *testing.B) {
	m, rows := benchModel(b)
	flat := make([]float32, 0, len(rows)*m.NumFeatures())
	for _, r := range rows {
		flat = append(flat, r...)
	}
	out := make([]float32, len(rows)*m.NumOutputs())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.PredictFlat(flat, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

func BenchmarkLoad(b *testing.B) {
	dir := generated(b)
	path := filepath.Join(dir, "big.model.json")
	b.ReportAllocs()
	for b.Loop() {
		loadModelFile(b, path)
	}
}

package xgboost

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	synthOnce sync.Once
	synthDir  string
	synthErr  error
)

// benchModel returns a model trained by testdata/gen_models.py and its
// held-out rows: "big" (200 trees of depth 8, 30 features, trained with the
// tests' models) or "synthetic" (1000 trees of depth 8, 30 features: the shape
// of bench/predict's synthetic model; trained on first use, about 20 s).
func benchModel(b *testing.B, name string) (*Model, [][]float32) {
	dir := generated(b)
	if name == "synthetic" {
		synthOnce.Do(func() {
			if synthDir, synthErr = os.MkdirTemp("", "xgboost-bench-"); synthErr != nil {
				return
			}
			cmd := exec.Command(python, "testdata/gen_models.py", synthDir, "synthetic")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				synthErr = fmt.Errorf("gen_models.py: %w: %s", err, stderr.String())
			}
		})
		if synthErr != nil {
			b.Fatal(synthErr)
		}
		dir = synthDir
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
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
			out := make([]float32, len(rows)*m.NumOutputs())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := m.PredictBatch(rows, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}

func BenchmarkPredictFlat(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
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
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := generated(b)
	path := filepath.Join(dir, "big.model.json")
	b.ReportAllocs()
	for b.Loop() {
		loadModelFile(b, path)
	}
}

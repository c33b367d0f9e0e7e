package quality_test

import (
	"math/rand/v2"
	"testing"

	"github.com/openmlops/mlops/shared/quality"
)

func benchData(n int) (y, p []float64) {
	r := rand.New(rand.NewPCG(1, 1))
	y, p = make([]float64, n), make([]float64, n)
	for i := range p {
		p[i] = r.Float64()
		if r.Float64() < p[i] {
			y[i] = 1
		}
	}
	return y, p
}

// A night's labels for a busy model: 1M labelled predictions.
func BenchmarkMeasureBinary1M(b *testing.B) {
	y, p := benchData(1_000_000)
	for b.Loop() {
		if _, err := quality.MeasureBinary(y, p, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEstimateBinary1M(b *testing.B) {
	y, p := benchData(1_000_000)
	cal, err := quality.FitCalibrator(y[:50_000], p[:50_000])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := quality.EstimateBinary(p, 0.5, cal); err != nil {
			b.Fatal(err)
		}
	}
}

package profile

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKLLSampledChunks mirrors how validate uses the sketch: many chunk sketches,
// later ones sampling, merged in order. The merged quantiles stay within KLL's bound.
func TestKLLSampledChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	global := NewKLL(KLLK, 1)
	var all []float64
	for chunk := 0; chunk < 300; chunk++ {
		s := NewKLL(KLLK, uint64(chunk)+1)
		s.SetSampling(min(max(bits.Len(uint(chunk))-2, 0), 8)) // as validate does
		for range 10_001 {
			v := r.NormFloat64() + float64(chunk%7)
			all = append(all, v)
			s.Add(v)
		}
		global.Merge(s)
	}
	if global.N() != int64(len(all)) {
		t.Fatalf("n %d want %d", global.N(), len(all))
	}
	slices.Sort(all)
	qs := []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}
	for i, est := range global.Quantiles(qs) {
		if e := rankError(all, est, qs[i]); e > 0.0165 {
			t.Errorf("q%.2f: rank error %.4f", qs[i], e)
		}
	}
}

package driftstat_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/profile"
)

// floatsOf reads b as little-endian float64 bit patterns (NaN and ±Inf
// included), the first byte choosing where the baseline ends.
func floatsOf(b []byte) (ref, cur []float64) {
	if len(b) == 0 {
		return nil, nil
	}
	cut := int(b[0])
	b = b[1:]
	var all []float64
	for len(b) >= 8 {
		all = append(all, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	for _, c := range b {
		all = append(all, float64(c)) // small whole numbers: ties
	}
	cut = min(cut, len(all))
	return all[:cut], all[cut:]
}

// Compare, Decide, CompareOutput and the report's JSON take any values
// (NaN, ±Inf, huge, ties, empty sides) without panicking or failing to encode.
func FuzzCompareDecide(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7})
	f.Add(append([]byte{1}, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), math.Float64bits(math.Inf(1)))...))
	f.Add([]byte{0})
	f.Add([]byte{200, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, cur := floatsOf(b)
		lo, hi := -1e6, 1e6
		cc := contract.Column{Name: "x", Type: contract.Number, Min: &lo, Max: &hi}
		a := profile.NewAccumulator("x", contract.Number, false, 1)
		ca := profile.NewAccumulator("c", contract.Category, false, 1)
		for _, v := range ref {
			if v != v {
				a.Null()
				ca.Null()
				continue
			}
			a.Number(v)
			ca.Text([]byte(strconv.FormatFloat(math.Mod(v, 7), 'g', 3, 64)))
		}
		var fs []driftstat.Feature
		r, err := driftstat.NewReference(a.Column(), cc)
		if err == nil {
			w := r.NewCurrent()
			for _, v := range cur {
				w.Number(v)
			}
			fs = append(fs, driftstat.Compare(r, w))
		}
		rc, err := driftstat.NewReference(ca.Column(), contract.Column{Name: "c", Type: contract.Category})
		if err == nil {
			w := rc.NewCurrent()
			for _, v := range cur {
				w.Number(math.Mod(v, 7))
			}
			fs = append(fs, driftstat.Compare(rc, w))
		}
		out := bundle.OutputDistribution{Name: "p", Edges: []float64{0, 0.5, 1}, Counts: []int64{int64(len(ref)), int64(len(cur))}, Count: int64(len(ref) + len(cur))}
		if w, err := driftstat.NewOutputWindow(out); err == nil {
			for _, v := range cur {
				w.Add(v)
			}
			fs = append(fs, driftstat.CompareOutput(out, w))
		}
		decided, v := driftstat.Decide(fs, driftstat.DefaultThresholds(), 0.5)
		if _, err := json.Marshal(struct {
			F []driftstat.Feature
			V driftstat.Verdict
		}{decided, v}); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
		counts := func(vs []float64) []int64 {
			c := make([]int64, 4)
			for i, v := range vs {
				c[i%4] += int64(math.Float64bits(v) % 5)
			}
			return c
		}
		driftstat.PSI(counts(ref), counts(cur))
		driftstat.JSDistance(counts(ref), counts(cur))
		driftstat.ChiSquare(counts(ref), counts(cur))
		driftstat.BenjaminiHochberg(append(ref, cur...))
		if len(ref) < 300 && len(cur) < 300 {
			ks := driftstat.KS(driftstat.NewSample(ref), driftstat.NewSample(cur))
			if ks.PValue < 0 || ks.PValue > 1 {
				t.Fatalf("KS p-value %g outside [0, 1]", ks.PValue)
			}
			driftstat.Wasserstein(driftstat.NewSample(ref), driftstat.NewSample(cur))
		}
	})
}

// BenchmarkCurrent adds 1M numeric values to a window (past ExactLimit, so
// the sketch path), then compares it with the baseline.
func BenchmarkCurrent(b *testing.B) {
	a := profile.NewAccumulator("x", contract.Number, false, 1)
	for i := range 100000 {
		a.Number(math.Sin(float64(i)) * 100)
	}
	ref, err := driftstat.NewReference(a.Column(), contract.Column{Name: "x", Type: contract.Number})
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]float64, 1<<20)
	for i := range vals {
		vals[i] = math.Cos(float64(i)*0.37)*100 + 3
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cur := ref.NewCurrent()
		for _, v := range vals {
			cur.Number(v)
		}
		if f := driftstat.Compare(ref, cur); f.KS == nil {
			b.Fatal("no KS")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/value")
}

// BenchmarkCurrentCategory adds 1M categorical values.
func BenchmarkCurrentCategory(b *testing.B) {
	a := profile.NewAccumulator("c", contract.Category, false, 1)
	cats := []string{"rent", "owner", "parents", "priv", "other", "ignore"}
	for i := range 10000 {
		a.Text([]byte(cats[i%len(cats)]))
	}
	ref, err := driftstat.NewReference(a.Column(), contract.Column{Name: "c", Type: contract.Category})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cur := ref.NewCurrent()
		for i := range 1 << 20 {
			cur.Category(cats[i%len(cats)])
		}
		driftstat.Compare(ref, cur)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N<<20), "ns/value")
}

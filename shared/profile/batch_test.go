package profile

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/openmlops/mlops/shared/contract"
)

// TestBatchesMatchSingles checks that the batch entry points give exactly the state
// that value-by-value calls give.
func TestBatchesMatchSingles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, shift := range []int{0, 1, 3, 8} {
		a, b := NewKLL(KLLK, 9), NewKLL(KLLK, 9)
		a.SetSampling(shift)
		b.SetSampling(shift)
		var sa, sb ShiftedSums
		for range 50 {
			vs := make([]float64, r.IntN(700))
			for i := range vs {
				vs[i] = r.NormFloat64() * 100
				if r.IntN(300) == 0 {
					vs[i] = math.NaN()
				}
			}
			for _, v := range vs {
				a.Add(v)
				if v == v {
					sa.Add(v)
				}
			}
			b.AddBatch(vs)
			clean := vs[:0:0]
			for _, v := range vs {
				if v == v {
					clean = append(clean, v)
				}
			}
			sb.AddBatch(clean)
		}
		ma, _ := a.MarshalBinary()
		mb, _ := b.MarshalBinary()
		if !bytes.Equal(ma, mb) {
			t.Fatalf("shift %d: KLL states differ", shift)
		}
		if sa != sb {
			t.Fatalf("shift %d: sums differ: %+v %+v", shift, sa, sb)
		}
	}
	x := NewAccumulator("c", contract.Category, false, 1)
	y := NewAccumulator("c", contract.Category, false, 1)
	vals := []string{"a", "bb", "ccc", "é"}
	counts := make([]int64, len(vals))
	for range 1000 {
		k := r.IntN(len(vals))
		x.Text([]byte(vals[k]))
		counts[k]++
	}
	for k, n := range counts {
		y.TextN([]byte(vals[k]), n)
	}
	y.TextN([]byte("zz"), 0)
	x.NullN(3)
	y.Null()
	y.Null()
	y.Null()
	cx, cy := x.Column(), y.Column()
	if cx.Count != cy.Count || cx.Nulls != cy.Nulls || cx.Distinct != cy.Distinct || *cx.MinLength != *cy.MinLength ||
		*cx.MaxLength != *cy.MaxLength || len(cx.State.Freq) != len(cy.State.Freq) || !bytes.Equal(cx.State.HLL, cy.State.HLL) {
		t.Fatalf("TextN differs from Text:\n%+v\n%+v", cx, cy)
	}
	for i := range cx.State.Freq {
		if cx.State.Freq[i] != cy.State.Freq[i] {
			t.Fatalf("freq %d: %+v %+v", i, cx.State.Freq[i], cy.State.Freq[i])
		}
	}
}

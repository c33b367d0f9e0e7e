package validate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// creditLike generates n credit-shaped rows (with NA tokens) for benchmarks.
func creditLike(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`"Status","Seniority","Home","Time","Age","Marital","Records","Job","Expenses","Income","Assets","Debt","Amount","Price"` + "\n")
	r := rand.New(rand.NewPCG(1, 2))
	homes := []string{"rent", "owner", "parents", "priv", "other"}
	jobs := []string{"fixed", "freelance", "partime", "others"}
	for i := 0; i < n; i++ {
		inc := "NA"
		if r.IntN(10) > 0 {
			inc = fmt.Sprint(50 + r.IntN(300))
		}
		fmt.Fprintf(&b, "\"%s\",%d,\"%s\",%d,%d,\"married\",\"no\",\"%s\",%d,%s,%d,0,%d,%d\n",
			[]string{"good", "bad"}[r.IntN(2)], r.IntN(40), homes[r.IntN(5)], 12*(1+r.IntN(5)), 18+r.IntN(50),
			jobs[r.IntN(4)], 35+r.IntN(100), inc, r.IntN(10000), 100+r.IntN(5000), 200+r.IntN(9000))
	}
	return b.Bytes()
}

func BenchmarkScan(b *testing.B) { benchScan(b, Options{}) }

// benchScan scans 300,000 credit-shaped rows with opt, per loop.
func benchScan(b *testing.B, opt Options) {
	data := creditLike(300_000)
	c := creditContract()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Scan(context.Background(), bytes.NewReader(data), c, opt)
		if err != nil || !res.Valid() {
			b.Fatal(err, res.Text())
		}
	}
}

// BenchmarkScanCanonical is BenchmarkScan with the canonical CSV written (to
// io.Discard), as ingest always does.
func BenchmarkScanCanonical(b *testing.B) { benchScan(b, Options{Canonical: io.Discard}) }

package profile

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/contract"
)

// rankError is how far (as a fraction of n) the rank of q's estimate is from q.
func rankError(sorted []float64, est, q float64) float64 {
	lo, _ := slices.BinarySearch(sorted, est)
	hi := lo
	for hi < len(sorted) && sorted[hi] == est {
		hi++
	}
	target := q * float64(len(sorted))
	switch {
	case target < float64(lo):
		return (float64(lo) - target) / float64(len(sorted))
	case target > float64(hi):
		return (target - float64(hi)) / float64(len(sorted))
	}
	return 0
}

func TestKLLQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1_000_000
	vals := make([]float64, n)
	s := NewKLL(KLLK, 7)
	for i := range vals {
		vals[i] = r.NormFloat64()*10 + math.Exp(r.Float64()*5)
		s.Add(vals[i])
	}
	slices.Sort(vals)
	qs := []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99}
	for i, est := range s.Quantiles(qs) {
		// DataSketches' bound for k=200 is 1.65% (99% confidence).
		if e := rankError(vals, est, qs[i]); e > 0.0165 {
			t.Errorf("q%.2f: rank error %.4f", qs[i], e)
		}
	}
	// Deterministic for a seed.
	s2 := NewKLL(KLLK, 7)
	r = rand.New(rand.NewPCG(1, 2))
	for range n {
		s2.Add(r.NormFloat64()*10 + math.Exp(r.Float64()*5))
	}
	if !slices.Equal(s.Quantiles(qs), s2.Quantiles(qs)) {
		t.Fatal("same seed and input, different quantiles")
	}
}

func TestKLLMergeAndBinary(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all []float64
	parts := make([]*KLL, 8)
	for p := range parts {
		parts[p] = NewKLL(KLLK, uint64(p))
		for range 125_000 {
			v := r.Float64() * float64(p+1)
			all = append(all, v)
			parts[p].Add(v)
		}
	}
	m := parts[0]
	for _, p := range parts[1:] {
		b, _ := p.MarshalBinary()
		var q KLL
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		m.Merge(&q)
	}
	slices.Sort(all)
	if m.N() != int64(len(all)) {
		t.Fatalf("n %d", m.N())
	}
	qs := []float64{0.01, 0.25, 0.5, 0.75, 0.99}
	for i, est := range m.Quantiles(qs) {
		if e := rankError(all, est, qs[i]); e > 0.0165 {
			t.Errorf("merged q%.2f: rank error %.4f", qs[i], e)
		}
	}
	var bad KLL
	for _, b := range [][]byte{nil, {1}, {1, 200, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5}} {
		if bad.UnmarshalBinary(b) == nil {
			t.Errorf("corrupt state %v accepted", b)
		}
	}
}

func TestHLL(t *testing.T) {
	const n = 1_000_000
	a, b := NewHLL(), NewHLL()
	for i := range n {
		h := Hash64([]byte(strconv.Itoa(i)), 0)
		if i%2 == 0 {
			a.Add(h)
		} else {
			b.Add(h)
		}
	}
	enc, _ := b.MarshalBinary()
	var b2 HLL
	if err := b2.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	a.Merge(&b2)
	if e := a.Estimate(); math.Abs(e-n)/n > 0.02 {
		t.Fatalf("estimate %.0f for %d distinct", e, n)
	}
	small := NewHLL()
	for i := range 100 {
		small.Add(HashFloat(float64(i)))
		small.Add(HashFloat(float64(i)))
	}
	if e := small.Estimate(); math.Abs(e-100) > 2 {
		t.Fatalf("small estimate %.1f", e)
	}
}

func TestMomentsMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var single Moments
	var merged Moments
	for p := range 10 {
		var part ShiftedSums
		var part2 Moments
		for range 100_000 {
			v := 1e6 + r.NormFloat64()*float64(p+1)
			single.Add(v)
			part.Add(v)
			part2.Add(v)
		}
		if p%2 == 0 {
			merged.Merge(part.Moments())
		} else {
			merged.Merge(part2)
		}
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }
	if single.N != merged.N || rel(merged.Mean, single.Mean) > 1e-9 || rel(merged.Std(), single.Std()) > 1e-9 ||
		merged.Min != single.Min || merged.Max != single.Max {
		t.Fatalf("merged %+v single %+v", merged, single)
	}
}

func buildDataset(seed uint64, rows int, offset int) *Dataset {
	r := rand.New(rand.NewPCG(seed, 9))
	num := NewAccumulator("income", contract.Number, false, seed)
	cat := NewAccumulator("home", contract.Category, false, seed)
	pii := NewAccumulator("email", contract.String, true, seed)
	homes := []string{"rent", "owner", "parents", "priv", "other"}
	for i := range rows {
		if i%50 == 0 {
			num.Null()
		} else {
			num.Number(r.ExpFloat64() * 100)
		}
		cat.Text([]byte(homes[r.IntN(len(homes))]))
		pii.Text([]byte(fmt.Sprintf("person%d@example.com", offset+i)))
	}
	return NewDataset(int64(rows), []*Accumulator{num, cat, pii})
}

func TestDatasetJSONMergeAndPII(t *testing.T) {
	a := buildDataset(1, 200_000, 0)
	b := buildDataset(2, 100_000, 200_000)
	both := buildDataset(1, 300_000, 0) // a different sample of the same distribution
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var a2 Dataset
	if err := json.Unmarshal(js, &a2); err != nil {
		t.Fatal(err)
	}
	js2, _ := json.Marshal(&a2)
	if string(js) != string(js2) {
		t.Fatal("JSON round trip changed the profile")
	}
	m, err := Merge(&a2, b)
	if err != nil {
		t.Fatal(err)
	}
	inc := m.Column("income")
	if m.Rows != 300_000 || inc.Count != 300_000 || inc.Nulls != 4000+2000 {
		t.Fatalf("rows %d count %d nulls %d", m.Rows, inc.Count, inc.Nulls)
	}
	// Exponential(100): median 69.3, p99 460.5.
	if q := inc.Quantiles["p50"]; math.Abs(q-69.3) > 2.5 {
		t.Errorf("merged median %.2f", q)
	}
	if q, w := inc.Quantiles["p50"], both.Column("income").Quantiles["p50"]; math.Abs(q-w) > 2.5 {
		t.Errorf("merged median %.2f vs single pass %.2f", q, w)
	}
	home := m.Column("home")
	if home.TopExact == nil || !*home.TopExact || len(home.Top) != 5 || home.Distinct != 5 {
		t.Fatalf("home %+v", home.Top)
	}
	var sum int64
	for _, v := range home.Top {
		sum += v.Count
	}
	if sum != 300_000 {
		t.Fatalf("top counts sum to %d", sum)
	}
	email := m.Column("email")
	if math.Abs(email.Distinct-300_000)/300_000 > 0.02 {
		t.Errorf("pii distinct %.0f", email.Distinct)
	}
	out, _ := json.Marshal(m)
	for _, d := range []*Dataset{a, b, m} {
		j, _ := json.Marshal(d)
		out = append(out, j...)
	}
	for i := 0; i < 300_000; i += 997 {
		if strings.Contains(string(out), fmt.Sprintf("person%d@", i)) {
			t.Fatalf("PII value person%d appears in the profile JSON", i)
		}
	}
	if strings.Contains(string(out), "example.com") {
		t.Fatal("PII value fragment appears in the profile JSON")
	}
	if email.Top != nil || email.Min != nil || email.State.Freq != nil || email.MinLength != nil {
		t.Fatalf("PII column keeps more than counts: %+v", email)
	}
}

func TestTopSummary(t *testing.T) {
	f := NewFreq(100)
	for i := range 100_000 {
		v := i % 1000
		if i%3 == 0 {
			v = 7 // a heavy hitter
		}
		f.Add([]byte(strconv.Itoa(v)))
	}
	if f.Exact() {
		t.Fatal("summary should not claim exact counts")
	}
	top := f.Top(1)
	if top[0].Value != "7" || top[0].Count < 33_334 {
		t.Fatalf("top %+v", top)
	}
}

func TestBin(t *testing.T) {
	edges := []float64{1, 2, 2, 5}
	for _, c := range []struct {
		v    float64
		want int
	}{{0, 0}, {1, 0}, {1.5, 1}, {2, 1}, {3, 3}, {5, 3}, {6, 4}, {math.Inf(1), 4}, {math.NaN(), -1}} {
		if got := Bin(edges, c.v); got != c.want {
			t.Errorf("Bin(%v) = %d, want %d", c.v, got, c.want)
		}
	}
	b := NewBinner(edges)
	b.Add(3)
	b.Add(math.NaN())
	if b.Counts[3] != 1 {
		t.Fatal(b.Counts)
	}
}

// TestAgainstNumpy compares mean, std and quantiles with numpy's on the same values.
func TestAgainstNumpy(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("numpy is not importable under /usr/bin/python3; skipping the comparison")
	}
	r := rand.New(rand.NewPCG(11, 12))
	acc := NewAccumulator("x", contract.Number, false, 1)
	var sb strings.Builder
	for range 200_000 {
		v := math.Round(r.NormFloat64()*1000*100) / 100
		acc.Number(v)
		sb.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		sb.WriteByte('\n')
	}
	f, err := os.CreateTemp(t.TempDir(), "vals")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(sb.String())
	f.Close()
	out, err := exec.Command("/usr/bin/python3", "-c", `import numpy as np, sys
x = np.loadtxt(sys.argv[1])
print(x.mean(), x.std(ddof=1), *np.quantile(x, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]))`, f.Name()).Output()
	if err != nil {
		t.Fatal(err)
	}
	var np []float64
	for _, s := range strings.Fields(string(out)) {
		v, _ := strconv.ParseFloat(s, 64)
		np = append(np, v)
	}
	c := acc.Column()
	if math.Abs(*c.Mean-np[0]) > 1e-9*math.Abs(np[1]) || math.Abs(*c.Std-np[1])/np[1] > 1e-9 {
		t.Fatalf("mean/std %v %v, numpy %v %v", *c.Mean, *c.Std, np[0], np[1])
	}
	// Quantiles: within KLL's rank error, i.e. between numpy's q±1.65% quantiles.
	names := quantileNames()
	for i, q := range quantileLevels() {
		lohi, _ := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf(`import numpy as np, sys
x = np.loadtxt(sys.argv[1]); print(*np.quantile(x, [max(%[1]g-0.0165,0), min(%[1]g+0.0165,1)]))`, q), f.Name()).Output()
		fs := strings.Fields(string(lohi))
		lo, _ := strconv.ParseFloat(fs[0], 64)
		hi, _ := strconv.ParseFloat(fs[1], 64)
		if got := c.Quantiles[names[i]]; got < lo || got > hi {
			t.Errorf("%s = %v, numpy %v (allowed %v..%v)", names[i], got, np[2+i], lo, hi)
		}
	}
}

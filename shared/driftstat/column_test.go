package driftstat_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/profile"
)

// kllEps is the rank error the sketch-path tolerances allow: profile.KLLK =
// 200 gives about 1.3% (1.65% 99% of the time).
const kllEps = 0.025

// table is a CSV as columns of cells ("" = missing).
type table struct {
	names []string
	cols  [][]string
}

func creditTable(t testing.TB) (*contract.Contract, table) {
	t.Helper()
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(credit.CSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tb := table{names: recs[0], cols: make([][]string, len(recs[0]))}
	for _, r := range recs[1:] {
		for j, v := range r {
			if v == "NA" {
				v = ""
			}
			tb.cols[j] = append(tb.cols[j], v)
		}
	}
	return c, tb
}

func (tb table) col(name string) []string {
	return tb.cols[slices.Index(tb.names, name)]
}

// profileOf profiles cells as ingest does: numbers into the sketches, text
// into the counts, "" as missing.
func profileOf(t testing.TB, cc contract.Column, cells []string) profile.Column {
	t.Helper()
	a := profile.NewAccumulator(cc.Name, cc.Type, cc.PII, 11)
	for _, v := range cells {
		switch {
		case v == "":
			a.Null()
		case cc.Type == contract.Integer || cc.Type == contract.Number:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", cc.Name, v, err)
			}
			a.Number(f)
		default:
			a.Text([]byte(v))
		}
	}
	return a.Column()
}

// window feeds cells to a new window of ref.
func window(ref *driftstat.Reference, cells []string) *driftstat.Current {
	cur := ref.NewCurrent()
	for _, v := range cells {
		switch {
		case v == "":
			cur.Null()
		case ref.Type() == contract.Integer || ref.Type() == contract.Number:
			f, _ := strconv.ParseFloat(v, 64)
			cur.Number(f)
		default:
			cur.Category(v)
		}
	}
	return cur
}

func numbers(cells []string) []float64 {
	var out []float64
	for _, v := range cells {
		if v != "" {
			f, _ := strconv.ParseFloat(v, 64)
			out = append(out, f)
		}
	}
	return out
}

// split alternates rows between the baseline and the window.
func split(cells []string) (ref, cur []string) {
	for i, v := range cells {
		if i%2 == 0 {
			ref = append(ref, v)
		} else {
			cur = append(cur, v)
		}
	}
	return ref, cur
}

// counts tallies the categorical cells on the reference's values, sorted,
// then the window's unseen values: the table scipy tests.
func counts(ref, cur []string) ([]int64, []int64) {
	idx := map[string]int{}
	var vals []string
	for _, v := range ref {
		if v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	for i, v := range vals {
		idx[v] = i
	}
	a, b := make([]int64, len(vals)+1), make([]int64, len(vals)+1)
	for _, v := range ref {
		if v != "" {
			a[idx[v]]++
		}
	}
	for _, v := range cur {
		if v == "" {
			continue
		}
		if i, ok := idx[v]; ok {
			b[i]++
		} else {
			b[len(vals)]++
		}
	}
	return a, b
}

type creditCase struct {
	cc       contract.Column
	ref, cur []string
	feature  driftstat.Feature
}

// creditCases compares the credit data's features, split by rows into a
// baseline and a window; shift, where given, moves the window's cells.
func creditCases(t *testing.T, shift func(name, v string) string) []creditCase {
	c, tb := creditTable(t)
	var out []creditCase
	for _, name := range c.Features {
		cc := *c.Column(name)
		ref, cur := split(tb.col(name))
		if shift != nil {
			cur = slices.Clone(cur)
			for i, v := range cur {
				if v != "" {
					cur[i] = shift(name, v)
				}
			}
		}
		r, err := driftstat.NewReference(profileOf(t, cc, ref), cc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, creditCase{cc, ref, cur, driftstat.Compare(r, window(r, cur))})
	}
	return out
}

// The credit data split by rows: numeric features' KS (baseline from the
// profile's sketch) within the sketch's rank error of scipy on the raw
// values, Wasserstein within ε·(range) of scipy's; categorical features'
// chi-square, JS and PSI (exact counts) to a relative 1e-9.
func TestCreditSplitMatchesSciPy(t *testing.T) {
	cs := creditCases(t, nil)
	var cases []scipyCase
	for _, c := range cs {
		if c.feature.KS != nil {
			a, b := numbers(c.ref), numbers(c.cur)
			cases = append(cases, scipyCase{"kind": "ks2", "a": a, "b": b}, scipyCase{"kind": "wasserstein", "a": a, "b": b})
		} else {
			a, b := counts(c.ref, c.cur)
			cases = append(cases, scipyCase{"kind": "chi2", "a": a, "b": b}, scipyCase{"kind": "js", "a": a, "b": b},
				scipyCase{"kind": "psi", "a": a, "b": b})
		}
	}
	ans := askSciPy(t, cases)
	k := 0
	for _, c := range cs {
		f := c.feature
		if f.KS != nil {
			ks, w := nums(t, ans[k]), num(t, ans[k+1])
			k += 2
			if math.Abs(f.KS.Statistic-ks[0]) > kllEps {
				t.Errorf("%s: KS D = %g, scipy %g on the raw values: beyond %g", f.Feature, f.KS.Statistic, ks[0], kllEps)
			}
			all := append(numbers(c.ref), numbers(c.cur)...)
			span := slices.Max(all) - slices.Min(all)
			std := stdOf(numbers(c.ref))
			if got := *f.Wasserstein * std; math.Abs(got-w) > kllEps*span {
				t.Errorf("%s: Wasserstein %g, scipy %g: beyond ε·range = %g", f.Feature, got, w, kllEps*span)
			}
			continue
		}
		chi, js, psi := nums(t, ans[k]), num(t, ans[k+1]), num(t, ans[k+2])
		k += 3
		if f.Chi2 == nil || !near(f.Chi2.Statistic, chi[0], rel, abs) || !near(f.Chi2.PValue, chi[1], rel, abs) || f.Chi2.DoF != int(chi[2]) {
			t.Errorf("%s: chi2 %+v, scipy %v", f.Feature, f.Chi2, chi)
		}
		if f.JS == nil || !near(*f.JS, js, rel, 1e-12) || f.PSI == nil || !near(*f.PSI, psi, rel, abs) {
			t.Errorf("%s: JS %v PSI %v, scipy %g, numpy %g", f.Feature, f.JS, f.PSI, js, psi)
		}
	}
}

func stdOf(v []float64) float64 {
	var m profile.Moments
	for _, x := range v {
		m.Add(x)
	}
	return m.Std()
}

// Incomes ×1.5 and ages +10 in the window: exactly those two drift, and the
// rest (a random half of the same data) do not.
func TestCreditShiftDriftsExactlyTheShiftedFeatures(t *testing.T) {
	cs := creditCases(t, func(name, v string) string {
		f, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "Income":
			return strconv.FormatFloat(f*1.5, 'g', -1, 64)
		case "Age":
			return strconv.FormatFloat(f+10, 'g', -1, 64)
		}
		return v
	})
	fs := make([]driftstat.Feature, len(cs))
	for i, c := range cs {
		fs[i] = c.feature
	}
	decided, v := driftstat.Decide(fs, driftstat.DefaultThresholds(), 0)
	if !slices.Equal(v.DriftedFeatures, []string{"Age", "Income"}) && !slices.Equal(v.DriftedFeatures, []string{"Income", "Age"}) {
		for _, f := range decided {
			t.Logf("%s: %s (%s)", f.Feature, f.Reason, f.Test)
		}
		t.Fatalf("drifted %v, want Age and Income", v.DriftedFeatures)
	}
	if v.Drifted || !v.EnoughData || v.ShareThreshold != driftstat.DefaultShare {
		t.Errorf("verdict %+v: want not drifted (2 of 13 < 50%%), enough data", v)
	}
	for _, f := range decided {
		if f.Drifted && f.Test != driftstat.TestWasserstein {
			t.Errorf("%s decided by %q, want wasserstein (large samples)", f.Feature, f.Test)
		}
		if f.PValueCorrected == nil || f.EffectSize == nil || f.Reason == "" {
			t.Errorf("%s: missing corrected p-value, effect size or reason: %+v", f.Feature, f)
		}
	}
	_, v = driftstat.Decide(fs, driftstat.DefaultThresholds(), 0.1)
	if !v.Drifted {
		t.Errorf("at share 0.1 the dataset should drift: %+v", v)
	}
}

func numericRef(t *testing.T, vals []float64, cc contract.Column) *driftstat.Reference {
	t.Helper()
	a := profile.NewAccumulator(cc.Name, cc.Type, false, 3)
	for _, v := range vals {
		a.Number(v)
	}
	r, err := driftstat.NewReference(a.Column(), cc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func catRef(t *testing.T, vals []string, cc contract.Column) *driftstat.Reference {
	t.Helper()
	a := profile.NewAccumulator(cc.Name, cc.Type, false, 3)
	for _, v := range vals {
		if v == "" {
			a.Null()
		} else {
			a.Text([]byte(v))
		}
	}
	r, err := driftstat.NewReference(a.Column(), cc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func seq(n int, f func(i int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func decideOne(f driftstat.Feature, minRows int64) driftstat.Feature {
	th := driftstat.DefaultThresholds()
	th.MinRows = minRows
	out, _ := driftstat.Decide([]driftstat.Feature{f}, th, 0)
	return out[0]
}

func TestEdgeCases(t *testing.T) {
	num := contract.Column{Name: "x", Type: contract.Number}
	ref := numericRef(t, seq(500, func(i int) float64 { return float64(i % 50) }), num)

	t.Run("empty window", func(t *testing.T) {
		f := driftstat.Compare(ref, ref.NewCurrent())
		if f.KS != nil || f.Wasserstein != nil || f.Rows != 0 || f.NullRateChange != 0 {
			t.Errorf("empty window compared: %+v", f)
		}
		out, v := driftstat.Decide([]driftstat.Feature{f}, driftstat.DefaultThresholds(), 0)
		if v.EnoughData || v.Drifted || out[0].Drifted || !strings.Contains(v.Reason, "not enough data") {
			t.Errorf("empty window verdict %+v, feature %+v", v, out[0])
		}
	})
	t.Run("one row", func(t *testing.T) {
		cur := ref.NewCurrent()
		cur.Number(7)
		f := decideOne(driftstat.Compare(ref, cur), 1)
		if f.KS == nil || f.KS.PValue <= 0.05 || f.Drifted || f.Test != driftstat.TestKS {
			t.Errorf("one typical row: %+v", f)
		}
	})
	t.Run("constant baseline", func(t *testing.T) {
		c := numericRef(t, seq(300, func(int) float64 { return 5 }), num)
		same, moved := c.NewCurrent(), c.NewCurrent()
		for range 200 {
			same.Number(5)
			moved.Number(6)
		}
		fs, fm := decideOne(driftstat.Compare(c, same), 100), decideOne(driftstat.Compare(c, moved), 100)
		if fs.Drifted || *fs.Wasserstein != 0 || fs.KS.Statistic != 0 {
			t.Errorf("same constant: %+v", fs)
		}
		// Normed by the constant's magnitude: |6−5|/5.
		if !fm.Drifted || *fm.Wasserstein != 0.2 || fm.KS.Statistic != 1 || *fm.PSI <= 0.2 {
			t.Errorf("moved constant: %+v", fm)
		}
	})
	t.Run("all missing", func(t *testing.T) {
		cur := ref.NewCurrent()
		for range 200 {
			cur.Null()
		}
		f := decideOne(driftstat.Compare(ref, cur), 100)
		if f.KS != nil || !f.Drifted || f.Test != driftstat.TestNullRate || f.NullRateChange != 1 {
			t.Errorf("all-missing window: %+v", f)
		}
	})
	t.Run("unseen category", func(t *testing.T) {
		cc := contract.Column{Name: "home", Type: contract.Category}
		var vals []string
		for i := range 400 {
			vals = append(vals, []string{"rent", "owner", "parents"}[i%3])
		}
		r := catRef(t, vals, cc)
		cur := r.NewCurrent()
		for i := range 300 {
			v := []string{"rent", "owner", "parents"}[i%3]
			if i%20 == 0 {
				v = "boat"
			}
			cur.Category(v)
		}
		f := decideOne(driftstat.Compare(r, cur), 100)
		if f.Unseen != 15 || f.OutOfRangeRate != 0.05 || !f.Drifted || f.Chi2 == nil || f.Chi2.DoF != 3 {
			t.Errorf("unseen category: %+v", f)
		}
		if !strings.Contains(f.Reason, "never seen in training") {
			t.Errorf("reason %q does not say the values were never seen", f.Reason)
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		lo, hi := 0.0, 40.0
		r := numericRef(t, seq(500, func(i int) float64 { return float64(i % 40) }), contract.Column{Name: "x", Type: contract.Number, Min: &lo, Max: &hi})
		cur := r.NewCurrent()
		for i := range 200 {
			v := float64(i % 40)
			if i%10 == 0 {
				v = 41
			}
			cur.Number(v)
		}
		cur.Number(math.Inf(1))
		cur.Number(math.NaN())
		f := decideOne(driftstat.Compare(r, cur), 100)
		if f.OutOfRangeRate != 21.0/201 || !f.Drifted || f.Values != 200 || f.Rows != 202 {
			t.Errorf("out of range: %+v", f)
		}
	})
	t.Run("PII and text", func(t *testing.T) {
		cc := contract.Column{Name: "email", Type: contract.String, PII: true}
		_, err := driftstat.NewReference(profile.NewAccumulator("email", contract.String, true, 1).Column(), cc)
		if !errors.Is(err, driftstat.ErrPII) {
			t.Errorf("PII column: %v, want ErrPII", err)
		}
		a := profile.NewAccumulator("note", contract.String, false, 1)
		for i := range 200 {
			a.Text([]byte("note " + strconv.Itoa(i)))
		}
		_, err = driftstat.NewReference(a.Column(), contract.Column{Name: "note", Type: contract.String})
		if !errors.Is(err, driftstat.ErrText) {
			t.Errorf("free text: %v, want ErrText", err)
		}
		_, err = driftstat.NewReference(a.Column(), contract.Column{Name: "note", Type: contract.Number})
		if err == nil || !strings.Contains(err.Error(), "contract says number") {
			t.Errorf("type mismatch: %v", err)
		}
	})
}

// A window split in two and merged is the window: exactly while it is
// small, and within the sketch's error past ExactLimit.
func TestMerge(t *testing.T) {
	num := contract.Column{Name: "x", Type: contract.Number}
	ref := numericRef(t, seq(5000, func(i int) float64 { return math.Sin(float64(i)) * 10 }), num)
	for _, n := range []int{300, 3 * driftstat.ExactLimit} {
		vals := seq(n, func(i int) float64 { return math.Cos(float64(i)*0.7)*10 + 1 })
		whole, a, b := ref.NewCurrent(), ref.NewCurrent(), ref.NewCurrent()
		for i, v := range vals {
			whole.Number(v)
			if i < n/3 {
				a.Number(v)
			} else {
				b.Number(v)
			}
		}
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		fw, fm := driftstat.Compare(ref, whole), driftstat.Compare(ref, a)
		if *fw.PSI != *fm.PSI || fw.Rows != fm.Rows || fw.Values != fm.Values {
			t.Errorf("n=%d: merged PSI %g rows %d, whole %g rows %d", n, *fm.PSI, fm.Rows, *fw.PSI, fw.Rows)
		}
		tol := 0.0
		if n > driftstat.ExactLimit {
			tol = 2 * kllEps
		}
		if math.Abs(fw.KS.Statistic-fm.KS.Statistic) > tol {
			t.Errorf("n=%d: merged D %g, whole %g", n, fm.KS.Statistic, fw.KS.Statistic)
		}
	}
	other := numericRef(t, []float64{1, 2, 3}, contract.Column{Name: "y", Type: contract.Number})
	if err := ref.NewCurrent().Merge(other.NewCurrent()); err == nil {
		t.Error("merging windows of different features succeeded")
	}
}

// The report's JSON has every key, null where a statistic does not apply.
func TestFeatureJSON(t *testing.T) {
	ref := numericRef(t, seq(200, func(i int) float64 { return float64(i) }), contract.Column{Name: "x", Type: contract.Integer})
	cur := ref.NewCurrent()
	for i := range 150 {
		cur.Number(float64(i * 2))
	}
	fs, _ := driftstat.Decide([]driftstat.Feature{driftstat.Compare(ref, cur)}, driftstat.Thresholds{}, 0)
	b, err := json.Marshal(fs[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"feature", "type", "test", "ks", "chi2", "psi", "wasserstein", "js", "pValueCorrected",
		"effectSize", "nullRateChange", "outOfRangeRate", "unseen", "drifted", "reason"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if m["chi2"] != nil || m["ks"] == nil {
		t.Errorf("numeric feature: chi2 should be null and ks set: %s", b)
	}
}

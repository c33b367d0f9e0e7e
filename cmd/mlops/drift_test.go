package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// drift compare works offline on two CSV files: the same file does not
// drift; ages moved by 15 years drift on Age alone, and make the dataset
// drifted once the share asks for one feature in fourteen; usage errors are 2.
func TestDriftCompare(t *testing.T) {
	f, err := os.Open(creditCSV)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	age := slices.Index(rows[0], "Age")
	for _, r := range rows[1:] {
		a, _ := strconv.Atoi(r[age])
		r[age] = strconv.Itoa(min(a+15, 120))
	}
	shifted := filepath.Join(t.TempDir(), "shifted.csv")
	out, _ := os.Create(shifted)
	w := csv.NewWriter(out)
	_ = w.WriteAll(rows)
	out.Close()

	r := mlops(t, "drift", "compare", "--contract", creditContract, "--baseline", creditCSV, "--current", creditCSV)
	if r.code != 0 || !strings.Contains(r.stdout, "0 of 14 features drifted") {
		t.Fatalf("the same file: %+v", r)
	}
	r = mlops(t, "drift", "compare", "--contract", creditContract, "--baseline", creditCSV, "--current", shifted, "-o", "json", "--share", "0.05")
	var doc struct {
		Schema   string
		Features []struct {
			Feature string
			Drifted bool
			KS      *struct{ Statistic, PValue float64 }
		}
		Verdict struct {
			Drifted         bool
			DriftedFeatures []string
		}
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &doc) != nil || !doc.Verdict.Drifted ||
		!slices.Equal(doc.Verdict.DriftedFeatures, []string{"Age"}) || doc.Schema != "mlops.drift.compare/1" {
		t.Fatalf("shifted ages: exit %d %+v\n%s", r.code, doc.Verdict, r.stderr)
	}
	for _, f := range doc.Features {
		if f.Feature == "Age" && (f.KS == nil || f.KS.Statistic < 0.3) {
			t.Fatalf("Age's KS: %+v", f.KS)
		}
	}
	for _, args := range [][]string{
		{"drift", "compare", "--contract", creditContract, "--baseline", creditCSV},
		{"drift", "compare", "--contract", creditCSV, "--baseline", creditCSV, "--current", creditCSV},
		{"drift", "show", "credit", "--date", "2026-12-03", "--from", "2026-12-01"},
		{"drift", "compare", "--contract", creditContract, "--baseline", creditCSV, "--current", creditCSV, "--p-value", "NaN"},
		{"drift", "compare", "--contract", creditContract, "--baseline", creditCSV, "--current", creditCSV, "--share", "0"},
		{"drift", "compare", "--contract", creditContract, "--baseline", creditCSV, "--current", creditCSV, "--p-value", "7"},
		{"drift", "show", "credit", "--date", "yesterday"},
		{"drift", "run", "--model", "Not A Model"},
		{"drift", "run", "--from", "2026-12-03", "--to", "2026-12-01"},
	} {
		if r := mlops(t, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want usage error 2", args, r.code, r.stderr)
		}
	}
}

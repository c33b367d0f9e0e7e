package driftstat_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/openmlops/mlops/shared/pythontest"
)

// scipyCase is one question for testdata/oracle.py.
type scipyCase map[string]any

// askSciPy answers cases with scipy 1.10 (testdata/oracle.py), one Python run
// for all of them; it skips t where Python cannot import scipy.
func askSciPy(t testing.TB, cases []scipyCase) []json.RawMessage {
	t.Helper()
	if err := pythontest.SciPy(); err != nil {
		t.Skipf("%s cannot import scipy (%v): install python3-scipy", pythontest.Python, err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "cases.json"), filepath.Join(dir, "answers.json")
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(pythontest.Python, "testdata/oracle.py", in, out).CombinedOutput(); err != nil {
		t.Fatalf("oracle.py: %v: %s", err, msg)
	}
	b, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ans []json.RawMessage
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans) != len(cases) {
		t.Fatalf("oracle answered %d of %d cases", len(ans), len(cases))
	}
	return ans
}

func num(t testing.TB, raw json.RawMessage) float64 {
	t.Helper()
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("oracle answer %s: %v", raw, err)
	}
	return v
}

func nums(t testing.TB, raw json.RawMessage) []float64 {
	t.Helper()
	var v []float64
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("oracle answer %s: %v", raw, err)
	}
	return v
}

// near reports whether got is within rel (relative) or abs (absolute) of want.
func near(got, want, rel, abs float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

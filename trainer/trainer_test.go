package trainer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/pythontest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
	"github.com/openmlops/mlops/trainer"
	"github.com/openmlops/mlops/trainer/trainertest"
)

// python is the interpreter the local platform runs train.py with.
const python = pythontest.Python

// keep leaves each test's inputs and bundle under a folder, to look at or to
// rerun train.py by hand (trainer/README.md):
//
//	go test ./trainer/ -run TestCreditBinary -args -trainer.keep /tmp/credit
var keep = flag.String("trainer.keep", "", "write each test's trainer inputs and bundle under this folder")

// needPython skips the test where train.py cannot run: the trainer is Python +
// XGBoost, and only /usr/bin/python3 has them on the machines that have them.
func needPython(t *testing.T) {
	t.Helper()
	if err := pythontest.XGBoost(); err != nil {
		t.Skipf("%s cannot import xgboost and numpy (%v); install Debian's python3-xgboost to run the trainer's tests",
			python, err)
	}
}

func creditContract(t *testing.T) *contract.Contract {
	t.Helper()
	return variant(t, "")
}

// variant is the credit contract with another target, the rest of the columns as
// features: how a user would set up a regression or multiclass model.
func variant(t *testing.T, target string) *contract.Contract {
	t.Helper()
	c, err := trainertest.CreditContract(target)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func creditSpec(objective, positive string) spec.Spec {
	return spec.Spec{
		Name: "credit-" + strings.ReplaceAll(strings.Split(objective, ":")[0], "_", "-"), Dataset: "credit",
		Target: spec.Target{PositiveClass: positive}, Objective: objective,
		Params:        map[string]any{"max_depth": 4, "eta": 0.1},
		NumBoostRound: 300, EarlyStoppingRounds: 20,
		Split: spec.Split{Validation: 0.15, Test: 0.15, Seed: 42},
	}
}

// run is one trainer invocation and what it left behind.
type run struct {
	code           int
	stdout, stderr string
	out            string   // the output folder
	data           []string // the partitions
	contract, spec []byte
}

// train runs train.py (installed from trainer.Files, as the local platform does)
// with the container contract's arguments, exactly as training.ContractArgs
// spells them. rows (header first) go into parts partitions.
func train(t *testing.T, rows [][]string, parts int, c *contract.Contract, s spec.Spec) run {
	t.Helper()
	dir := t.TempDir()
	if *keep != "" {
		dir = filepath.Join(*keep, filepath.FromSlash(t.Name()))
		must(t, os.RemoveAll(dir))
		must(t, os.MkdirAll(dir, 0o755))
	}
	must(t, trainer.Install(dir))
	script := filepath.Join(dir, "train.py")
	r := run{out: filepath.Join(dir, "bundle"), contract: c.Canonical()}
	var err error
	if r.spec, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	for k, part := range trainertest.Split(rows, parts) {
		p := filepath.Join(dir, fmt.Sprintf("part-%d.csv.gz", k))
		must(t, os.WriteFile(p, trainertest.GzipCSV(t, part), 0o644))
		r.data = append(r.data, p)
	}
	contractPath, specPath := filepath.Join(dir, "contract.json"), filepath.Join(dir, "spec.json")
	must(t, os.WriteFile(contractPath, r.contract, 0o644))
	must(t, os.WriteFile(specPath, r.spec, 0o644))
	params := map[string]string{
		training.ParamData: strings.Join(r.data, ","), training.ParamContract: contractPath,
		training.ParamSpec: specPath, training.ParamOutput: r.out + "/", training.ParamRunID: "credit-test-1",
		training.ParamDatasetVersion: "v-test", training.ParamTrainer: "local-test",
	}
	cmd := trainertest.TrainCommand(script, params)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// open checks a successful run's bundle the way the platform will: every file
// listed with its size and SHA-256, every JSON file decoded strictly into the
// shared/bundle types, the encoding against the model, and the Go evaluator
// against xgboost on every sample row (|ours − xgboost| ≤ 1e-6·max(1, |xgboost|)).
func open(t *testing.T, r run, rows [][]string) *bundle.Bundle {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("train.py exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := bundle.OpenDir(r.out)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckSamples(); err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	want := slices.Clone(bundle.RequiredFiles)
	slices.Sort(want)
	if !slices.Equal(paths, want) {
		t.Errorf("manifest lists %q, want %q (sorted)", paths, want)
	}
	if m.Format != bundle.Format || m.RunID != "credit-test-1" || time.Since(m.CreatedAt) > time.Hour {
		t.Errorf("manifest: format %q, run %q, created %v", m.Format, m.RunID, m.CreatedAt)
	}
	if _, err := os.Stat(filepath.Join(r.out, "error.json")); err == nil {
		t.Error("a successful run left error.json")
	}

	// Lineage: the hashes are of the bytes as read; for canonical JSON the
	// contract's is the platform's contract hash.
	l := b.Lineage
	var dataSHA []string
	for _, p := range r.data {
		raw, err := os.ReadFile(p)
		must(t, err)
		dataSHA = append(dataSHA, sha(raw))
	}
	if l.ContractHash != sha(r.contract) || l.SpecHash != sha(r.spec) || !slices.Equal(l.DataSHA256, dataSHA) {
		t.Errorf("lineage hashes: contract %s spec %s data %q", l.ContractHash, l.SpecHash, l.DataSHA256)
	}
	if l.DatasetVersion != "v-test" || l.Trainer != "local-test" || l.Device != "cpu" || l.TreeMethod != "hist" ||
		l.Libraries["xgboost"] == "" || l.Seed != 42 || l.FinishedAt.Before(l.StartedAt) {
		t.Errorf("lineage: %+v", l)
	}

	// The model is the best iteration's trees only.
	mt := b.Metrics
	perRound := max(1, len(b.Encoding.Target.Classes))
	if b.Encoding.Target.Kind == bundle.LabelBinary {
		perRound = 1
	}
	if mt.NumTrees != b.Model.NumTrees() || mt.NumTrees != (mt.BestIteration+1)*perRound {
		t.Errorf("numTrees %d, model has %d, best iteration %d", mt.NumTrees, b.Model.NumTrees(), mt.BestIteration)
	}

	// Test rows: ascending data rows of the concatenated partitions, as many as
	// the metrics say; samples are test rows with the CSV's values verbatim.
	tr := b.TestRows
	if int64(len(tr.Rows)) != mt.Rows.Test || tr.DatasetVersion != "v-test" {
		t.Errorf("test_rows: %d rows for %d test rows, version %q", len(tr.Rows), mt.Rows.Test, tr.DatasetVersion)
	}
	header := rows[0]
	missing := false
	for _, s := range b.Samples.Rows {
		if _, ok := slices.BinarySearch(tr.Rows, s.Row); !ok {
			t.Fatalf("sample row %d is not a test row", s.Row)
		}
		for j, col := range b.Samples.Columns {
			if v := rows[s.Row+1][slices.Index(header, col)]; s.Values[j] != v {
				t.Fatalf("sample row %d column %s: %q, the data has %q", s.Row, col, s.Values[j], v)
			}
			missing = missing || s.Values[j] == ""
		}
	}
	if len(b.Samples.Rows) == 0 || len(b.Samples.Rows) > 200 || !missing {
		t.Errorf("%d samples (want 1..200, some with a missing value: %v)", len(b.Samples.Rows), missing)
	}
	return b
}

func TestCreditBinary(t *testing.T) {
	needPython(t)
	t.Parallel()
	rows := trainertest.CreditRows(t)
	c := creditContract(t)
	r := train(t, rows, 2, c, creditSpec(spec.BinaryLogistic, "bad"))
	b := open(t, r, rows)
	m := b.Metrics
	t.Logf("credit binary: test AUC %.4f (95%% CI %.4f–%.4f), best iteration %d, %d trees, rows %+v",
		m.Headline.Value, m.Headline.Lower, m.Headline.Upper, m.BestIteration, m.NumTrees, m.Rows)

	if m.Headline.Name != "auc" || m.Headline.Value <= 0.75 || m.Test["auc"] != m.Headline.Value {
		t.Errorf("headline %+v: want test AUC > 0.75", m.Headline)
	}
	if !(m.Headline.Lower < m.Headline.Value && m.Headline.Value < m.Headline.Upper) || m.Headline.Replicates != 1000 {
		t.Errorf("headline interval %+v", m.Headline)
	}
	if m.Rows.Train+m.Rows.Validation+m.Rows.Test != 4454 || m.Rows.Test < 600 || m.Rows.Test > 740 {
		t.Errorf("rows %+v", m.Rows)
	}
	for _, k := range []string{"auc", "log_loss", "accuracy", "precision", "recall", "f1", "brier"} {
		if _, ok := m.Test[k]; !ok {
			t.Errorf("test metrics lack %s: %v", k, m.Test)
		}
	}
	if len(m.Calibration) != 10 || m.Threshold != 0.5 || len(m.ConfusionMatrix) != 2 {
		t.Errorf("calibration %d bins, threshold %v, confusion %v", len(m.Calibration), m.Threshold, m.ConfusionMatrix)
	}
	var n int64
	for _, row := range m.ConfusionMatrix {
		n += row[0] + row[1]
	}
	if n != m.Rows.Test {
		t.Errorf("confusion matrix counts %d rows, test has %d", n, m.Rows.Test)
	}

	// The encoding is the contract's: features in order, one-hot over the
	// allowed lists, the positive class last.
	e := b.Encoding
	var names []string
	for _, f := range e.Features {
		names = append(names, f.Name)
		col := c.Column(f.Name)
		wantKind := map[contract.Type]string{contract.Integer: bundle.KindNumeric, contract.Number: bundle.KindNumeric,
			contract.Category: bundle.KindOneHot, contract.String: bundle.KindOneHot}[col.Type]
		if f.Kind != wantKind || (f.Kind == bundle.KindOneHot && !slices.Equal(f.Categories, col.Allowed)) {
			t.Errorf("feature %s: %+v (contract %+v)", f.Name, f, col)
		}
	}
	if !slices.Equal(names, c.Features) || !slices.Equal(e.Target.Classes, []string{"good", "bad"}) ||
		e.Target.PositiveClass != "bad" || e.Target.Column != "Status" {
		t.Errorf("encoding: features %q, target %+v", names, e.Target)
	}

	// Fairness slices for Age (bands) and Marital (values), gaps defined.
	if len(b.Slices.Attributes) != 2 {
		t.Fatalf("slices: %+v", b.Slices)
	}
	for i, want := range []struct{ name, kind string }{{"Age", "numeric"}, {"Marital", "categorical"}} {
		a := b.Slices.Attributes[i]
		var total int64
		for _, s := range a.Slices {
			total += s.Rows
			if _, ok := s.Metrics["positive_rate"]; !ok {
				t.Errorf("%s slice %s has no positive_rate", a.Name, s.Value)
			}
		}
		if a.Name != want.name || a.Kind != want.kind || total != m.Rows.Test || a.DemographicParityDifference == nil ||
			a.EqualOpportunityDifference == nil || a.DisparateImpactRatio == nil {
			t.Errorf("slices for %s: %+v", want.name, a)
		}
	}
	if s := b.Slices.Attributes[0].Slices[0].Value; !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, ")") {
		t.Errorf("age band %q", s)
	}

	// Importance covers every column; the baseline is 20 probability bins.
	if len(b.Importance.Columns) != len(e.Columns) || len(b.Importance.Features) != len(e.Features) ||
		b.Importance.Type != "total_gain" {
		t.Errorf("importance: %+v", b.Importance)
	}
	o := b.Baseline.Outputs
	if len(o) != 1 || o[0].Name != "p(bad)" || len(o[0].Edges) != 21 || o[0].Count != m.Rows.Test || len(o[0].Quantiles) != 7 {
		t.Errorf("baseline: %+v", o)
	}
	if !strings.Contains(r.stdout, "bundle written") {
		t.Errorf("stdout (the run log) lacks progress lines:\n%s", r.stdout)
	}
}

func TestCreditRegression(t *testing.T) {
	needPython(t)
	t.Parallel()
	rows := trainertest.CreditRows(t)
	b := open(t, train(t, rows, 1, variant(t, "Price"), creditSpec(spec.RegSquaredError, "")), rows)
	m := b.Metrics
	t.Logf("credit regression (Price): test RMSE %.1f (95%% CI %.1f–%.1f), R² %.3f, %d trees",
		m.Headline.Value, m.Headline.Lower, m.Headline.Upper, m.Test["r2"], m.NumTrees)
	if m.Headline.Name != "rmse" || m.Test["r2"] < 0.5 || b.Encoding.Target.Kind != bundle.LabelRegression {
		t.Errorf("headline %+v, test %v", m.Headline, m.Test)
	}
	if o := b.Baseline.Outputs; len(o) != 1 || o[0].Name != "prediction" {
		t.Errorf("baseline %+v", o)
	}
}

func TestCreditMulticlass(t *testing.T) {
	needPython(t)
	t.Parallel()
	rows := trainertest.CreditRows(t)
	c := variant(t, "Home")
	s := creditSpec(spec.MultiSoftprob, "")
	s.Params = map[string]any{"max_depth": 4, "eta": 0.3} // six trees a round: fewer rounds
	b := open(t, train(t, rows, 1, c, s), rows)
	m := b.Metrics
	t.Logf("credit multiclass (Home): test macro F1 %.3f, accuracy %.3f, %d trees", m.Headline.Value, m.Test["accuracy"], m.NumTrees)
	// Home has six allowed values (the output order) and six rows without one.
	if !slices.Equal(b.Encoding.Target.Classes, c.Column("Home").Allowed) || b.Model.NumOutputs() != 6 ||
		m.Rows.Train+m.Rows.Validation+m.Rows.Test != 4454-6 || len(m.ConfusionMatrix) != 6 {
		t.Errorf("classes %q, %d outputs, rows %+v", b.Encoding.Target.Classes, b.Model.NumOutputs(), m.Rows)
	}
	if m.Headline.Name != "macro_f1" || m.Test["accuracy"] < 0.5 {
		t.Errorf("headline %+v test %v", m.Headline, m.Test)
	}
}

// Bad input is exit 2, error.json {"kind": "bad_input"} naming what is wrong,
// one line on stderr, and no manifest (no bundle).
func TestBadInput(t *testing.T) {
	needPython(t)
	t.Parallel()
	rows := trainertest.CreditRows(t)
	status := slices.Index(rows[0], "Status")
	debt := slices.Index(rows[0], "Debt")
	var good, noStatus, noDebt [][]string
	for i, r := range rows {
		if i == 0 || r[status] == "good" {
			good = append(good, r)
		}
		noStatus = append(noStatus, slices.Delete(slices.Clone(r), status, status+1))
		d := slices.Clone(r)
		if i > 0 {
			d[debt] = ""
		}
		noDebt = append(noDebt, d)
	}
	binary := creditSpec(spec.BinaryLogistic, "bad")
	otherTarget := binary
	otherTarget.Target.Column = "Outcome"
	cases := []struct {
		name string
		rows [][]string
		spec spec.Spec
		want string
	}{
		{"one class", good, binary, `target column 'Status' has one class only ('good'`},
		{"target not in the contract", rows, otherTarget, `target column 'Outcome' is not a column of the contract`},
		{"target not in the data", noStatus, binary, `the data has no column 'Status'`},
		{"all-missing feature", noDebt, binary, `feature column 'Debt' has no values`},
		{"positive class absent", rows, creditSpec(spec.BinaryLogistic, "default"), `positive class 'default' does not occur`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := train(t, tc.rows, 1, creditContract(t), tc.spec)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			raw, err := os.ReadFile(filepath.Join(r.out, "error.json"))
			must(t, err)
			var e struct{ Error, Kind string }
			must(t, json.Unmarshal(raw, &e))
			if e.Kind != "bad_input" || !strings.Contains(e.Error, tc.want) {
				t.Errorf("error.json %s, want kind bad_input and %q", raw, tc.want)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line naming the problem", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(r.out, bundle.ManifestFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed run wrote %s (%v)", bundle.ManifestFile, err)
			}
		})
	}
}

// train.py parses timestamps with a port of Go's time.Parse; this holds it to
// Go's answers (accepted or not, and the very float64 of Unix seconds the Go
// encoder computes) over formatted times and their near misses.
func TestTimestampLayoutsMatchGo(t *testing.T) {
	needPython(t)
	t.Parallel()
	layouts := []string{"", time.RFC3339, time.RFC3339Nano, time.DateOnly, time.DateTime, "01/02/2006 3:04 PM",
		"Jan _2 2006 15:04:05.000 -0700", "Monday, 02-Jan-06 15:04:05.999 Z07:00", "20060102150405",
		"2.1.2006 15:04", "January 2, 2006 3:04:05pm -07", "2006-01-02T15:04:05-07:00:00", "15:04", time.Kitchen,
		"2006-01-02 15:04:05,000000", "Mon Jan 2 15:04:05 2006", "02 Jan 06 15:04 Z0700"}
	times := []time.Time{
		time.Date(2024, 1, 31, 9, 30, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 5e8, time.FixedZone("", -5*3600)),
		time.Date(2000, 2, 29, 12, 0, 0, 123456789, time.FixedZone("", 5*3600+1800)),
		time.Date(2023, 6, 5, 0, 5, 7, 0, time.FixedZone("", 14*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	extra := []string{"2024-02-30T00:00:00Z", "2024-01-31T9:30:00Z", "2024-01-31T09:30:00,5Z",
		"2024-01-31T09:30:00.1234567891Z", "2024-01-31T09:30:00+24:00", "2024-01-31T09:30:00+25:00",
		"2024-01-31T24:00:00Z", "2024-01-31T23:59:60Z", "2024-01-31t09:30:00z", "2024-01-31T09:30:00.Z", ""}
	type tcase struct {
		Layout string   `json:"layout"`
		Value  string   `json:"value"`
		OK     bool     `json:"ok"`
		Unix   *float64 `json:"unix"`
	}
	var cases []tcase
	add := func(layout, v string) {
		goLayout := layout
		if goLayout == "" {
			goLayout = time.RFC3339Nano // what the Go validator and encoder use for an empty format
		}
		c := tcase{Layout: layout, Value: v}
		if tm, err := time.Parse(goLayout, v); err == nil {
			u := float64(tm.Unix()) + float64(tm.Nanosecond())/1e9
			c.OK, c.Unix = true, &u
		}
		cases = append(cases, c)
	}
	for _, layout := range layouts {
		f := layout
		if f == "" {
			f = time.RFC3339Nano
		}
		for _, tm := range times {
			v := tm.Format(f)
			variants := []string{v, v + "x", v[:len(v)-1], " " + v, strings.ToUpper(v), strings.ToLower(v),
				strings.Replace(v, "0", "9", 1), strings.Replace(v, "-", "/", 1), strings.Replace(v, " ", "  ", 1),
				strings.Replace(v, "0", "", 1), strings.Replace(v, ":", "", 1), strings.Replace(v, "Z", "+00:00", 1)}
			for _, x := range variants {
				add(layout, x)
			}
		}
		for _, x := range extra {
			add(layout, x)
		}
	}
	raw, err := json.Marshal(cases)
	must(t, err)
	file := filepath.Join(t.TempDir(), "cases.json")
	must(t, os.WriteFile(file, raw, 0o644))
	const check = `
import json, sys
sys.path.insert(0, ".")
import train
bad = []
for c in json.load(open(sys.argv[1])):
    try:
        got = train.GoLayout(c["layout"]).unix(c["value"])
        ok = True
    except ValueError:
        got, ok = None, False
    if ok != c["ok"] or (ok and got != c["unix"]):
        bad.append(f'layout {c["layout"]!r} value {c["value"]!r}: Go {c["ok"]} {c["unix"]!r}, train.py {ok} {got!r}')
print("\n".join(bad[:20]))
print(f"{len(bad)} of {len(json.load(open(sys.argv[1])))} differ")
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(python, "-c", check, file).CombinedOutput()
	if err != nil {
		t.Fatalf("train.py's timestamp parsing differs from Go's time.Parse: %v\n%s", err, out)
	}
	accepted := 0
	for _, c := range cases {
		if c.OK {
			accepted++
		}
	}
	t.Logf("%d cases (%d accepted by Go): %s", len(cases), accepted, bytes.TrimSpace(out))
}

// The Python unit tests (encoding, split, metrics, bad inputs) run here too.
func TestPythonUnitTests(t *testing.T) {
	needPython(t)
	t.Parallel()
	cmd := exec.Command(python, "-m", "unittest", "test_train")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python -m unittest test_train: %v\n%s", err, out)
	}
}

// Files is the program in this folder: train.py, __main__.py and every module
// of the package, byte for byte.
func TestFilesAreTheTrainer(t *testing.T) {
	want := []string{"__main__.py", "train.py"}
	mods, err := filepath.Glob(filepath.Join("mlops_trainer", "*.py"))
	must(t, err)
	for _, m := range mods {
		want = append(want, filepath.ToSlash(m))
	}
	var got []string
	must(t, fs.WalkDir(trainer.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, name)
		}
		return err
	}))
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(mods) < 10 {
		t.Fatalf("trainer.Files holds %q, the folder %q", got, want)
	}
	for _, name := range want {
		raw, err := os.ReadFile(filepath.FromSlash(name))
		must(t, err)
		emb, err := trainer.Files.ReadFile(name)
		must(t, err)
		if !bytes.Equal(raw, emb) {
			t.Errorf("trainer.Files' %s is not the file", name)
		}
	}
	if py, _ := trainer.Files.ReadFile("train.py"); !bytes.HasPrefix(py, []byte("#!/usr/bin/env python3")) {
		t.Error("train.py does not start with its #! line")
	}
}

// Install leaves the folder holding the trainer: every file of Files, nothing
// left from an older trainer's package, and nothing rewritten that is already
// right; the folder's other files, and Python's caches, stay.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	check := func() {
		t.Helper()
		must(t, fs.WalkDir(trainer.Files, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			want, _ := trainer.Files.ReadFile(name)
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: not the trainer's (%v)", name, err)
			}
			return nil
		}))
	}
	check()
	before, err := os.Stat(filepath.Join(dir, "mlops_trainer", "metrics.py"))
	must(t, err)

	pkg := filepath.Join(dir, "mlops_trainer")
	must(t, os.WriteFile(filepath.Join(pkg, "old_module.py"), []byte("x = 1\n"), 0o600))
	must(t, os.MkdirAll(filepath.Join(pkg, "__pycache__"), 0o700))
	must(t, os.WriteFile(filepath.Join(pkg, "__pycache__", "cli.cpython-311.pyc"), []byte("pyc"), 0o600))
	must(t, os.WriteFile(filepath.Join(pkg, "split.py"), []byte("edited\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "part-0.csv.gz"), []byte("data"), 0o600))
	must(t, trainer.Install(dir))
	check()
	if _, err := os.Stat(filepath.Join(pkg, "old_module.py")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a module the trainer no longer has is still there (%v)", err)
	}
	for _, keep := range []string{filepath.Join(pkg, "__pycache__", "cli.cpython-311.pyc"), filepath.Join(dir, "part-0.csv.gz")} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	after, err := os.Stat(filepath.Join(dir, "mlops_trainer", "metrics.py"))
	must(t, err)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("an unchanged module was rewritten")
	}
	if entries, _ := filepath.Glob(filepath.Join(pkg, ".*")); len(entries) > 0 {
		t.Errorf("temporary files left: %q", entries)
	}
}

// The installed trainer runs from any working directory, as python3 train.py
// and as python3 <folder>, with python3 -I too (which leaves the script's
// folder off sys.path); reading its arguments needs nothing beyond the
// standard library.
func TestInstalledTrainerRunsFromAnywhere(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	for _, args := range [][]string{{filepath.Join(dir, "train.py")}, {dir}, {"-I", filepath.Join(dir, "train.py")}, {"-I", dir}} {
		cmd := exec.Command(python, append(args, "--help")...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--dataset-version") {
			t.Errorf("python3 %s --help: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// A Python that cannot import xgboost (here /usr/bin/python3 -S: no
// dist-packages) fails with exit code 1 and says so in error.json, naming the
// interpreter and the fix, so the run's reason is more than "exit code 1".
func TestTrainerWithoutXGBoostSaysSo(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	if exec.Command(python, "-S", "-c", "import xgboost").Run() == nil {
		t.Skipf("%s -S still imports xgboost", python)
	}
	t.Parallel()
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	out := filepath.Join(dir, "bundle")
	cmd := exec.Command(python, "-S", filepath.Join(dir, "train.py"), "--data", filepath.Join(dir, "part-0.csv.gz"),
		"--contract", filepath.Join(dir, "contract.json"), "--spec", filepath.Join(dir, "spec.json"),
		"--output", out+"/", "--run-id", "credit-test-1", "--dataset-version", "v1", "--trainer", "local-test")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, bundle.ErrorFile))
	must(t, err)
	var rep bundle.ErrorReport
	must(t, json.Unmarshal(raw, &rep))
	for _, want := range []string{python + " cannot import", "xgboost", "python3-xgboost"} {
		if !strings.Contains(rep.Error, want) {
			t.Errorf("error.json %s: want %q in the error", raw, want)
		}
	}
	if rep.Kind != bundle.ErrorInternal || strings.Contains(stderr.String(), "Traceback") {
		t.Errorf("error.json %s, stderr:\n%s", raw, stderr.String())
	}
}

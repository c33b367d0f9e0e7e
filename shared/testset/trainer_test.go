package testset_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/metrics"
	"github.com/openmlops/mlops/shared/pythontest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/testset"
	"github.com/openmlops/mlops/shared/training"
	"github.com/openmlops/mlops/trainer"
	"github.com/openmlops/mlops/trainer/trainertest"
)

func needPython(t *testing.T) {
	t.Helper()
	if err := pythontest.XGBoost(); err != nil {
		t.Skipf("%s cannot import xgboost and numpy (%v): these tests train real bundles with train.py", pythontest.Python, err)
	}
}

// creditSpec is a small model (few rounds, fast to train): these tests need
// bundles, not good models.
func creditSpec(objective, positive string, params map[string]any) spec.Spec {
	return spec.Spec{
		Name: "credit-" + strings.ReplaceAll(strings.Split(objective, ":")[0], "_", "-"), Dataset: "credit",
		Target: spec.Target{PositiveClass: positive}, Objective: objective,
		Params:        params,
		NumBoostRound: 40, EarlyStoppingRounds: 10,
		Split: spec.Split{Validation: 0.15, Test: 0.15, Seed: 42},
	}
}

// model is one trained bundle and the partitions it was trained on.
type model struct {
	b     *bundle.Bundle
	parts [][]byte // canonical CSV, gzip
}

func (m *model) readers() []io.Reader {
	rs := make([]io.Reader, len(m.parts))
	for i, p := range m.parts {
		rs[i] = bytes.NewReader(p)
	}
	return rs
}

type config struct {
	target    string // "" = the contract's own (Status, binary)
	objective string
	positive  string
	params    map[string]any
	parts     int
}

var configs = map[string]config{
	"binary": {objective: spec.BinaryLogistic, positive: "bad", parts: 2,
		params: map[string]any{"max_depth": 4, "eta": 0.3}},
	"binary-other": {objective: spec.BinaryLogistic, positive: "bad", parts: 1,
		params: map[string]any{"max_depth": 2, "eta": 0.3, "min_child_weight": 5}},
	"regression": {target: "Price", objective: spec.RegSquaredError, parts: 1,
		params: map[string]any{"max_depth": 4, "eta": 0.1}},
	"multiclass": {target: "Home", objective: spec.MultiSoftprob, parts: 1,
		params: map[string]any{"max_depth": 3, "eta": 0.5}},
}

var (
	startAll  sync.Once
	trainedMu sync.Mutex
	trained   = map[string]*trainOnce{}
)

type trainOnce struct {
	once sync.Once
	m    *model
	err  error
}

// get returns the named configuration's model, trained once per test binary
// (the tests share them).
func get(t *testing.T, name string) *model {
	t.Helper()
	needPython(t)
	m, err := trainOnceFor(name)
	if err != nil {
		t.Fatalf("training %s: %v", name, err)
	}
	return m
}

func trainOnceFor(name string) (*model, error) {
	trainedMu.Lock()
	o := trained[name]
	if o == nil {
		o = &trainOnce{}
		trained[name] = o
	}
	trainedMu.Unlock()
	startAll.Do(func() {
		// The first test to need a model starts training the others too, side
		// by side: the trainings are most of these tests' time.
		for other := range configs {
			go func() { _, _ = trainOnceFor(other) }()
		}
	})
	o.once.Do(func() { o.m, o.err = trainModel(name, configs[name]) })
	return o.m, o.err
}

// trainModel runs train.py (installed from trainer.Files, as the local platform
// does) with the container contract's arguments (training.ContractArgs).
func trainModel(name string, cfg config) (*model, error) {
	dir, err := os.MkdirTemp("", "testset-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return trainIn(dir, cfg)
}

// trainIn trains in dir: the credit data (NA as the empty cell) in cfg.parts
// partitions, the contract (with cfg's target), the spec.
func trainIn(dir string, cfg config) (*model, error) {
	rows, err := trainertest.ReadCreditRows()
	if err != nil {
		return nil, err
	}
	c, err := trainertest.CreditContract(cfg.target)
	if err != nil {
		return nil, err
	}
	if err := trainer.Install(dir); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "train.py")
	specJSON, err := json.Marshal(creditSpec(cfg.objective, cfg.positive, cfg.params))
	if err != nil {
		return nil, err
	}
	m := &model{}
	var paths []string
	for k, part := range trainertest.Split(rows, cfg.parts) {
		gz, err := trainertest.EncodeGzipCSV(part)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, fmt.Sprintf("part-%d.csv.gz", k))
		if err := os.WriteFile(p, gz, 0o644); err != nil {
			return nil, err
		}
		m.parts = append(m.parts, gz)
		paths = append(paths, p)
	}
	contractPath, specPath, out := filepath.Join(dir, "contract.json"), filepath.Join(dir, "spec.json"), filepath.Join(dir, "bundle")
	if err := os.WriteFile(contractPath, c.Canonical(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(specPath, specJSON, 0o644); err != nil {
		return nil, err
	}
	params := map[string]string{
		training.ParamData: strings.Join(paths, ","), training.ParamContract: contractPath,
		training.ParamSpec: specPath, training.ParamOutput: out + "/", training.ParamRunID: "testset-1",
		training.ParamDatasetVersion: "v-test", training.ParamTrainer: "local-test",
	}
	if outb, err := trainertest.TrainCommand(script, params).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("train.py: %v\n%s", err, outb)
	}
	b, err := bundle.OpenDir(out)
	if err != nil {
		return nil, err
	}
	if err := b.CheckSamples(); err != nil {
		return nil, err
	}
	m.b = b
	return m, nil
}

// testRows loads rows (numbers of m's test rows) from m's partitions.
func testRows(t *testing.T, m *model, rows []int64) *testset.Rows {
	t.Helper()
	r, err := testset.Load(m.readers(), rows)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scoreOn scores b on rows.
func scoreOn(t *testing.T, b *bundle.Bundle, rows *testset.Rows) *testset.Result {
	t.Helper()
	res, err := testset.ScoreOn(b, rows)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// relClose reports whether got is want within rel relative.
func relClose(got, want, rel float64) bool {
	return got == want || math.Abs(got-want) <= rel*math.Abs(want)
}

// checkMetrics compares testset's metrics with those the trainer recorded.
func checkMetrics(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("metrics %v, the trainer recorded %v", got, want)
	}
	exact := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok || !relClose(g, w, 1e-9):
			t.Errorf("%s = %v, the trainer recorded %v", k, g, w)
		case g == w:
			exact++
		default:
			t.Logf("%s = %v, the trainer recorded %v (relative difference %.2g)", k, g, w, math.Abs(g-w)/math.Abs(w))
		}
	}
	t.Logf("%d of %d metrics equal the trainer's bit for bit", exact, len(want))
}

func TestReproducesTrainerMetrics(t *testing.T) {
	for _, name := range []string{"binary", "regression", "multiclass"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := get(t, name)
			b := m.b
			res, err := testset.Evaluate(b, m.readers())
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(res.Rows)) != b.Metrics.Rows.Test || !slices.Equal(res.Rows, b.TestRows.Rows) {
				t.Fatalf("%d rows scored, the trainer tested %d", len(res.Rows), b.Metrics.Rows.Test)
			}
			checkMetrics(t, res.Metrics, b.Metrics.Test)
			t.Logf("%s (%d partition(s), %d test rows): %v", name, len(m.parts), len(res.Rows), res.Metrics)
			if name == "binary" {
				if len(res.Calibration) != len(b.Metrics.Calibration) {
					t.Fatalf("calibration: %d bins, the trainer's %d", len(res.Calibration), len(b.Metrics.Calibration))
				}
				for i, c := range res.Calibration {
					w := b.Metrics.Calibration[i]
					if c.Count != w.Count || c.Lower != w.Lower || c.Upper != w.Upper ||
						!relClose(c.MeanPredicted, w.MeanPredicted, 1e-9) || !relClose(c.FractionPositive, w.FractionPositive, 1e-9) {
						t.Errorf("calibration bin %d: %+v, the trainer's %+v", i, c, w)
					}
				}
			}
			// The outputs are the trainer's xgboost's on the sample rows.
			k := res.NumOutputs
			same, all := 0, 0
			for _, s := range b.Samples.Rows {
				i, ok := slices.BinarySearch(res.Rows, s.Row)
				if !ok {
					t.Fatalf("sample row %d is not scored", s.Row)
				}
				for j, want := range s.Output {
					got := res.Outputs[i*k+j]
					if !bundle.Agrees(got, want) {
						t.Errorf("row %d output %d: %v, xgboost %v", s.Row, j, got, want)
					}
					all++
					if got == want {
						same++
					}
				}
			}
			// Where the Go evaluator's float32 output differs from xgboost's in
			// the last bit, the metrics differ in the 11th digit or so.
			t.Logf("%d of %d sample outputs equal xgboost's bit for bit", same, all)
			// The same data as one partition gives the same rows, hence the same
			// numbers: row numbering runs across partitions.
			one, err := testset.Evaluate(b, []io.Reader{bytes.NewReader(trainertest.GzipCSV(t, trainertest.CreditRows(t)))})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(one.Outputs, res.Outputs) || !slices.Equal(one.Labels, res.Labels) {
				t.Error("one partition and several give different rows")
			}
		})
	}
}

func TestChampionOnCandidateRows(t *testing.T) {
	t.Parallel()
	cand, champ := get(t, "binary"), get(t, "binary-other")
	rows := testRows(t, cand, cand.b.TestRows.Rows)
	own := scoreOn(t, cand.b, rows)
	other := scoreOn(t, champ.b, rows)
	t.Logf("candidate %v\nchampion on the candidate's rows %v", own.Metrics, other.Metrics)
	if !slices.Equal(own.Labels, other.Labels) {
		t.Error("the two models see different labels on the same rows")
	}
	if other.Metrics[metrics.AUC] == own.Metrics[metrics.AUC] || other.Metrics[metrics.LogLoss] == own.Metrics[metrics.LogLoss] {
		t.Errorf("a different model scores the same: %v", other.Metrics)
	}
	// The split depends on the labels and the seed only, so both models were
	// tested on the same rows: the champion's score here is its own record.
	if slices.Equal(champ.b.TestRows.Rows, cand.b.TestRows.Rows) {
		checkMetrics(t, other.Metrics, champ.b.Metrics.Test)
	} else {
		t.Log("the two bundles have different test rows")
	}

	// A model of another kind on the same rows (the multiclass model reads
	// its own target, Home): scored with its own label.
	multi := get(t, "multiclass")
	rowsM := testRows(t, cand, multi.b.TestRows.Rows)
	res := scoreOn(t, multi.b, rowsM)
	checkMetrics(t, res.Metrics, multi.b.Metrics.Test)
}

// without returns rows with the named columns removed.
func without(rows *testset.Rows, drop ...string) *testset.Rows {
	keep := []int{}
	out := &testset.Rows{Numbers: rows.Numbers}
	for i, h := range rows.Header {
		if !slices.Contains(drop, h) {
			keep = append(keep, i)
			out.Header = append(out.Header, h)
		}
	}
	for _, r := range rows.Records {
		var nr []string
		for _, i := range keep {
			nr = append(nr, r[i])
		}
		out.Records = append(out.Records, nr)
	}
	return out
}

func TestChampionCannotReadRows(t *testing.T) {
	t.Parallel()
	cand, champ := get(t, "binary"), get(t, "binary-other")
	rows := testRows(t, cand, cand.b.TestRows.Rows)
	for _, tc := range []struct {
		name string
		rows *testset.Rows
		want string
	}{
		{"features absent", without(rows, "Income", "Debt"), `"Income", "Debt"`},
		{"target absent", without(rows, "Status"), `target "Status"`},
	} {
		_, err := testset.ScoreOn(champ.b, tc.rows)
		if !errors.Is(err, testset.ErrIncomparable) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "comparison impossible") {
			t.Errorf("%s: %v, want ErrIncomparable naming %s", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	// A value the champion's encoding refuses, and a class it never learned.
	bad := &testset.Rows{Header: rows.Header, Numbers: rows.Numbers}
	for _, r := range rows.Records {
		bad.Records = append(bad.Records, slices.Clone(r))
	}
	bad.Records[3][slices.Index(rows.Header, "Income")] = "lots"
	if _, err := testset.ScoreOn(champ.b, bad); !errors.Is(err, testset.ErrIncomparable) || !strings.Contains(err.Error(), "lots") {
		t.Errorf("unencodable value: %v", err)
	}
	bad.Records[3][slices.Index(rows.Header, "Income")] = ""
	bad.Records[5][slices.Index(rows.Header, "Status")] = "ugly"
	if _, err := testset.ScoreOn(champ.b, bad); !errors.Is(err, testset.ErrIncomparable) || !strings.Contains(err.Error(), "ugly") {
		t.Errorf("unknown class: %v", err)
	}
}

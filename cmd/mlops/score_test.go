package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/store"
)

const (
	bundleFixtures = "../../shared/bundle/testdata/bundles"
	modelFixtures  = "../../shared/xgboost/testdata/fixtures"
)

func openFixture(t *testing.T, name string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.OpenDir(filepath.Join(bundleFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCSV(t *testing.T, data string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, data)
	}
	return rows
}

// samplesCSV writes a bundle's samples as an input file whose columns are in
// reverse order, after an id column, with a stale "label" column that scoring
// must replace.
func samplesCSV(t *testing.T, b *bundle.Bundle, path string) {
	t.Helper()
	header := []string{"id", "label"}
	for i := len(b.Samples.Columns) - 1; i >= 0; i-- {
		header = append(header, b.Samples.Columns[i])
	}
	rows := [][]string{header}
	for _, s := range b.Samples.Rows {
		row := []string{strconv.FormatInt(s.Row, 10), "stale"}
		for i := len(s.Values) - 1; i >= 0; i-- {
			row = append(row, s.Values[i])
		}
		rows = append(rows, row)
	}
	writeCSV(t, path, rows)
}

// checkScores compares scored rows with the outputs xgboost recorded in the
// bundle's samples, and the labels with the bundle's decision rule.
func checkScores(t *testing.T, b *bundle.Bundle, rows [][]string) {
	t.Helper()
	enc := b.Encoding
	var probs []string
	switch enc.Target.Kind {
	case bundle.LabelBinary:
		probs = []string{"p_" + enc.Target.Classes[1]}
	case bundle.LabelMulticlass:
		for _, c := range enc.Target.Classes {
			probs = append(probs, "p_"+c)
		}
	default:
		probs = []string{"prediction"}
	}
	// The stale "label" column is replaced where scoring adds one.
	want := []string{"id"}
	if enc.Target.Kind == bundle.LabelRegression {
		want = append(want, "label")
	}
	features := slices.Clone(b.Samples.Columns)
	slices.Reverse(features)
	want = append(append(want, features...), probs...)
	if enc.Target.Kind != bundle.LabelRegression {
		want = append(want, "label")
	}
	if !slices.Equal(rows[0], want) {
		t.Fatalf("header %q, want %q", rows[0], want)
	}
	if len(rows) != len(b.Samples.Rows)+1 {
		t.Fatalf("%d rows for %d samples", len(rows)-1, len(b.Samples.Rows))
	}
	first := len(want) - len(probs)
	if enc.Target.Kind != bundle.LabelRegression {
		first--
	}
	for i, s := range b.Samples.Rows {
		row := rows[i+1]
		if row[0] != strconv.FormatInt(s.Row, 10) {
			t.Fatalf("row %d: id %s, want %d", i, row[0], s.Row)
		}
		out := make([]float32, len(s.Output))
		for k, w := range s.Output {
			got, err := strconv.ParseFloat(row[first+k], 64)
			if err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			if !bundle.Agrees(got, w) {
				t.Errorf("row %d (data row %d) output %d: scored %v, xgboost %v", i, s.Row, k, got, w)
			}
			// Full precision: the float32 result, written exactly.
			if float64(float32(got)) != got {
				t.Errorf("row %d: %s is not a float32 value written exactly", i, row[first+k])
			}
			out[k] = float32(got)
		}
		if enc.Target.Kind != bundle.LabelRegression {
			if got, want := row[len(row)-1], enc.Label(out); got != want {
				t.Errorf("row %d: label %q, want %q", i, got, want)
			}
		}
	}
}

func TestScoreBundleMatchesXGBoost(t *testing.T) {
	for _, name := range []string{"binary", "regression", "multiclass"} {
		t.Run(name, func(t *testing.T) {
			b := openFixture(t, name)
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
			samplesCSV(t, b, in)
			r := mlops(t, "score", "--bundle", filepath.Join(bundleFixtures, name), "--input", in, "--output", out)
			if r.code != 0 || !strings.Contains(r.stdout, "scored 40 rows") {
				t.Fatalf("%+v", r)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			checkScores(t, b, readCSV(t, string(data)))
		})
	}
	// The binary fixture's labels at its threshold (0.42) are not all one class,
	// so the check above did look at the threshold.
	b := openFixture(t, "binary")
	labels := map[string]bool{}
	for _, s := range b.Samples.Rows {
		labels[b.Encoding.Label([]float32{float32(s.Output[0])})] = true
	}
	if len(labels) != 2 {
		t.Fatalf("fixture samples give labels %v", labels)
	}
}

// withStdin points os.Stdin (which cobra reads for "-") at data for the test.
func withStdin(t *testing.T, data []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
}

func TestScoreStdinStdoutGzip(t *testing.T) {
	b := openFixture(t, "multiclass")
	in := filepath.Join(t.TempDir(), "in.csv")
	samplesCSV(t, b, in)
	plain, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(append([]byte("\ufeff"), plain...)) // a BOM, as spreadsheets write
	zw.Close()
	withStdin(t, gz.Bytes())
	r := mlops(t, "score", "--bundle", filepath.Join(bundleFixtures, "multiclass"), "--input", "-", "--output", "-", "-o", "json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	checkScores(t, b, readCSV(t, r.stdout))
	// The summary goes to stderr when stdout carries the scores.
	var sum struct {
		Rows              int64
		Bundle, Objective string
		Columns           []string
	}
	if err := json.Unmarshal([]byte(r.stderr), &sum); err != nil || sum.Rows != 40 || sum.Bundle != b.SHA256 ||
		!slices.Equal(sum.Columns, []string{"p_low", "p_mid", "p_high", "label"}) {
		t.Fatalf("summary %q: %+v, %v", r.stderr, sum, err)
	}
}

// A bare model, scored on the rows xgboost predicted in shared/xgboost's
// fixtures (cases.json: rows with null for missing, and xgboost's preds).
func TestScoreXGBoostModel(t *testing.T) {
	for _, c := range []struct {
		name    string
		columns []string
	}{
		{"small_binary", []string{"prediction"}},
		{"small_regression", []string{"prediction"}},
		{"small_multi", []string{"p0", "p1", "p2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(modelFixtures, c.name+".cases.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cases struct {
				Rows  [][]*float64
				Preds [][]float64
			}
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatal(err)
			}
			rows := [][]string{{"a", "b", "c", "d", "e"}}
			for _, r := range cases.Rows {
				row := make([]string, len(r))
				for j, v := range r {
					if v != nil {
						row[j] = strconv.FormatFloat(*v, 'g', -1, 64)
					}
				}
				rows = append(rows, row)
			}
			dir := t.TempDir()
			model := filepath.Join(modelFixtures, c.name+".model.json")
			for _, variant := range []struct {
				rows [][]string
				args []string
			}{
				{rows, nil},
				{rows[1:], []string{"--no-header"}},
			} {
				in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
				writeCSV(t, in, variant.rows)
				r := mlops(t, append([]string{"score", "--xgboost-model", model, "--input", in, "--output", out}, variant.args...)...)
				if r.code != 0 || !strings.Contains(r.stdout, "scored 39 rows") {
					t.Fatalf("%v: %+v", variant.args, r)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				got := readCSV(t, string(data))
				if !slices.Equal(got[0], c.columns) || len(got) != len(cases.Preds)+1 {
					t.Fatalf("%v: header %q, %d rows", variant.args, got[0], len(got)-1)
				}
				for i, want := range cases.Preds {
					for k, w := range want {
						v, err := strconv.ParseFloat(got[i+1][k], 64)
						if err != nil || !bundle.Agrees(v, w) {
							t.Errorf("%v row %d output %d: scored %s, xgboost %v", variant.args, i, k, got[i+1][k], w)
						}
					}
				}
			}
		})
	}
}

// A model that records feature names wants them, in order, as the header.
func TestScoreXGBoostModelFeatureNames(t *testing.T) {
	b := openFixture(t, "binary")
	model := filepath.Join(bundleFixtures, "binary", "model.json")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	rows := [][]string{b.Encoding.Columns}
	x := make([]float32, len(b.Encoding.Columns))
	for _, s := range b.Samples.Rows {
		if err := b.Encoder.Encode(s.Values, x); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(x))
		for j, v := range x {
			if !math.IsNaN(float64(v)) {
				row[j] = strconv.FormatFloat(float64(v), 'g', -1, 32)
			}
		}
		rows = append(rows, row)
	}
	writeCSV(t, in, rows)
	if r := mlops(t, "score", "--xgboost-model", model, "--input", in, "--output", out, "-o", "json"); r.code != 0 ||
		!strings.Contains(r.stdout, `"rows": 40`) {
		t.Fatalf("%+v", r)
	}
	data, _ := os.ReadFile(out)
	got := readCSV(t, string(data))
	for i, s := range b.Samples.Rows {
		if v, err := strconv.ParseFloat(got[i+1][0], 64); err != nil || !bundle.Agrees(v, s.Output[0]) {
			t.Errorf("row %d: scored %s, xgboost %v", i, got[i+1][0], s.Output[0])
		}
	}
	rows[0] = slices.Clone(rows[0])
	rows[0][5], rows[0][6] = rows[0][6], rows[0][5]
	writeCSV(t, in, rows)
	r := mlops(t, "score", "--xgboost-model", model, "--input", in, "--output", out)
	if r.code != 1 || !strings.Contains(r.stderr, `column 6 of the header is "color=red" but the model's feature 5 is "color=green"`) {
		t.Fatalf("%+v", r)
	}
}

func TestScoreErrors(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(bundleFixtures, "binary")
	model := filepath.Join(modelFixtures, "small_binary.model.json")
	good := filepath.Join(dir, "good.csv")
	writeCSV(t, good, [][]string{{"age", "income", "owner", "opened", "color"}, {"30", "1000", "yes", "2020-01-01", "red"}})
	out := filepath.Join(dir, "out.csv")

	for _, args := range [][]string{
		{"score", "--input", good, "--output", out},
		{"score", "--bundle", binary, "--xgboost-model", model, "--input", good, "--output", out},
		{"score", "--bundle", binary, "--output", out},
		{"score", "--bundle", binary, "--input", good},
		{"score", "--bundle", binary, "--input", good, "--output", out, "--no-header"},
		{"score", "--bundle", binary, "--input", good, "--output", out, "-o", "yaml"},
		{"score", "--bundle", "s3://", "--input", good, "--output", out},
		{"score", "extra-arg", "--bundle", binary, "--input", good, "--output", out},
	} {
		if r := mlops(t, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want usage error 2", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a refused command wrote output")
	}

	fail := []struct {
		name string
		rows [][]string
		args []string
		want string
	}{
		{"missing column", [][]string{{"age", "owner", "opened"}, {"30", "yes", "2020-01-01"}}, nil,
			`the input has no column for feature "income", "color"`},
		{"bad number", [][]string{{"age", "income", "owner", "opened", "color"}, {"30", "1000", "yes", "2020-01-01", "red"},
			{"31", "1,000", "no", "2020-01-02", "blue"}}, nil,
			`line 3: column "income": expected a finite decimal number within float32 range, got "1,000"`},
		{"bad boolean", [][]string{{"color", "opened", "owner", "income", "age"}, {"red", "2020-01-01", "maybe", "", ""}}, nil,
			`line 2: column "owner": expected a boolean (true/false, 1/0, yes/no), got "maybe"`},
		{"bad date", [][]string{{"age", "income", "owner", "opened", "color"}, {"30", "", "", "01/02/2020", ""}}, nil,
			`line 2: column "opened": expected a timestamp in the layout "2006-01-02", got "01/02/2020"`},
		{"ragged", [][]string{{"age", "income", "owner", "opened", "color"}, {"30", "1000", "yes", "2020-01-01", "red"},
			{"30", "1000"}}, nil, "record on line 3: wrong number of fields"},
		{"model header", [][]string{{"a", "b"}, {"1", "2"}}, []string{"--xgboost-model", model},
			"the header has 2 columns but the model has 5 features"},
		{"model number", [][]string{{"a", "b", "c", "d", "e"}, {"1", "2", "3", "4", "5"}, {"1", "2", "x", "4", "5"}},
			[]string{"--xgboost-model", model}, `line 3: column "c": expected a finite decimal number within float32 range, got "x"`},
		{"model width", [][]string{{"1", "2", "3", "4", "5", "6"}}, []string{"--xgboost-model", model, "--no-header"},
			"line 1: 6 columns but the model has 5 features"},
		{"empty", nil, nil, "empty input: no header row"},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in.csv")
			writeCSV(t, in, c.rows)
			args := c.args
			if args == nil {
				args = []string{"--bundle", binary}
			}
			r := mlops(t, append(append([]string{"score"}, args...), "--input", in, "--output", out)...)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatal("a failed run left output behind")
			}
		})
	}

	// A damaged bundle is refused before any row is read.
	damaged := t.TempDir()
	for _, f := range []string{"manifest.json", "model.json", "encoding.json", "metrics.json", "slices.json", "importance.json",
		"predictions.json", "samples.json", "test_rows.json", "lineage.json", "card/card.md"} {
		data, err := os.ReadFile(filepath.Join(binary, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "model.json" {
			data = bytes.Replace(data, []byte(`"num_trees":"8"`), []byte(`"num_trees":"9"`), 1)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(damaged, f)), 0o755)
		if err := os.WriteFile(filepath.Join(damaged, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := mlops(t, "score", "--bundle", damaged, "--input", good, "--output", out)
	if r.code != 1 || !strings.Contains(r.stderr, "bundle manifest.json: file model.json: sha256") {
		t.Fatalf("damaged bundle: %+v", r)
	}
	notModel := filepath.Join(dir, "not-a-model.json")
	os.WriteFile(notModel, []byte(`{"learner": {}}`), 0o644)
	if r := mlops(t, "score", "--xgboost-model", notModel, "--input", good, "--output", out); r.code != 1 || !strings.Contains(r.stderr, "xgboost") {
		t.Fatalf("not a model: %+v", r)
	}

	// What cannot be read is exit status 3.
	for _, args := range [][]string{
		{"score", "--bundle", filepath.Join(dir, "no-bundle"), "--input", good, "--output", out},
		{"score", "--bundle", binary, "--input", filepath.Join(dir, "no.csv"), "--output", out},
		{"score", "--xgboost-model", filepath.Join(dir, "no.json"), "--input", good, "--output", out},
		{"score", "--bundle", binary, "--input", good, "--output", filepath.Join(dir, "no-dir", "out.csv")},
	} {
		if r := mlops(t, args...); r.code != 3 || r.stderr == "" {
			t.Errorf("%v: %+v; want exit 3", args, r)
		}
	}
}

// A bundle in the platform's S3, found through the endpoint file like every
// other command's.
func TestScoreBundleFromS3(t *testing.T) {
	dir := startPlatform(t)
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := (&globals{dir: dir}).connect()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(bundleFixtures, "regression")
	const prefix = "runs/fixture/bundle/"
	b := openFixture(t, "regression")
	for _, f := range append(slices.Clone(b.Manifest.Files), bundle.File{Path: bundle.ManifestFile}) {
		data, err := os.ReadFile(filepath.Join(src, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.store.Put(context.Background(), ep.Buckets.Platform, prefix+f.Path, data, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	in, out := filepath.Join(t.TempDir(), "in.csv"), filepath.Join(t.TempDir(), "out.csv")
	samplesCSV(t, b, in)
	loc := "s3://" + ep.Buckets.Platform + "/" + prefix
	r := mlops(t, "score", "--dir", dir, "--bundle", loc, "--input", in, "--output", out)
	if r.code != 0 || !strings.Contains(r.stdout, b.SHA256[:12]) {
		t.Fatalf("%+v", r)
	}
	data, _ := os.ReadFile(out)
	checkScores(t, b, readCSV(t, string(data)))

	if r := mlops(t, "score", "--dir", dir, "--bundle", "s3://"+ep.Buckets.Platform+"/runs/none/bundle", "--input", in, "--output", out); r.code != 3 ||
		!strings.Contains(r.stderr, "runs/none/bundle/manifest.json") {
		t.Fatalf("no bundle there: %+v", r)
	}
}

// --null turns the dataset's null tokens into missing values, as ingest does, so a
// raw file scores like its canonical form; the output keeps the input's cells.
func TestScoreNullTokens(t *testing.T) {
	b := openFixture(t, "binary")
	dir := t.TempDir()
	// A sample row with a missing numeric value, written as "" and as "NA".
	var sample bundle.Sample
	idx := -1
rows:
	for _, s := range b.Samples.Rows {
		for j, v := range s.Values {
			if v == "" && b.Encoding.Features[j].Kind == bundle.KindNumeric {
				sample, idx = s, j
				break rows
			}
		}
	}
	if idx < 0 {
		t.Skip("the fixture has no sample with a missing numeric value")
	}
	na := slices.Clone(sample.Values)
	na[idx] = "NA"
	in := filepath.Join(dir, "in.csv")
	writeCSV(t, in, [][]string{b.Samples.Columns, na})
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out.csv")
	bundleDir := filepath.Join(bundleFixtures, "binary")
	if code := run(context.Background(), []string{"score", "--bundle", bundleDir, "--input", in, "--output", out}, &stdout, &stderr); code != exitFailed ||
		!strings.Contains(stderr.String(), `"NA"`) {
		t.Fatalf("without --null: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"score", "--bundle", bundleDir, "--null", "NA", "--input", in, "--output", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("with --null NA: exit %d, %s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, string(data))
	if rows[1][idx] != "NA" {
		t.Fatalf("the output changed the input cell: %q", rows[1][idx])
	}
	got, err := strconv.ParseFloat(rows[1][len(b.Samples.Columns)], 64)
	if err != nil || !bundle.Agrees(got, sample.Output[0]) {
		t.Fatalf("p = %v (%v), xgboost recorded %v", got, err, sample.Output[0])
	}
	if code := run(context.Background(), []string{"score", "--xgboost-model", "m.json", "--null", "NA", "--input", in, "--output", out}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("--null with --xgboost-model: exit %d", code)
	}
}

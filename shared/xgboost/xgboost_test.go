package xgboost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/pythontest"
)

// cases is what testdata/gen_models.py writes next to each model.
type cases struct {
	Objective  string       `json:"objective"`
	NumOutputs int          `json:"num_outputs"`
	Rows       [][]*float64 `json:"rows"`
	Preds      [][]float64  `json:"preds"`
	Margins    [][]float64  `json:"margins"`
	Contribs   [][]float64  `json:"contribs"`
}

func loadCases(tb testing.TB, path string) ([][]float32, [][]float64, cases) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var c cases
	if err := json.Unmarshal(data, &c); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	rows := make([][]float32, len(c.Rows))
	for i, r := range c.Rows {
		rows[i] = make([]float32, len(r))
		for j, v := range r {
			if v == nil {
				rows[i][j] = float32(math.NaN())
			} else {
				rows[i][j] = float32(*v)
			}
		}
	}
	return rows, c.Preds, c
}

func loadModelFile(tb testing.TB, path string) *Model {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	m, err := Load(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return m
}

// loadGeneric is loadModelFile with the generic layout forced.
func loadGeneric(tb testing.TB, path string) *Model {
	tb.Helper()
	useBlocked = false
	defer func() { useBlocked = true }()
	m := loadModelFile(tb, path)
	if m.generic == nil || m.blocked != nil {
		tb.Fatalf("%s: the generic layout was not used", path)
	}
	return m
}

// compareCase loads dir/name.model.json and checks every row of
// dir/name.cases.json against xgboost's recorded predictions, and that
// Predict, PredictBatch and PredictFlat agree bit for bit, in both layouts. It
// returns the largest |ours - xgboost| seen.
func compareCase(t *testing.T, dir, name string) float64 {
	t.Helper()
	m := loadModelFile(t, filepath.Join(dir, name+".model.json"))
	if m.blocked == nil {
		t.Fatalf("%s: the blocked layout was not used", name)
	}
	rows, want, c := loadCases(t, filepath.Join(dir, name+".cases.json"))
	if m.Objective() != c.Objective || m.NumOutputs() != c.NumOutputs {
		t.Fatalf("%s: model says %s/%d outputs, cases say %s/%d", name, m.Objective(), m.NumOutputs(), c.Objective, c.NumOutputs)
	}
	if len(rows) == 0 || len(rows) != len(want) {
		t.Fatalf("%s: %d rows, %d predictions", name, len(rows), len(want))
	}
	k := m.NumOutputs()
	single := make([]float32, len(rows)*k)
	maxDiff := 0.0
	bad := 0
	for i, r := range rows {
		out := single[i*k : (i+1)*k]
		if err := m.Predict(r, out); err != nil {
			t.Fatalf("%s row %d: %v", name, i, err)
		}
		if len(want[i]) != k {
			t.Fatalf("%s row %d: %d recorded outputs, want %d", name, i, len(want[i]), k)
		}
		for j, w := range want[i] {
			d := math.Abs(float64(out[j]) - w)
			maxDiff = math.Max(maxDiff, d)
			if d > 1e-6*math.Max(1, math.Abs(w)) {
				if bad++; bad <= 10 {
					t.Errorf("%s row %d output %d: got %.9g, xgboost %.9g (diff %.3g)", name, i, j, out[j], w, d)
				}
			}
		}
	}
	// The raw margins (before sigmoid / softmax) must match exactly: same
	// float32 additions in the same order.
	maxMarginDiff := 0.0
	if len(c.Margins) != 0 {
		if len(c.Margins) != len(rows) {
			t.Fatalf("%s: %d margins for %d rows", name, len(c.Margins), len(rows))
		}
		out := make([]float32, k)
		for i, r := range rows {
			if err := m.PredictMargin(r, out); err != nil {
				t.Fatal(err)
			}
			for j, w := range c.Margins[i] {
				d := math.Abs(float64(out[j]) - w)
				maxMarginDiff = math.Max(maxMarginDiff, d)
				if d > 1e-6*math.Max(1, math.Abs(w)) {
					t.Fatalf("%s row %d margin %d: got %.9g, xgboost %.9g", name, i, j, out[j], w)
				}
			}
		}
	}
	checkSameOutputs(t, name, m, rows, single)
	mg := loadGeneric(t, filepath.Join(dir, name+".model.json"))
	checkSameOutputs(t, name+" (generic layout)", mg, rows, single)
	t.Logf("%s (%s, %d trees, %d features, %d rows): max |ours - xgboost| = %.3g (margins %.3g), %d outside tolerance",
		name, m.Objective(), m.NumTrees(), m.NumFeatures(), len(rows), maxDiff, maxMarginDiff, bad)
	return maxDiff
}

// checkSameOutputs checks that m's Predict, PredictBatch and PredictFlat give
// want (NumOutputs values per row) bit for bit.
func checkSameOutputs(t *testing.T, name string, m *Model, rows [][]float32, want []float32) {
	t.Helper()
	k := m.NumOutputs()
	single := make([]float32, len(rows)*k)
	flat := make([]float32, 0, len(rows)*m.NumFeatures())
	for i, r := range rows {
		if err := m.Predict(r, single[i*k:(i+1)*k]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		flat = append(flat, r...)
	}
	batch := make([]float32, len(rows)*k)
	if err := m.PredictBatch(rows, batch); err != nil {
		t.Fatalf("%s: PredictBatch: %v", name, err)
	}
	flatOut := make([]float32, len(rows)*k)
	if err := m.PredictFlat(flat, flatOut); err != nil {
		t.Fatalf("%s: PredictFlat: %v", name, err)
	}
	for i, w := range want {
		wb := math.Float32bits(w)
		if math.Float32bits(single[i]) != wb || math.Float32bits(batch[i]) != wb || math.Float32bits(flatOut[i]) != wb {
			t.Fatalf("%s value %d (row %d): want %v, Predict %v, PredictBatch %v, PredictFlat %v",
				name, i, i/k, w, single[i], batch[i], flatOut[i])
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, name := range []string{"small_binary", "small_regression", "small_multi", "small_deep"} {
		t.Run(name, func(t *testing.T) { compareCase(t, "testdata/fixtures", name) })
	}
}

// models are testdata/gen_models.py's, trained with Debian's xgboost.
var models = &pythontest.Generated{Script: "testdata/gen_models.py", Prefix: "xgboost-models-"}

func TestMain(m *testing.M) {
	code := m.Run()
	models.Remove()
	synthetic.Remove()
	os.Exit(code)
}

func TestAgainstXGBoost(t *testing.T) {
	dir := models.For(t)
	for _, name := range []string{"binary", "binary_exact_gamma", "regression", "multi", "forest", "big"} {
		t.Run(name, func(t *testing.T) { compareCase(t, dir, name) })
	}
}

func TestPredictDoesNotAllocate(t *testing.T) {
	path := "testdata/fixtures/small_multi.model.json"
	for _, m := range []*Model{loadModelFile(t, path), loadGeneric(t, path)} {
		row := make([]float32, m.NumFeatures())
		row[1] = float32(math.NaN())
		out := make([]float32, m.NumOutputs())
		if n := testing.AllocsPerRun(100, func() { _ = m.Predict(row, out) }); n != 0 {
			t.Fatalf("Predict allocates %v times per row", n)
		}
		rows := [][]float32{row, row, row}
		bout := make([]float32, 3*m.NumOutputs())
		if n := testing.AllocsPerRun(100, func() { _ = m.PredictBatch(rows, bout) }); n != 0 {
			t.Fatalf("PredictBatch allocates %v times", n)
		}
		flat := slices.Concat(rows...)
		if n := testing.AllocsPerRun(100, func() { _ = m.PredictFlat(flat, bout) }); n != 0 {
			t.Fatalf("PredictFlat allocates %v times", n)
		}
	}
}

func TestShapeErrors(t *testing.T) {
	m := loadModelFile(t, "testdata/fixtures/small_multi.model.json")
	f, k := m.NumFeatures(), m.NumOutputs()
	if m.Objective() != MultiSoftprob || k != 3 || f != 5 {
		t.Fatalf("unexpected model: %s, %d features, %d outputs", m.Objective(), f, k)
	}
	checks := []error{
		m.Predict(make([]float32, f-1), make([]float32, k)),
		m.Predict(make([]float32, f), make([]float32, k+1)),
		m.PredictMargin(make([]float32, f+1), make([]float32, k)),
		m.PredictBatch([][]float32{make([]float32, f), make([]float32, f+1)}, make([]float32, 2*k)),
		m.PredictBatch([][]float32{make([]float32, f)}, make([]float32, 2*k)),
		m.PredictFlat(make([]float32, 2*f+1), make([]float32, 2*k)),
		m.PredictFlat(make([]float32, 2*f), make([]float32, k)),
	}
	for i, err := range checks {
		if !errors.Is(err, ErrShape) {
			t.Errorf("check %d: got %v, want ErrShape", i, err)
		}
	}
}

func TestMarginAndTransform(t *testing.T) {
	m := loadModelFile(t, "testdata/fixtures/small_binary.model.json")
	row := make([]float32, m.NumFeatures())
	var margin, prob [1]float32
	if err := m.PredictMargin(row, margin[:]); err != nil {
		t.Fatal(err)
	}
	if err := m.Predict(row, prob[:]); err != nil {
		t.Fatal(err)
	}
	if want := 1 / (1 + math.Exp(-float64(margin[0]))); math.Abs(float64(prob[0])-want) > 1e-7 {
		t.Fatalf("sigmoid(%v) = %v, want %v", margin[0], prob[0], want)
	}
	mm := loadModelFile(t, "testdata/fixtures/small_multi.model.json")
	out := make([]float32, mm.NumOutputs())
	if err := mm.Predict(row, out); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range out {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Fatalf("softmax sums to %v", sum)
	}
}

// rewriteFixture returns the named fixture model after edit has changed its
// decoded JSON.
func rewriteFixture(t *testing.T, name string, edit func(doc map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/fixtures", name+".model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func learnerParam(doc map[string]any) map[string]any {
	return doc["learner"].(map[string]any)["learner_model_param"].(map[string]any)
}

// setParam sets one of learner_model_param's values.
func setParam(key, value string) func(doc map[string]any) {
	return func(doc map[string]any) { learnerParam(doc)[key] = value }
}

func firstTree(doc map[string]any) map[string]any {
	return trees(doc)[0].(map[string]any)
}

func trees(doc map[string]any) []any {
	gb := doc["learner"].(map[string]any)["gradient_booster"].(map[string]any)
	return gb["model"].(map[string]any)["trees"].([]any)
}

func gbModel(doc map[string]any) map[string]any {
	gb := doc["learner"].(map[string]any)["gradient_booster"].(map[string]any)
	return gb["model"].(map[string]any)
}

// TestBaseScoreEncodings checks that the 2.x/3.x encodings of base_score
// ("[5E-1]", or one value per class) give the same predictions as the 1.7
// encoding. Only the 1.7 format is verified against xgboost itself here.
func TestBaseScoreEncodings(t *testing.T) {
	for _, name := range []string{"small_binary", "small_regression", "small_multi"} {
		t.Run(name, func(t *testing.T) {
			orig := loadModelFile(t, filepath.Join("testdata/fixtures", name+".model.json"))
			var bs string
			variants := map[string][]byte{
				"bracketed": rewriteFixture(t, name, func(doc map[string]any) {
					p := learnerParam(doc)
					bs = p["base_score"].(string)
					p["base_score"] = "[" + bs + "]"
				}),
			}
			if orig.NumOutputs() > 1 {
				variants["per-class"] = rewriteFixture(t, name, func(doc map[string]any) {
					p := learnerParam(doc)
					bs := p["base_score"].(string)
					p["base_score"] = "[" + strings.Repeat(bs+",", orig.NumOutputs()-1) + bs + "]"
				})
			}
			rows, _, _ := loadCases(t, filepath.Join("testdata/fixtures", name+".cases.json"))
			for vname, data := range variants {
				m, err := Parse(data)
				if err != nil {
					t.Fatalf("%s: %v", vname, err)
				}
				a := make([]float32, m.NumOutputs())
				b := make([]float32, m.NumOutputs())
				for i, r := range rows {
					if err := orig.Predict(r, a); err != nil {
						t.Fatal(err)
					}
					if err := m.Predict(r, b); err != nil {
						t.Fatal(err)
					}
					for j := range a {
						if a[j] != b[j] {
							t.Fatalf("%s (base_score %s) row %d: %v vs %v", vname, bs, i, b, a)
						}
					}
				}
			}
		})
	}
}

func TestBadModels(t *testing.T) {
	type edit func(doc map[string]any)
	set := func(field string, v any) edit {
		return func(doc map[string]any) { firstTree(doc)[field] = v }
	}
	setAt := func(field string, i int, v any) edit {
		return func(doc map[string]any) { firstTree(doc)[field].([]any)[i] = v }
	}
	// In small_binary's first tree, node 0 is a split with children 1 and 2.
	tests := []struct {
		name    string
		fixture string
		edit    edit
		want    string
	}{
		{"unknown objective", "small_binary", func(doc map[string]any) {
			doc["learner"].(map[string]any)["objective"].(map[string]any)["name"] = "rank:pairwise"
		}, `unsupported objective "rank:pairwise"`},
		{"dart booster", "small_binary", func(doc map[string]any) {
			doc["learner"].(map[string]any)["gradient_booster"].(map[string]any)["name"] = "dart"
		}, `unsupported booster "dart"`},
		{"no learner", "small_binary", func(doc map[string]any) { delete(doc, "learner") }, `no "learner"`},
		{"left child out of range", "small_binary", setAt("left_children", 0, 1000), "child index out of range"},
		{"right child negative", "small_binary", setAt("right_children", 0, -7), "child index out of range"},
		{"half leaf", "small_binary", setAt("right_children", 0, -1), "a leaf has neither"},
		{"cycle to root", "small_binary", setAt("left_children", 1, 0), "reached twice"},
		{"same child twice", "small_binary", setAt("right_children", 0, 1), "left and right child are both 1"},
		{"shared child", "small_binary", setAt("right_children", 1, 2), "reached twice"},
		{"cycle deeper", "small_binary", func(doc map[string]any) {
			tr := firstTree(doc)
			// node 1's left child points back at node 1's parent's other child.
			tr["left_children"].([]any)[1] = json.Number("2")
		}, "reached twice"},
		{"self loop", "small_binary", setAt("left_children", 1, 1), "reached twice"},
		{"split index beyond num_feature", "small_binary", setAt("split_indices", 0, 5), "split index 5 out of range"},
		{"negative split index", "small_binary", setAt("split_indices", 0, -1), "split index -1 out of range"},
		{"NaN threshold", "small_binary", setAt("split_conditions", 0, "NaN"), "split condition is NaN"},
		{"NaN leaf", "small_binary", func(doc map[string]any) {
			tr := firstTree(doc)
			lc := tr["left_children"].([]any)
			for i, c := range lc {
				if c.(json.Number).String() == "-1" {
					tr["split_conditions"].([]any)[i] = "nan"
					return
				}
			}
		}, "not finite"},
		{"short right_children", "small_binary", func(doc map[string]any) {
			tr := firstTree(doc)
			rc := tr["right_children"].([]any)
			tr["right_children"] = rc[:len(rc)-1]
		}, "right_children has"},
		{"short split_conditions", "small_binary", func(doc map[string]any) {
			tr := firstTree(doc)
			sc := tr["split_conditions"].([]any)
			tr["split_conditions"] = sc[:len(sc)-1]
		}, "split_conditions has"},
		{"short default_left", "small_binary", set("default_left", []any{}), "default_left has"},
		{"num_nodes mismatch", "small_binary", func(doc map[string]any) {
			firstTree(doc)["tree_param"].(map[string]any)["num_nodes"] = "3"
		}, "num_nodes = 3"},
		{"empty tree", "small_binary", func(doc map[string]any) {
			tr := firstTree(doc)
			for _, f := range []string{"left_children", "right_children", "split_indices", "split_conditions", "default_left", "split_type", "base_weights"} {
				tr[f] = []any{}
			}
			delete(tr, "tree_param")
		}, "no nodes"},
		{"tree_info length", "small_binary", func(doc map[string]any) {
			gbModel(doc)["tree_info"] = []any{0}
		}, "tree_info has 1 entries"},
		{"tree_info class out of range", "small_multi", func(doc map[string]any) {
			gbModel(doc)["tree_info"].([]any)[0] = 3
		}, "tree_info[0] = 3"},
		{"num_trees mismatch", "small_binary", func(doc map[string]any) {
			gbModel(doc)["gbtree_model_param"].(map[string]any)["num_trees"] = "9"
		}, "num_trees = 9"},
		{"duplicate tree id", "small_binary", func(doc map[string]any) {
			trees(doc)[1].(map[string]any)["id"] = 0
		}, "ids must be"},
		{"categorical split", "small_binary", setAt("split_type", 0, 1), "categorical"},
		{"softprob without num_class", "small_multi", setParam("num_class", "0"), "num_class >= 2"},
		{"binary base_score out of range", "small_binary", setParam("base_score", "1.5E0"), "must be in (0, 1)"},
		{"base_score garbage", "small_binary", setParam("base_score", "[abc"), "base_score"},
		{"base_score vector length", "small_multi", setParam("base_score", "[5E-1,5E-1]"), "base_score has 2 values for 3 outputs"},
		{"bad num_feature", "small_binary", setParam("num_feature", "-3"), "num_feature"},
		{"multi-target", "small_binary", setParam("num_target", "2"), "multi-target"},
		{"child index not an integer", "small_binary", setAt("left_children", 0, 1.5), "decoding model JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := rewriteFixture(t, tc.fixture, tc.edit)
			m, err := Parse(data)
			if err == nil {
				t.Fatalf("Parse succeeded (%d trees), want error containing %q", m.NumTrees(), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestTruncatedAndGarbage(t *testing.T) {
	data, err := os.ReadFile("testdata/fixtures/small_multi.model.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 10, len(data) / 3, len(data) / 2, len(data) - 2, len(data) - 1} {
		if _, err := Parse(data[:n]); err == nil || !strings.Contains(err.Error(), "decoding model JSON") {
			t.Errorf("truncated to %d bytes: got %v", n, err)
		}
	}
	for _, s := range []string{"null", "{}", "[]", `{"learner":null}`, `{"learner":{}}`, "NaN", string(data) + "{}"} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("Parse(%.30q) succeeded", s)
		}
	}
	if _, err := Load(errReader{}); err == nil || !strings.Contains(err.Error(), "reading model") {
		t.Errorf("Load(failing reader): %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// TestLeafOnlyTrees covers trees that are a single leaf, mixed with deeper
// trees (Predict walks four trees at once with the largest depth of the
// four), and a model with no features at all.
func TestLeafOnlyTrees(t *testing.T) {
	leaf := func(id int, v string) string {
		return fmt.Sprintf(`{"id":%d,"left_children":[-1],"right_children":[-1],"split_indices":[0],`+
			`"split_conditions":[%s],"default_left":[0],"split_type":[0],"tree_param":{"num_nodes":"1"}}`, id, v)
	}
	split := func(id int) string {
		return fmt.Sprintf(`{"id":%d,"left_children":[1,-1,3,-1,-1],"right_children":[2,-1,4,-1,-1],"split_indices":[0,0,1,0,0],`+
			`"split_conditions":[5E-1,-1E0,2E0,1E-1,3E0],"default_left":[1,0,0,0,0],"split_type":[0,0,0,0,0],"tree_param":{"num_nodes":"5"}}`, id)
	}
	model := func(numFeature int, trees ...string) []byte {
		info := strings.TrimSuffix(strings.Repeat("0,", len(trees)), ",")
		return fmt.Appendf(nil, `{"learner":{"gradient_booster":{"name":"gbtree","model":{"tree_info":[%s],"trees":[%s]}},`+
			`"learner_model_param":{"base_score":"1E0","num_class":"0","num_feature":"%d"},"objective":{"name":"reg:squarederror"}}}`,
			info, strings.Join(trees, ","), numFeature)
	}
	m, err := Parse(model(0, leaf(0, "2.5E-1"), leaf(1, "5E-1")))
	if err != nil {
		t.Fatal(err)
	}
	var out [1]float32
	if err := m.Predict(nil, out[:]); err != nil || out[0] != 1.75 {
		t.Fatalf("no-feature model: %v, %v", out[0], err)
	}
	if err := m.PredictFlat(nil, make([]float32, 3)); err != nil {
		t.Fatalf("no-feature PredictFlat: %v", err)
	}
	m, err = Parse(model(2, leaf(0, "1E0"), split(1), leaf(2, "1E1"), split(3), split(4)))
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	for _, tc := range []struct {
		x    []float32
		want float32 // base 1 + 1 + 10 + 3 split trees
	}{
		{[]float32{0, 0}, 12 - 3},   // 0 < 0.5: left leaf -1
		{[]float32{1, 0}, 12 + 0.3}, // right, then 0 < 2: leaf 0.1
		{[]float32{1, 5}, 12 + 9},   // right, then 5 >= 2: leaf 3
		{[]float32{nan, 5}, 12 - 3}, // missing: default left
		{[]float32{1, nan}, 12 + 9}, // missing: default right
	} {
		if err := m.Predict(tc.x, out[:]); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(out[0]-tc.want)) > 1e-5 {
			t.Errorf("Predict(%v) = %v, want %v", tc.x, out[0], tc.want)
		}
	}
}

package bundle_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/xgboost"
)

// checkParity opens dir's bundle, checks its samples and reports the largest
// difference between the Go evaluator and xgboost.
func checkParity(t *testing.T, b *bundle.Bundle) {
	t.Helper()
	if err := b.CheckSamples(); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(b.Encoder.Columns()))
	out := make([]float32, b.Model.NumOutputs())
	worst := 0.0
	for _, r := range b.Samples.Rows {
		if err := b.Encoder.Encode(r.Values, x); err != nil {
			t.Fatal(err)
		}
		if err := b.Model.Predict(x, out); err != nil {
			t.Fatal(err)
		}
		for j, w := range r.Output {
			worst = math.Max(worst, math.Abs(float64(out[j])-w))
		}
	}
	t.Logf("%s: %d samples, %d trees, %d columns: max |ours - xgboost| = %.3g", b, len(b.Samples.Rows),
		b.Model.NumTrees(), len(b.Encoder.Columns()), worst)
}

func TestOpenFixtures(t *testing.T) {
	want := map[string]struct {
		objective, kind string
		outputs         int
	}{
		"binary":     {xgboost.BinaryLogistic, bundle.LabelBinary, 1},
		"regression": {xgboost.RegSquaredError, bundle.LabelRegression, 1},
		"multiclass": {xgboost.MultiSoftprob, bundle.LabelMulticlass, 3},
	}
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.OpenDir(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(fixtureDir(name), bundle.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			if b.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256 %s is not the manifest's hash", b.SHA256)
			}
			w := want[name]
			if b.Manifest.Model != name || b.Manifest.Objective != w.objective || b.Encoding.Target.Kind != w.kind ||
				b.Model.NumOutputs() != w.outputs || b.Model.NumFeatures() != len(b.Encoding.Columns) {
				t.Fatalf("unexpected bundle: %+v, %d outputs", b.Manifest, b.Model.NumOutputs())
			}
			if b.Lineage.RunID != b.Manifest.RunID || len(b.TestRows.Rows) == 0 || len(b.Baseline.Outputs) != w.outputs ||
				b.Metrics.Headline.Name == "" || len(b.Importance.Features) != len(b.Encoding.Features) || len(b.Slices.Attributes) != 1 {
				t.Fatalf("files not decoded: lineage %+v, %d test rows, metrics %+v", b.Lineage, len(b.TestRows.Rows), b.Metrics.Headline)
			}
			checkParity(t, b)
			// The fixtures are only worth having if their samples cover what the
			// encoding must get right: missing values and unseen categories.
			var allMissing, unseen bool
			for _, r := range b.Samples.Rows {
				allMissing = allMissing || !slices.ContainsFunc(r.Values, func(v string) bool { return v != "" })
				for i, f := range b.Encoding.Features {
					if f.Kind == bundle.KindOneHot && r.Values[i] != "" && !slices.Contains(f.Categories, r.Values[i]) {
						unseen = true
					}
				}
			}
			if !allMissing || !unseen {
				t.Errorf("samples lack an all-missing row (%v) or an unseen category (%v)", allMissing, unseen)
			}
		})
	}
}

// The generator's output verifies too, with whatever xgboost is installed,
// and encodes what the committed fixtures encode.
func TestGeneratedBundles(t *testing.T) {
	dir := bundles.For(t)
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.OpenDir(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			checkParity(t, b)
			fixed, err := bundle.OpenDir(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Encoding.Columns, fixed.Encoding.Columns) || len(b.Samples.Rows) != len(fixed.Samples.Rows) {
				t.Fatalf("the generator no longer writes the committed fixture: columns %q vs %q", b.Encoding.Columns, fixed.Encoding.Columns)
			}
			if b.SHA256 != fixed.SHA256 {
				t.Logf("%s: regenerated bundle differs from the committed one (xgboost %s): re-run gen_bundles.py to refresh",
					name, b.Lineage.Libraries["xgboost"])
			}
		})
	}
}

// wantInvalid asserts err is an invalid-bundle *Error about file whose message
// holds every part.
func wantInvalid(t *testing.T, err error, file string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one about %s containing %q", file, parts)
	}
	var be *bundle.Error
	if !errors.As(err, &be) || be.File != file || !errors.Is(err, bundle.ErrInvalid) {
		t.Fatalf("got %v (%T); want an invalid-bundle error about %s", err, err, file)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestTampering(t *testing.T) {
	fsys := fixtureFS(t, "binary")
	m := decodeManifest(t, fsys)
	entry, _ := m.File(bundle.ModelFile)

	flipped := slices.Clone(fsys[bundle.ModelFile].Data)
	flipped[len(flipped)/2] ^= 0x01
	fsys[bundle.ModelFile] = &fstest.MapFile{Data: flipped}
	sum := sha256.Sum256(flipped)
	_, err := bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "bundle manifest.json: file model.json: sha256 "+hex.EncodeToString(sum[:])+
		" but the manifest says "+entry.SHA256)

	fsys = fixtureFS(t, "binary")
	fsys[bundle.ModelFile] = &fstest.MapFile{Data: append(slices.Clone(fsys[bundle.ModelFile].Data), ' ')}
	_, err = bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "file model.json:", "bytes but the manifest says")

	// Files beyond the required ones are verified too.
	fsys = fixtureFS(t, "binary")
	fsys["card/card.md"] = &fstest.MapFile{Data: []byte("# binary\n\nA fixture model for shared/bundle's tests!\n")}
	_, err = bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "file card/card.md: sha256")

	// A file the manifest does not list is not part of the bundle.
	fsys = fixtureFS(t, "binary")
	fsys["notes.txt"] = &fstest.MapFile{Data: []byte("anything")}
	if _, err := bundle.Open(fsys); err != nil {
		t.Fatalf("an unlisted file: %v", err)
	}
}

func TestMissingFiles(t *testing.T) {
	fsys := fixtureFS(t, "binary")
	delete(fsys, bundle.SlicesFile)
	_, err := bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "file slices.json is listed but missing")

	fsys = fixtureFS(t, "binary")
	m := decodeManifest(t, fsys)
	m.Files = slices.DeleteFunc(m.Files, func(f bundle.File) bool {
		return f.Path == bundle.SlicesFile || f.Path == bundle.LineageFile
	})
	putManifest(t, fsys, m)
	_, err = bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "required files not listed: slices.json, lineage.json")

	// No manifest is no bundle (or one still being written), not a bad one.
	fsys = fixtureFS(t, "binary")
	delete(fsys, bundle.ManifestFile)
	_, err = bundle.Open(fsys)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, bundle.ErrInvalid) {
		t.Fatalf("no manifest: %v", err)
	}
	if _, err := bundle.OpenDir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no directory: %v", err)
	}
}

func TestBadPaths(t *testing.T) {
	for _, p := range []struct{ path, why string }{
		{"/etc/passwd", "is absolute"},
		{"../model.json", `contains ".."`},
		{"card/../../x", `contains ".."`},
		{`card\card.md`, "contains a backslash"},
		{"", "empty path"},
		{"./card.md", "not a clean relative path"},
		{"card//card.md", "not a clean relative path"},
		{"card/", "not a clean relative path"},
		{".", "not a clean relative path"},
		{"card/\x00.md", "control character"},
	} {
		if err := bundle.CheckPath(p.path); err == nil || !strings.Contains(err.Error(), p.why) {
			t.Errorf("CheckPath(%q) = %v, want %q", p.path, err, p.why)
		}
		fsys := fixtureFS(t, "binary")
		m := decodeManifest(t, fsys)
		m.Files[0].Path = p.path // card/card.md sorts first, so it is checked first
		putManifest(t, fsys, m)
		_, err := bundle.Open(fsys)
		wantInvalid(t, err, bundle.ManifestFile, "files[0]: ", p.why)
	}
	for _, ok := range []string{"model.json", "card/card.md", "a/b/c.d", "..a", "a..b/c"} {
		if err := bundle.CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q): %v", ok, err)
		}
	}
}

func TestManifestErrors(t *testing.T) {
	edits := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"format", func(m map[string]any) { m["format"] = "mlops-bundle/2" }, `format "mlops-bundle/2", want "mlops-bundle/1"`},
		{"unknown field", func(m map[string]any) { m["signature"] = "x" }, `unknown field "signature"`},
		{"type", func(m map[string]any) { arr(m, "files")[1].(map[string]any)["bytes"] = "many" },
			"field files.bytes: expected int64, got a JSON string"},
		{"run", func(m map[string]any) { delete(m, "runId") }, "runId is empty"},
		{"objective", func(m map[string]any) { m["objective"] = "rank:pairwise" }, `objective "rank:pairwise" is not one of`},
		{"created", func(m map[string]any) { delete(m, "createdAt") }, "createdAt is missing"},
		{"created format", func(m map[string]any) { m["createdAt"] = "yesterday" }, `parsing time "yesterday"`},
		{"twice", func(m map[string]any) { m["files"] = append(arr(m, "files"), arr(m, "files")[9]) }, "test_rows.json is listed twice"},
		{"order", func(m map[string]any) {
			f := arr(m, "files")
			f[1], f[2] = f[2], f[1]
		}, "files[2]: encoding.json is out of order"},
		{"hash", func(m map[string]any) { arr(m, "files")[1].(map[string]any)["sha256"] = strings.Repeat("A", 64) },
			"is not 64 lowercase hex digits"},
		{"negative", func(m map[string]any) { arr(m, "files")[1].(map[string]any)["bytes"] = -1 }, "-1 bytes, outside"},
		{"huge", func(m map[string]any) { arr(m, "files")[1].(map[string]any)["bytes"] = int64(bundle.MaxFileBytes) + 1 },
			"536870913 bytes, outside"},
		{"itself", func(m map[string]any) {
			f := arr(m, "files")
			f[4].(map[string]any)["path"] = "manifest.json" // in metrics.json's place: still sorted
		}, "cannot list itself"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			fsys := fixtureFS(t, "binary")
			var doc map[string]any
			if err := json.Unmarshal(fsys[bundle.ManifestFile].Data, &doc); err != nil {
				t.Fatal(err)
			}
			e.edit(doc)
			data, _ := json.Marshal(doc)
			fsys[bundle.ManifestFile] = &fstest.MapFile{Data: data}
			_, err := bundle.Open(fsys)
			wantInvalid(t, err, bundle.ManifestFile, e.want)
		})
	}

	fsys := fixtureFS(t, "binary")
	fsys[bundle.ManifestFile] = &fstest.MapFile{Data: append(slices.Clone(fsys[bundle.ManifestFile].Data), "{}"...)}
	_, err := bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "trailing data")

	fsys[bundle.ManifestFile] = &fstest.MapFile{Data: []byte(`{"format": "mlops-bundle/1", "files": [`)}
	_, err = bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "invalid JSON")

	// A manifest over 1 MiB is refused before it is parsed (whitespace is valid JSON).
	big := append(slices.Clone(decodeManifestBytes(t, "binary")), make([]byte, bundle.MaxManifestBytes)...)
	for i := len(big) - bundle.MaxManifestBytes; i < len(big); i++ {
		big[i] = ' '
	}
	fsys[bundle.ManifestFile] = &fstest.MapFile{Data: big}
	_, err = bundle.Open(fsys)
	wantInvalid(t, err, bundle.ManifestFile, "over the limit of 1048576")
}

func decodeManifestBytes(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir(name), bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTruncatedModel(t *testing.T) {
	fsys := fixtureFS(t, "regression")
	data := fsys[bundle.ModelFile].Data
	fsys[bundle.ModelFile] = &fstest.MapFile{Data: data[:len(data)/3]}
	rehash(t, fsys)
	_, err := bundle.Open(fsys)
	wantInvalid(t, err, bundle.ModelFile, "bundle model.json: xgboost: decoding model JSON")
}

// Files that verify but disagree with each other or with the model.
func TestInconsistent(t *testing.T) {
	type edit struct {
		file string
		fn   func(doc map[string]any)
	}
	cases := []struct {
		name, fixture string
		edits         []edit
		file, want    string
	}{
		{"fewer columns than the model", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			color := arr(d, "features")[4].(map[string]any)
			color["categories"] = color["categories"].([]any)[:2]
			d["columns"] = arr(d, "columns")[:6]
		}}}, bundle.EncodingFile, "6 columns but the model has 7 features"},
		{"columns in another order than the model's", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			arr(d, "features")[4].(map[string]any)["categories"] = []any{"blue", "red", "green"}
			c := arr(d, "columns")
			c[5], c[6] = c[6], c[5]
		}}}, bundle.EncodingFile, `columns[5] is "color=red" but the model's feature 5 is "color=green"`},
		{"columns not from the features", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			arr(d, "columns")[0] = "Age"
		}}}, bundle.EncodingFile, `columns[0] is "Age", but the features make "age" there`},
		{"unknown kind", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			arr(d, "features")[0].(map[string]any)["kind"] = "integer"
		}}}, bundle.EncodingFile, `features[0] ("age"): unknown kind "integer"`},
		{"unknown field", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			d["colour"] = "blue"
		}}}, bundle.EncodingFile, `unknown field "colour"`},
		{"type", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			d["threshold"] = "high"
		}}}, bundle.EncodingFile, "field threshold: expected float64, got a JSON string"},
		{"label kind", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["kind"] = "regression"
		}}}, bundle.EncodingFile, `target.kind "regression" does not fit objective binary:logistic (want "binary")`},
		{"threshold 0", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) { delete(d, "threshold") }}},
			bundle.EncodingFile, "threshold 0 is not in (0, 1)"},
		{"threshold 1", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) { d["threshold"] = 1 }}},
			bundle.EncodingFile, "threshold 1 is not in (0, 1)"},
		{"positive class", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["positiveClass"] = "bad"
		}}}, bundle.EncodingFile, `target.positiveClass "bad" is not classes[1] "good"`},
		{"three binary classes", "binary", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["classes"] = []any{"bad", "good", "ugly"}
		}}}, bundle.EncodingFile, "target.classes has 3 classes, a binary label needs 2"},
		{"classes vs outputs", "multiclass", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["classes"] = []any{"low", "high"}
		}}}, bundle.EncodingFile, "target.classes has 2 classes but the model has 3 outputs"},
		{"duplicate class", "multiclass", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["classes"] = []any{"low", "mid", "low"}
		}}}, bundle.EncodingFile, `target.classes[2] "low" is listed twice`},
		{"threshold on regression", "regression", []edit{{bundle.EncodingFile, func(d map[string]any) {
			d["threshold"] = 0.5
		}}}, bundle.EncodingFile, "threshold is for binary labels, not regression"},
		{"target is a feature", "regression", []edit{{bundle.EncodingFile, func(d map[string]any) {
			obj(d, "target")["column"] = "sqft"
		}}}, bundle.EncodingFile, `target column "sqft" is also a feature`},
		{"manifest objective", "binary", []edit{{bundle.ManifestFile, func(d map[string]any) {
			d["objective"] = xgboost.RegSquaredError
		}}}, bundle.ModelFile, "objective binary:logistic but the manifest says reg:squarederror"},
		{"metrics objective", "regression", []edit{{bundle.MetricsFile, func(d map[string]any) {
			d["objective"] = xgboost.BinaryLogistic
		}}}, bundle.MetricsFile, `objective "binary:logistic" but the manifest says reg:squarederror`},
		{"samples columns", "binary", []edit{{bundle.SamplesFile, func(d map[string]any) {
			c := arr(d, "columns")
			c[0], c[1] = c[1], c[0]
		}}}, bundle.SamplesFile, "are not the encoding's features"},
		{"sample outputs", "multiclass", []edit{{bundle.SamplesFile, func(d map[string]any) {
			r := arr(d, "rows")[4].(map[string]any)
			r["output"] = r["output"].([]any)[:2]
		}}}, bundle.SamplesFile, "rows[4] (row 284): 2 outputs but the model has 3"},
		{"sample values", "regression", []edit{{bundle.SamplesFile, func(d map[string]any) {
			r := arr(d, "rows")[0].(map[string]any)
			r["values"] = r["values"].([]any)[:3]
		}}}, bundle.SamplesFile, "rows[0] (row 280): 3 values for 4 columns"},
		{"test rows order", "regression", []edit{{bundle.TestRowsFile, func(d map[string]any) {
			r := d["rows"].([]any)
			r[3] = r[2]
		}}}, bundle.TestRowsFile, "rows[3] (282) is not above rows[2] (282)"},
		{"test rows version", "regression", []edit{{bundle.TestRowsFile, func(d map[string]any) {
			d["datasetVersion"] = "other"
		}}}, bundle.TestRowsFile, `datasetVersion "other" but lineage.json says "fixture-regression"`},
		{"lineage run", "binary", []edit{{bundle.LineageFile, func(d map[string]any) { d["runId"] = "run-other" }}},
			bundle.LineageFile, `runId "run-other" but the manifest says "run-binary"`},
		{"baseline edges", "binary", []edit{{bundle.PredictionsFile, func(d map[string]any) {
			o := arr(d, "outputs")[0].(map[string]any)
			o["edges"] = o["edges"].([]any)[1:]
		}}}, bundle.PredictionsFile, "20 edges for 20 counts"},
		{"baseline outputs", "multiclass", []edit{{bundle.PredictionsFile, func(d map[string]any) {
			d["outputs"] = arr(d, "outputs")[:1]
		}}}, bundle.PredictionsFile, "1 outputs but the model has 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fixtureFS(t, c.fixture)
			for _, e := range c.edits {
				editJSON(t, fsys, e.file, e.fn)
			}
			_, err := bundle.Open(fsys)
			wantInvalid(t, err, c.file, "bundle "+c.file+": ", c.want)
		})
	}
}

func TestCheckSamplesFindsDisagreement(t *testing.T) {
	fsys := fixtureFS(t, "binary")
	editJSON(t, fsys, bundle.SamplesFile, func(d map[string]any) {
		r := arr(d, "rows")[3].(map[string]any)
		r["output"] = []any{0.5}
	})
	b, err := bundle.Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, b.CheckSamples(), bundle.SamplesFile, `rows[3] (row 353) ["+30" "4.2e4" "yES" "2019-12-31" "blue"]: output 0 is 0.77318644`,
		"but xgboost gave 0.5")

	// A value the encoding refuses (which the contract validator would have kept
	// out of the dataset) is named with its column.
	fsys = fixtureFS(t, "binary")
	editJSON(t, fsys, bundle.SamplesFile, func(d map[string]any) {
		arr(d, "rows")[5].(map[string]any)["values"].([]any)[0] = "forty"
	})
	if b, err = bundle.Open(fsys); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, b.CheckSamples(), bundle.SamplesFile, `rows[5] (row 355): column "age": expected a finite decimal number`, `got "forty"`)

	fsys = fixtureFS(t, "binary")
	editJSON(t, fsys, bundle.SamplesFile, func(d map[string]any) { d["rows"] = []any{} })
	if b, err = bundle.Open(fsys); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, b.CheckSamples(), bundle.SamplesFile, "no samples")
}

func TestLabel(t *testing.T) {
	b, err := bundle.OpenDir(fixtureDir("binary"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Encoding.Threshold != 0.42 {
		t.Fatalf("fixture threshold %v", b.Encoding.Threshold)
	}
	for p, want := range map[float32]string{0.41: "bad", 0.42: "good", 0.9: "good", 0: "bad"} {
		if got := b.Encoding.Label([]float32{p}); got != want {
			t.Errorf("binary Label(%v) = %q, want %q", p, got, want)
		}
	}
	m, err := bundle.OpenDir(fixtureDir("multiclass"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		out  []float32
		want string
	}{{[]float32{0.2, 0.5, 0.3}, "mid"}, {[]float32{0.4, 0.2, 0.4}, "low"}, {[]float32{0.1, 0.1, 0.8}, "high"}} {
		if got := m.Encoding.Label(c.out); got != c.want {
			t.Errorf("multiclass Label(%v) = %q, want %q", c.out, got, c.want)
		}
	}
	r, err := bundle.OpenDir(fixtureDir("regression"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Encoding.Label([]float32{3}); got != "" {
		t.Errorf("regression Label = %q", got)
	}
}

func TestAgrees(t *testing.T) {
	for _, c := range []struct {
		ours, xgb float64
		want      bool
	}{
		{0.5, 0.5, true}, {0.5 + 0.9e-6, 0.5, true}, {0.5 + 1.1e-6, 0.5, false},
		{1000, 1000.0009, true}, {1000, 1000.0011, false}, {-2e6, -2e6 - 1.9, true}, {-2e6, -2e6 - 2.1, false},
	} {
		if got := bundle.Agrees(c.ours, c.xgb); got != c.want {
			t.Errorf("Agrees(%v, %v) = %v", c.ours, c.xgb, got)
		}
	}
}

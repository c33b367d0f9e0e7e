package bundle_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/pythontest"
)

// fixtures are the committed bundles testdata/gen_bundles.py wrote.
var fixtures = []string{"binary", "regression", "multiclass"}

func fixtureDir(name string) string { return filepath.Join("testdata", "bundles", name) }

// fixtureFS loads a committed bundle into memory, so a test can damage a copy.
func fixtureFS(t testing.TB, name string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := fixtureDir(name)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeManifest decodes fsys's manifest.json.
func decodeManifest(t testing.TB, fsys fstest.MapFS) bundle.Manifest {
	t.Helper()
	var m bundle.Manifest
	if err := json.Unmarshal(fsys[bundle.ManifestFile].Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func putManifest(t testing.TB, fsys fstest.MapFS, m bundle.Manifest) {
	t.Helper()
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	fsys[bundle.ManifestFile] = &fstest.MapFile{Data: data, Mode: 0o644}
}

// rehash makes the manifest list the files' current sizes and hashes, so that a
// test that changed a file's content reaches the checks behind verification.
func rehash(t testing.TB, fsys fstest.MapFS) {
	t.Helper()
	m := decodeManifest(t, fsys)
	for i, f := range m.Files {
		if mf, ok := fsys[f.Path]; ok {
			sum := sha256.Sum256(mf.Data)
			m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(sum[:]), int64(len(mf.Data))
		}
	}
	putManifest(t, fsys, m)
}

// editJSON decodes one of fsys's JSON files (numbers kept as written), lets
// edit change it, writes it back and rehashes the manifest.
func editJSON(t testing.TB, fsys fstest.MapFS, file string, edit func(doc map[string]any)) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(fsys[file].Data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	edit(doc)
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	fsys[file] = &fstest.MapFile{Data: data, Mode: 0o644}
	rehash(t, fsys)
}

// obj and arr walk a decoded JSON document in test edits.
func obj(v any, key string) map[string]any { return v.(map[string]any)[key].(map[string]any) }
func arr(v any, key string) []any          { return v.(map[string]any)[key].([]any) }

// bundles are testdata/gen_bundles.py's, trained with Debian's xgboost once per
// test binary; where xgboost is missing, the committed fixtures cover those tests.
var bundles = &pythontest.Generated{Script: "testdata/gen_bundles.py", Prefix: "bundle-gen-",
	Fallback: "the committed fixtures are tested"}

func TestMain(m *testing.M) {
	code := m.Run()
	bundles.Remove()
	os.Exit(code)
}

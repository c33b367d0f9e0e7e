package bundle_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
)

// copyFixture writes a committed bundle's files, without its manifest, into a
// new directory.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	for path, f := range fixtureFS(t, name) {
		if path == bundle.ManifestFile {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWriteManifest(t *testing.T) {
	dir := copyFixture(t, "binary")
	fixture := decodeManifest(t, fixtureFS(t, "binary"))
	// A time zone other than UTC is written as UTC.
	created := fixture.CreatedAt.In(time.FixedZone("CEST", 2*3600))
	m, err := bundle.WriteManifest(dir, fixture.RunID, fixture.Model, fixture.Objective, created)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Files, fixture.Files) || !m.CreatedAt.Equal(fixture.CreatedAt) || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("wrote %+v\nwant %+v", m, fixture)
	}
	b, err := bundle.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckSamples(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("manifest: %v, %v", info, err)
	}

	// Written again after a file was added: the old manifest is not listed, the
	// new file is, and nothing else is left in the directory.
	if err := os.WriteFile(filepath.Join(dir, "card", "plot.svg"), []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, err := bundle.WriteManifest(dir, fixture.RunID, fixture.Model, fixture.Objective, created)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Files) != len(m.Files)+1 || m2.Files[1].Path != "card/plot.svg" {
		t.Fatalf("files %+v", m2.Files)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".manifest-") {
			t.Fatalf("left %s behind", e.Name())
		}
	}
	if _, err := bundle.OpenDir(dir); err != nil {
		t.Fatal(err)
	}
}

func TestWriteManifestRefuses(t *testing.T) {
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	dir := copyFixture(t, "regression")
	if err := os.Remove(filepath.Join(dir, bundle.SamplesFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir, "r", "m", "reg:squarederror", created); err == nil ||
		!strings.Contains(err.Error(), "required files not listed: samples.json") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); !os.IsNotExist(err) {
		t.Fatal("a refused bundle got a manifest")
	}

	dir = copyFixture(t, "regression")
	if _, err := bundle.WriteManifest(dir, "r", "m", "reg:tweedie", created); err == nil || !strings.Contains(err.Error(), `objective "reg:tweedie"`) {
		t.Fatalf("objective: %v", err)
	}
	if _, err := bundle.WriteManifest(dir, "", "m", "reg:squarederror", created); err == nil || !strings.Contains(err.Error(), "runId is empty") {
		t.Fatalf("run: %v", err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir, "r", "m", "reg:squarederror", created); err == nil || !strings.Contains(err.Error(), "link is not a regular file") {
		t.Fatalf("symlink: %v", err)
	}
	dir = copyFixture(t, "regression")
	if err := os.WriteFile(filepath.Join(dir, `a\b`), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir, "r", "m", "reg:squarederror", created); err == nil || !strings.Contains(err.Error(), "backslash") {
		t.Fatalf("backslash: %v", err)
	}
	if _, err := bundle.WriteManifest(filepath.Join(dir, "nope"), "r", "m", "reg:squarederror", created); err == nil {
		t.Fatal("no directory: no error")
	}
}

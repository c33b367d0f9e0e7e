package reportgen_test

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the fixture")

// build renders the fixture's whole site.
func build(t *testing.T) map[string][]byte {
	t.Helper()
	pages, err := reportgen.Build(reportgentest.Fixture(), reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// TestGolden compares every page of the fixture's site with testdata/golden
// (go test ./reportgen -run Golden -update rewrites them).
func TestGolden(t *testing.T) {
	pages := build(t)
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for p, b := range pages {
			f := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		p := filepath.ToSlash(strings.TrimPrefix(f, dir+string(filepath.Separator)))
		seen[p] = true
		want, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		got, ok := pages[p]
		switch {
		case !ok:
			t.Errorf("%s: golden, but the site has no such page (go test -run Golden -update)", p)
		case !bytes.Equal(got, want):
			t.Errorf("%s: differs from its golden file (%d bytes, want %d); go test -run Golden -update, and review the diff", p, len(got), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range pages {
		if !seen[p] {
			t.Errorf("%s: no golden file (go test -run Golden -update)", p)
		}
	}
	// Every page type is covered.
	for _, p := range []string{reportgen.IndexPath, reportgen.ModelPath("credit"), reportgen.DatasetPath("credit")} {
		if _, ok := pages[p]; !ok {
			t.Errorf("the fixture's site has no %s", p)
		}
	}
}

// The same records give the same bytes: the publisher uploads only what changed.
func TestBuildIsDeterministic(t *testing.T) {
	a, b := build(t), build(t)
	for p := range a {
		if !bytes.Equal(a[p], b[p]) {
			t.Errorf("%s: two builds of the same records differ", p)
		}
	}
}

// Text people wrote reaches pages only escaped: the fixture puts
// reportgentest.Hostile in cards, datasheets, reasons, principals,
// descriptions and category values.
func TestHostileTextIsEscaped(t *testing.T) {
	for p, b := range build(t) {
		for _, bad := range []string{"<script>alert", "<img src=x", `onerror=alert(1)>`, "</textarea>"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s: holds %q unescaped", p, bad)
			}
		}
		if n := bytes.Count(b, []byte("<script")); n != bytes.Count(b, []byte(`<script src="`))+bytes.Count(b, []byte(`<script type="application/json"`)) {
			t.Errorf("%s: an inline script that is not a JSON data block", p)
		}
	}
}

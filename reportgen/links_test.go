package reportgen_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
)

// siteFS is the fixture's whole site, assets included.
func siteFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	assets, err := reportgen.Assets()
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range assets {
		fsys[p] = &fstest.MapFile{Data: b}
	}
	for p, b := range build(t) {
		fsys[p] = &fstest.MapFile{Data: b}
	}
	return fsys
}

func TestNoBrokenOrExternalLinks(t *testing.T) {
	problems, err := reportgentest.CheckLinks(siteFS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The checker itself finds what it is for.
func TestLinkCheckerFindsProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html": {Data: []byte(`<a href="a.html#x">a</a><a href="gone.html">g</a><img src="https://cdn.example/x.png">` +
			`<a href="https://example.org">out</a><a rel="external" href="https://example.org">ok</a><a href="/abs.html">abs</a>`)},
		"a.html":      {Data: []byte(`<p id="y"></p><script src="//cdn.example/echarts.js"></script>`)},
		"orphan.html": {Data: []byte(`<p></p>`)},
	}
	problems, err := reportgentest.CheckLinks(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`no id "x" in a.html`, "no such file gone.html", `<img src="https://cdn.example/x.png">`,
		`<a href="https://example.org">: a link to another host`, "an absolute path", `<script src="//cdn.example/echarts.js">`,
		"orphan.html: no link from index.html"}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(problems), len(want), problems)
	}
	for _, w := range want {
		found := false
		for _, p := range problems {
			if strings.Contains(p, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem says %q in %v", w, problems)
		}
	}
}

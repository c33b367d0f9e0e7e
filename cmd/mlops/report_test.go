package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/local"
)

const creditDatasheet = "../../examples/credit/datasheet.md"

// The datasheet and the site through the CLI: describe stores the datasheet
// once; report build renders every page into a folder, the datasheet's text
// on the dataset's page; the platform publishes the same on its own, serves
// it on its site address, and rebuilds when asked.
func TestReportBuildAndDatasheet(t *testing.T) {
	needXGBoost(t)
	dir := startPlatformWith(t, local.Config{SiteAddr: "127.0.0.1:0"})
	applyCreditAndUpload(t, dir)
	if r := mlops(t, "runs", "wait", "--model", "credit", "--dir", dir, "--timeout", "5m"); r.code != 0 {
		t.Fatalf("runs wait: %+v", r)
	}

	r := mlops(t, "datasets", "describe", "credit", creditDatasheet, "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "for dataset credit: now current") {
		t.Fatalf("describe: %+v", r)
	}
	if r := mlops(t, "datasets", "describe", "credit", creditDatasheet, "--dir", dir, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"changed": false`) {
		t.Fatalf("describe again: %+v", r)
	}

	// The gate registers the run's version a moment after the run ends, and
	// checks it against the policy after that. Verify waits out an operation
	// in flight for a moment (the registry's
	// TestVerifyBesideOperationsInFlight), not a slow machine's whole gate,
	// so this waits until the trail verifies.
	out := filepath.Join(t.TempDir(), "site")
	deadline := time.Now().Add(time.Minute)
	for {
		r = mlops(t, "report", "build", "--out", out, "--dir", dir)
		if r.code != 0 {
			t.Fatalf("report build: %+v", r)
		}
		if strings.Contains(r.stdout, "for 1 models") && strings.Contains(r.stdout, "1 of 1 models' hash chains verify") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	index := filepath.Join(out, "index.html")
	if abs, _ := filepath.Abs(index); !strings.HasSuffix(r.stdout, abs+"\n") || !strings.Contains(r.stdout, "1 of 1 models' hash chains verify; checkpoints unanchored") {
		t.Fatalf("report build does not end with the index's path, or the trail does not verify: %+v", r)
	}
	for _, f := range []string{"index.html", "models/credit/index.html", "datasets/credit/index.html", "assets/echarts.min.js"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The site built from the platform's real records: no broken link, no
	// load from another host, every page reachable from the index.
	problems, err := reportgentest.CheckLinks(os.DirFS(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("built site: %s", p)
	}
	page, _ := os.ReadFile(filepath.Join(out, "datasets/credit/index.html"))
	if !strings.Contains(string(page), "Collection process") {
		t.Error("the dataset's page does not show its datasheet")
	}

	// The platform's own site: published by its report function, and the
	// datasheet's event re-rendered the dataset's page.
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil || ep.Site == "" {
		t.Fatalf("endpoint: %+v %v", ep, err)
	}
	var served string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(ep.Site + "datasets/credit/index.html")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if served = string(b); resp.StatusCode == 200 && strings.Contains(served, "Collection process") {
			break
		}
	}
	if !strings.Contains(served, "Collection process") {
		t.Fatalf("the served dataset page never showed the datasheet:\n%s", served)
	}
	if r := mlops(t, "report", "publish", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "requested a full rebuild") || !strings.Contains(r.stdout, ep.Site) {
		t.Fatalf("report publish: %+v", r)
	}

	for _, args := range [][]string{
		{"report", "build", "--dir", dir},
		{"report", "build", "extra", "--out", out, "--dir", dir},
		{"datasets", "describe", "Not A Dataset", creditDatasheet, "--dir", dir},
		{"datasets", "describe", "credit", "--dir", dir},
	} {
		if r := mlops(t, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want usage error 2", args, r.code, r.stderr)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.md")
	os.WriteFile(empty, []byte("\n  \n"), 0o644)
	for _, f := range []string{empty, filepath.Join(t.TempDir(), "missing.md")} {
		if r := mlops(t, "datasets", "describe", "credit", f, "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, filepath.Base(f)) {
			t.Errorf("describe %s: %+v", f, r)
		}
	}
}

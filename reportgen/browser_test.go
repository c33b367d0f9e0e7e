package reportgen_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/openmlops/mlops/reportgen"
)

// chromium finds Debian's chromium (CHROMIUM overrides).
func chromium(t *testing.T) string {
	t.Helper()
	for _, c := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (make test installs Debian's chromium through scripts/setup.sh)")
	return ""
}

// writeSite writes the fixture's site to a folder, as `mlops report build` does.
func writeSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, f := range siteFS(t) {
		file := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPagesInChromium opens pages of the fixture's site from disk in headless
// Chromium, as a reviewer would open a copied site: no console error, no
// CSP violation, no failed request, no request to anything but the site's
// own files, and every chart drawn (its screenshot is not blank).
func TestPagesInChromium(t *testing.T) {
	bin := chromium(t)
	dir := writeSite(t)
	pages := []string{reportgen.IndexPath, reportgen.CardPath("credit", 2), reportgen.DatasheetPath("credit", firstDatasetVersion(t)),
		reportgen.RunsPath("credit"), reportgen.DriftPath("credit"), reportgen.AuditPath("credit"), reportgen.LineagePath("credit")}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	browser, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	for _, p := range pages {
		t.Run(p, func(t *testing.T) {
			problems, charts := open(t, browser, dir, p)
			if charts == 0 && (strings.Contains(p, "/v") || strings.HasSuffix(p, "drift.html") || strings.HasSuffix(p, "runs.html")) {
				t.Errorf("no chart on %s", p)
			}
			for _, pr := range problems {
				t.Error(pr)
			}
		})
	}
}

// The test sees what it looks for: a page with an inline script (refused by
// the CSP), a missing image, a console error and a blank chart.
func TestChromiumSeesProblems(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	assets, err := reportgen.Assets()
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range assets {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="` + reportgen.CSP + `">` +
		`<script src="assets/echarts.min.js"></script><script src="assets/site.js" defer></script></head><body>` +
		`<script>console.log("inline")</script><img src="missing.png">` +
		`<div class="chart" id="c" data-option="c-option" style="width:300px;height:200px"></div>` +
		`<script type="application/json" id="c-option">{}</script></body></html>`
	if err := os.WriteFile(filepath.Join(dir, "bad.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(actx)
	defer cancel()
	problems, blank := openExpectingBlank(t, browser, dir, "bad.html")
	all := strings.Join(problems, "\n")
	for _, want := range []string{"Content Security Policy", "missing.png"} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem mentions %q:\n%s", want, all)
		}
	}
	if !blank {
		t.Error("the empty chart was not seen as blank")
	}
}

// open loads page from dir and returns what went wrong and how many charts
// it drew; it fails the test when a chart stays blank.
func open(t *testing.T, browser context.Context, dir, page string) ([]string, int) {
	t.Helper()
	problems, charts, blank := load(t, browser, dir, page, 15*time.Second)
	if blank {
		t.Errorf("%s: a chart stayed blank", page)
	}
	return problems, charts
}

func openExpectingBlank(t *testing.T, browser context.Context, dir, page string) ([]string, bool) {
	t.Helper()
	problems, _, blank := load(t, browser, dir, page, 2*time.Second)
	return problems, blank
}

func load(t *testing.T, browser context.Context, dir, page string, chartWait time.Duration) (problems []string, charts int, blank bool) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	var mu sync.Mutex
	add := func(format string, a ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventLoadingFailed:
			add("request failed: %s %s", ev.ErrorText, ev.BlockedReason)
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://"+dir+"/") && !strings.HasPrefix(u, "data:") {
				add("a request outside the site: %s", u)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Console calls, uncaught exceptions and the browser's log (CSP
	// violations and failed loads are logged there).
	console := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				add("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
			}
		}
	}()
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err },
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err },
	} {
		if err := enable(); err != nil {
			t.Fatal(err)
		}
	}
	tctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTime()
	if err := chromedp.Do(tctx, chromedp.Navigate("file://"+filepath.Join(dir, filepath.FromSlash(page))), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("load %s: %v", page, err)
	}
	charts, err = chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("div.chart").length`))
	if err != nil {
		t.Fatal(err)
	}
	// site.js has run; then each chart's canvas must hold a drawing.
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`window.mlopsCharts !== undefined`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("%s: site.js never ran: %v", page, err)
	}
	cctx, cancelCharts := context.WithTimeout(tctx, chartWait)
	_, err = chromedp.Run(cctx, chromedp.Poll[bool](`window.mlopsCharts.length === document.querySelectorAll("div.chart").length &&
		Array.from(document.querySelectorAll("div.chart")).every(function (el) {
			var c = el.querySelector("canvas");
			if (!c) { return false; }
			var d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
			for (var i = 3; i < d.length; i += 4) { if (d[i] !== 0) { return true; } }
			return false;
		})`, chromedp.WithPollingTimeout(chartWait)))
	cancelCharts()
	blank = err != nil
	// The screenshots: each chart's area holds a drawing, not a blank.
	for i := range charts {
		sel := chromedp.JSPath(fmt.Sprintf(`document.querySelectorAll("div.chart")[%d]`, i))
		shot, err := chromedp.Run(tctx, chromedp.Screenshot(sel))
		if err != nil {
			t.Fatalf("screenshot of chart %d: %v", i, err)
		}
		if share := inked(t, shot); share < 0.01 {
			blank = true
			add("chart %d: %.2f%% of its screenshot is drawn", i, 100*share)
		}
	}
	// Let late messages arrive, then stop listening.
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return problems, charts, blank
}

// inked is the share of a PNG's pixels that are not near-white.
func inked(t *testing.T, b []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	r := img.Bounds()
	var ink, all int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			all++
			if !nearWhite(img, x, y) {
				ink++
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(ink) / float64(all)
}

func nearWhite(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r > 0xf000 && g > 0xf000 && b > 0xf000
}

// firstDatasetVersion is the fixture's credit dataset's first version id.
func firstDatasetVersion(t *testing.T) string {
	t.Helper()
	for p := range build(t) {
		if rest, ok := strings.CutPrefix(p, "datasets/credit/"); ok && rest != "index.html" {
			return strings.TrimSuffix(rest, "/index.html")
		}
	}
	return "none"
}

// What a reader does on the pages works: the index's filter hides the rows
// that do not match, the audit log's kind filter keeps one kind, the runs
// page compares the two runs it ticks, and printing a card prints every
// chart's numbers.
func TestInteractionsInChromium(t *testing.T) {
	bin := chromium(t)
	dir := writeSite(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-gpu", true))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	eval := func(ctx context.Context, page, js string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(dir, filepath.FromSlash(page))), chromedp.WaitReady("body")); err != nil {
			t.Fatalf("load %s: %v", page, err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.mlopsCharts !== undefined`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("%s: site.js never ran: %v", page, err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		return out
	}
	visible := `function visible(sel) { return Array.from(document.querySelectorAll(sel)).filter(function (r) { return !r.hidden; }).length; }
		function filter(sel, value) { var i = document.querySelector(sel); i.value = value; i.dispatchEvent(new Event("input")); i.dispatchEvent(new Event("change")); }`
	for _, c := range []struct{ name, page, js, want string }{
		{"index filter", reportgen.IndexPath, `(function () {` + visible + `
			var all = visible("#models-table tbody tr");
			filter("[data-filter=models-table]", "zzz"); var none = visible("#models-table tbody tr");
			filter("[data-filter=models-table]", "churn"); var one = visible("#models-table tbody tr");
			return [all, none, one].join(" "); })()`, "2 0 1"},
		{"audit kind filter", reportgen.AuditPath("credit"), `(function () {` + visible + `
			filter("select[data-filter][data-column='2']", "approved");
			var rows = Array.from(document.querySelectorAll("table tbody tr")).filter(function (r) { return !r.hidden && r.closest("table").id === document.querySelector("select[data-filter]").getAttribute("data-filter"); });
			return rows.length + " " + rows.every(function (r) { return r.cells[2].textContent.trim() === "approved"; }); })()`, "2 true"},
		{"runs compare", reportgen.RunsPath("credit"), `(function () {
			var out = document.querySelector("[data-compare-out]") ? document.getElementById(document.querySelector("[data-compare]").getAttribute("data-compare-out")) : null;
			var th = out ? out.querySelectorAll("thead th") : [];
			return th.length + " " + (out ? out.querySelectorAll("tbody tr").length > 3 : false); })()`, "3 true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(browser)
			defer cancel()
			if got := eval(ctx, c.page, c.js); got != c.want {
				t.Errorf("%s: got %q, want %q", c.page, got, c.want)
			}
		})
	}
	t.Run("print", func(t *testing.T) {
		ctx, cancel := chromedp.NewContext(browser)
		defer cancel()
		eval(ctx, reportgen.CardPath("credit", 2), `""`)
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			var tables = Array.from(document.querySelectorAll("details.chart-table table"));
			return tables.length + " " + tables.every(function (t) { return t.checkVisibility(); }); })()`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(got, " true") || strings.HasPrefix(got, "0 ") {
			t.Errorf("printed card: %q charts' tables (count, all visible)", got)
		}
	})
}

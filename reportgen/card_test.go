package reportgen_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/profile"
)

var jsonBlock = regexp.MustCompile(`(?s)<script type="application/json" id="([^"]+-option)">(.*?)</script>`)

// options returns each chart's option of a page, by the chart's id.
func options(t *testing.T, page string, b []byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range jsonBlock.FindAllSubmatch(b, -1) {
		var o map[string]any
		if err := json.Unmarshal(m[2], &o); err != nil {
			t.Fatalf("%s: chart %s: the option is not JSON: %v", page, m[1], err)
		}
		out[strings.TrimSuffix(string(m[1]), "-option")] = o
	}
	return out
}

// Every chart has its numbers as a table beside it, and a page loads
// ECharts exactly when it draws a chart.
func TestEveryChartHasATable(t *testing.T) {
	pages := build(t)
	total := 0
	for p, b := range pages {
		charts := strings.Count(string(b), `<div class="chart" id=`)
		tables := strings.Count(string(b), `<details class="chart-table">`)
		blocks := len(options(t, p, b))
		if charts != tables || charts != blocks {
			t.Errorf("%s: %d charts, %d fallback tables, %d option blocks", p, charts, tables, blocks)
		}
		if loads := strings.Contains(string(b), "echarts.min.js"); loads != (charts > 0) {
			t.Errorf("%s: loads ECharts %v with %d charts", p, loads, charts)
		}
		total += charts
	}
	card := string(pages[reportgen.CardPath("credit", 2)])
	for _, id := range []string{"calibration", "importance", "slices-headline", "outputs-0"} {
		if !strings.Contains(card, `<div class="chart" id="`+id+`"`) {
			t.Errorf("the credit v2 card has no %s chart", id)
		}
	}
	if total == 0 {
		t.Fatal("the fixture's site draws no chart")
	}
}

// The card's charts hold the bundle's numbers.
func TestCardChartsHoldTheBundlesNumbers(t *testing.T) {
	site := reportgentest.Fixture()
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	v := site.Model("credit").Versions[1]
	p := reportgen.CardPath("credit", 2)
	opt := options(t, p, pages[p])

	cal := opt["calibration"]["series"].([]any)
	model := cal[0].(map[string]any)["data"].([]any)
	if len(model) != len(v.Bundle.Metrics.Calibration) {
		t.Fatalf("calibration: %d points, want %d", len(model), len(v.Bundle.Metrics.Calibration))
	}
	for i, bin := range v.Bundle.Metrics.Calibration {
		xy := model[i].(map[string]any)["value"].([]any)
		if xy[0].(float64) != bin.MeanPredicted || xy[1].(float64) != bin.FractionPositive {
			t.Errorf("calibration point %d: %v, want (%v, %v)", i, xy, bin.MeanPredicted, bin.FractionPositive)
		}
	}
	diag := cal[1].(map[string]any)
	if diag["name"] != "perfect calibration" || len(diag["data"].([]any)) != 2 {
		t.Errorf("calibration: no diagonal: %v", diag)
	}

	imp := opt["importance"]
	names := imp["yAxis"].([]any)[0].(map[string]any)["data"].([]any)
	gains := imp["series"].([]any)[0].(map[string]any)["data"].([]any)
	want := map[string]float64{}
	for _, f := range v.Bundle.Importance.Features {
		want[f.Name] = f.Gain
	}
	prev := 0.0
	for i, n := range names {
		g := gains[i].(map[string]any)["value"].(float64)
		if want[n.(string)] != g {
			t.Errorf("importance of %v: %v, want %v", n, g, want[n.(string)])
		}
		if i > 0 && g > prev {
			t.Errorf("importance: not sorted largest first at %v", n)
		}
		prev = g
	}

	// The per-slice chart draws the policy's minimum as a line.
	sl := opt["slices-headline"]["series"].([]any)[0].(map[string]any)
	ml := sl["markLine"].(map[string]any)["data"].([]any)[0].(map[string]any)
	if ml["yAxis"].(float64) != 0.7 {
		t.Errorf("slices: threshold line %v, want the policy's 0.7", ml)
	}
	if got := opt["outputs-0"]["animation"]; got != false {
		t.Errorf("animation %v: screenshots need it off", got)
	}
}

func TestCardSections(t *testing.T) {
	pages := build(t)
	card := string(pages[reportgen.CardPath("credit", 2)])
	for _, want := range []string{
		`id="details"`, `id="use"`, `id="data"`, `id="evaluation"`, `id="slices"`, `id="checks"`, `id="caveats"`, `id="decision"`,
		"champion since", "95% confidence interval", "Disparate impact ratio", `<td class="pass">Pass</td>`,
		"<h3>Intended use</h3>", "<h3>Caveats</h3>", "Trained on 1990s data",
		"may be overfitted", "the auc is undefined", // the fixture's train/test gap and its one-class slice
		"approved", "Record SHA-256", "scored in the champion&#39;s shadow while pending",
		`href="../../../` + reportgen.DatasheetPath("credit", reportgentest.Fixture().Datasets[0].Versions[1].Manifest.VersionID) + `"`,
	} {
		if !strings.Contains(card, want) {
			t.Errorf("the credit v2 card lacks %q", want)
		}
	}
	// The caveats of card.md are under Caveats, not under intended use.
	use := card[strings.Index(card, `id="use"`):strings.Index(card, `id="data"`)]
	if strings.Contains(use, "1990s") {
		t.Error("card.md's caveats are shown under intended use")
	}
	// v1 waited while no version was champion: no shadow.
	if strings.Contains(string(pages[reportgen.CardPath("credit", 1)]), "shadow") {
		t.Error("v1 was never pending beside a champion, yet its card speaks of shadow scoring")
	}
}

// A version whose bundle could not be read says so first, and shows what
// the registry holds.
func TestCardShowsABundleError(t *testing.T) {
	site := reportgentest.Fixture()
	v := site.Model("credit").Versions[2]
	v.Bundle, v.BundleError = nil, "bundles/run-x/metrics.json: SHA-256 differs from the manifest's"
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	card := string(pages[reportgen.CardPath("credit", 3)])
	alert := strings.Index(card, `role="alert"`)
	if alert < 0 || !strings.Contains(card[alert:], "metrics.json: SHA-256 differs from the manifest&#39;s") {
		t.Fatalf("the card does not show the bundle's error:\n%s", card)
	}
	if alert > strings.Index(card, `id="details"`) {
		t.Error("the bundle's error is not shown before the details")
	}
	for _, want := range []string{v.BundleSHA256, "No evaluation: the bundle could not be read", "this card shows the registry&#39;s record only"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q", want)
		}
	}
	if strings.Contains(card, "echarts.min.js") {
		t.Error("a card without a bundle loads ECharts")
	}
}

// A PII column's values never appear on any page: not its categories, range,
// quantiles, histogram or the contract's allowed values, whether the
// profile or only the contract marks it.
func TestPIIValuesNeverShown(t *testing.T) {
	site := reportgentest.Fixture()
	secrets := []string{"alice.pii@example.com", "bob.pii@example.com", "-98765", "-9.877e", "-91919", "-9.192e", "-93939", "-9.394e", "-95959", "-9.596e"}
	f := func(x float64) *float64 { return &x }
	ds := site.Dataset("credit")
	for i, v := range ds.Versions {
		for j := range v.Profile.Columns {
			c := &v.Profile.Columns[j]
			if c.Name != "Email" {
				continue
			}
			c.PII = i != 0 // the first version: only the contract says so
			c.Top = []profile.ValueCount{{Value: "alice.pii@example.com", Count: 4}}
			c.Min, c.Max, c.Mean, c.Std = f(-98765), f(-91919), f(-95959), f(-95959)
			c.Quantiles = map[string]float64{"0.5": -91919}
			if i != 1 { // the second version: its top values would be the chart
				c.Histogram = &profile.Histogram{Edges: []float64{-93939}, Counts: []int64{1, 2}}
			}
			ml := 21
			c.MinLength, c.MaxLength = &ml, &ml
		}
		for j := range v.Contract.Columns {
			if v.Contract.Columns[j].Name == "Email" {
				v.Contract.Columns[j].Allowed = []string{"bob.pii@example.com"}
			}
		}
	}
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range pages {
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s: shows %q, a value of a PII column", p, s)
			}
		}
	}
	for _, v := range ds.Versions {
		page := string(pages[reportgen.DatasheetPath("credit", v.Manifest.VersionID)])
		i := strings.Index(page, `<h3 id="col-4-name">Email`)
		if i < 0 {
			t.Fatalf("%s: no Email column", v.Manifest.VersionID)
		}
		sec := page[i : i+strings.Index(page[i:], "</section>")]
		for _, want := range []string{"personal data", "Missing", "Distinct", "1 values, not shown"} {
			if !strings.Contains(sec, want) {
				t.Errorf("%s: the Email column lacks %q", v.Manifest.VersionID, want)
			}
		}
		for _, bad := range []string{"Minimum</dt>", "Quantiles", "Length", "chart"} {
			if strings.Contains(sec, bad) {
				t.Errorf("%s: the Email column shows %q", v.Manifest.VersionID, bad)
			}
		}
	}
}

func TestDatasheetSections(t *testing.T) {
	site := reportgentest.Fixture()
	pages := build(t)
	id := site.Datasets[0].Versions[1].Manifest.VersionID
	page := string(pages[reportgen.DatasheetPath("credit", id)])
	for _, want := range []string{
		"Contract hash", "Partitions", `<a href="#col-0">Age</a>`, "Distribution of Age", "Most frequent values of Purpose",
		"Minimum allowed", "Sensitive (fairness slices)", "<h3>Motivation</h3>",
		`<a href="../../../models/credit/v2/index.html">v2</a>`, // the model version trained on it
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the datasheet lacks %q", want)
		}
	}
	site.Datasets[0].Datasheet = nil
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pages[reportgen.DatasheetPath("credit", id)]), "mlops datasets describe credit datasheet.md") {
		t.Error("a datasheet without datasheet.md does not say how to write one")
	}
}

// A version whose profile could not be read says so and still lists the
// contract's columns and rules.
func TestDatasheetWithoutProfile(t *testing.T) {
	site := reportgentest.Fixture()
	v := site.Datasets[0].Versions[0]
	v.Profile, v.Problem = nil, "profile.json: not JSON at byte 3"
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	page := string(pages[reportgen.DatasheetPath("credit", v.Manifest.VersionID)])
	for _, want := range []string{`role="alert"`, "profile.json: not JSON at byte 3", `<a href="#col-4">Email</a>`, "Minimum allowed"} {
		if !strings.Contains(page, want) {
			t.Errorf("the datasheet lacks %q", want)
		}
	}
	if strings.Contains(page, "echarts.min.js") {
		t.Error("a datasheet without a profile loads ECharts")
	}
}

// A sensitive attribute the contract marks pii is sliced by the trainer, but
// its values never reach a page: the card shows "group 1", "group 2", ...
func TestPIISliceValuesAreMasked(t *testing.T) {
	site := reportgentest.Fixture()
	for _, v := range site.Dataset("credit").Versions {
		for j := range v.Contract.Columns {
			if v.Contract.Columns[j].Name == "Sex" {
				v.Contract.Columns[j].PII = true
			}
		}
	}
	pages, err := reportgen.Build(site, reportgen.Scope{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range pages {
		for _, secret := range []string{"female", ">male<", `"male"`} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s shows the pii attribute's value %s", p, secret)
			}
		}
	}
	card := string(pages[reportgen.CardPath("credit", 2)])
	if !strings.Contains(card, "group 1 (personal data)") || !strings.Contains(card, "[18, 30)") {
		t.Error("the card masks the pii attribute's slices and only them")
	}
}

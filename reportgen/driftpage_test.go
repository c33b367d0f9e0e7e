package reportgen_test

import (
	"html"
	"math"
	"strings"
	"testing"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/quality"
)

// lineOption is the part of a line chart's option the tests read.
type lineOption struct {
	Animation bool `json:"animation"`
	XAxis     []struct {
		Data []string `json:"data"`
	} `json:"xAxis"`
	YAxis []struct {
		Type string `json:"type"`
	} `json:"yAxis"`
	Series []struct {
		Name string `json:"name"`
		Data []struct {
			Value any `json:"value"`
		} `json:"data"`
		MarkLine *struct {
			Data []struct {
				YAxis float64 `json:"yAxis"`
			} `json:"data"`
		} `json:"markLine"`
	} `json:"series"`
}

// value is a point's value: NaN for ECharts' "-" (no point).
func value(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		if x == "-" {
			return math.NaN()
		}
	}
	t.Fatalf("point value %#v", v)
	return 0
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// The drift page's charts carry the reports' numbers, and a window with too
// little traffic is shown as such, never as "no drift".
func TestDriftPageCharts(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	quiet := m.Drift[3]
	quiet.EnoughData, quiet.Verdict.EnoughData, quiet.Rows = false, false, 40
	page := buildModel(t, site, "credit")[reportgen.DriftPath("credit")]

	var eff lineOption
	dataBlock(t, page, "drift-effect-option", &eff)
	if eff.Animation {
		t.Error("the effect-size chart animates")
	}
	if len(eff.XAxis) != 1 || len(eff.XAxis[0].Data) != len(m.Drift) {
		t.Fatalf("effect-size chart's x axis: %+v, want %d windows", eff.XAxis, len(m.Drift))
	}
	if len(eff.Series) != len(m.Drift[0].Features) {
		t.Fatalf("%d effect-size series, want one per feature (%d)", len(eff.Series), len(m.Drift[0].Features))
	}
	for fi, s := range eff.Series {
		if s.Name != m.Drift[0].Features[fi].Feature {
			t.Errorf("series %d is %s, want %s", fi, s.Name, m.Drift[0].Features[fi].Feature)
		}
		for day, r := range m.Drift {
			got := value(t, s.Data[day].Value)
			if !r.EnoughData {
				if !math.IsNaN(got) {
					t.Errorf("%s on %s (too little traffic) has a point %v", s.Name, r.Window.From, got)
				}
				continue
			}
			if want := *r.Features[fi].EffectSize; !near(got, want) {
				t.Errorf("%s on %s: effect size %v, want %v", s.Name, r.Window.From, got, want)
			}
		}
	}
	if ml := eff.Series[0].MarkLine; ml == nil || len(ml.Data) != 1 || ml.Data[0].YAxis != m.Drift[len(m.Drift)-1].Thresholds.Wasserstein {
		t.Errorf("effect-size chart's threshold line: %+v, want %v", ml, m.Drift[len(m.Drift)-1].Thresholds.Wasserstein)
	}

	var pv lineOption
	dataBlock(t, page, "drift-pvalue-option", &pv)
	if pv.YAxis[0].Type != "log" {
		t.Errorf("p-value axis is %q, want log", pv.YAxis[0].Type)
	}
	last := m.Drift[len(m.Drift)-1]
	if got, want := value(t, pv.Series[0].Data[len(m.Drift)-1].Value), *last.Features[0].PValueCorrected; !near(got, want) {
		t.Errorf("Age's p-value on the last day %v, want %v", got, want)
	}
	if ml := pv.Series[0].MarkLine; ml == nil || ml.Data[0].YAxis != 0.05 {
		t.Errorf("p-value threshold line: %+v", ml)
	}

	var psi lineOption
	dataBlock(t, page, "drift-prediction-option", &psi)
	if psi.Series[0].Name != "p(bad)" || !near(value(t, psi.Series[0].Data[len(m.Drift)-1].Value), 0.35) {
		t.Errorf("prediction PSI series: %+v", psi.Series)
	}
	if ml := psi.Series[0].MarkLine; ml == nil || ml.Data[0].YAxis != 0.2 {
		t.Errorf("PSI threshold line: %+v", ml)
	}

	var rows lineOption
	dataBlock(t, page, "drift-rows-option", &rows)
	for day, r := range m.Drift {
		if got := value(t, rows.Series[0].Data[day].Value); got != float64(r.Rows) {
			t.Errorf("rows on %s: %v, want %d", r.Window.From, got, r.Rows)
		}
	}

	s := string(page)
	if n := strings.Count(s, `<td class="muted">too little traffic</td>`); n < 2 { // the rows table and the windows table
		t.Errorf("the quiet window is marked too little traffic %d times, want at least 2", n)
	}
	// The latest report drifted on Age and Income: their rows are classed drift.
	for _, f := range []string{"Age", "Income"} {
		if !strings.Contains(s, `<tr><td class="drift">`+f+`</td>`) {
			t.Errorf("latest table: %s is not classed drift", f)
		}
	}
	if !strings.Contains(s, `<td>Sex</td>`) {
		t.Error("latest table: Sex (no drift) is missing or classed drift")
	}
	if !strings.Contains(s, `<span class="badge drift">drift</span>`) || !strings.Contains(s, "dataset drift: [Age Income]") {
		t.Error("the verdict or the alert is not shown")
	}
	// Without labels, the page says how to upload them.
	noLabels := reportgentest.Fixture()
	for _, r := range noLabels.Model("credit").Drift {
		r.Quality = nil
	}
	pages, err := reportgen.Build(noLabels, reportgen.Scope{Models: []string{"credit"}})
	if err != nil {
		t.Fatal(err)
	}
	s = string(pages[reportgen.DriftPath("credit")])
	if !strings.Contains(s, "No labels have arrived") || !strings.Contains(s, "<code>feedback/credit/</code>") || !strings.Contains(s, "request_id,index,label") {
		t.Error("without quality the page does not say how to upload labels")
	}
	if strings.Contains(s, `id="drift-quality"`) {
		t.Error("a quality chart without quality")
	}
}

// A report with quality shows the live figures with intervals, the
// comparison with training and the estimate.
func TestDriftPageQuality(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	f := func(v float64) *float64 { return &v }
	last := m.Drift[len(m.Drift)-1]
	last.Quality = &drift.Quality{Labels: 321, OtherVersions: 4,
		Binary: &quality.Binary{N: 321, Positives: 100, Threshold: 0.5, Level: 0.95,
			AUC:      &quality.Estimate{Value: 0.7312, Lower: f(0.6801), Upper: f(0.7823), Method: quality.MethodDeLong},
			Accuracy: &quality.Estimate{Value: 0.701, Lower: f(0.65), Upper: f(0.748), Method: "wilson"},
			ECE:      f(0.043), Undefined: map[string]string{"precision": "no predicted positive " + reportgentest.Hostile}},
		Training:    map[string]float64{"auc": 0.7828, "accuracy": 0.74},
		Comparisons: []quality.Comparison{{Metric: "auc", Live: 0.7312, Lower: f(0.6801), Upper: f(0.7823), Training: 0.7828, Change: -0.0516, MaxDecay: 0.02, Decayed: false}},
		Estimated:   &quality.CBPE{N: 1466, Threshold: 0.5, Accuracy: f(0.7234), AccuracyStdErr: f(0.0117), AUC: f(0.771), AUCStdErr: f(0.02)},
		Versus:      []quality.Versus{{Metric: "accuracy", Estimated: f(0.7234), Realized: f(0.701), Difference: f(-0.0224)}},
		Reasons:     []string{"auc within the policy's decay " + reportgentest.Hostile}}
	page := html.UnescapeString(string(buildModel(t, site, "credit")[reportgen.DriftPath("credit")]))
	for _, want := range []string{"321 labelled predictions", "0.7312", "[0.6801, 0.7823]", "delong", "0.7828", "0.043",
		"0.7234", "0.0117", "-0.0224", "no predicted positive " + reportgentest.Hostile, "within the policy's decay"} {
		if !strings.Contains(page, want) {
			t.Errorf("quality section lacks %q", want)
		}
	}
	if strings.Contains(page, "No labels have arrived") {
		t.Error("a report with quality says no labels arrived")
	}
}

// A model without drift reports says so and draws nothing.
func TestDriftPageEmpty(t *testing.T) {
	page := string(buildModel(t, reportgentest.Fixture(), "churn")[reportgen.DriftPath("churn")])
	if !strings.Contains(page, "No drift report yet") || strings.Contains(page, "echarts.min.js") {
		t.Error("the churn model (no reports) does not say there is no report, or loads ECharts")
	}
}

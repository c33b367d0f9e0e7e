package reportgen

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func decode(t *testing.T, c Chart) map[string]any {
	t.Helper()
	raw, ok := json.RawMessage(c.Option), c.Option != ""
	if !ok {
		t.Fatalf("%s: option is %T, want JSON", c.ID, c.Option)
	}
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("%s: %v", c.ID, err)
	}
	return o
}

func TestBarChart(t *testing.T) {
	c := barChart(ChartSpec{ID: "b", Title: "Gaps", X: "slice", Y: "auc", Threshold: &Threshold{Name: "minimum", Value: 0.7}},
		[]string{"a", "b", "<c>"}, Series{Name: "auc", Values: []float64{0.8, math.NaN(), 0.75}}, Series{Name: "f1", Values: []float64{0.5, 0.6, 0.7}})
	o := decode(t, c)
	if o["animation"] != false {
		t.Errorf("animation %v", o["animation"])
	}
	x := o["xAxis"].([]any)[0].(map[string]any)
	if got := x["data"].([]any); len(got) != 3 || got[2] != "<c>" {
		t.Errorf("categories %v", got)
	}
	series := o["series"].([]any)
	auc := series[0].(map[string]any)
	data := auc["data"].([]any)
	if data[0].(map[string]any)["value"] != 0.8 || data[1].(map[string]any)["value"] != nil || data[2].(map[string]any)["value"] != 0.75 {
		t.Errorf("auc data %v: want 0.8, a gap, 0.75", data)
	}
	if ml := auc["markLine"].(map[string]any)["data"].([]any)[0].(map[string]any); ml["yAxis"] != 0.7 || ml["name"] != "minimum" {
		t.Errorf("threshold %v", ml)
	}
	if _, ok := series[1].(map[string]any)["markLine"]; ok {
		t.Error("the threshold is drawn twice")
	}
	// The table holds the same numbers, a gap as an empty cell.
	if h := strings.Join(c.Table.Head, "|"); h != "slice|auc|f1|minimum" {
		t.Errorf("table head %s", h)
	}
	if r := c.Table.Rows[1]; r[1].Text != "" || r[2].Text != "0.6" || r[3].Text != "0.7" {
		t.Errorf("table row %v", r)
	}
	if c.Table.ID != "b-table" || c.Table.Caption != "Gaps" {
		t.Errorf("table %q %q", c.Table.ID, c.Table.Caption)
	}
	// No JS function can travel in an option.
	if strings.Contains(string(c.Option), "function") {
		t.Error("the option holds a function")
	}
}

func TestHorizontalBarChart(t *testing.T) {
	o := decode(t, barChart(ChartSpec{ID: "h", X: "feature", Y: "gain", Horizontal: true}, []string{"Age", "Income"}, Series{Name: "gain", Values: []float64{2, 1}}))
	y := o["yAxis"].([]any)[0].(map[string]any)
	x := o["xAxis"].([]any)[0].(map[string]any)
	if y["type"] != "category" || len(y["data"].([]any)) != 2 || x["type"] != "value" || x["data"] != nil {
		t.Errorf("axes x=%v y=%v", x, y)
	}
}

func TestLineChart(t *testing.T) {
	c := lineChart(ChartSpec{ID: "l", Title: "PSI", Threshold: &Threshold{Name: "drift", Value: 0.2}},
		[]string{"d1", "d2"}, Series{Name: "Age", Values: []float64{0.1, 0.3}}, Series{Name: "Income", Values: []float64{math.Inf(1), 0.05}})
	o := decode(t, c)
	s := o["series"].([]any)
	if len(s) != 2 || s[0].(map[string]any)["type"] != "line" {
		t.Fatalf("series %v", s)
	}
	if v := s[1].(map[string]any)["data"].([]any)[0].(map[string]any)["value"]; v != nil {
		t.Errorf("+Inf drawn as %v, want a gap", v)
	}
	if o["legend"].(map[string]any)["show"] != true {
		t.Error("two series and no legend")
	}
	if len(c.Table.Rows) != 2 || c.Table.Rows[1][1].Text != "0.3" {
		t.Errorf("table %v", c.Table.Rows)
	}
}

func TestXYChartDiagonal(t *testing.T) {
	c := xyChart(ChartSpec{ID: "cal", X: "predicted", Y: "observed", Diagonal: true},
		XYSeries{Name: "model", Points: []Point{{0.1, 0.12}, {0.5, math.NaN()}, {0.9, 0.85}}})
	o := decode(t, c)
	s := o["series"].([]any)
	pts := s[0].(map[string]any)["data"].([]any)
	if len(pts) != 2 {
		t.Errorf("%d points drawn, want 2 (NaN dropped)", len(pts))
	}
	diag := s[1].(map[string]any)["data"].([]any)
	if d := diag[1].(map[string]any)["value"].([]any); d[0] != 1.0 || d[1] != 1.0 {
		t.Errorf("diagonal ends at %v", d)
	}
	if x := o["xAxis"].([]any)[0].(map[string]any); x["type"] != "value" || x["max"] != 1.0 {
		t.Errorf("x axis %v", x)
	}
	if len(c.Table.Rows) != 3 {
		t.Errorf("table: %d rows, want every point", len(c.Table.Rows))
	}
}

func TestSplitCaveats(t *testing.T) {
	src := "# Intended use\n\nScreening.\n\n## Limitations\n\nOld data.\n\n```\n# not a heading\n```\n\n### Detail\n\nStill a limitation.\n\n## Out of scope\n\nRefusals.\n"
	use, cav := splitCaveats(src)
	if !strings.Contains(use, "Screening") || !strings.Contains(use, "Refusals") || strings.Contains(use, "Old data") {
		t.Errorf("use:\n%s", use)
	}
	if !strings.Contains(cav, "Old data") || !strings.Contains(cav, "# not a heading") || !strings.Contains(cav, "Still a limitation") || strings.Contains(cav, "Refusals") {
		t.Errorf("caveats:\n%s", cav)
	}
}

func TestPlainNum(t *testing.T) {
	for in, want := range map[float64]string{18000: "18000", 13562.5: "13562", 46.5: "46.5", 0.05486: "0.05486", 75: "75", -3.25: "-3.25", 0: "0"} {
		if got := plainNum(in); got != want {
			t.Errorf("plainNum(%v) = %q, want %q", in, got, want)
		}
	}
}

// splitCaveats loses and invents no text, whatever card.md holds.
func FuzzSplitCaveats(f *testing.F) {
	for _, s := range []string{"", "# Caveats\n", "#\n##Risk\n", "```\n# Limitations\n", "~~~\n~~~\n# Risks\nx\n# Use\ny", "\n\n####### Caveat\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		use, cav := splitCaveats(src)
		if len(use)+len(cav) != len(src) {
			t.Fatalf("%d + %d bytes from %d", len(use), len(cav), len(src))
		}
		if !strings.Contains(strings.ToLower(src), "#") && cav != "" {
			t.Fatalf("caveats %q from a text without a heading", cav)
		}
	})
}

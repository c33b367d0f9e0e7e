package reportgen

import (
	"fmt"
	"math"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// Charts are built with go-echarts for its typed options only: we take the
// option as JSON and let site.js draw it, so pages carry no inline script and
// no link to go-echarts' asset host. Options hold no JS functions (FuncOpts):
// a function could not travel as JSON and would need an inline script.

// Series is one named series: one value per category (NaN: no value, drawn
// as a gap and shown as an empty cell).
type Series struct {
	Name   string
	Values []float64
}

// Point is one (x, y) point of an XYSeries.
type Point struct{ X, Y float64 }

// XYSeries is one named series of points on two value axes.
type XYSeries struct {
	Name   string
	Points []Point
}

// Threshold is a limit drawn as a horizontal line (a policy's threshold, a
// drift test's cut-off).
type Threshold struct {
	Name  string
	Value float64
}

// ChartSpec is what a chart shows besides its data.
type ChartSpec struct {
	ID, Title, Note string
	// X and Y name the axes (and the fallback table's first column: X).
	X, Y string
	// Horizontal draws bars along the y axis: for long category names.
	Horizontal bool
	// Threshold, when set, is drawn on the first series as a horizontal line.
	Threshold *Threshold
	// Diagonal draws y = x over [0, 1] (xyChart): perfect calibration.
	Diagonal bool
	// Caption is the fallback table's caption (default: the title).
	Caption string
}

// global are the options every chart shares: no animation, so that
// screenshots and prints show the final drawing.
func global(multi bool) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithAnimation(false),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(multi), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "8", Right: "24", Top: "32", Bottom: "8", ContainLabel: opts.Bool(true)}),
	}
}

// barChart is a bar chart of series over categories.
func barChart(s ChartSpec, categories []string, series ...Series) Chart {
	c := charts.NewBar()
	cat := opts.XAxis{Type: "category", Name: s.X, Data: categories}
	val := opts.YAxis{Type: "value", Name: s.Y}
	g := append(global(len(series) > 1), charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}))
	if s.Horizontal {
		g = append(g, charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: s.Y}),
			charts.WithYAxisOpts(opts.YAxis{Type: "category", Name: s.X, Data: categories, Inverse: opts.Bool(true)}))
	} else {
		g = append(g, charts.WithXAxisOpts(cat), charts.WithYAxisOpts(val))
		c.SetXAxis(categories)
	}
	c.SetGlobalOptions(g...)
	for i, sr := range series {
		data := make([]opts.BarData, len(sr.Values))
		for j, v := range sr.Values {
			data[j] = opts.BarData{Value: value(v)}
		}
		c.AddSeries(sr.Name, data, seriesOpts(s, i)...)
	}
	c.Validate()
	if s.Horizontal {
		// Validate puts the categories on the x axis; ours are on the y axis.
		c.XAxisList[0].Data = nil
	}
	return finish(s, c.JSON(), categoryTable(s, categories, series))
}

// lineChart is a line chart of series over categories (dates, windows).
func lineChart(s ChartSpec, categories []string, series ...Series) Chart {
	c := charts.NewLine()
	c.SetGlobalOptions(append(global(len(series) > 1),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Name: s.X}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: s.Y, Scale: opts.Bool(true)}))...)
	c.SetXAxis(categories)
	for i, sr := range series {
		data := make([]opts.LineData, len(sr.Values))
		for j, v := range sr.Values {
			data[j] = opts.LineData{Value: value(v)}
		}
		c.AddSeries(sr.Name, data, seriesOpts(s, i)...)
	}
	c.Validate()
	return finish(s, c.JSON(), categoryTable(s, categories, series))
}

// xyChart draws series of points on two value axes, joined in order, with
// the diagonal y = x when s.Diagonal (a reliability diagram).
func xyChart(s ChartSpec, series ...XYSeries) Chart {
	c := charts.NewLine()
	xa := opts.XAxis{Type: "value", Name: s.X}
	ya := opts.YAxis{Type: "value", Name: s.Y}
	if s.Diagonal {
		xa.Min, xa.Max, ya.Min, ya.Max = 0, 1, 0, 1
	}
	c.SetGlobalOptions(append(global(len(series) > 1 || s.Diagonal),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithXAxisOpts(xa), charts.WithYAxisOpts(ya))...)
	for i, sr := range series {
		data := make([]opts.LineData, 0, len(sr.Points))
		for _, p := range sr.Points {
			if finite(p.X) && finite(p.Y) {
				data = append(data, opts.LineData{Value: []float64{p.X, p.Y}})
			}
		}
		c.AddSeries(sr.Name, data, seriesOpts(s, i)...)
	}
	if s.Diagonal {
		c.AddSeries("perfect calibration", []opts.LineData{{Value: []float64{0, 0}}, {Value: []float64{1, 1}}},
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}),
			charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#888888", Width: 1}))
	}
	c.Validate()
	t := Table{Caption: caption(s), Head: []string{"Series", s.X, s.Y}}
	for _, sr := range series {
		for _, p := range sr.Points {
			t.Rows = append(t.Rows, []Cell{{Text: sr.Name}, numCell(p.X), numCell(p.Y)})
		}
	}
	return finish(s, c.JSON(), t)
}

// seriesOpts draws the threshold on the first series.
func seriesOpts(s ChartSpec, i int) []charts.SeriesOpts {
	if s.Threshold == nil || i != 0 || !finite(s.Threshold.Value) {
		return nil
	}
	return []charts.SeriesOpts{
		charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: s.Threshold.Name, YAxis: s.Threshold.Value}),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
			Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}: {c}"},
			LineStyle: &opts.LineStyle{Type: "dashed", Color: "#c23531"}}),
	}
}

// categoryTable is the fallback table of a bar or line chart: a row per category.
func categoryTable(s ChartSpec, categories []string, series []Series) Table {
	first := s.X
	if first == "" {
		first = "Category"
	}
	t := Table{Caption: caption(s), Head: []string{first}}
	for _, sr := range series {
		t.Head = append(t.Head, sr.Name)
	}
	if s.Threshold != nil {
		t.Head = append(t.Head, s.Threshold.Name)
	}
	for i, c := range categories {
		row := []Cell{{Text: c}}
		for _, sr := range series {
			v := math.NaN()
			if i < len(sr.Values) {
				v = sr.Values[i]
			}
			row = append(row, numCell(v))
		}
		if s.Threshold != nil {
			row = append(row, numCell(s.Threshold.Value))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// finish turns the option into JSON now, so that the page holds exactly
// the bytes a test can read back, and fills in the chart.
func finish(s ChartSpec, option map[string]any, t Table) Chart {
	t.ID = s.ID + "-table"
	return Chart{ID: s.ID, Title: s.Title, Note: s.Note, Option: optionJS(option), Table: t}
}

func caption(s ChartSpec) string {
	if s.Caption != "" {
		return s.Caption
	}
	return s.Title
}

// value is a data value: nil (a gap) for NaN and ±Inf, which JSON cannot hold.
func value(v float64) any {
	if !finite(v) {
		return nil
	}
	return v
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// numCell is a number's table cell (empty when there is no number).
func numCell(v float64) Cell {
	if !finite(v) {
		return Cell{Class: "num muted", Sort: ""}
	}
	return Cell{Text: num(v), Class: "num", Sort: fmt.Sprint(v)}
}

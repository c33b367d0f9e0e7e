package reportgen

import (
	"html/template"
	"math"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// The history pages' charts (runs, drift, lineage), built with go-echarts
// and handed to the "chart" template as options: site.js draws them from the
// JSON beside each canvas. Options carry no JS functions (the CSP allows no
// eval), and animation is off so that screenshots and prints are of the
// finished chart.

// histMissing is how ECharts spells an absent value in a series.
const histMissing = "-"

// histChartType is what every go-echarts chart type offers.
type histChartType interface {
	Validate()
	JSON() map[string]any
}

// histOption validates c and returns its option.
func histOption(c histChartType) template.JS {
	c.Validate()
	return optionJS(c.JSON())
}

// histGlobal are the options every history line or bar chart shares.
func histGlobal(yName, yType string, scale bool) []charts.GlobalOpts {
	y := opts.YAxis{Name: yName, Type: yType, Scale: opts.Bool(scale)}
	return []charts.GlobalOpts{
		charts.WithAnimation(false),
		charts.WithInitializationOpts(opts.Initialization{Width: "100%", Height: "320px"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "scroll", Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "56", Right: "24", Top: "40", Bottom: "40", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category"}),
		charts.WithYAxisOpts(y),
	}
}

// histValue is v as a series value: histMissing when v is nil or not finite.
func histValue(v *float64) any {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return histMissing
	}
	return *v
}

// lineData turns values into a line series' data.
func histLineData(vals []any) []opts.LineData {
	out := make([]opts.LineData, len(vals))
	for i, v := range vals {
		out[i] = opts.LineData{Value: v}
	}
	return out
}

// thresholdLine marks y = at on a series, labelled name.
func histThresholdLine(name string, at float64) []charts.SeriesOpts {
	return []charts.SeriesOpts{
		charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: name, YAxis: at}),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
			Label:     &opts.Label{Show: opts.Bool(true), Position: "insideEndTop", Formatter: name + " {c}"},
			LineStyle: &opts.LineStyle{Type: "dashed", Color: "#cf222e"}}),
	}
}

// fmtValue is a cell's text for a series value.
func histFmt(v any) string {
	if f, ok := v.(float64); ok {
		return num(f)
	}
	return ""
}

// histSeries is one named series of a line chart.
type histSeries struct {
	Name   string
	Values []any // float64 or histMissing
	Opts   []charts.SeriesOpts
}

// lineChart builds a line chart over the categories x, and its table: one
// row per category, one column per series.
func histLineChart(id, title, note, yName, yType string, x []string, series []histSeries) Chart {
	c := charts.NewLine()
	c.SetGlobalOptions(histGlobal(yName, yType, yType != "log")...)
	c.SetXAxis(x)
	t := Table{Head: append([]string{"Window"}, make([]string, 0, len(series))...)}
	for _, s := range series {
		o := append([]charts.SeriesOpts{charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true), ConnectNulls: opts.Bool(false)})}, s.Opts...)
		c.AddSeries(s.Name, histLineData(s.Values), o...)
		t.Head = append(t.Head, s.Name)
	}
	for i, xi := range x {
		row := []Cell{{Text: xi}}
		for _, s := range series {
			row = append(row, Cell{Text: histFmt(s.Values[i]), Class: "num"})
		}
		t.Rows = append(t.Rows, row)
	}
	return Chart{ID: id, Title: title, Note: note, Option: histOption(c), Table: t}
}

// bandChart is a line of values with its interval drawn as a shaded band
// (the lower bound, then the interval's width stacked on it), over the
// categories x; the table has the value and both bounds.
func histBandChart(id, title, note, yName string, x []string, value, lower, upper []float64) Chart {
	c := charts.NewLine()
	c.SetGlobalOptions(histGlobal(yName, "value", true)...)
	// The legend names the band and the line, not the band's invisible base.
	c.SetGlobalOptions(charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0", Data: []string{"95% interval", yName}}))
	c.SetXAxis(x)
	lo, width, v := make([]any, len(x)), make([]any, len(x)), make([]any, len(x))
	t := Table{Head: []string{"Run", yName, "Lower", "Upper"}}
	for i := range x {
		w := upper[i] - lower[i]
		lo[i], width[i], v[i] = histValue(&lower[i]), histValue(&w), histValue(&value[i])
		t.Rows = append(t.Rows, []Cell{{Text: x[i]}, {Text: num(value[i]), Class: "num"},
			{Text: num(lower[i]), Class: "num"}, {Text: num(upper[i]), Class: "num"}})
	}
	hidden := opts.LineStyle{Opacity: opts.Float(0)}
	c.AddSeries("lower bound", histLineData(lo),
		charts.WithLineChartOpts(opts.LineChart{Stack: "interval", ShowSymbol: opts.Bool(false)}),
		charts.WithLineStyleOpts(hidden))
	c.AddSeries("95% interval", histLineData(width),
		charts.WithLineChartOpts(opts.LineChart{Stack: "interval", ShowSymbol: opts.Bool(false)}),
		charts.WithLineStyleOpts(hidden),
		charts.WithAreaStyleOpts(opts.AreaStyle{Color: "#0550ae", Opacity: opts.Float(0.18)}))
	c.AddSeries(yName, histLineData(v), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true)}))
	return Chart{ID: id, Title: title, Note: note, Option: histOption(c), Table: t}
}

// barChart is one series of bars over x, each bar coloured by its class
// ("muted": a window with too little traffic), and its table.
func histBarChart(id, title, note, yName string, x []string, vals []float64, class []string, mark *float64, markName string) Chart {
	c := charts.NewBar()
	// Bars start at zero: a bar's length is its value.
	c.SetGlobalOptions(histGlobal(yName, "value", false)...)
	c.SetXAxis(x)
	data := make([]opts.BarData, len(x))
	t := Table{Head: []string{"Window", yName, ""}}
	for i := range x {
		data[i] = opts.BarData{Value: vals[i]}
		if class[i] == "muted" {
			data[i].ItemStyle = &opts.ItemStyle{Color: "#afb8c1"}
		}
		note := ""
		if class[i] == "muted" {
			note = "too little traffic"
		}
		t.Rows = append(t.Rows, []Cell{{Text: x[i]}, {Text: strconv.FormatFloat(vals[i], 'f', -1, 64), Class: "num"}, {Text: note, Class: class[i]}})
	}
	var so []charts.SeriesOpts
	if mark != nil {
		so = histThresholdLine(markName, *mark)
	}
	c.AddSeries(yName, data, so...)
	return Chart{ID: id, Title: title, Note: note, Option: histOption(c), Table: t}
}

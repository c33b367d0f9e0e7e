package reportgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/feedback"
	"github.com/openmlops/mlops/shared/quality"
)

func init() {
	modelPages = append(modelPages, driftJobs)
}

// driftData is what the drift page shows.
type driftData struct {
	Model   string
	Latest  *drift.Report
	Window  string
	Card    string // the compared version's card, relative to the page
	Verdict Cell   // "drift", "no drift" or "too little traffic"
	// Charts: effect sizes, p-values, prediction PSI, rows per window.
	Charts     []Chart
	Features   Table
	Prediction Table
	History    Table
	Quality    *qualityData
	// QualityWindow names the window Quality is from (the newest report that has one).
	QualityWindow string
	Feedback      string // where labels are uploaded
}

// qualityData is a report's live and estimated quality as tables.
type qualityData struct {
	Q           *drift.Quality
	Live        Table
	Comparisons Table
	Estimated   Table
	Versus      Table
	Undefined   []string
}

func driftJobs(site *Site, m *Model) []job {
	p := DriftPath(m.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		d := driftPage(m)
		return r.render(p, "drift", "Drift of "+m.Name,
			[]crumb{{Text: m.Name, Href: ModelPath(m.Name)}, {Text: "Drift"}}, formatTime(m.AsOf()), len(d.Charts) > 0, d)
	}}}
}

// windowName is a report's window as the page names it.
func windowName(r *drift.Report) string {
	if r.Window.To != "" && r.Window.To != r.Window.From {
		return r.Window.From + " to " + r.Window.To
	}
	return r.Window.From
}

// verdictCell is a report's verdict: a window with too little traffic has
// none, and says so rather than "no drift".
func verdictCell(r *drift.Report) Cell {
	switch {
	case !r.EnoughData:
		return Cell{Text: "too little traffic", Class: "muted"}
	case r.Verdict.Drifted:
		return Cell{Text: "drift", Class: "drift"}
	}
	return Cell{Text: "no drift", Class: "ok"}
}

// thresholds are r's thresholds, a zero field taking its default as Decide does.
func driftThresholds(r *drift.Report) driftstat.Thresholds {
	t, def := r.Thresholds, driftstat.DefaultThresholds()
	pick := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	pick(&t.PValue, def.PValue)
	pick(&t.PSI, def.PSI)
	pick(&t.Wasserstein, def.Wasserstein)
	pick(&t.JS, def.JS)
	pick(&t.NullRateChange, def.NullRateChange)
	pick(&t.OutOfRangeRate, def.OutOfRangeRate)
	if t.MinRows == 0 {
		t.MinRows = def.MinRows
	}
	return t
}

// effectThreshold is the threshold an effect size is held to.
func effectThreshold(name string, t driftstat.Thresholds) (float64, bool) {
	switch {
	case strings.HasPrefix(name, "wasserstein"):
		return t.Wasserstein, true
	case name == driftstat.EffectJS:
		return t.JS, true
	case name == driftstat.EffectPSI:
		return t.PSI, true
	}
	return 0, false
}

// driftPage is what the drift page shows of m.
func driftPage(m *Model) driftData {
	d := driftData{Model: m.Name, Feedback: feedback.Prefix + m.Name + "/"}
	n := len(m.Drift)
	if n == 0 {
		return d
	}
	p := DriftPath(m.Name)
	r := m.Drift[n-1]
	d.Latest, d.Window, d.Verdict = r, windowName(r), verdictCell(r)
	if r.Version > 0 {
		d.Card = rel(p, CardPath(m.Name, r.Version))
	}
	d.Charts = driftCharts(m.Drift)
	d.Features = featureTable("features-table", "Every compared feature in "+d.Window+" (drifted rows in red)", r.Features)
	d.Prediction = featureTable("prediction-table", "The model's outputs in "+d.Window+" against the test set", r.Prediction)
	d.History = Table{ID: "history-table", Sortable: true, Caption: "Every window's verdict, newest first",
		Head: []string{"Window", "Version", "Rows", "Champion rows", "Verdict", "Drifted features", "Reason", "Alerts"}}
	for i := n - 1; i >= 0; i-- {
		x := m.Drift[i]
		reason := x.Verdict.Reason
		if !x.EnoughData {
			reason = fmt.Sprintf("%d rows, fewer than the %d a verdict needs", x.Rows, driftThresholds(x).MinRows)
		}
		d.History.Rows = append(d.History.Rows, []Cell{{Text: windowName(x)}, {Text: "v" + strconv.Itoa(x.Version), Sort: strconv.Itoa(x.Version)},
			{Text: strconv.FormatInt(x.Rows, 10), Class: "num"}, {Text: strconv.FormatInt(x.ChampionRows, 10), Class: "num"},
			verdictCell(x), {Text: strings.Join(x.Verdict.DriftedFeatures, ", ")}, {Text: reason}, {Text: strings.Join(x.Alerts, "; ")}})
		if d.Quality == nil && x.Quality != nil {
			d.Quality, d.QualityWindow = qualityTables(x.Quality), windowName(x)
		}
	}
	return d
}

// featureTable is one report's features (or outputs) with every statistic.
func featureTable(id, caption string, fs []driftstat.Feature) Table {
	t := Table{ID: id, Caption: caption, Head: []string{"Feature", "Test", "Statistic", "Corrected p", "Effect size", "PSI", "JS distance",
		"Null rate change", "Out of range", "Drifted", "Reason"}}
	for _, f := range fs {
		stat := ""
		switch {
		case f.KS != nil:
			stat = fmt.Sprintf("KS D %s (p %s)", num(f.KS.Statistic), num(f.KS.PValue))
		case f.Chi2 != nil:
			stat = fmt.Sprintf("χ² %s, %d dof (p %s)", num(f.Chi2.Statistic), f.Chi2.DoF, num(f.Chi2.PValue))
		}
		effect := ""
		if f.EffectSize != nil {
			effect = f.EffectSizeName + " " + num(*f.EffectSize)
		}
		test := f.Test
		if test == "" {
			test = "none (too few rows)"
		}
		drifted := Cell{Text: "no", Class: "ok"}
		if f.Drifted {
			drifted = Cell{Text: "yes", Class: "drift"}
		}
		row := []Cell{{Text: f.Feature}, {Text: test}, {Text: stat}, {Text: histOptNum(f.PValueCorrected), Class: "num"},
			{Text: effect, Class: "num"}, {Text: histOptNum(f.PSI), Class: "num"}, {Text: histOptNum(f.JS), Class: "num"},
			{Text: signedPct(f.NullRateChange), Class: "num"}, {Text: pct(f.OutOfRangeRate), Class: "num"}, drifted, {Text: f.Reason}}
		if f.Drifted {
			for i := range row {
				if !strings.Contains(row[i].Class, "drift") {
					row[i].Class = strings.TrimSpace(row[i].Class + " drift")
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func histOptNum(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

// signedPct is a change of a share, in percentage points.
func signedPct(f float64) string {
	return fmt.Sprintf("%+.1f pp", 100*f)
}

// minLogP is the smallest p-value the log axis shows: a p-value of 0 (an
// underflow) is drawn there rather than dropped.
const minLogP = 1e-16

// driftCharts are the drift history's charts, oldest window first.
func driftCharts(reports []*drift.Report) []Chart {
	latest := reports[len(reports)-1]
	th := driftThresholds(latest)
	x := make([]string, len(reports))
	for i, r := range reports {
		x[i] = windowName(r)
	}
	// Features in order of first appearance; a window that lacks one, or
	// had too little traffic for a verdict, has no point.
	collect := func(get func(*drift.Report) []driftstat.Feature, val func(driftstat.Feature) *float64) (names []string, vals map[string][]any, effect map[string]string) {
		vals, effect = map[string][]any{}, map[string]string{}
		for i, r := range reports {
			for _, f := range get(r) {
				if _, ok := vals[f.Feature]; !ok {
					names = append(names, f.Feature)
					vals[f.Feature] = make([]any, len(reports))
					for k := range vals[f.Feature] {
						vals[f.Feature][k] = histMissing
					}
				}
				if r.EnoughData {
					vals[f.Feature][i] = histValue(val(f))
				}
				if f.EffectSizeName != "" {
					effect[f.Feature] = f.EffectSizeName
				}
			}
		}
		return names, vals, effect
	}
	feats := func(r *drift.Report) []driftstat.Feature { return r.Features }
	preds := func(r *drift.Report) []driftstat.Feature { return r.Prediction }
	var out []Chart

	names, vals, effect := collect(feats, func(f driftstat.Feature) *float64 { return f.EffectSize })
	if len(names) > 0 {
		var series []histSeries
		marked := map[string]bool{}
		for _, f := range names {
			s := histSeries{Name: f, Values: vals[f]}
			if at, ok := effectThreshold(effect[f], th); ok && !marked[effect[f]] {
				marked[effect[f]] = true
				s.Opts = histThresholdLine(effect[f]+" threshold", at)
			}
			series = append(series, s)
		}
		c := histLineChart("drift-effect", "Effect size per feature",
			"Normed Wasserstein distance for numeric features, Jensen–Shannon distance for categorical ones; the dashed lines are the policy's thresholds (a large sample drifts only above them). Windows with too little traffic have no point.",
			"effect size", "value", x, series)
		c.Table.ID, c.Table.Caption = "drift-effect-table", "Effect size per feature and window"
		out = append(out, c)
	}

	names, vals, _ = collect(feats, func(f driftstat.Feature) *float64 {
		if f.PValueCorrected == nil {
			return nil
		}
		p := math.Max(*f.PValueCorrected, minLogP)
		return &p
	})
	if len(names) > 0 {
		var series []histSeries
		for i, f := range names {
			s := histSeries{Name: f, Values: vals[f]}
			if i == 0 {
				s.Opts = histThresholdLine("p threshold", th.PValue)
			}
			series = append(series, s)
		}
		c := histLineChart("drift-pvalue", "Corrected p-value per feature (log scale)",
			fmt.Sprintf("KS or chi-square p-values after Benjamini–Hochberg; below the dashed line (%s) the test rejects \"no change\". Values under %g are drawn at %g.", num(th.PValue), minLogP, minLogP),
			"corrected p-value", "log", x, series)
		c.Table.ID, c.Table.Caption = "drift-pvalue-table", "Corrected p-value per feature and window"
		out = append(out, c)
	}

	names, vals, _ = collect(preds, func(f driftstat.Feature) *float64 { return f.PSI })
	if len(names) > 0 {
		var series []histSeries
		for i, f := range names {
			s := histSeries{Name: f, Values: vals[f]}
			if i == 0 {
				s.Opts = histThresholdLine("PSI threshold", th.PSI)
			}
			series = append(series, s)
		}
		c := histLineChart("drift-prediction", "Prediction drift: PSI per output",
			fmt.Sprintf("Population stability index of each model output against its test-set distribution; above %s the outputs drifted.", num(th.PSI)),
			"PSI", "value", x, series)
		c.Table.ID, c.Table.Caption = "drift-prediction-table", "PSI per output and window"
		out = append(out, c)
	}

	rows := make([]float64, len(reports))
	class := make([]string, len(reports))
	for i, r := range reports {
		rows[i] = float64(r.Rows)
		if !r.EnoughData {
			class[i] = "muted"
		}
	}
	minRows := float64(th.MinRows)
	c := histBarChart("drift-rows", "Rows per window",
		fmt.Sprintf("Logged predictions read in each window; a window under %d rows (grey) gets no verdict: too little traffic, not \"no drift\".", th.MinRows),
		"rows", x, rows, class, &minRows, "minimum rows")
	c.Table.ID, c.Table.Caption = "drift-rows-table", "Rows per window"
	out = append(out, c)
	if q := qualityChart(reports, x); q != nil {
		out = append(out, *q)
	}
	return out
}

// qualityChart draws live quality (from labels) and the quality estimated
// before labels (CBPE) per window, for binary classifiers: accuracy and AUC,
// a point only where the window had them. Nil when no window had either.
func qualityChart(reports []*drift.Report, x []string) *Chart {
	series := []histSeries{{Name: "live AUC"}, {Name: "estimated AUC"}, {Name: "live accuracy"}, {Name: "estimated accuracy"}}
	for i := range series {
		series[i].Values = make([]any, len(reports))
	}
	seen := false
	for i, r := range reports {
		vals := [4]*float64{}
		if q := r.Quality; q != nil {
			if b := q.Binary; b != nil {
				if b.AUC != nil {
					vals[0] = &b.AUC.Value
				}
				if b.Accuracy != nil {
					vals[2] = &b.Accuracy.Value
				}
			}
			if e := q.Estimated; e != nil {
				vals[1], vals[3] = e.AUC, e.Accuracy
			}
		}
		for j, v := range vals {
			series[j].Values[i] = histValue(v)
			seen = seen || v != nil
		}
	}
	if !seen {
		return nil
	}
	c := histLineChart("drift-quality", "Quality over time: live and estimated",
		"Live figures come from the labels uploaded for each window's predictions; estimated ones from the predicted probabilities alone (CBPE), before any label. A window without labels has no live point.",
		"quality", "value", x, series)
	c.Table.ID, c.Table.Caption = "drift-quality-table", "Live and estimated quality per window"
	return &c
}

// qualityTables lays out a report's quality section.
func qualityTables(q *drift.Quality) *qualityData {
	d := &qualityData{Q: q}
	var figs map[string]quality.Estimate
	var undefined map[string]string
	switch {
	case q.Binary != nil:
		figs, undefined = q.Binary.Figures(), q.Binary.Undefined
	case q.Multiclass != nil:
		figs, undefined = q.Multiclass.Figures(), q.Multiclass.Undefined
	case q.Regression != nil:
		figs, undefined = q.Regression.Figures(), q.Regression.Undefined
	}
	d.Live = Table{ID: "quality-live", Caption: "Live quality on the labelled predictions, with 95% intervals, beside the test set's figures",
		Head: []string{"Metric", "Live", "95% interval", "Method", "Training (test set)"}}
	for _, k := range sortedKeys(figs) {
		e := figs[k]
		train := ""
		if t, ok := q.Training[k]; ok {
			train = num(t)
		}
		d.Live.Rows = append(d.Live.Rows, []Cell{{Text: k}, {Text: num(e.Value), Class: "num"}, {Text: intervalText(e.Lower, e.Upper), Class: "num"},
			{Text: e.Method}, {Text: train, Class: "num"}})
	}
	if q.Binary != nil && q.Binary.ECE != nil {
		d.Live.Rows = append(d.Live.Rows, []Cell{{Text: "expected calibration error"}, {Text: num(*q.Binary.ECE), Class: "num"}, {}, {}, {}})
	}
	for _, k := range sortedKeys(undefined) {
		d.Undefined = append(d.Undefined, k+": "+undefined[k])
	}
	d.Comparisons = Table{ID: "quality-decay", Caption: "Live against training, under the policy's maximum decay",
		Head: []string{"Metric", "Live", "Interval", "Training", "Change", "Max decay", "Decayed"}}
	for _, c := range q.Comparisons {
		dec := Cell{Text: "no", Class: "ok"}
		if c.Decayed {
			dec = Cell{Text: "yes", Class: "drift"}
		}
		d.Comparisons.Rows = append(d.Comparisons.Rows, []Cell{{Text: c.Metric}, {Text: num(c.Live), Class: "num"},
			{Text: intervalText(c.Lower, c.Upper), Class: "num"}, {Text: num(c.Training), Class: "num"},
			{Text: fmt.Sprintf("%+.4g", c.Change), Class: "num"}, {Text: num(c.MaxDecay), Class: "num"}, dec})
	}
	if e := q.Estimated; e != nil {
		d.Estimated = Table{ID: "quality-estimated", Caption: "Quality estimated from the predicted probabilities alone (CBPE), before labels",
			Head: []string{"Figure", "Estimate", "± standard error"}}
		add := func(name string, v, se *float64) {
			d.Estimated.Rows = append(d.Estimated.Rows, []Cell{{Text: name}, {Text: histOptNum(v), Class: "num"}, {Text: histOptNum(se), Class: "num"}})
		}
		add("accuracy", e.Accuracy, e.AccuracyStdErr)
		add("auc", e.AUC, e.AUCStdErr)
		add("precision", e.Precision, nil)
		add("recall", e.Recall, nil)
		for _, x := range []struct {
			name string
			v    float64
		}{{"expected true positives", e.ExpectedTP}, {"expected false positives", e.ExpectedFP},
			{"expected true negatives", e.ExpectedTN}, {"expected false negatives", e.ExpectedFN}} {
			v := x.v
			add(x.name, &v, nil)
		}
		for _, k := range sortedKeys(e.Undefined) {
			d.Undefined = append(d.Undefined, "estimated "+k+": "+e.Undefined[k])
		}
	}
	d.Versus = Table{ID: "quality-versus", Caption: "Estimated before the labels, beside what the labels showed",
		Head: []string{"Metric", "Estimated", "Realized", "Difference"}}
	for _, v := range q.Versus {
		d.Versus.Rows = append(d.Versus.Rows, []Cell{{Text: v.Metric}, {Text: histOptNum(v.Estimated), Class: "num"},
			{Text: histOptNum(v.Realized), Class: "num"}, {Text: histOptNum(v.Difference), Class: "num"}})
	}
	return d
}

// interval is [lower, upper], or "" where there is none.
func intervalText(lo, hi *float64) string {
	if lo == nil || hi == nil {
		return ""
	}
	return "[" + num(*lo) + ", " + num(*hi) + "]"
}

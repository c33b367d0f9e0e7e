package reportgen

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/registry"
)

func init() {
	modelPages = append(modelPages, cardJobs)
}

// Fact is one line of a page's facts list: a label and its value, which may
// be a link or a hash.
type Fact struct {
	Label, Text, Href, Class string
	Hash                     bool
}

// CardData is what card.html sees.
type CardData struct {
	Model   string
	Version int
	State   string
	// Problem is set when the bundle could not be read: the card says so first.
	BundleError string
	Details     []Fact
	Links       []crumb
	// Use and HumanCaveats are card.md's parts (nil: none written); Caveats
	// are the platform's own.
	Use          template.HTML
	HumanCaveats template.HTML
	HasCard      bool
	Caveats      []string
	// Training data.
	Datasheet string // link ("" when the dataset version is not in the site)
	Dataset   string
	Rows      Table
	// Evaluation.
	Headline  string
	Metrics   Table
	Confusion Table
	Slices    []Table
	Fairness  Table
	Checks    []CheckSet
	Charts    []Chart
	// Decision record.
	Decision []Fact
	History  Table
	Shadow   string
	// ShadowResults: how the version answered beside the champion, per
	// drift window that saw it in the champion's shadow.
	ShadowResults Table
}

// CheckSet is one policy's results on the version.
type CheckSet struct {
	PolicyHash string
	Current    bool // the model's policy in force
	Verdict    string
	Principal  string
	At         string
	Problem    string // the results could not be read
	Table      Table
	byName     map[string]policy.Check
}

// cardJobs renders a card per version.
func cardJobs(site *Site, m *Model) []job {
	var jobs []job
	for _, v := range m.Versions {
		p := CardPath(m.Name, v.Version.Version)
		jobs = append(jobs, job{p, func(r *renderer) ([]byte, error) {
			d := card(site, m, v, p)
			title := fmt.Sprintf("Model card: %s v%d", m.Name, v.Version.Version)
			crumbs := []crumb{{Text: m.Name, Href: ModelPath(m.Name)}, {Text: "v" + strconv.Itoa(v.Version.Version)}}
			return r.render(p, "card", title, crumbs, formatTime(m.AsOf()), len(d.Charts) > 0, d)
		}})
	}
	return jobs
}

// card gathers a version's card.
func card(site *Site, m *Model, v *Version, p string) CardData {
	n := v.Version.Version
	d := CardData{Model: m.Name, Version: n, State: stateText(m, v), BundleError: v.BundleError}
	v = masked(site, v)
	b := v.Bundle
	if b == nil && d.BundleError == "" {
		d.BundleError = "the bundle was not read"
	}
	d.Links = []crumb{{"Model overview", rel(p, ModelPath(m.Name))}, {"Runs", rel(p, RunsPath(m.Name))},
		{"Drift", rel(p, DriftPath(m.Name))}, {"Audit log", rel(p, AuditPath(m.Name))}, {"Lineage", rel(p, LineagePath(m.Name))}}
	d.Dataset, d.Datasheet = datasetOf(site, v, p)
	d.Details = details(m, v, d.Datasheet, d.Dataset)

	if v.Spec != nil && strings.TrimSpace(v.Spec.Card) != "" {
		use, cav := splitCaveats(v.Spec.Card)
		d.HasCard = true
		d.Use = Markdown(use)
		if strings.TrimSpace(cav) != "" {
			d.HumanCaveats = Markdown(cav)
		}
	}

	checks := checkSets(m, v)
	d.Checks = checks
	if b != nil {
		h := b.Metrics.Headline
		d.Headline = fmt.Sprintf("%s %s on the test set, %s%% confidence interval [%s, %s] from %d bootstrap replicates",
			h.Name, num(h.Value), num(100*h.Level), num(h.Lower), num(h.Upper), h.Replicates)
		d.Rows = Table{ID: "rows", Caption: "Rows in each part of the split", Head: []string{"Train", "Validation", "Test"},
			Rows: [][]Cell{{intCell(b.Metrics.Rows.Train), intCell(b.Metrics.Rows.Validation), intCell(b.Metrics.Rows.Test)}}}
		d.Metrics = metricsTable(b.Metrics)
		d.Confusion = confusionTable(b)
		d.Slices = sliceTables(b)
		d.Fairness = fairnessTable(b, checks)
		d.Charts = cardCharts(b, checks)
	}
	d.Caveats = caveats(v)
	d.Decision, d.History = decision(m, v)
	d.Shadow = shadow(m, v)
	d.ShadowResults = shadowResults(m, v)
	return d
}

// shadowResults lists the drift reports' summaries of this version scored in
// the champion's shadow (drift.Report.Shadow), oldest window first.
func shadowResults(m *Model, v *Version) Table {
	t := Table{ID: "shadow-table", Caption: "Answers beside the champion's on the same live requests, per drift window",
		Head: []string{"Window", "Champion", "Requests", "Errors", "Same label", "Output", "Mean |Δ|", "Max |Δ|", "Champion mean", "This version's mean"}}
	opt := func(p *float64, f func(float64) string) Cell {
		if p == nil {
			return Cell{Text: "", Class: "num"}
		}
		return Cell{Text: f(*p), Class: "num"}
	}
	for _, r := range m.Drift {
		for _, s := range r.Shadow {
			if s.Version != v.Version.Version || (s.BundleSHA256 != "" && s.BundleSHA256 != v.BundleSHA256) {
				continue
			}
			window := r.Window.From
			if r.Window.To != r.Window.From {
				window += " to " + r.Window.To
			}
			t.Rows = append(t.Rows, []Cell{{Text: window}, {Text: fmt.Sprintf("v%d", r.Version)}, intCell(s.Records), intCell(s.Errors),
				opt(s.Agreement, pct), {Text: s.Output}, opt(s.MeanAbsDiff, num), opt(s.MaxAbsDiff, num),
				opt(s.ChampionMean, num), opt(s.ShadowMean, num)})
		}
	}
	return t
}

// stateText is the version's state, with the champion's start.
func stateText(m *Model, v *Version) string {
	s := strings.ReplaceAll(string(v.State), "_", " ")
	if m.Champion != nil && m.Champion.Version == v.Version.Version {
		s = "champion since " + formatTime(m.Champion.At)
	}
	return s
}

// masked is v with the slice values of every attribute its contract marks
// pii replaced by "group 1", "group 2", ...: a sensitive attribute may be
// personal data, and the site never shows a pii column's values. The
// contract is the version's own, else that of its dataset version in the
// site; with neither, every attribute is masked.
func masked(site *Site, v *Version) *Version {
	if v.Bundle == nil || len(v.Bundle.Slices.Attributes) == 0 {
		return v
	}
	c := v.Contract
	if x, ok := site.index.datasets[v.DatasetVersion]; c == nil && ok {
		c = x.version.Contract
	}
	pii := func(name string) bool {
		if c == nil {
			return true
		}
		col := c.Column(name)
		return col == nil || col.PII
	}
	var attrs []bundle.Attribute
	changed := false
	for _, a := range v.Bundle.Slices.Attributes {
		if pii(a.Name) {
			changed = true
			a.Slices = slices.Clone(a.Slices)
			for i := range a.Slices {
				a.Slices[i].Value = fmt.Sprintf("group %d (personal data)", i+1)
			}
		}
		attrs = append(attrs, a)
	}
	if !changed {
		return v
	}
	b := *v.Bundle
	b.Slices = bundle.Slices{Attributes: attrs}
	out := *v
	out.Bundle = &b
	return &out
}

// datasetOf finds the dataset version the model was trained on by its id
// (ids are unique across datasets). An incremental build may not have read
// the dataset: then the bundle's lineage names it, and the link is to the
// datasheet an earlier build wrote.
func datasetOf(site *Site, v *Version, p string) (name, href string) {
	if v.DatasetVersion == "" {
		return "", ""
	}
	if x, ok := site.index.datasets[v.DatasetVersion]; ok {
		return x.dataset, rel(p, DatasheetPath(x.dataset, v.DatasetVersion))
	}
	switch {
	case v.Bundle != nil && v.Bundle.Lineage.Dataset != "":
		name = v.Bundle.Lineage.Dataset
	case v.Spec != nil:
		name = v.Spec.Dataset
	}
	if name == "" {
		return "", ""
	}
	return name, rel(p, DatasheetPath(name, v.DatasetVersion))
}

func details(m *Model, v *Version, sheet, dataset string) []Fact {
	f := []Fact{
		{Label: "Model", Text: m.Name},
		{Label: "Version", Text: strconv.Itoa(v.Version.Version)},
		{Label: "State", Text: stateText(m, v), Class: stateClass(string(v.State))},
	}
	if v.Spec != nil {
		if v.Spec.Description != "" {
			f = append(f, Fact{Label: "Description", Text: v.Spec.Description})
		}
		f = append(f, Fact{Label: "Objective", Text: v.Spec.Objective})
	} else if v.Bundle != nil {
		f = append(f, Fact{Label: "Objective", Text: v.Bundle.Manifest.Objective})
	}
	f = append(f,
		Fact{Label: "Registered by", Text: v.RegisteredBy},
		Fact{Label: "Registered", Text: formatTime(v.RegisteredAt)},
		Fact{Label: "Training run", Text: v.RunID, Href: rel(CardPath(m.Name, v.Version.Version), RunsPath(m.Name))},
		Fact{Label: "Bundle SHA-256", Text: v.BundleSHA256, Hash: true},
		Fact{Label: "Spec hash", Text: v.SpecHash, Hash: true},
		Fact{Label: "Contract hash", Text: v.ContractHash, Hash: true},
	)
	f = append(f, Fact{Label: "Dataset version", Text: strings.TrimSpace(dataset + " " + v.DatasetVersion), Href: sheet})
	if b := v.Bundle; b != nil {
		l := b.Lineage
		var libs []string
		for _, k := range sortedKeys(l.Libraries) {
			libs = append(libs, k+" "+l.Libraries[k])
		}
		f = append(f,
			Fact{Label: "Trainer", Text: l.Trainer, Hash: true},
			Fact{Label: "Libraries", Text: strings.Join(libs, ", ")},
			Fact{Label: "Device", Text: strings.TrimSpace(l.Device + " " + l.TreeMethod)},
			Fact{Label: "Trees", Text: fmt.Sprintf("%d (best iteration %d of %d rounds)", b.Metrics.NumTrees, b.Metrics.BestIteration, l.NumBoostRound)},
		)
		if b.Metrics.Threshold != 0 {
			f = append(f, Fact{Label: "Decision threshold", Text: num(b.Metrics.Threshold)})
		}
	}
	return f
}

// splitCaveats separates card.md's caveat sections (a heading naming
// caveats, limitations or risks, to the next heading as high) from the rest,
// so each lands under the card's own heading.
func splitCaveats(src string) (use, caveats string) {
	var u, c strings.Builder
	fence, inCaveat, level := "", false, 0
	for _, line := range strings.SplitAfter(src, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case fence != "":
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			fence = t[:3]
		case strings.HasPrefix(t, "#"):
			lv := len(t) - len(strings.TrimLeft(t, "#"))
			if lv <= 6 && (len(t) == lv || t[lv] == ' ') {
				if inCaveat && lv <= level {
					inCaveat = false
				}
				name := strings.ToLower(t)
				if !inCaveat && (strings.Contains(name, "caveat") || strings.Contains(name, "limitation") || strings.Contains(name, "risk")) {
					inCaveat, level = true, lv
				}
			}
		}
		if inCaveat {
			c.WriteString(line)
		} else {
			u.WriteString(line)
		}
	}
	return u.String(), c.String()
}

// lowerIsBetter are the metrics where smaller is better.
var lowerIsBetter = map[string]bool{"rmse": true, "mae": true, "log_loss": true, "brier": true}

func metricsTable(m bundle.Metrics) Table {
	t := Table{ID: "metrics", Caption: "Metrics on each part of the split (the test set was not used in training or early stopping)",
		Head: []string{"Metric", "Test", "Validation", "Train"}}
	names := map[string]bool{}
	for _, s := range []map[string]float64{m.Test, m.Validation, m.Train} {
		for k := range s {
			names[k] = true
		}
	}
	for _, k := range sortedKeys(names) {
		t.Rows = append(t.Rows, []Cell{{Text: k}, metricCell(m.Test, k), metricCell(m.Validation, k), metricCell(m.Train, k)})
	}
	return t
}

func metricCell(m map[string]float64, k string) Cell {
	if v, ok := m[k]; ok {
		return numCell(v)
	}
	return Cell{Text: "not measured", Class: "muted"}
}

func intCell(n int64) Cell {
	return Cell{Text: strconv.FormatInt(n, 10), Class: "num", Sort: strconv.FormatInt(n, 10)}
}

// confusionTable is the test set's confusion matrix: a row per actual class.
func confusionTable(b *bundle.Bundle) Table {
	cm := b.Metrics.ConfusionMatrix
	if len(cm) == 0 {
		return Table{}
	}
	classes := b.Encoding.Target.Classes
	name := func(i int) string {
		if i < len(classes) {
			return classes[i]
		}
		return "class " + strconv.Itoa(i)
	}
	t := Table{ID: "confusion", Caption: "Confusion matrix on the test set: rows are the actual class, columns the predicted class",
		Head: []string{"Actual \\ predicted"}}
	for i := range cm {
		t.Head = append(t.Head, name(i))
	}
	for i, row := range cm {
		r := []Cell{{Text: name(i)}}
		for _, n := range row {
			r = append(r, intCell(n))
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

// minSliceRows is the slice size below which a slice's metrics are noise.
const minSliceRows = 30

func sliceTables(b *bundle.Bundle) []Table {
	var out []Table
	for i, a := range b.Slices.Attributes {
		names := map[string]bool{}
		for _, s := range a.Slices {
			for k := range s.Metrics {
				names[k] = true
			}
		}
		metrics := sortedKeys(names)
		t := Table{ID: "slices-" + strconv.Itoa(i), Caption: fmt.Sprintf("Test-set metrics per %s (%s)", a.Name, a.Kind),
			Head: append([]string{a.Name, "Rows"}, metrics...)}
		for _, s := range a.Slices {
			rows := intCell(s.Rows)
			if s.Rows < minSliceRows {
				rows.Class += " warn"
			}
			r := []Cell{{Text: s.Value}, rows}
			for _, k := range metrics {
				if v, ok := s.Metrics[k]; ok {
					r = append(r, numCell(v))
				} else {
					r = append(r, Cell{Text: "undefined", Class: "muted"})
				}
			}
			t.Rows = append(t.Rows, r)
		}
		out = append(out, t)
	}
	return out
}

// gaps are the fairness gaps a bundle reports, by their policy names.
var gaps = []struct{ key, text string }{
	{"demographicParityDifference", "Demographic parity difference"},
	{"equalOpportunityDifference", "Equal opportunity difference"},
	{"disparateImpactRatio", "Disparate impact ratio"},
}

func gapValue(a bundle.Attribute, key string) *float64 {
	switch key {
	case "demographicParityDifference":
		return a.DemographicParityDifference
	case "equalOpportunityDifference":
		return a.EqualOpportunityDifference
	}
	return a.DisparateImpactRatio
}

// fairnessTable sets each gap beside its limit in the policy in force (the
// check named "fairness <attribute> <gap>"), or says no limit is set.
func fairnessTable(b *bundle.Bundle, sets []CheckSet) Table {
	t := Table{ID: "fairness", Caption: "Fairness gaps between slices, against the policy's limits",
		Head: []string{"Attribute", "Gap", "Value", "Limit", "Verdict"}}
	checks := primaryChecks(sets)
	for _, a := range b.Slices.Attributes {
		for _, g := range gaps {
			v := gapValue(a, g.key)
			val := Cell{Text: "undefined", Class: "muted"}
			if v != nil {
				val = numCell(*v)
			}
			limit, verdict := Cell{Text: "no limit set", Class: "muted"}, Cell{}
			if c, ok := checks["fairness "+a.Name+" "+g.key]; ok {
				if c.Threshold != nil {
					limit = numCell(*c.Threshold)
				}
				verdict = Cell{Text: c.Verdict, Class: verdictClass(c.Verdict)}
			}
			t.Rows = append(t.Rows, []Cell{{Text: a.Name}, {Text: g.text}, val, limit, verdict})
		}
	}
	return t
}

// primaryChecks are the checks of the policy in force (else the first set
// that could be read), by name.
func primaryChecks(sets []CheckSet) map[string]policy.Check {
	for _, s := range sets {
		if s.Problem != "" {
			continue
		}
		return s.byName
	}
	return nil
}

// checkSets reads each policy's results on the version, the policy in
// force first.
func checkSets(m *Model, v *Version) []CheckSet {
	var out []CheckSet
	for _, h := range sortedKeys(v.Checks) {
		rec := v.Checks[h]
		if rec == nil {
			continue
		}
		s := CheckSet{PolicyHash: h, Current: h == m.PolicyHash, Verdict: string(rec.Verdict), Principal: rec.Principal, At: formatTime(rec.At)}
		var res policy.Result
		if err := json.Unmarshal(rec.Checks, &res); err != nil {
			s.Problem = fmt.Sprintf("the check results could not be read: %v", err)
		} else {
			s.Table = Table{ID: "checks-" + short(h), Caption: "Every check of policy " + short(h),
				Head: []string{"Check", "Value", "Threshold", "Verdict", "Why"}}
			s.byName = map[string]policy.Check{}
			for _, c := range res.Checks {
				s.byName[c.Name] = c
				s.Table.Rows = append(s.Table.Rows, []Cell{{Text: c.Name}, ptrCell(c.Value), ptrCell(c.Threshold),
					{Text: c.Verdict, Class: verdictClass(c.Verdict)}, {Text: c.Why}})
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Current && !out[j].Current })
	return out
}

func ptrCell(v *float64) Cell {
	if v == nil {
		return Cell{}
	}
	return numCell(*v)
}

func verdictClass(v string) string {
	switch strings.ToLower(v) {
	case "pass":
		return "pass"
	case "fail":
		return "fail"
	}
	return "muted"
}

// cardCharts are the card's charts, each with its numbers as a table.
func cardCharts(b *bundle.Bundle, sets []CheckSet) []Chart {
	var out []Chart
	if cal := b.Metrics.Calibration; len(cal) > 0 {
		pts := make([]Point, len(cal))
		t := Table{Caption: "Reliability diagram: each bin of predicted probability", Head: []string{"Bin", "Rows", "Mean predicted", "Fraction positive"}}
		for i, c := range cal {
			pts[i] = Point{c.MeanPredicted, c.FractionPositive}
			t.Rows = append(t.Rows, []Cell{{Text: fmt.Sprintf("[%s, %s)", num(c.Lower), num(c.Upper))}, intCell(c.Count),
				numCell(c.MeanPredicted), numCell(c.FractionPositive)})
		}
		c := xyChart(ChartSpec{ID: "calibration", Title: "Calibration", Diagonal: true,
			Note: "Mean predicted probability against the fraction of positives in each bin of the test set; a calibrated model lies on the diagonal.",
			X:    "mean predicted", Y: "fraction positive"}, XYSeries{Name: "model", Points: pts})
		t.ID = c.Table.ID
		c.Table = t
		out = append(out, c)
	}
	if imp := b.Importance.Features; len(imp) > 0 {
		// Largest first, whatever order the file holds: the chart reads top down.
		imp = append([]bundle.Importance1(nil), imp...)
		sort.SliceStable(imp, func(i, j int) bool { return imp[i].Gain > imp[j].Gain })
		var names []string
		var gain []float64
		for _, f := range imp {
			names, gain = append(names, f.Name), append(gain, f.Gain)
		}
		kind := b.Importance.Type
		if kind == "" {
			kind = "gain"
		}
		kind = strings.ReplaceAll(kind, "_", " ")
		out = append(out, barChart(ChartSpec{ID: "importance", Title: "Feature importance", Horizontal: true, X: "feature", Y: kind,
			Note: "XGBoost's " + kind + " per input feature (one-hot columns summed): what the trees split on, not a causal effect."},
			names, Series{Name: kind, Values: gain}))
	}
	if len(b.Slices.Attributes) > 0 {
		h := b.Metrics.Headline.Name
		var cats []string
		var vals []float64
		for _, a := range b.Slices.Attributes {
			for _, s := range a.Slices {
				cats = append(cats, a.Name+" "+s.Value)
				v, ok := s.Metrics[h]
				if !ok {
					v = math.NaN()
				}
				vals = append(vals, v)
			}
		}
		spec := ChartSpec{ID: "slices-headline", Title: "Headline metric per slice", X: "slice", Y: h,
			Note: "The test set's " + h + " on each slice; a gap is a slice where it is undefined (one class only)."}
		if c, ok := primaryChecks(sets)["min "+h]; ok && c.Threshold != nil {
			spec.Threshold = &Threshold{Name: "policy minimum", Value: *c.Threshold}
		}
		out = append(out, barChart(spec, cats, Series{Name: h, Values: vals}))
	}
	for i, o := range b.Baseline.Outputs {
		var cats []string
		var vals []float64
		for k, n := range o.Counts {
			if k+1 < len(o.Edges) {
				cats = append(cats, fmt.Sprintf("[%s, %s)", num(o.Edges[k]), num(o.Edges[k+1])))
			} else {
				cats = append(cats, "bin "+strconv.Itoa(k))
			}
			vals = append(vals, float64(n))
		}
		out = append(out, barChart(ChartSpec{ID: "outputs-" + strconv.Itoa(i), Title: "Test-set distribution of " + o.Name, X: o.Name, Y: "rows",
			Note: fmt.Sprintf("%d test rows, mean %s: the reference the drift monitor compares live predictions with.", o.Count, num(o.Mean))},
			cats, Series{Name: "rows", Values: vals}))
	}
	return out
}

// overfitGap is the train/test difference of the headline metric beyond
// which the card warns of overfitting.
const overfitGap = 0.05

// caveats are what the platform itself can say to be careful about.
func caveats(v *Version) []string {
	var out []string
	if v.Bundle == nil {
		why := v.BundleError
		if why == "" {
			why = "not read"
		}
		return append(out, "The bundle could not be read ("+why+"): this card shows the registry's record only, without evaluation.")
	}
	m := v.Bundle.Metrics
	h := m.Headline.Name
	if tr, ok := m.Train[h]; ok {
		te, ok := m.Test[h]
		if ok {
			gap := tr - te
			if lowerIsBetter[h] {
				gap = te - tr
			}
			if gap > overfitGap {
				out = append(out, fmt.Sprintf("The %s is %s better on the training set (%s) than on the test set (%s): the model may be overfitted; trust the test figure.",
					h, num(gap), num(tr), num(te)))
			}
		}
	}
	if hl := m.Headline; hl.Upper-hl.Lower > 0.1 {
		out = append(out, fmt.Sprintf("The %s's confidence interval is wide (%s to %s): the test set is small.", h, num(hl.Lower), num(hl.Upper)))
	}
	for _, a := range v.Bundle.Slices.Attributes {
		for _, s := range a.Slices {
			if s.Rows < minSliceRows {
				out = append(out, fmt.Sprintf("Slice %s = %s has %d test rows (under %d): its metrics are noise.", a.Name, s.Value, s.Rows, minSliceRows))
			}
			if _, ok := s.Metrics[h]; !ok {
				out = append(out, fmt.Sprintf("Slice %s = %s: the %s is undefined (the slice holds one class only).", a.Name, s.Value, h))
			}
		}
	}
	if len(v.Checks) == 0 {
		out = append(out, "No policy has checked this version.")
	}
	return out
}

// decision is the version's approval or rejection, and every audit record
// about it (and the promotions that archived it).
func decision(m *Model, v *Version) ([]Fact, Table) {
	n := v.Version.Version
	var facts []Fact
	if e := v.Decision; e != nil {
		facts = []Fact{
			{Label: "Decision", Text: string(e.Kind), Class: stateClass(string(e.Kind))},
			{Label: "By", Text: e.Principal},
			{Label: "At", Text: formatTime(e.Time)},
			{Label: "Reason", Text: e.Reason},
			{Label: "Record", Text: e.Key, Hash: true},
			{Label: "Record SHA-256", Text: e.SHA256, Hash: true},
		}
		bound := Fact{Label: "Bundle it binds", Text: e.Hashes.BundleSHA256, Hash: true}
		switch {
		case e.Hashes.BundleSHA256 == "":
			bound = Fact{Label: "Bundle it binds", Text: "not named in the record", Class: "muted"}
		case e.Hashes.BundleSHA256 != v.BundleSHA256:
			bound.Class = "bad"
			facts = append(facts, Fact{Label: "Warning", Text: "the decision names another bundle than this version's", Class: "bad"})
		}
		facts = append(facts, bound)
		for _, h := range []struct{ label, value string }{
			{"Policy it was decided under", e.Hashes.PolicyHash}, {"Check results", e.Hashes.ChecksSHA256},
			{"Spec", e.Hashes.SpecHash}, {"Dataset version", e.Hashes.DatasetVersion}, {"Contract", e.Hashes.ContractHash},
		} {
			if h.value != "" {
				facts = append(facts, Fact{Label: h.label, Text: h.value, Hash: true})
			}
		}
		switch {
		case m.Verify == nil:
			facts = append(facts, Fact{Label: "Audit trail", Text: "not verified: the record's chain could not be checked", Class: "bad"})
		case m.Verify.OK:
			anchor := "unanchored"
			if m.Verify.Anchored {
				anchor = "anchored: " + m.Verify.Anchor
			}
			facts = append(facts, Fact{Label: "Audit trail", Text: fmt.Sprintf("verified (%d records, %s)", m.Verify.Records, anchor), Class: "ok"})
		default:
			facts = append(facts, Fact{Label: "Audit trail", Text: "NOT verified: see the audit log", Class: "bad", Href: rel(CardPath(m.Name, n), AuditPath(m.Name))})
		}
		if e.Approver != "" {
			facts = append(facts, Fact{Label: "Approver", Text: e.Approver})
		}
		if e.Override {
			facts = append(facts, Fact{Label: "Override", Text: "yes: approved with no passing check under the policy in force", Class: "warn"})
		}
	}
	t := Table{ID: "history-table", Caption: "Every audit record about this version, oldest first",
		Head: []string{"Seq", "Time", "Event", "Principal", "Reason", "Record SHA-256"}}
	for _, e := range m.Trail {
		kind := string(e.Kind)
		switch {
		case e.Version == n:
		case e.Previous == n && (e.Kind == registry.KindPromoted || e.Kind == registry.KindRolledBack):
			kind = fmt.Sprintf("archived (v%d %s)", e.Version, strings.ReplaceAll(string(e.Kind), "_", " "))
		default:
			continue
		}
		t.Rows = append(t.Rows, []Cell{intCell(int64(e.Seq)), {Text: formatTime(e.Time)},
			{Text: strings.ReplaceAll(kind, "_", " "), Class: stateClass(string(e.Kind))}, {Text: e.Principal}, {Text: e.Reason},
			{Text: short(e.SHA256), Class: "hash"}})
	}
	return facts, t
}

// shadow says whether the version waited for approval while another was
// champion: the platform then scores it beside the champion on live traffic.
func shadow(m *Model, v *Version) string {
	n := v.Version.Version
	champ := 0
	for _, e := range m.Trail {
		switch e.Kind {
		case registry.KindPromoted, registry.KindRolledBack:
			champ = e.Version
		case registry.KindRetired:
			if e.WasChampion {
				champ = 0
			}
		case registry.KindPending, registry.KindApproved:
			if e.Version == n && champ != 0 && champ != n {
				return fmt.Sprintf("While it waited for a decision, v%d was champion: this version was scored in the champion's shadow while pending; per-request results are in the prediction log.", champ)
			}
		}
	}
	return ""
}

package reportgen

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/profile"
)

func init() {
	datasetPages = append(datasetPages, datasheetJobs)
}

// DatasheetData is what datasheet.html sees.
type DatasheetData struct {
	Dataset, Version string
	Problem          string // what could not be read
	Description      string // the contract's
	Facts            []Fact
	DatasetRules     []Fact
	Overview         Table
	Columns          []ColumnSheet
	// Markdown is the dataset's current datasheet.md (HasDatasheet false: none written).
	Markdown      template.HTML
	HasDatasheet  bool
	DatasheetHash string
	Models        Table
}

// ColumnSheet is one column's part of a datasheet. For a column marked PII
// it holds counts only: no value, category, range, quantile or histogram.
type ColumnSheet struct {
	ID, Name, Type string
	PII            bool
	Description    string
	Stats          []Fact
	Rules          []Fact
	Chart          *Chart
}

// datasheetJobs renders a datasheet per dataset version.
func datasheetJobs(site *Site, d *Dataset) []job {
	var jobs []job
	for _, v := range d.Versions {
		// A version id is a path segment: one that is not an id (".", "..")
		// would name another page.
		if v.Manifest == nil || !ingest.ValidVersionID(v.Manifest.VersionID) {
			continue
		}
		p := DatasheetPath(d.Name, v.Manifest.VersionID)
		jobs = append(jobs, job{p, func(r *renderer) ([]byte, error) {
			data := datasheet(site, d, v, p)
			charts := false
			for _, c := range data.Columns {
				charts = charts || c.Chart != nil
			}
			crumbs := []crumb{{Text: d.Name, Href: DatasetPath(d.Name)}, {Text: v.Manifest.VersionID}}
			return r.render(p, "datasheet", "Datasheet: "+d.Name+" "+v.Manifest.VersionID, crumbs,
				formatTime(v.Manifest.CreatedAt), charts, data)
		}})
	}
	return jobs
}

func datasheet(site *Site, d *Dataset, v *DatasetVersion, p string) DatasheetData {
	m := v.Manifest
	data := DatasheetData{Dataset: d.Name, Version: m.VersionID, Problem: v.Problem, DatasheetHash: d.DatasheetHash}
	data.Facts = []Fact{
		{Label: "Dataset", Text: d.Name, Href: rel(p, DatasetPath(d.Name))},
		{Label: "Version", Text: m.VersionID},
		{Label: "Created", Text: formatTime(m.CreatedAt)},
		{Label: "Rows", Text: strconv.FormatInt(m.Rows, 10)},
		{Label: "Bytes", Text: bytesText(m.Bytes)},
		{Label: "Partitions", Text: strconv.Itoa(len(m.Partitions))},
		{Label: "Mode", Text: m.Mode},
		{Label: "Contract hash", Text: m.ContractHash, Hash: true},
		{Label: "Profile SHA-256", Text: m.ProfileSHA256, Hash: true},
	}
	c := v.Contract
	if c != nil {
		data.Description = c.Description
		data.DatasetRules = datasetRules(c)
	}
	var cols []profile.Column
	if v.Profile != nil {
		cols = v.Profile.Columns
	} else {
		if data.Problem == "" {
			data.Problem = "the profile was not read: the columns show the contract's rules only"
		}
		if c != nil {
			for _, cc := range c.Columns {
				cols = append(cols, profile.Column{Name: cc.Name, Type: cc.Type, PII: cc.PII})
			}
		}
	}
	data.Overview = Table{ID: "columns-table", Sortable: true, Caption: "Every column: missing, invalid and distinct values",
		Head: []string{"Column", "Type", "Personal data", "Missing", "Missing %", "Invalid", "Distinct"}}
	for i, col := range cols {
		var rule *contract.Column
		if c != nil {
			rule = c.Column(col.Name)
		}
		// Either side may mark it: a column is personal data if the contract
		// or the profile says so.
		pii := col.PII || (rule != nil && rule.PII)
		cs := columnSheet(i, col, rule, pii, v.Profile != nil)
		data.Columns = append(data.Columns, cs)
		piiCell := Cell{Text: "no"}
		if pii {
			piiCell = Cell{Text: "yes: values not shown", Class: "warn"}
		}
		row := []Cell{{Text: col.Name, Href: "#" + cs.ID}, {Text: string(col.Type)}, piiCell}
		if v.Profile != nil {
			row = append(row, intCell(col.Nulls), pctCell(col.Nulls, col.Count), intCell(col.Invalid),
				Cell{Text: fmt.Sprintf("≈%.0f", col.Distinct), Class: "num", Sort: fmt.Sprint(col.Distinct)})
		} else {
			row = append(row, Cell{}, Cell{}, Cell{}, Cell{})
		}
		data.Overview.Rows = append(data.Overview.Rows, row)
	}
	if d.Datasheet != nil && strings.TrimSpace(d.Datasheet.Markdown) != "" {
		data.HasDatasheet = true
		data.Markdown = d.datasheetHTML()
	}
	data.Models = Table{ID: "models-table", Caption: "Model versions trained on this dataset version", Head: []string{"Model", "Version", "State"}}
	for _, t := range site.index.trained[m.VersionID] {
		mod, mv := t.model, t.version
		n := mv.Version.Version
		data.Models.Rows = append(data.Models.Rows, []Cell{{Text: mod.Name, Href: rel(p, ModelPath(mod.Name))},
			{Text: "v" + strconv.Itoa(n), Href: rel(p, CardPath(mod.Name, n))},
			{Text: strings.ReplaceAll(string(mv.State), "_", " "), Class: stateClass(string(mv.State))}})
	}
	return data
}

func datasetRules(c *contract.Contract) []Fact {
	list := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	f := []Fact{
		{Label: "Target", Text: c.Target},
		{Label: "Features", Text: list(c.Features)},
		{Label: "Sensitive (fairness slices)", Text: list(c.Sensitive)},
		{Label: "Unique key", Text: list(c.UniqueKey)},
	}
	if c.Target == "" {
		f[0] = Fact{Label: "Target", Text: "none: unlabelled", Class: "muted"}
	}
	switch {
	case c.Rows.Min > 0 && c.Rows.Max > 0:
		f = append(f, Fact{Label: "Rows per upload", Text: fmt.Sprintf("%d to %d", c.Rows.Min, c.Rows.Max)})
	case c.Rows.Min > 0:
		f = append(f, Fact{Label: "Rows per upload", Text: fmt.Sprintf("at least %d", c.Rows.Min)})
	case c.Rows.Max > 0:
		f = append(f, Fact{Label: "Rows per upload", Text: fmt.Sprintf("at most %d", c.Rows.Max)})
	}
	return f
}

// columnSheet describes one column. A PII column gets counts only.
func columnSheet(i int, col profile.Column, rule *contract.Column, pii, profiled bool) ColumnSheet {
	cs := ColumnSheet{ID: "col-" + strconv.Itoa(i), Name: col.Name, Type: string(col.Type), PII: pii}
	if rule != nil {
		cs.Description = rule.Description
		cs.Rules = columnRules(rule, pii)
	}
	if !profiled {
		return cs
	}
	cs.Stats = []Fact{
		{Label: "Rows", Text: strconv.FormatInt(col.Count, 10)},
		{Label: "Missing", Text: fmt.Sprintf("%d (%s)", col.Nulls, pctText(col.Nulls, col.Count))},
		{Label: "Invalid", Text: strconv.FormatInt(col.Invalid, 10)},
		{Label: "Distinct", Text: fmt.Sprintf("about %.0f", col.Distinct)},
	}
	if pii {
		return cs
	}
	val := func(f float64) string { return valueText(col.Type, f) }
	for _, s := range []struct {
		label string
		v     *float64
	}{{"Minimum", col.Min}, {"Maximum", col.Max}, {"Mean", col.Mean}} {
		if s.v != nil {
			cs.Stats = append(cs.Stats, Fact{Label: s.label, Text: val(*s.v)})
		}
	}
	if col.Std != nil {
		cs.Stats = append(cs.Stats, Fact{Label: "Standard deviation", Text: plainNum(*col.Std)})
	}
	if len(col.Quantiles) > 0 {
		keys := sortedKeys(col.Quantiles)
		sort.SliceStable(keys, func(a, b int) bool { return quantileKey(keys[a]) < quantileKey(keys[b]) })
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+val(col.Quantiles[k]))
		}
		cs.Stats = append(cs.Stats, Fact{Label: "Quantiles", Text: strings.Join(parts, " · ")})
	}
	if col.MinLength != nil && col.MaxLength != nil {
		cs.Stats = append(cs.Stats, Fact{Label: "Length", Text: fmt.Sprintf("%d to %d characters", *col.MinLength, *col.MaxLength)})
	}
	switch {
	case col.Histogram != nil && len(col.Histogram.Counts) > 0:
		ch := histogramChart(cs.ID, col)
		cs.Chart = &ch
	case len(col.Top) > 0:
		ch := topChart(cs.ID, col)
		cs.Chart = &ch
	}
	return cs
}

func quantileKey(k string) float64 {
	f, err := strconv.ParseFloat(k, 64)
	if err != nil {
		return math.Inf(1)
	}
	return f
}

// columnRules are the contract's rules for the column. A PII column's
// allowed values are counted, not listed: they would be its values.
func columnRules(r *contract.Column, pii bool) []Fact {
	var f []Fact
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	f = append(f, Fact{Label: "Required", Text: yes(r.Required)})
	if r.MaxNullRate != nil {
		f = append(f, Fact{Label: "Largest missing share", Text: pct(*r.MaxNullRate)})
	}
	if r.Min != nil {
		f = append(f, Fact{Label: "Minimum allowed", Text: valueText(r.Type, *r.Min)})
	}
	if r.Max != nil {
		f = append(f, Fact{Label: "Maximum allowed", Text: valueText(r.Type, *r.Max)})
	}
	if len(r.Allowed) > 0 {
		if pii {
			f = append(f, Fact{Label: "Allowed values", Text: fmt.Sprintf("%d values, not shown: personal data", len(r.Allowed))})
		} else {
			f = append(f, Fact{Label: "Allowed values", Text: strings.Join(r.Allowed, ", ")})
		}
	}
	if r.Pattern != "" {
		f = append(f, Fact{Label: "Pattern", Text: r.Pattern, Hash: true})
	}
	if r.Format != "" {
		f = append(f, Fact{Label: "Timestamp layout", Text: r.Format, Hash: true})
	}
	f = append(f, Fact{Label: "Personal data (pii)", Text: yes(r.PII)})
	return f
}

// histogramChart draws a numeric column's histogram: bin i holds values in
// (edge i-1, edge i], the first and last reaching to the minimum and maximum.
func histogramChart(id string, col profile.Column) Chart {
	h := col.Histogram
	lo, hi := "−∞", "+∞"
	if col.Min != nil {
		lo = valueText(col.Type, *col.Min)
	}
	if col.Max != nil {
		hi = valueText(col.Type, *col.Max)
	}
	edge := func(i int) string {
		switch {
		case i < 0:
			return lo
		case i >= len(h.Edges):
			return hi
		}
		return valueText(col.Type, h.Edges[i])
	}
	cats := make([]string, len(h.Counts))
	vals := make([]float64, len(h.Counts))
	for i, n := range h.Counts {
		open := "("
		if i == 0 {
			open = "["
		}
		cats[i] = open + edge(i-1) + ", " + edge(i) + "]"
		vals[i] = float64(n)
	}
	note := "Rows per bin; the bins' edges are the baseline's quantiles, so bins hold similar counts unless the data is lumpy."
	if h.Estimated {
		note += " Counts are estimated from the quantile sketch."
	}
	return barChart(ChartSpec{ID: id + "-chart", Title: "Distribution of " + col.Name, X: col.Name, Y: "rows", Note: note},
		cats, Series{Name: "rows", Values: vals})
}

// topChart draws a categorical column's most frequent values.
func topChart(id string, col profile.Column) Chart {
	cats := make([]string, len(col.Top))
	vals := make([]float64, len(col.Top))
	for i, t := range col.Top {
		cats[i], vals[i] = t.Value, float64(t.Count)
	}
	note := "The most frequent values and their rows."
	if col.TopExact != nil && !*col.TopExact {
		note += " Counts are approximate (a frequent-items sketch)."
	}
	return barChart(ChartSpec{ID: id + "-chart", Title: "Most frequent values of " + col.Name, X: col.Name, Y: "rows",
		Horizontal: true, Note: note}, cats, Series{Name: "rows", Values: vals})
}

// valueText writes a column's value: timestamps (Unix seconds) as UTC times.
func valueText(t contract.Type, f float64) string {
	if t == contract.Timestamp && finite(f) {
		sec, frac := math.Modf(f)
		return formatTime(time.Unix(int64(sec), int64(frac*1e9)))
	}
	return plainNum(f)
}

// plainNum writes a data value with 4 significant digits but never in
// exponent form (an income of 18000 reads "18000", not "1.8e+04").
func plainNum(f float64) string {
	if !finite(f) || f == 0 || math.Abs(f) >= 1e15 || math.Abs(f) < 1e-6 {
		return num(f)
	}
	d := int(math.Floor(math.Log10(math.Abs(f)))) + 1
	s := strconv.FormatFloat(f, 'f', max(0, 4-d), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func pctText(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return pct(float64(n) / float64(of))
}

func pctCell(n, of int64) Cell {
	s := "0"
	if of > 0 {
		s = fmt.Sprint(float64(n) / float64(of))
	}
	return Cell{Text: pctText(n, of), Class: "num", Sort: s}
}

// bytesText writes a size in bytes with a binary unit.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

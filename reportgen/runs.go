package reportgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/training"
)

func init() {
	modelPages = append(modelPages, runsJobs)
}

// CompareRun is one run in the runs page's comparison data block: what
// site.js sets side by side when two runs are picked, as (name, value)
// pairs in display order.
type CompareRun struct {
	ID     string      `json:"id"`
	Fields [][2]string `json:"fields"`
}

type runsData struct {
	Runs    Table
	Compare []CompareRun
	Chart   *Chart
	Failed  int
}

// runsJobs renders a model's runs page.
func runsJobs(site *Site, m *Model) []job {
	p := RunsPath(m.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		d := runsPage(m)
		return r.render(p, "runs", "Training runs of "+m.Name,
			[]crumb{{Text: m.Name, Href: ModelPath(m.Name)}, {Text: "Runs"}}, formatTime(m.AsOf()), d.Chart != nil, d)
	}}}
}

// runsPage is what the runs page shows of m: the runs' table (newest
// first), the comparison data and the headline chart.
func runsPage(m *Model) runsData {
	p := RunsPath(m.Name)
	byRun := map[string]*Version{}
	for _, v := range m.Versions {
		byRun[v.RunID] = v
	}
	d := runsData{Runs: Table{ID: "runs", Sortable: true, Caption: "Every training run, newest first (click a heading to sort)",
		Head: []string{"Run", "State", "Cause", "Dataset version", "Spec", "Trainer", "Parameters", "Headline metric", "Rows", "Duration", "Created", "Version"}}}
	for _, run := range m.Runs {
		v := byRun[run.RunID]
		params := runParams(run, v)
		dur, durSort := runDuration(run, v)
		state := Cell{Text: run.State, Class: runStateClass(run.State)}
		if run.State == training.StateFailed {
			d.Failed++
			if run.Reason != "" {
				state.Text += ": " + run.Reason
			}
		}
		headline, headSort := "", ""
		if b := run.Bundle; b != nil {
			headline = fmt.Sprintf("%s %s [%s, %s]", b.Headline, num(b.HeadlineValue), num(b.HeadlineLower), num(b.HeadlineUpper))
			headSort = strconv.FormatFloat(b.HeadlineValue, 'g', -1, 64)
		}
		dsv := Cell{Text: run.DatasetVersion, Class: "hash"}
		if run.Dataset != "" && run.DatasetVersion != "" {
			dsv.Href = rel(p, DatasheetPath(run.Dataset, run.DatasetVersion))
		}
		version := Cell{Text: "", Class: "muted", Sort: "0"}
		if v != nil {
			n := v.Version.Version
			version = Cell{Text: "v" + strconv.Itoa(n), Href: rel(p, CardPath(m.Name, n)), Sort: strconv.Itoa(n)}
		}
		d.Runs.Rows = append(d.Runs.Rows, []Cell{
			{Text: run.RunID, Class: "hash"}, state, {Text: causeText(run.Cause)}, dsv,
			{Text: short(run.SpecHash), Class: "hash"}, {Text: short(strings.TrimPrefix(run.Trainer, "sha256:")), Class: "hash"},
			{Text: params}, {Text: headline, Class: "num", Sort: headSort},
			{Text: strconv.FormatInt(run.Rows, 10), Class: "num"}, {Text: dur, Class: "num", Sort: durSort},
			{Text: formatTime(run.CreatedAt), Sort: run.CreatedAt.UTC().Format(time.RFC3339Nano)}, version})
		d.Compare = append(d.Compare, compareFields(run, v, params, dur))
	}
	if c, ok := headlineChart(m); ok {
		d.Chart = &c
	}
	return d
}

// headlineChart is the headline metric of every run that has a bundle,
// oldest first, with its interval as a band.
func headlineChart(m *Model) (Chart, bool) {
	var x []string
	var val, lo, hi []float64
	name := ""
	for i := len(m.Runs) - 1; i >= 0; i-- {
		run := m.Runs[i]
		if run.Bundle == nil {
			continue
		}
		if name == "" {
			name = run.Bundle.Headline
		}
		if run.Bundle.Headline != name {
			continue // a run measured by another metric cannot share the axis
		}
		x = append(x, formatTime(run.CreatedAt))
		val, lo, hi = append(val, run.Bundle.HeadlineValue), append(lo, run.Bundle.HeadlineLower), append(hi, run.Bundle.HeadlineUpper)
	}
	if len(x) == 0 {
		return Chart{}, false
	}
	c := histBandChart("runs-headline", "Headline metric ("+name+") over runs",
		"Each run's test-set "+name+", oldest first, with its 95% bootstrap interval as the shaded band; failed runs have no point.",
		name, x, val, lo, hi)
	c.Table.ID, c.Table.Caption = "runs-headline-table", "The headline metric of each run with a bundle, oldest first"
	return c, true
}

// runParams are the run's parameters: the bundle's lineage when the run
// became a version (what xgboost was given), else the job's parameters.
func runParams(run *training.Run, v *Version) string {
	if v != nil && v.Bundle != nil {
		l := v.Bundle.Lineage
		var parts []string
		for _, k := range sortedKeys(l.Params) {
			parts = append(parts, k+"="+paramText(l.Params[k]))
		}
		if l.NumBoostRound > 0 {
			parts = append(parts, "num_boost_round="+strconv.Itoa(l.NumBoostRound))
		}
		parts = append(parts, "seed="+strconv.FormatInt(l.Seed, 10))
		return strings.Join(parts, ", ")
	}
	var parts []string
	for _, k := range sortedKeys(run.Job.Parameters) {
		parts = append(parts, k+"="+run.Job.Parameters[k])
	}
	return strings.Join(parts, ", ")
}

// paramText is a parameter's value as JSON (a string as itself), so that a
// nested value reads as it was given rather than as Go's syntax.
func paramText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// runDuration is the run's wall time, created to finished, and its sort
// key in seconds; an unfinished run has none, and a finished run without
// times falls back on its lineage's stage durations.
func runDuration(run *training.Run, v *Version) (string, string) {
	var d time.Duration
	switch {
	case !run.FinishedAt.IsZero() && !run.CreatedAt.IsZero():
		d = run.FinishedAt.Sub(run.CreatedAt)
	case v != nil && v.Bundle != nil && len(v.Bundle.Lineage.Durations) > 0:
		var s float64
		for _, x := range v.Bundle.Lineage.Durations {
			s += x
		}
		d = time.Duration(s * float64(time.Second))
	default:
		return "", ""
	}
	return d.Round(time.Second).String(), strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func runStateClass(s string) string {
	switch s {
	case training.StateSucceeded:
		return "ok"
	case training.StateFailed:
		return "bad"
	}
	return "pending"
}

// causeText says what started a run, with who and why where known.
func causeText(c training.Cause) string {
	s := c.Kind
	if c.Principal != "" {
		s += " by " + c.Principal
	}
	if c.Reason != "" {
		s += ": " + c.Reason
	}
	if c.RetryOf != "" {
		s += " (retry of " + c.RetryOf + ")"
	}
	return s
}

// compareFields are the run's fields for the side-by-side comparison.
func compareFields(run *training.Run, v *Version, params, dur string) CompareRun {
	f := [][2]string{
		{"State", run.State}, {"Cause", causeText(run.Cause)},
		{"Dataset", run.Dataset}, {"Dataset version", run.DatasetVersion}, {"Contract", run.ContractHash},
		{"Spec", run.SpecHash}, {"Trainer", run.Trainer}, {"Parameters", params},
		{"Rows", strconv.FormatInt(run.Rows, 10)}, {"Duration", dur},
		{"Created", formatTime(run.CreatedAt)}, {"Finished", formatTime(run.FinishedAt)},
	}
	if run.Reason != "" {
		f = append(f[:1], append([][2]string{{"Reason", run.Reason}}, f[1:]...)...)
	}
	if b := run.Bundle; b != nil {
		f = append(f, [2]string{"Headline", fmt.Sprintf("%s %s [%s, %s]", b.Headline, num(b.HeadlineValue), num(b.HeadlineLower), num(b.HeadlineUpper))},
			[2]string{"Bundle", b.SHA256})
	}
	if v != nil {
		f = append(f, [2]string{"Version", "v" + strconv.Itoa(v.Version.Version)}, [2]string{"Version state", string(v.State)})
		if v.Bundle != nil {
			mt := v.Bundle.Metrics
			for _, k := range sortedKeys(mt.Test) {
				f = append(f, [2]string{"test " + k, num(mt.Test[k])})
			}
			l := v.Bundle.Lineage
			for _, k := range sortedKeys(l.Durations) {
				f = append(f, [2]string{"seconds to " + k, num(l.Durations[k])})
			}
			for _, k := range sortedKeys(l.Libraries) {
				f = append(f, [2]string{k, l.Libraries[k]})
			}
			f = append(f, [2]string{"Device", l.Device}, [2]string{"Tree method", l.TreeMethod},
				[2]string{"Trees", strconv.Itoa(mt.NumTrees)})
		}
	}
	return CompareRun{ID: run.RunID, Fields: f}
}

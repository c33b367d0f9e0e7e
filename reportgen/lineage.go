package reportgen

import (
	"fmt"
	"strconv"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/openmlops/mlops/shared/registry"
)

func init() {
	modelPages = append(modelPages, lineageJobs)
}

// ChampionPeriod is a span of time one version was the model's champion:
// from the promotion or rollback that made it so to the record that ended
// it (To is zero while it lasts).
type ChampionPeriod struct {
	Version int
	From    time.Time
	To      time.Time
	// By is who made it champion, Kind how (promoted, rolled_back), Key
	// and Seq the decision record, Approval the approval it rests on.
	By       string
	Kind     registry.Kind
	Key      string
	Seq      int
	Approval string
	// EndedBy is the record that ended it (0: it lasts).
	EndedBy int
}

// ChampionPeriods reads the champion periods from an audit trail, oldest
// first: a promotion or rollback starts one (and ends the one before), the
// forced retirement of the champion ends it with no successor.
func ChampionPeriods(trail []registry.Entry) []ChampionPeriod {
	var out []ChampionPeriod
	end := func(e registry.Entry) {
		if n := len(out); n > 0 && out[n-1].EndedBy == 0 {
			out[n-1].To, out[n-1].EndedBy = e.Time, e.Seq
		}
	}
	for _, e := range trail {
		switch {
		case e.Kind == registry.KindPromoted || e.Kind == registry.KindRolledBack:
			end(e)
			out = append(out, ChampionPeriod{Version: e.Version, From: e.Time, By: e.Principal, Kind: e.Kind, Key: e.Key, Seq: e.Seq, Approval: e.Approval})
		case e.Kind == registry.KindRetired && e.WasChampion:
			end(e)
		}
	}
	return out
}

// lineageData is what the lineage page shows.
type lineageData struct {
	Graph   Chart
	Periods Table
	Empty   bool
}

func lineageJobs(site *Site, m *Model) []job {
	p := LineagePath(m.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		d := lineagePage(m)
		return r.render(p, "lineage", "Lineage of "+m.Name,
			[]crumb{{Text: m.Name, Href: ModelPath(m.Name)}, {Text: "Lineage"}}, formatTime(m.AsOf()), !d.Empty, d)
	}}}
}

// Lineage graph columns, left to right, and their node categories.
const (
	stageData = iota
	stageRun
	stageVersion
	stageChampion
)

var stageNames = []string{"dataset version", "training run", "model version", "champion period"}

// lineageNode is one node of the lineage graph.
type lineageNode struct {
	name  string
	stage int
	href  string // relative to the lineage page
}

// lineagePage lays out m's lineage as a graph and as tables.
func lineagePage(m *Model) lineageData {
	p := LineagePath(m.Name)
	var nodes []lineageNode
	index := map[string]int{}
	node := func(stage int, name, href string) string {
		if _, ok := index[name]; !ok {
			index[name] = len(nodes)
			nodes = append(nodes, lineageNode{name: name, stage: stage, href: href})
		}
		return name
	}
	var links [][2]string
	link := func(a, b string) { links = append(links, [2]string{a, b}) }
	dataNode := func(dataset, version string) string {
		if version == "" {
			return ""
		}
		href := ""
		if dataset != "" {
			href = rel(p, DatasheetPath(dataset, version))
		}
		return node(stageData, dataset+" @ "+version, href)
	}
	defaultDataset := ""
	if m.Spec != nil {
		defaultDataset = m.Spec.Dataset
	}

	// The table: one row per run, then per version no listed run made.
	table := Table{ID: "lineage-table", Caption: "Dataset version → run → model version → champion periods",
		Head: []string{"Dataset version", "Run", "Model version", "Champion periods"}}
	periods := ChampionPeriods(m.Trail)
	periodNames := map[int][]string{}
	periodCells := map[int][]string{}
	for _, cp := range periods {
		name := fmt.Sprintf("champion v%d (#%d, %s)", cp.Version, cp.Seq, formatDay(cp.From))
		periodNames[cp.Version] = append(periodNames[cp.Version], name)
		to := "now"
		if cp.EndedBy > 0 {
			to = formatDay(cp.To)
		}
		periodCells[cp.Version] = append(periodCells[cp.Version], formatDay(cp.From)+" to "+to)
	}
	byRun := map[string]*Version{}
	for _, v := range m.Versions {
		byRun[v.RunID] = v
	}
	seenVersion := map[int]bool{}
	versionNode := func(v *Version) string {
		n := v.Version.Version
		name := node(stageVersion, "v"+strconv.Itoa(n), rel(p, CardPath(m.Name, n)))
		if !seenVersion[n] {
			seenVersion[n] = true
			for _, pn := range periodNames[n] {
				link(name, node(stageChampion, pn, rel(p, AuditPath(m.Name))+"#"+AuditAnchor(periodSeq(periods, pn, n))))
			}
		}
		return name
	}
	row := func(dataset, dv string, runID string, v *Version) {
		cells := []Cell{{Text: dv, Class: "hash"}, {Text: runID, Class: "hash"}, {}, {}}
		if dv != "" && dataset != "" {
			cells[0].Href = rel(p, DatasheetPath(dataset, dv))
		}
		if runID != "" {
			cells[1].Href = rel(p, RunsPath(m.Name))
		}
		if v != nil {
			n := v.Version.Version
			cells[2] = Cell{Text: "v" + strconv.Itoa(n) + " (" + string(v.State) + ")", Href: rel(p, CardPath(m.Name, n))}
			if pc := periodCells[n]; len(pc) > 0 {
				cells[3] = Cell{Text: histJoin(pc), Class: "ok"}
			}
		}
		table.Rows = append(table.Rows, cells)
	}
	for i := len(m.Runs) - 1; i >= 0; i-- { // oldest first
		run := m.Runs[i]
		dn := dataNode(run.Dataset, run.DatasetVersion)
		rn := node(stageRun, run.RunID, rel(p, RunsPath(m.Name)))
		if dn != "" {
			link(dn, rn)
		}
		v := byRun[run.RunID]
		if v != nil {
			link(rn, versionNode(v))
		}
		row(run.Dataset, run.DatasetVersion, run.RunID, v)
	}
	for _, v := range m.Versions {
		if seenVersion[v.Version.Version] {
			continue
		}
		dataset := defaultDataset
		if v.Bundle != nil && v.Bundle.Lineage.Dataset != "" {
			dataset = v.Bundle.Lineage.Dataset
		}
		vn := versionNode(v)
		if dn := dataNode(dataset, v.DatasetVersion); dn != "" {
			link(dn, vn)
		}
		row(dataset, v.DatasetVersion, "", v)
	}

	d := lineageData{Empty: len(nodes) == 0}
	d.Periods = Table{ID: "champion-periods", Caption: "Who was champion when, oldest first",
		Head: []string{"Version", "From", "To", "Made champion by", "How", "Decision record", "Approval"}}
	for _, cp := range periods {
		to := Cell{Text: "now (current champion)", Class: "ok"}
		if cp.EndedBy > 0 {
			to = Cell{Text: formatTime(cp.To), Href: rel(p, AuditPath(m.Name)) + "#" + AuditAnchor(cp.EndedBy)}
		}
		d.Periods.Rows = append(d.Periods.Rows, []Cell{
			{Text: "v" + strconv.Itoa(cp.Version), Href: rel(p, CardPath(m.Name, cp.Version))},
			{Text: formatTime(cp.From)}, to, {Text: cp.By}, {Text: string(cp.Kind)},
			{Text: "#" + strconv.Itoa(cp.Seq) + " " + cp.Key, Href: rel(p, AuditPath(m.Name)) + "#" + AuditAnchor(cp.Seq), Class: "hash"},
			{Text: cp.Approval, Class: "hash"}})
	}
	if !d.Empty {
		d.Graph = lineageGraph(nodes, links, index)
		d.Graph.Table = table
	}
	return d
}

// periodSeq is the decision record of the period named name.
func periodSeq(periods []ChampionPeriod, name string, version int) int {
	for _, cp := range periods {
		if cp.Version == version && fmt.Sprintf("champion v%d (#%d, %s)", cp.Version, cp.Seq, formatDay(cp.From)) == name {
			return cp.Seq
		}
	}
	return 0
}

func histJoin(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Lineage graph geometry: one column per stage, one row per node; ECharts
// fits the box to the canvas. Coordinates start past 0 because go-echarts
// drops a zero x or y.
const (
	lineageColumn = 300
	lineageRow    = 60
	lineageOrigin = 40
)

// lineageGraph draws the nodes in columns by stage, in order, with a fixed
// layout (no force simulation), so that the same records give the same picture.
func lineageGraph(nodes []lineageNode, links [][2]string, index map[string]int) Chart {
	rows := make([]int, len(stageNames))
	colors := []string{"#57606a", "#0550ae", "#8250df", "#1a7f37"}
	gn := make([]opts.GraphNode, len(nodes))
	for i, n := range nodes {
		gn[i] = opts.GraphNode{Name: n.name, Category: n.stage, Symbol: "roundRect", SymbolSize: []int{14, 14},
			X: float32(lineageOrigin + n.stage*lineageColumn), Y: float32(lineageOrigin + rows[n.stage]*lineageRow)}
		rows[n.stage]++
	}
	gl := make([]opts.GraphLink, 0, len(links))
	for _, l := range links {
		if _, ok := index[l[0]]; !ok {
			continue
		}
		gl = append(gl, opts.GraphLink{Source: l[0], Target: l[1]})
	}
	cats := make([]*opts.GraphCategory, len(stageNames))
	for i, s := range stageNames {
		cats[i] = &opts.GraphCategory{Name: s, ItemStyle: &opts.ItemStyle{Color: colors[i]}}
	}
	g := charts.NewGraph()
	g.SetGlobalOptions(
		charts.WithAnimation(false),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
	)
	g.AddSeries("lineage", gn, gl,
		charts.WithGraphChartOpts(opts.GraphChart{Layout: "none", Roam: opts.Bool(true), Categories: cats,
			// Set, not left nil: go-echarts writes nil as null, which ECharts does not take for an object.
			Force: &opts.GraphForce{}, EdgeLabel: &opts.EdgeLabel{Show: opts.Bool(false)},
			EdgeSymbol: []string{"none", "arrow"}, EdgeSymbolSize: 8}),
		charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Position: "bottom", FontSize: 11}),
		charts.WithLineStyleOpts(opts.LineStyle{Color: "#8c959f", Width: 1.5, Curveness: 0.1}),
	)
	return Chart{ID: "lineage-graph", Title: "From data to production",
		Note:   "Each dataset version, the runs trained on it, the model versions they became, and each version's periods as champion. Its table lists the same lineage with links to each datasheet, run and card.",
		Option: histOption(g)}
}

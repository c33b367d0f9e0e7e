package reportgen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/ingest"
)

func init() {
	modelPages = append(modelPages, overviewJobs)
	datasetPages = append(datasetPages, datasetOverviewJobs)
}

// summaries are the index's rows: the site's, else derived.
func (s *Site) summaries() ([]ModelSummary, []DatasetSummary) {
	ms, ds := s.ModelSummaries, s.DatasetSummaries
	if ms == nil {
		for _, m := range s.Models {
			ms = append(ms, m.Summary())
		}
	}
	if ds == nil {
		for _, d := range s.Datasets {
			ds = append(ds, d.Summary())
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	return ms, ds
}

type indexData struct {
	Models   Table
	Datasets Table
	Pending  Table
	Counts   struct{ Models, Champions, Pending, Drifting, Datasets int }
}

func indexJobs(site *Site) []job {
	return []job{{IndexPath, func(r *renderer) ([]byte, error) {
		ms, ds := site.summaries()
		var d indexData
		var asOf time.Time
		d.Models = Table{ID: "models-table", Sortable: true, Caption: "Every model: its champion, what waits for a decision, and the latest drift verdict",
			Head: []string{"Model", "Dataset", "Champion", "Versions", "Waiting for approval", "Latest drift", "Audit trail", "Unreadable records"}}
		d.Pending = Table{ID: "pending-table", Caption: "Versions waiting for a person's approval", Head: []string{"Model", "Version"}}
		for _, m := range ms {
			asOf = later(asOf, m.AsOf)
			d.Counts.Models++
			champ := Cell{Text: "none", Class: "muted", Sort: "0"}
			if m.Champion > 0 {
				d.Counts.Champions++
				champ = Cell{Text: "v" + strconv.Itoa(m.Champion), Href: CardPath(m.Name, m.Champion), Sort: strconv.Itoa(m.Champion)}
			}
			var pend []string
			for _, v := range m.Pending {
				pend = append(pend, "v"+strconv.Itoa(v))
				d.Pending.Rows = append(d.Pending.Rows, []Cell{{Text: m.Name, Href: ModelPath(m.Name)},
					{Text: "v" + strconv.Itoa(v), Href: CardPath(m.Name, v), Class: "pending"}})
			}
			d.Counts.Pending += len(m.Pending)
			driftCell := Cell{Text: "no report yet", Class: "muted"}
			if t := m.Drift; t != nil {
				switch {
				case !t.EnoughData:
					driftCell = Cell{Text: t.Window + ": too little traffic", Class: "muted"}
				case t.Drifted:
					d.Counts.Drifting++
					driftCell = Cell{Text: t.Window + ": drift", Class: "drift"}
				default:
					driftCell = Cell{Text: t.Window + ": no drift", Class: "ok"}
				}
				driftCell.Href = DriftPath(m.Name)
			}
			trail := Cell{Text: "verified", Class: "ok", Href: AuditPath(m.Name)}
			if !m.TrailOK {
				trail = Cell{Text: "NOT verified", Class: "bad", Href: AuditPath(m.Name)}
			}
			dataset := Cell{Text: m.Dataset}
			if m.Dataset != "" {
				dataset.Href = DatasetPath(m.Dataset)
			}
			// A record that does not read or verify (a bundle whose hashes do
			// not match may have been tampered with) is named on the model's
			// page; the index says there is one.
			problems := Cell{Text: "none", Class: "muted", Sort: "0"}
			if m.Problems > 0 {
				problems = Cell{Text: strconv.Itoa(m.Problems), Class: "bad", Sort: strconv.Itoa(m.Problems), Href: ModelPath(m.Name) + "#problems"}
			}
			d.Models.Rows = append(d.Models.Rows, []Cell{
				{Text: m.Name, Href: ModelPath(m.Name)}, dataset, champ,
				{Text: strconv.Itoa(m.Versions), Class: "num"},
				{Text: strings.Join(pend, ", "), Class: "pending"}, driftCell, trail, problems})
		}
		d.Datasets = Table{ID: "datasets-table", Sortable: true, Caption: "Every dataset and its newest version",
			Head: []string{"Dataset", "Versions", "Newest version", "Rows", "Datasheet", "Rejected uploads"}}
		for _, x := range ds {
			asOf = later(asOf, x.AsOf)
			d.Counts.Datasets++
			latest := Cell{Text: "none", Class: "muted"}
			if x.Latest != "" {
				latest = Cell{Text: x.Latest, Href: DatasheetPath(x.Name, x.Latest)}
			}
			sheet := Cell{Text: "written", Class: "ok"}
			if !x.Datasheet {
				sheet = Cell{Text: "not written", Class: "warn"}
			}
			d.Datasets.Rows = append(d.Datasets.Rows, []Cell{{Text: x.Name, Href: DatasetPath(x.Name)},
				{Text: strconv.Itoa(x.Versions), Class: "num"}, latest,
				{Text: strconv.FormatInt(x.Rows, 10), Class: "num"}, sheet,
				{Text: strconv.Itoa(x.Rejections), Class: "num"}})
		}
		return r.render(IndexPath, "index", "Models and datasets", nil, formatTime(asOf), false, d)
	}}}
}

// overviewJobs renders a model's overview: its versions and the links to its pages.
func overviewJobs(site *Site, m *Model) []job {
	p := ModelPath(m.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		versions := Table{ID: "versions-table", Sortable: true, Caption: "Every version, newest first",
			Head: []string{"Version", "State", "Headline metric", "Dataset version", "Registered", "Bundle"}}
		for i := len(m.Versions) - 1; i >= 0; i-- {
			v := m.Versions[i]
			metric := Cell{Text: "", Class: "num"}
			if v.Bundle != nil {
				h := v.Bundle.Metrics.Headline
				metric = Cell{Text: fmt.Sprintf("%s %s [%s, %s]", h.Name, num(h.Value), num(h.Lower), num(h.Upper)), Class: "num", Sort: num(h.Value)}
			}
			state := Cell{Text: string(v.State), Class: stateClass(string(v.State))}
			if m.Champion != nil && m.Champion.Version == v.Version.Version {
				state.Text += " (champion)"
			}
			versions.Rows = append(versions.Rows, []Cell{
				{Text: "v" + strconv.Itoa(v.Version.Version), Href: rel(p, CardPath(m.Name, v.Version.Version)), Sort: strconv.Itoa(v.Version.Version)},
				state, metric, {Text: v.DatasetVersion},
				{Text: formatTime(v.RegisteredAt)}, {Text: short(v.BundleSHA256), Class: "hash"}})
		}
		data := struct {
			M        *Model
			Summary  ModelSummary
			Versions Table
			Links    []crumb
		}{M: m, Summary: m.Summary(), Versions: versions, Links: []crumb{
			{"Runs", rel(p, RunsPath(m.Name))}, {"Drift", rel(p, DriftPath(m.Name))},
			{"Audit log", rel(p, AuditPath(m.Name))}, {"Lineage", rel(p, LineagePath(m.Name))}}}
		if m.Spec != nil && m.Spec.Dataset != "" {
			data.Links = append(data.Links, crumb{"Dataset " + m.Spec.Dataset, rel(p, DatasetPath(m.Spec.Dataset))})
		}
		return r.render(p, "model", "Model "+m.Name, []crumb{{Text: m.Name}}, formatTime(m.AsOf()), false, data)
	}}}
}

// stateClass is the CSS class of a version's state.
func stateClass(s string) string {
	switch s {
	case "champion", "approved", "promoted":
		return "ok"
	case "rejected", "retired":
		return "bad"
	case "pending_approval", "pending approval":
		return "pending"
	}
	return ""
}

// datasetOverviewJobs renders a dataset's overview: its versions and rejections.
func datasetOverviewJobs(site *Site, d *Dataset) []job {
	p := DatasetPath(d.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		versions := Table{ID: "versions-table", Sortable: true, Caption: "Every version, newest first",
			Head: []string{"Version", "Created", "Rows", "Partitions", "Contract"}}
		for i := len(d.Versions) - 1; i >= 0; i-- {
			m := d.Versions[i].Manifest
			versions.Rows = append(versions.Rows, []Cell{
				{Text: m.VersionID, Href: rel(p, DatasheetPath(d.Name, m.VersionID))},
				{Text: formatTime(m.CreatedAt)}, {Text: strconv.FormatInt(m.Rows, 10), Class: "num"},
				{Text: strconv.Itoa(len(m.Partitions)), Class: "num"}, {Text: short(m.ContractHash), Class: "hash"}})
		}
		rejected := Table{ID: "rejections", Caption: "Uploads refused at the gate (quarantined with a readable report)",
			Head: []string{"Upload", "Problems", "Quarantine"}}
		for _, q := range d.Rejections {
			rejected.Rows = append(rejected.Rows, rejectionRow(q))
		}
		data := struct {
			D         *Dataset
			Versions  Table
			Rejected  Table
			Datasheet any
		}{D: d, Versions: versions, Rejected: rejected}
		if d.Datasheet != nil {
			data.Datasheet = d.datasheetHTML()
		}
		return r.render(p, "dataset", "Dataset "+d.Name, []crumb{{Text: d.Name}}, formatTime(d.AsOf()), false, data)
	}}}
}

// rejectionRow is one quarantined upload: the rules it broke, by column and
// count. Messages and examples are not shown: they may quote values, and
// the site never shows a value of a column that may be personal data.
func rejectionRow(q ingest.Quarantined) []Cell {
	var problems []string
	for _, v := range q.Violations {
		s := v.Rule
		if v.Column != "" {
			s += " in column " + v.Column
		}
		problems = append(problems, fmt.Sprintf("%s (%d)", s, v.Count))
	}
	return []Cell{{Text: q.Upload.Key + " at " + formatTime(q.At)}, {Text: strings.Join(problems, "; ")},
		{Text: "s3://" + q.Bucket + "/" + q.Prefix, Class: "hash"}}
}

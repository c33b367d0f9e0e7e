package reportgen

import (
	"time"

	"github.com/openmlops/mlops/shared/registry"
)

// ModelSummary is what the index shows of a model. A publisher keeps the
// summaries of the models it did not re-read, so that an event about one
// model re-reads only that model.
type ModelSummary struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Dataset     string    `json:"dataset,omitempty"`
	Champion    int       `json:"champion,omitempty"` // 0: none
	Versions    int       `json:"versions"`
	Pending     []int     `json:"pending,omitempty"` // versions waiting for a person's approval
	Drift       *DriftTip `json:"drift,omitempty"`   // the latest report
	TrailOK     bool      `json:"trailOk"`
	Problems    int       `json:"problems,omitempty"`
	AsOf        time.Time `json:"asOf"`
}

// DriftTip is a drift report's verdict, for the index.
type DriftTip struct {
	Window     string `json:"window"`
	EnoughData bool   `json:"enoughData"`
	Drifted    bool   `json:"drifted"`
	Reason     string `json:"reason"`
}

// DatasetSummary is what the index shows of a dataset.
type DatasetSummary struct {
	Name       string    `json:"name"`
	Versions   int       `json:"versions"`
	Latest     string    `json:"latest,omitempty"` // the newest version's id
	Rows       int64     `json:"rows"`             // its rows
	Datasheet  bool      `json:"datasheet"`
	Rejections int       `json:"rejections"`
	AsOf       time.Time `json:"asOf"`
}

// Summary summarizes m.
func (m *Model) Summary() ModelSummary {
	s := ModelSummary{Name: m.Name, Versions: len(m.Versions), Problems: len(m.Problems), AsOf: m.AsOf()}
	if m.Spec != nil {
		s.Description, s.Dataset = m.Spec.Description, m.Spec.Dataset
	}
	if m.Champion != nil {
		s.Champion = m.Champion.Version
	}
	for _, v := range m.Versions {
		if v.State == registry.StatePendingApproval {
			s.Pending = append(s.Pending, v.Version.Version)
		}
	}
	if n := len(m.Drift); n > 0 {
		r := m.Drift[n-1]
		s.Drift = &DriftTip{Window: r.Window.From, EnoughData: r.EnoughData, Drifted: r.Verdict.Drifted, Reason: r.Verdict.Reason}
		if r.Window.To != r.Window.From {
			s.Drift.Window += " to " + r.Window.To
		}
	}
	s.TrailOK = m.Verify != nil && m.Verify.OK
	return s
}

// AsOf is the time of the model's newest record: its pages' "as of". It is
// a record's time, not the clock's, so that the same records give the same
// bytes.
func (m *Model) AsOf() time.Time {
	var t time.Time
	for _, e := range m.Trail {
		t = later(t, e.Time)
	}
	for _, r := range m.Runs {
		t = later(t, r.UpdatedAt)
	}
	for _, v := range m.Versions {
		t = later(t, v.UpdatedAt)
	}
	return t
}

// Summary summarizes d.
func (d *Dataset) Summary() DatasetSummary {
	s := DatasetSummary{Name: d.Name, Versions: len(d.Versions), Datasheet: d.Datasheet != nil,
		Rejections: len(d.Rejections), AsOf: d.AsOf()}
	if n := len(d.Versions); n > 0 {
		s.Latest, s.Rows = d.Versions[n-1].Manifest.VersionID, d.Versions[n-1].Manifest.Rows
	}
	return s
}

// AsOf is the time of the dataset's newest version.
func (d *Dataset) AsOf() time.Time {
	var t time.Time
	for _, v := range d.Versions {
		t = later(t, v.Manifest.CreatedAt)
	}
	return t
}

func later(t, u time.Time) time.Time {
	if u.After(t) {
		return u
	}
	return t
}

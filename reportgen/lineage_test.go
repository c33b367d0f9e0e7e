package reportgen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/registry"
)

// The lineage graph has one node per dataset version, run, model version and
// champion period, at fixed places, and a table with the same lineage.
func TestLineageGraph(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	page := buildModel(t, site, "credit")[reportgen.LineagePath("credit")]
	var opt struct {
		Series []struct {
			Type   string `json:"type"`
			Layout string `json:"layout"`
			Data   []struct {
				Name     string  `json:"name"`
				X        float64 `json:"x"`
				Y        float64 `json:"y"`
				Category int     `json:"category"`
			} `json:"data"`
			Links []struct {
				Source, Target string
			} `json:"links"`
		} `json:"series"`
	}
	dataBlock(t, page, "lineage-graph-option", &opt)
	if len(opt.Series) != 1 || opt.Series[0].Type != "graph" || opt.Series[0].Layout != "none" {
		t.Fatalf("lineage chart: %+v, want one graph series with a fixed layout", opt.Series)
	}
	g := opt.Series[0]
	count := map[int]int{}
	names := map[string]bool{}
	places := map[[2]float64]bool{}
	for _, n := range g.Data {
		count[n.Category]++
		if names[n.Name] {
			t.Errorf("node %q twice", n.Name)
		}
		names[n.Name] = true
		if n.X == 0 || n.Y == 0 || places[[2]float64{n.X, n.Y}] {
			t.Errorf("node %q at (%v, %v): no place of its own", n.Name, n.X, n.Y)
		}
		places[[2]float64{n.X, n.Y}] = true
	}
	dvs := map[string]bool{}
	for _, r := range m.Runs {
		dvs[r.DatasetVersion] = true
		if !names[r.RunID] {
			t.Errorf("no node for run %s", r.RunID)
		}
	}
	periods := reportgen.ChampionPeriods(m.Trail)
	for cat, want := range []int{len(dvs), len(m.Runs), len(m.Versions), len(periods)} {
		if count[cat] != want {
			t.Errorf("category %d has %d nodes, want %d", cat, count[cat], want)
		}
	}
	if want := len(m.Runs)*2 + len(periods); len(g.Links) != want {
		t.Errorf("%d links, want %d", len(g.Links), want)
	}
	for _, l := range g.Links {
		if !names[l.Source] || !names[l.Target] {
			t.Errorf("link %s → %s names a missing node", l.Source, l.Target)
		}
	}
	s := string(page)
	for _, v := range m.Versions {
		if !strings.Contains(s, `href="../../`+reportgen.CardPath("credit", v.Version.Version)+`"`) {
			t.Errorf("the lineage table does not link v%d's card", v.Version.Version)
		}
	}
	if !strings.Contains(s, `href="../../models/credit/audit.html#seq-10"`) {
		t.Error("the champion periods do not link their decision records")
	}
}

// Champion periods follow promotions, rollbacks and a forced retirement.
func TestChampionPeriods(t *testing.T) {
	at := func(h int) time.Time { return reportgentest.Epoch.Add(time.Duration(h) * time.Hour) }
	rec := func(seq int, k registry.Kind, v int, was bool) registry.Entry {
		return registry.Entry{AuditRecord: registry.AuditRecord{Seq: seq, Kind: k, Version: v, Time: at(seq), WasChampion: was, Principal: "p"}}
	}
	trail := []registry.Entry{rec(1, registry.KindRegistered, 1, false), rec(2, registry.KindPromoted, 1, false),
		rec(3, registry.KindPromoted, 2, false), rec(4, registry.KindRolledBack, 1, false), rec(5, registry.KindRetired, 2, false),
		rec(6, registry.KindRetired, 1, true), rec(7, registry.KindPromoted, 3, false)}
	got := reportgen.ChampionPeriods(trail)
	want := []struct{ v, seq, ended int }{{1, 2, 3}, {2, 3, 4}, {1, 4, 6}, {3, 7, 0}}
	if len(got) != len(want) {
		t.Fatalf("%d periods, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Version != w.v || got[i].Seq != w.seq || got[i].EndedBy != w.ended {
			t.Errorf("period %d = v%d from #%d ended by #%d, want v%d from #%d ended by #%d",
				i, got[i].Version, got[i].Seq, got[i].EndedBy, w.v, w.seq, w.ended)
		}
	}
	if !got[3].To.IsZero() || !got[0].To.Equal(at(3)) {
		t.Errorf("period ends: %v, %v", got[0].To, got[3].To)
	}
}

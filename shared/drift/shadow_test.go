package drift

import (
	"math"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/predlog"
)

func TestShadowSummaries(t *testing.T) {
	b := &bundle.Bundle{}
	b.Encoding.Target.Kind = bundle.LabelBinary
	s := newShadows(b, "p_bad")
	rec := func(cl string, cp float64, sh *predlog.Shadow) *predlog.Record {
		return &predlog.Record{Outputs: map[string]any{"label": cl, "p_bad": cp}, Shadow: sh}
	}
	out := func(l string, p float64) map[string]any { return map[string]any{"label": l, "p_bad": p} }
	s.add(rec("bad", 0.9, &predlog.Shadow{Version: 3, BundleSHA256: "aa", Outputs: out("bad", 0.8)}))
	s.add(rec("good", 0.2, &predlog.Shadow{Version: 3, BundleSHA256: "aa", Outputs: out("bad", 0.6)}))
	s.add(rec("good", 0.1, &predlog.Shadow{Version: 3, BundleSHA256: "aa", Error: "timed out"}))
	s.add(rec("good", 0.1, &predlog.Shadow{Version: 3, BundleSHA256: "aa", Outputs: map[string]any{"label": 7, "p_bad": "x"}}))
	s.add(rec("good", 0.3, &predlog.Shadow{Version: 2, BundleSHA256: "bb", Outputs: out("good", 0.3)}))
	for v := 10; v < 30; v++ { // a hostile log naming many versions stays bounded
		s.add(rec("good", 0.3, &predlog.Shadow{Version: v, Outputs: out("good", 0.3)}))
	}
	got := s.summaries()
	if len(got) != maxShadows {
		t.Fatalf("%d candidates, want at most %d", len(got), maxShadows)
	}
	if got[0].Version != 2 || got[1].Version != 3 {
		t.Fatalf("order %d, %d: want versions ascending", got[0].Version, got[1].Version)
	}
	v3 := got[1]
	near := func(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-12 }
	if v3.Records != 4 || v3.Errors != 1 || !near(v3.Agreement, 0.5) || !near(v3.MeanAbsDiff, (0.1+0.4)/2) ||
		!near(v3.MaxAbsDiff, 0.4) || !near(v3.ChampionMean, 0.55) || !near(v3.ShadowMean, 0.7) || v3.Output != "p_bad" {
		t.Errorf("version 3: %+v", v3)
	}
	if !near(got[0].Agreement, 1) || !near(got[0].MeanAbsDiff, 0) {
		t.Errorf("version 2: %+v", got[0])
	}

	// Multiclass: labels only.
	m := &bundle.Bundle{}
	m.Encoding.Target.Kind = bundle.LabelMulticlass
	ms := newShadows(m, "p_a")
	ms.add(&predlog.Record{Outputs: map[string]any{"label": "a", "p_a": 0.5}, Shadow: &predlog.Shadow{Version: 1, Outputs: map[string]any{"label": "b", "p_a": 0.4}}})
	if g := ms.summaries()[0]; !near(g.Agreement, 0) || g.MeanAbsDiff != nil || g.Output != "" {
		t.Errorf("multiclass: %+v", g)
	}
}

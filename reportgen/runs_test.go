package reportgen_test

import (
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/training"
)

// buildModel renders site's pages of one model.
func buildModel(t *testing.T, site *reportgen.Site, model string) map[string][]byte {
	t.Helper()
	pages, err := reportgen.Build(site, reportgen.Scope{Models: []string{model}})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// dataBlock decodes the JSON data block with the given id from a page into v.
func dataBlock(t *testing.T, page []byte, id string, v any) {
	t.Helper()
	re := regexp.MustCompile(`<script type="application/json" id="` + regexp.QuoteMeta(id) + `">([^<]*)</script>`)
	m := re.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no data block %q", id)
	}
	if err := json.Unmarshal(m[1], v); err != nil {
		t.Fatalf("data block %q is not valid JSON: %v", id, err)
	}
}

// The runs page lists every run, carries one comparison entry per run in a
// valid JSON block, and shows a failed run's reason.
func TestRunsPage(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	failed := &training.Run{SchemaVersion: "1", RunID: "credit-ffffffffffffffff-2", Attempt: 2, Model: "credit", Dataset: "credit",
		DatasetVersion: m.Runs[0].DatasetVersion, State: training.StateFailed, Reason: "trainer exited 1: " + reportgentest.Hostile,
		Cause:     training.Cause{Kind: training.CauseRetrain, Principal: "ops", Reason: "drift"},
		CreatedAt: m.Runs[0].CreatedAt.Add(time.Hour), UpdatedAt: m.Runs[0].CreatedAt.Add(2 * time.Hour),
		Job: training.JobRecord{Parameters: map[string]string{"data": "s3://b/k"}}}
	m.Runs = append([]*training.Run{failed}, m.Runs...)
	page := buildModel(t, site, "credit")[reportgen.RunsPath("credit")]

	var cmp []reportgen.CompareRun
	dataBlock(t, page, "runs-data", &cmp)
	if len(cmp) != len(m.Runs) {
		t.Fatalf("comparison data has %d runs, want %d", len(cmp), len(m.Runs))
	}
	for i, c := range cmp {
		if c.ID != m.Runs[i].RunID {
			t.Errorf("comparison entry %d is %s, want %s (the table's order)", i, c.ID, m.Runs[i].RunID)
		}
		if len(c.Fields) == 0 {
			t.Errorf("comparison entry %s has no fields", c.ID)
		}
	}
	// The failed run's reason reaches the comparison as plain text (site.js
	// writes it with textContent) and the table escaped.
	if got := field(cmp[0], "Reason"); got != failed.Reason {
		t.Errorf("failed run's reason in the comparison = %q, want %q", got, failed.Reason)
	}
	if got := field(cmp[0], "Parameters"); got != "data=s3://b/k" {
		t.Errorf("a run that became no version shows its job's parameters: got %q", got)
	}
	if got := field(cmp[1], "Parameters"); !strings.Contains(got, "max_depth=4") || !strings.Contains(got, "seed=42") {
		t.Errorf("a run that became a version shows its lineage's parameters: got %q", got)
	}
	text := html.UnescapeString(string(page))
	if !strings.Contains(text, "failed: trainer exited 1: "+reportgentest.Hostile) {
		t.Error("the runs table does not show the failed run's reason")
	}
	if n := strings.Count(string(page), `name="compare"`); n != len(m.Runs) {
		t.Errorf("%d compare checkboxes, want %d", n, len(m.Runs))
	}
	if n := strings.Count(string(page), `data-sort="`); n == 0 {
		t.Error("no sort keys")
	}

	// The headline chart has one point per run with a bundle, oldest first,
	// and its band is the bundle's interval.
	var opt struct {
		Series []struct {
			Name string `json:"name"`
			Data []struct {
				Value float64 `json:"value"`
			} `json:"data"`
		} `json:"series"`
		Animation bool `json:"animation"`
	}
	dataBlock(t, page, "runs-headline-option", &opt)
	if opt.Animation {
		t.Error("the headline chart animates")
	}
	if len(opt.Series) != 3 {
		t.Fatalf("headline chart has %d series, want band base, band and line", len(opt.Series))
	}
	ok := m.Runs[1:] // the failed run has no bundle
	for i, s := range opt.Series {
		if len(s.Data) != len(ok) {
			t.Fatalf("series %s has %d points, want %d", s.Name, len(s.Data), len(ok))
		}
		for k := range s.Data {
			b := ok[len(ok)-1-k].Bundle
			want := []float64{b.HeadlineLower, b.HeadlineUpper - b.HeadlineLower, b.HeadlineValue}[i]
			if d := s.Data[k].Value - want; d > 1e-12 || d < -1e-12 {
				t.Errorf("series %s point %d = %v, want %v", s.Name, k, s.Data[k].Value, want)
			}
		}
	}
}

func field(c reportgen.CompareRun, name string) string {
	for _, f := range c.Fields {
		if f[0] == name {
			return f[1]
		}
	}
	return ""
}

// Every chart sits in its figure with its option block and its numbers as a table.
func TestEveryChartSitsInItsFigure(t *testing.T) {
	charts := 0
	for p, b := range build(t) {
		s := string(b)
		for _, m := range regexp.MustCompile(`<div class="chart" id="([^"]+)" data-option="([^"]+)"`).FindAllStringSubmatch(s, -1) {
			charts++
			id := m[1]
			fig := s[strings.Index(s, `<figure class="chart-figure" id="`+id+`-figure">`):]
			fig = fig[:strings.Index(fig, "</figure>")]
			if !strings.Contains(fig, `<script type="application/json" id="`+m[2]+`">`) {
				t.Errorf("%s: chart %s has no option block", p, id)
			}
			if !strings.Contains(fig, `<details class="chart-table">`) || !strings.Contains(fig, "<tbody><tr>") {
				t.Errorf("%s: chart %s has no table of its numbers", p, id)
			}
		}
	}
	if charts == 0 {
		t.Fatal("the fixture's site draws no chart")
	}
}

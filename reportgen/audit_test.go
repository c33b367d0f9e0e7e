package reportgen_test

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/registry"
)

// The audit log lists every record, newest first, with a count of them, and
// its filters name the kinds and versions present.
func TestAuditPageNewestFirst(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	page := string(buildModel(t, site, "credit")[reportgen.AuditPath("credit")])
	rows := regexp.MustCompile(`<tr id="seq-(\d+)">`).FindAllStringSubmatch(page, -1)
	if len(rows) != len(m.Trail) {
		t.Fatalf("%d records listed, want %d", len(rows), len(m.Trail))
	}
	for i, r := range rows {
		seq, _ := strconv.Atoi(r[1])
		if want := m.Trail[len(m.Trail)-1-i].Seq; seq != want {
			t.Errorf("row %d is seq %d, want %d (newest first)", i, seq, want)
		}
	}
	if want := `<span data-count="audit">` + strconv.Itoa(len(m.Trail)) + `</span>`; !strings.Contains(page, want) {
		t.Errorf("no count %s", want)
	}
	for _, want := range []string{`<option value="promoted">promoted</option>`, `<option value="v3">v3</option>`,
		`data-filter="audit" data-column="4"`, `<span class="ok">verified</span>`, reportgen.AuditAnchor(1)} {
		if !strings.Contains(page, want) {
			t.Errorf("audit page lacks %s", want)
		}
	}
	// Principals and reasons are text.
	if !strings.Contains(html.UnescapeString(page), "Reviewed the card and the slices. "+reportgentest.Hostile) {
		t.Error("the approval's reason is not shown")
	}
}

// A trail that does not verify says so first, with every problem and damage.
func TestAuditPageShowsProblems(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	m.Verify = &registry.VerifyReport{Model: "credit", Records: len(m.Trail), OK: false,
		Problems: []string{"record 3: sha256 differs from record 4's link " + reportgentest.Hostile, "head names seq 12, trail ends at 13"},
		Damage:   []string{"record 3: sha256 differs from record 4's link " + reportgentest.Hostile},
		Anchor:   "no key: the chain is not anchored"}
	page := string(buildModel(t, site, "credit")[reportgen.AuditPath("credit")])
	verify := page[strings.Index(page, `<section class="verify`):strings.Index(page, "</section>")]
	for _, want := range []string{"verify-bad", `<span class="bad">NOT verified</span>`, `<span class="bad">no</span>: no key: the chain is not anchored`,
		"<li>head names seq 12, trail ends at 13</li>", `<ul class="bad">`} {
		if !strings.Contains(verify, want) {
			t.Errorf("verification section lacks %s:\n%s", want, verify)
		}
	}
	if n := strings.Count(html.UnescapeString(verify), "<li>record 3: sha256 differs from record 4's link "+reportgentest.Hostile+"</li>"); n != 2 {
		t.Errorf("the damaged record is listed %d times, want 2 (damage and problems)", n)
	}
	if strings.Index(page, "verify-title") > strings.Index(page, `id="records"`) {
		t.Error("the verification is not at the top")
	}

	m.Verify = nil
	page = string(buildModel(t, site, "credit")[reportgen.AuditPath("credit")])
	if !strings.Contains(page, "NOT verified") || !strings.Contains(page, "could not be run") {
		t.Error("a trail with no verification is not flagged")
	}
}

// A record of a version the build has no card for (the registry listed the
// versions a moment before the trail was read) names it without a link, so
// the site has no broken link.
func TestAuditPageVersionWithoutCard(t *testing.T) {
	site := reportgentest.Fixture()
	m := site.Model("credit")
	last := m.Versions[len(m.Versions)-1].Version.Version
	m.Versions = m.Versions[:len(m.Versions)-1]
	out := buildModel(t, site, "credit")
	page := string(out[reportgen.AuditPath("credit")])
	if strings.Contains(page, reportgen.CardPath("credit", last)) || !strings.Contains(page, ">v"+strconv.Itoa(last)+"</td>") {
		t.Errorf("v%d, which has no card in this build: linked, or not named", last)
	}
	if !strings.Contains(page, reportgen.CardPath("credit", last-1)) {
		t.Errorf("v%d's card is not linked", last-1)
	}
}

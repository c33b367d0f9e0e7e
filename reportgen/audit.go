package reportgen

import (
	"path"
	"sort"
	"strconv"

	"github.com/openmlops/mlops/shared/registry"
)

func init() {
	modelPages = append(modelPages, auditJobs)
}

// auditData is what the audit page shows: the chain's verification and
// every record, newest first.
type auditData struct {
	Verify   *registry.VerifyReport
	Records  []auditRow
	Kinds    []string // the kinds present, for the filter
	Versions []int    // the versions named, for the filter
}

// auditRow is one audit record as the page lays it out.
type auditRow struct {
	registry.Entry
	Anchor string // the row's id: seq-N, which other pages link to
	Card   string // the version's card, relative to the page ("" when none)
	Class  string // the kind's CSS class
	Hashes [][2]string
	Flags  []string
}

// AuditAnchor is the fragment of a record's row on the audit page.
func AuditAnchor(seq int) string { return "seq-" + strconv.Itoa(seq) }

func auditJobs(site *Site, m *Model) []job {
	p := AuditPath(m.Name)
	return []job{{p, func(r *renderer) ([]byte, error) {
		return r.render(p, "audit", "Audit log of "+m.Name,
			[]crumb{{Text: m.Name, Href: ModelPath(m.Name)}, {Text: "Audit log"}}, formatTime(m.AsOf()), false, auditPage(m))
	}}}
}

// auditPage lays out m's trail, newest first.
func auditPage(m *Model) auditData {
	p := AuditPath(m.Name)
	d := auditData{Verify: m.Verify}
	trail := append([]registry.Entry(nil), m.Trail...)
	sort.SliceStable(trail, func(i, j int) bool { return trail[i].Seq > trail[j].Seq })
	kinds, versions := map[string]bool{}, map[int]bool{}
	// A record can name a version the registry's listing, read a moment
	// before the trail, does not have yet: its card is not in this build.
	carded := make(map[int]bool, len(m.Versions))
	for _, v := range m.Versions {
		carded[v.Version.Version] = true
	}
	for _, e := range trail {
		row := auditRow{Entry: e, Anchor: AuditAnchor(e.Seq), Class: kindClass(e.Kind)}
		if e.Version > 0 {
			if carded[e.Version] {
				row.Card = rel(p, CardPath(m.Name, e.Version))
			}
			versions[e.Version] = true
		}
		kinds[string(e.Kind)] = true
		h := e.Hashes
		for _, kv := range [][2]string{{"bundle", h.BundleSHA256}, {"policy", h.PolicyHash}, {"spec", h.SpecHash},
			{"dataset version", h.DatasetVersion}, {"contract", h.ContractHash}, {"checks", h.ChecksSHA256},
			{"checks object", e.ChecksKey}, {"run", e.RunID}} {
			if kv[1] != "" {
				row.Hashes = append(row.Hashes, kv)
			}
		}
		row.Flags = auditFlags(e)
		d.Records = append(d.Records, row)
	}
	d.Kinds = sortedKeys(kinds)
	for v := range versions {
		d.Versions = append(d.Versions, v)
	}
	sort.Ints(d.Versions)
	return d
}

// auditFlags are a record's verdict, approval, override and force flags,
// in words (the records it names by key are in the Hashes column).
func auditFlags(e registry.Entry) []string {
	var f []string
	if e.Verdict != "" {
		f = append(f, "verdict "+string(e.Verdict))
	}
	if e.Approval != "" {
		f = append(f, "rests on approval "+path.Base(e.Approval))
	}
	if e.Approver != "" && e.Approver != e.Principal {
		f = append(f, "approved by "+e.Approver)
	}
	if e.Previous > 0 {
		f = append(f, "replaced champion v"+strconv.Itoa(e.Previous))
	}
	if e.Override {
		f = append(f, "OVERRIDE: approved without a passing check")
	}
	if e.Force {
		f = append(f, "FORCED")
	}
	if e.WasChampion {
		f = append(f, "retired the champion: no champion left")
	}
	return f
}

// kindClass is the CSS class of an audit record's kind.
func kindClass(k registry.Kind) string {
	switch k {
	case registry.KindApproved, registry.KindPromoted:
		return "ok"
	case registry.KindRejected, registry.KindRefused, registry.KindRetired, registry.KindRolledBack:
		return "bad"
	case registry.KindPending:
		return "pending"
	}
	return ""
}

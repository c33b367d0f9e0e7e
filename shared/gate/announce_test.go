package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// A decision committed but never announced (the bus refused its event) is
// announced by the reconcile sweep, once, in order; what was announced
// already is not announced again (issue 10, item 3).
func TestCommittedDecisionsAreAnnouncedBySweep(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Add(time.Minute) // the gate's clock runs ahead of the records' (the registry's)
	rt := newRoutes(t, func() time.Time { return now }, func(*http.Request) string { return "local:alice" })
	reg, bus, svc := rt.reg, rt.pub, rt.svc
	v, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0123456789abcdef-1",
		BundleSHA256: strings.Repeat("1", 64), BundlePrefix: "runs/credit-0123456789abcdef-1/bundle/", Principal: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: rt.policy, Verdict: registry.VerdictPass,
		Checks: []map[string]any{{"name": "auc", "pass": true}}, Principal: "gate", Reason: "policy evaluated"}); err != nil {
		t.Fatal(err)
	}
	// Everything before the outage was announced (or announces nothing).
	if n, err := svc.SweepAnnouncements(ctx, 0); err != nil || n != 1 || len(bus.of(event.ModelRegistered)) != 1 {
		t.Fatalf("first sweep: %d %v", n, err)
	}
	bus.setDown(true)
	c := decisions.NewClient(rt.srv.URL+"/", rt.srv.Client(), nil)
	if _, err := c.Approve(ctx, "credit", 1, decisions.Decision{Reason: "reviewed", BundleSHA256: v.BundleSHA256}); !decisions.IsCode(err, decisions.CodeInternal) {
		t.Fatalf("approve while the bus is down: %v", err)
	}
	if got, _ := reg.Get(ctx, "credit", 1); got.State != registry.StateChampion {
		t.Fatalf("the decision was not committed: %s", got.State)
	}
	bus.setDown(false)
	// Young records are left to the path that wrote them; then announced once.
	if n, err := svc.SweepAnnouncements(ctx, 2*time.Minute); err != nil || n != 0 {
		t.Fatalf("sweep within the grace: %d %v", n, err)
	}
	n, err := svc.SweepAnnouncements(ctx, 0)
	promoted := bus.of(event.ModelPromoted)
	if err != nil || n != 1 || len(promoted) != 1 || promoted[0].Version != 1 || promoted[0].AuditKey == "" || promoted[0].State != "champion" {
		t.Fatalf("sweep after the outage: %d %v %+v", n, err, promoted)
	}
	if n, err := svc.SweepAnnouncements(ctx, 0); err != nil || n != 0 || len(bus.of(event.ModelPromoted)) != 1 {
		t.Fatalf("a second sweep announced again: %d %v", n, err)
	}
}

// A retirement recorded but neither tagged nor announced (the gate stopped
// between the record and the rest) is finished by the sweep: the bundle's
// objects tagged for the archive rule, then the event.
func TestSweepTagsAnUnfinishedRetirement(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Add(time.Minute)
	rt := newRoutes(t, func() time.Time { return now }, func(*http.Request) string { return "local:alice" })
	// Where training writes the run's bundle: the one prefix a retirement tags.
	prefix := training.BundlePrefix("credit-0123456789abcdef-1")
	if _, _, err := rt.reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0123456789abcdef-1",
		BundleSHA256: strings.Repeat("1", 64), BundlePrefix: prefix, Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	putBundle(t, rt.st, "credit-0123456789abcdef-1", prefix)
	// The registry's decision alone, as a gate that stopped right after it.
	if _, err := rt.reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: 1, Principal: "local:alice", Reason: "superseded"}); err != nil {
		t.Fatal(err)
	}
	if tags, err := rt.st.Tags(ctx, "platform", prefix+"model.json"); err != nil || len(tags) != 0 {
		t.Fatalf("tagged before the sweep: %v %v", tags, err)
	}
	for range 2 { // a second sweep finds nothing left to do
		if _, err := rt.svc.SweepAnnouncements(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"manifest.json", "model.json"} {
		tags, err := rt.st.Tags(ctx, "platform", prefix+f)
		if err != nil || tags[rules.RetiredTag] != "true" || tags["mlops:model"] != "credit" || tags["mlops:version"] != "1" {
			t.Fatalf("%s tags %v %v", f, tags, err)
		}
	}
	if retired := rt.pub.of(event.ModelRetired); len(retired) != 1 || retired[0].Version != 1 {
		t.Fatalf("retirement events %+v", retired)
	}
}

// A hostile or damaged version record neither widens the tagging nor holds
// back the trail's announcements: a version whose bundle prefix is a whole
// folder (another model's runs under it) gets nothing tagged, and a version
// record that no longer parses is passed over; the retirements after them
// are announced all the same.
func TestSweepTagsOnlyAVersionsOwnBundle(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Add(time.Minute)
	rt := newRoutes(t, func() time.Time { return now }, func(*http.Request) string { return "local:alice" })
	other := "runs/fraud-0123456789abcdef-1/bundle/model.json"
	if _, err := rt.st.Put(ctx, "platform", other, []byte("{}"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, prefix := range []string{"runs/", "runs/credit-0123456789abcdef-2/bundle/", "runs/credit-0123456789abcdef-3/bundle/"} {
		if _, _, err := rt.reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: fmt.Sprintf("credit-0123456789abcdef-%d", i+1),
			BundleSHA256: strings.Repeat(strconv.Itoa(i+1), 64), BundlePrefix: prefix, Principal: "gate"}); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: i + 1, Principal: "local:alice", Reason: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	// Version 2's record damaged after its retirement.
	if _, err := rt.st.Put(ctx, "platform", registry.VersionKey("credit", 2), []byte("not json"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.svc.SweepAnnouncements(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if tags, err := rt.st.Tags(ctx, "platform", other); err != nil || len(tags) != 0 {
		t.Fatalf("another model's bundle tagged: %v %v", tags, err)
	}
	if retired := rt.pub.of(event.ModelRetired); len(retired) != 3 {
		t.Fatalf("%d retirements announced, want 3 (%+v)", len(retired), retired)
	}
}

// putBundle writes a bundle's manifest (a valid one, listing the required
// files) and those files under prefix, with extra objects beside them that
// the manifest does not list.
func putBundle(t *testing.T, st *store.Store, runID, prefix string, extra ...string) {
	t.Helper()
	ctx := context.Background()
	m := bundle.Manifest{Format: bundle.Format, RunID: runID, Model: "credit", Objective: "binary:logistic",
		CreatedAt: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}
	files := slices.Sorted(slices.Values(bundle.RequiredFiles))
	for _, f := range files {
		m.Files = append(m.Files, bundle.File{Path: f, SHA256: hashid.Of([]byte("{}")), Bytes: 2})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		if _, err := st.Put(ctx, "platform", key, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(prefix+bundle.ManifestFile, raw)
	for _, f := range append(files, extra...) {
		put(prefix+f, []byte("{}"))
	}
}

package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// fiveRecords builds a trail of five records: registered, checked,
// approved, promoted for version 1, and registered for version 2.
func fiveRecords(t *testing.T, reg *registry.Registry) []registry.Entry {
	t.Helper()
	ctx := context.Background()
	v := register(t, reg, "credit", 1)
	if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: "p1", Checks: []byte(`[]`), Verdict: registry.VerdictPass, Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	approve(t, reg, v)
	promote(t, reg, v)
	register(t, reg, "credit", 2)
	verifyOK(t, reg, "credit")
	hist, err := reg.History(ctx, "credit")
	if err != nil || len(hist) != 5 {
		t.Fatalf("%d records, %v", len(hist), err)
	}
	return hist
}

// problemsOf runs Verify and wants it to find something.
func problemsOf(t *testing.T, reg *registry.Registry) string {
	t.Helper()
	rep, err := reg.Verify(context.Background(), "credit")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Fatal("verify found nothing")
	}
	t.Logf("problems:\n%s", strings.Join(rep.Problems, "\n"))
	return strings.Join(rep.Problems, "\n")
}

func del(t *testing.T, st *store.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := st.Delete(context.Background(), bucket, k, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// Deleting the last records and the head used to be invisible: Reconcile
// rebuilt the head from what was left and Verify then passed.
func TestTruncatedTrail(t *testing.T) {
	ctx := context.Background()
	reg, st := setup(t)
	hist := fiveRecords(t, reg)
	del(t, st, hist[4].Key, hist[3].Key, registry.HeadKey("credit"))

	p := problemsOf(t, reg)
	for _, want := range []string{
		"audit/credit/head: missing",
		// The champion pointer and version 2 name the deleted records.
		"models/credit/champion: its decision audit/credit/000004-promoted.json does not exist",
		"models/credit/versions/000002.json: its last event audit/credit/000005-registered.json does not exist",
	} {
		if !strings.Contains(p, want) {
			t.Fatalf("verify does not say %q", want)
		}
	}
	if _, err := reg.Reconcile(ctx, "credit"); !errors.Is(err, registry.ErrDamaged) {
		t.Fatalf("reconcile of a truncated trail: %v", err)
	}
	if _, _, err := st.ReadAll(ctx, bucket, registry.HeadKey("credit")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reconcile rebuilt the head: %v", err)
	}
	problemsOf(t, reg)
	// Operations refuse to build on it too.
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrDamaged) {
		t.Fatalf("append on a truncated trail: %v", err)
	}
}

// A head left in place while the records before it are deleted: only the
// head's own record can be missing after a crash.
func TestRecordsMissingBeforeTheHead(t *testing.T) {
	ctx := context.Background()
	reg, st := setup(t)
	hist := fiveRecords(t, reg)
	del(t, st, hist[4].Key, hist[3].Key)
	if p := problemsOf(t, reg); !strings.Contains(p, "audit/credit/000004..000004-*.json: missing: the head is at 000005-registered.json but the trail ends at 3") {
		t.Fatal("the deleted records are not named")
	}
	if _, err := reg.Reconcile(ctx, "credit"); !errors.Is(err, registry.ErrDamaged) {
		t.Fatalf("reconcile: %v", err)
	}
}

// Version records and the pointer name records by key and sequence number;
// every such reference is checked.
func TestDanglingReferences(t *testing.T) {
	ctx := context.Background()
	edit := func(t *testing.T, st *store.Store, key, old, new string) {
		t.Helper()
		b, _, err := st.ReadAll(ctx, bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q:\n%s", key, old, b)
		}
		if _, err := st.Put(ctx, bucket, key, []byte(strings.Replace(string(b), old, new, 1)), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, key, old, new, want string
	}{
		{"decision", registry.VersionKey("credit", 1), `"decision": "audit/credit/000003-approved.json"`, `"decision": "audit/credit/000009-approved.json"`,
			"models/credit/versions/000001.json: its decision audit/credit/000009-approved.json does not exist"},
		{"event kind", registry.VersionKey("credit", 1), `"approved": "audit/credit/000003-approved.json"`, `"approved": "audit/credit/000002-checked.json"`,
			"models/credit/versions/000001.json: its approved event audit/credit/000002-checked.json is checked"},
		{"last event seq", registry.VersionKey("credit", 2), `"seq": 5`, `"seq": 7`,
			"models/credit/versions/000002.json: its last event audit/credit/000005-registered.json is record 5, not 7"},
		{"checks record", registry.VersionKey("credit", 1), `"audit": "audit/credit/000002-checked.json"`, `"audit": "audit/credit/000008-checked.json"`,
			"its checks record for policy p1 audit/credit/000008-checked.json does not exist"},
		{"checks object", registry.ChecksKey("credit", 1, "p1"), `"verdict": "pass"`, `"verdict": "fail"`,
			"models/credit/checks/000001-p1.json: hashes to"},
		{"champion seq", registry.ChampionKey("credit"), `"seq": 4`, `"seq": 3`,
			"models/credit/champion: its decision audit/credit/000004-promoted.json is record 4, not 3"},
		{"champion decision", registry.ChampionKey("credit"), `"decision": "audit/credit/000004-promoted.json"`, `"decision": "audit/credit/000003-approved.json"`,
			"models/credit/champion: its decision audit/credit/000003-approved.json is record 3, not 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, st := setup(t)
			fiveRecords(t, reg)
			edit(t, st, c.key, c.old, c.new)
			if p := problemsOf(t, reg); !strings.Contains(p, c.want) {
				t.Fatalf("verify does not say %q", c.want)
			}
			if _, err := reg.Reconcile(ctx, "credit"); !errors.Is(err, registry.ErrDamaged) {
				t.Fatalf("reconcile: %v", err)
			}
		})
	}
	t.Run("checks object deleted", func(t *testing.T) {
		reg, st := setup(t)
		fiveRecords(t, reg)
		del(t, st, registry.ChecksKey("credit", 1, "p1"))
		if p := problemsOf(t, reg); !strings.Contains(p, "models/credit/versions/000001.json: the check results models/credit/checks/000001-p1.json do not exist") {
			t.Fatal("the deleted check results are not named")
		}
	})
}

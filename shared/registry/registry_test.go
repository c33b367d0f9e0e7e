package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

const bucket = "platform"

func setup(t *testing.T) (*registry.Registry, *store.Store) {
	t.Helper()
	_, st := lambdatest.S3(t, bucket)
	return registry.New(st, registry.Config{Bucket: bucket}), st
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func runID(i int) string { return fmt.Sprintf("credit-%016x-1", i) }

func register(t *testing.T, reg *registry.Registry, model string, i int) *registry.Version {
	t.Helper()
	v, _, err := reg.Register(context.Background(), registry.RegisterInput{Model: model, RunID: runID(i),
		BundleSHA256: sha(runID(i)), BundlePrefix: "runs/" + runID(i) + "/bundle/", DatasetVersion: "ds1",
		ContractHash: "c1", SpecHash: "s1", Principal: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pass records a passing check of v: only what passed its policy is approved.
func pass(t *testing.T, reg *registry.Registry, v *registry.Version) {
	t.Helper()
	if _, err := reg.RecordChecks(context.Background(), registry.ChecksInput{Model: v.Model, Version: v.Version, PolicyHash: "p1",
		Verdict: registry.VerdictPass, Checks: []map[string]any{{"name": "auc", "pass": true}}, Principal: "gate", Reason: "policy evaluated"}); err != nil {
		t.Fatal(err)
	}
}

func approve(t *testing.T, reg *registry.Registry, v *registry.Version) {
	t.Helper()
	pass(t, reg, v)
	if _, err := reg.Approve(context.Background(), registry.DecisionInput{Model: v.Model, Version: v.Version,
		BundleSHA256: v.BundleSHA256, Principal: "alice", Reason: "looks good"}); err != nil {
		t.Fatal(err)
	}
}

func promote(t *testing.T, reg *registry.Registry, v *registry.Version) {
	t.Helper()
	if _, err := reg.Promote(context.Background(), registry.PromoteInput{Model: v.Model, Version: v.Version,
		Principal: "alice", Reason: "ship it"}); err != nil {
		t.Fatal(err)
	}
}

func verifyOK(t *testing.T, reg *registry.Registry, model string) {
	t.Helper()
	rep, err := reg.Verify(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify %s: %s", model, strings.Join(rep.Problems, "\n"))
	}
}

func states(t *testing.T, reg *registry.Registry, model string) map[int]registry.State {
	t.Helper()
	vs, err := reg.List(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]registry.State{}
	for _, v := range vs {
		out[v.Version] = v.State
	}
	return out
}

func TestRegisterRace(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	const n = 20
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, created, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(i),
				BundleSHA256: sha(runID(i)), Principal: "gate"})
			if err != nil || !created {
				t.Errorf("run %d: created %v, %v", i, created, err)
				return
			}
			got[i] = v.Version
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, v := range got {
		if v < 1 || v > n || seen[v] {
			t.Fatalf("run %d got version %d (all: %v)", i, v, got)
		}
		seen[v] = true
	}
	hist, err := reg.History(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != n {
		t.Fatalf("%d audit records, want %d", len(hist), n)
	}
	for i, e := range hist {
		if e.Kind != registry.KindRegistered || e.Seq != i+1 || got[indexOf(e.RunID)] != e.Version {
			t.Fatalf("record %d: %+v", i, e)
		}
	}
	verifyOK(t, reg, "credit")
}

func indexOf(run string) int {
	var i int
	_, _ = fmt.Sscanf(run, "credit-%016x-1", &i)
	return i
}

func TestRegisterDuplicates(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	var created atomic.Int32
	var wg sync.WaitGroup
	versions := make([]int, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, c, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(7), BundleSHA256: sha(runID(7)), Principal: "gate"})
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			versions[i] = v.Version
		}()
	}
	wg.Wait()
	for _, v := range versions {
		if v != 1 {
			t.Fatalf("versions %v, want all 1", versions)
		}
	}
	if created.Load() != 1 {
		t.Fatalf("%d registrations reported created, want 1", created.Load())
	}
	if v := register(t, reg, "credit", 8); v.Version != 2 {
		t.Fatalf("next run got version %d, want 2", v.Version)
	}
	hist, _ := reg.History(ctx, "credit")
	if len(hist) != 2 {
		t.Fatalf("%d records, want 2", len(hist))
	}
	// Same run, another bundle: refused.
	_, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(7), BundleSHA256: sha("other"), Principal: "gate"})
	if !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("re-registering a run with another bundle: %v", err)
	}
	verifyOK(t, reg, "credit")
}

func TestPromoteRace(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	const n = 20
	vs := make([]*registry.Version, n)
	for i := range n {
		vs[i] = register(t, reg, "credit", i)
		approve(t, reg, vs[i])
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: vs[i].Version, Principal: fmt.Sprint("gate-", i), Reason: "race"})
			if err != nil || !res.Created {
				t.Errorf("promote %d: %v", vs[i].Version, err)
			}
		}()
	}
	wg.Wait()
	hist, err := reg.History(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	var promos []registry.Entry
	for _, e := range hist {
		if e.Kind == registry.KindPromoted {
			promos = append(promos, e)
		}
	}
	if len(promos) != n {
		t.Fatalf("%d promotions in the trail, want %d", len(promos), n)
	}
	for i, p := range promos {
		want := 0
		if i > 0 {
			want = promos[i-1].Version
		}
		if p.Previous != want {
			t.Fatalf("promotion %s archived version %d, want %d (the champion before it)", p.Key, p.Previous, want)
		}
	}
	last := promos[n-1]
	c, err := reg.Champion(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if last.Approver != "alice" || last.Approval == "" || last.Hashes.BundleSHA256 == "" {
		t.Fatalf("the promotion does not name its approval: %+v", last)
	}
	if c.Version != last.Version || c.Decision != last.Key || c.BundleSHA256 != last.Hashes.BundleSHA256 {
		t.Fatalf("champion %+v, want the last promotion %s", c, last.Key)
	}
	champions := 0
	for v, s := range states(t, reg, "credit") {
		switch {
		case s == registry.StateChampion:
			champions++
			if v != last.Version {
				t.Fatalf("version %d is champion, the pointer says %d", v, last.Version)
			}
		case s != registry.StateArchived:
			t.Fatalf("version %d is %s, want archived", v, s)
		}
	}
	if champions != 1 {
		t.Fatalf("%d champions", champions)
	}
	verifyOK(t, reg, "credit")
}

// build returns a fresh model with a version in state s (the last one).
func build(t *testing.T, reg *registry.Registry, model string, s registry.State) *registry.Version {
	t.Helper()
	ctx := context.Background()
	v := register(t, reg, model, 1)
	pass(t, reg, v) // approvable, where the state allows approval
	in := registry.DecisionInput{Model: model, Version: v.Version, BundleSHA256: v.BundleSHA256, Principal: "p", Reason: "r"}
	var err error
	switch s {
	case registry.StatePendingApproval:
		_, err = reg.MarkPending(ctx, in)
	case registry.StateApproved:
		_, err = reg.Approve(ctx, in)
	case registry.StateRejected:
		_, err = reg.Reject(ctx, in)
	case registry.StateChampion:
		approve(t, reg, v)
		promote(t, reg, v)
	case registry.StateArchived:
		approve(t, reg, v)
		promote(t, reg, v)
		w := register(t, reg, model, 2)
		approve(t, reg, w)
		promote(t, reg, w)
	case registry.StateRetired:
		_, err = reg.Retire(ctx, registry.RetireInput{Model: model, Version: v.Version, Principal: "p", Reason: "r"})
	}
	if err != nil {
		t.Fatal(err)
	}
	v, err = reg.Get(ctx, model, v.Version)
	if err != nil || v.State != s {
		t.Fatalf("set up %s: got %v, %v", s, v, err)
	}
	return v
}

func TestTransitions(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	type op struct {
		action registry.Action
		kind   registry.Kind
		do     func(in registry.DecisionInput) (*registry.Result, error)
	}
	ops := []op{
		{registry.ActionMarkPending, registry.KindPending, func(in registry.DecisionInput) (*registry.Result, error) { return reg.MarkPending(ctx, in) }},
		{registry.ActionApprove, registry.KindApproved, func(in registry.DecisionInput) (*registry.Result, error) { return reg.Approve(ctx, in) }},
		{registry.ActionReject, registry.KindRejected, func(in registry.DecisionInput) (*registry.Result, error) { return reg.Reject(ctx, in) }},
		{registry.ActionPromote, registry.KindPromoted, func(in registry.DecisionInput) (*registry.Result, error) {
			return reg.Promote(ctx, registry.PromoteInput{Model: in.Model, Version: in.Version, Principal: in.Principal, Reason: in.Reason})
		}},
		{registry.ActionRetire, registry.KindRetired, func(in registry.DecisionInput) (*registry.Result, error) {
			return reg.Retire(ctx, registry.RetireInput{Model: in.Model, Version: in.Version, Principal: in.Principal, Reason: in.Reason})
		}},
	}
	var refused atomic.Int32
	t.Run("matrix", func(t *testing.T) {
		for si, s := range registry.States {
			for oi, o := range ops {
				t.Run(fmt.Sprintf("%s/%s", s, o.action), func(t *testing.T) {
					t.Parallel()
					model := fmt.Sprintf("m%d-%d", si, oi)
					v := build(t, reg, model, s)
					in := registry.DecisionInput{Model: model, Version: v.Version, BundleSHA256: v.BundleSHA256, Principal: "p", Reason: "r"}
					before, _ := reg.History(ctx, model)
					res, err := o.do(in)
					after, _ := reg.History(ctx, model)
					_, legal := registry.Next(s, o.action)
					switch {
					case v.Events[o.kind] != "" && (o.kind != registry.KindPromoted || s == registry.StateChampion): // a duplicate
						if err != nil || res.Created || len(after) != len(before) {
							t.Errorf("%s: repeating %s: %v, %+v", s, o.action, err, res)
						}
					case legal == nil:
						if err != nil || !res.Created {
							t.Errorf("%s → %s: %v", s, o.action, err)
						}
					default:
						refused.Add(1)
						if !errors.Is(err, registry.ErrTransition) || len(after) != len(before) {
							t.Errorf("%s: %s: got %v, want ErrTransition and no record", s, o.action, err)
						}
						if want := fmt.Sprintf("version 1 is %s: cannot %s; allowed:", s, o.action); err != nil && !strings.Contains(err.Error(), want) {
							t.Errorf("message %q lacks %q", err, want)
						}
					}
					verifyOK(t, reg, model)
				})
			}
		}
	})
	if refused.Load() < 15 {
		t.Fatalf("only %d illegal transitions tried", refused.Load())
	}
	// The message names what is allowed.
	v := build(t, reg, "msg", registry.StateRejected)
	_, err := reg.Approve(ctx, registry.DecisionInput{Model: "msg", Version: v.Version, BundleSHA256: v.BundleSHA256, Principal: "p", Reason: "r"})
	if err == nil || !strings.Contains(err.Error(), "version 1 is rejected: cannot approve; allowed: retire") {
		t.Fatalf("got %v", err)
	}
	// Principal and reason are required.
	if _, err := reg.Reject(ctx, registry.DecisionInput{Model: "msg", Version: 1, Principal: "p"}); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	if _, err := reg.Reject(ctx, registry.DecisionInput{Model: "msg", Version: 1, Reason: "r"}); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("no principal: %v", err)
	}
}

func TestApproveOtherBundle(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	v := register(t, reg, "credit", 1)
	res, err := reg.Approve(ctx, registry.DecisionInput{Model: "credit", Version: 1, BundleSHA256: sha("tampered"), Principal: "alice", Reason: "ok"})
	if !errors.Is(err, registry.ErrBundleMismatch) {
		t.Fatalf("approval of another bundle: %v", err)
	}
	if res.Record.Kind != registry.KindRefused || !strings.Contains(res.Record.Reason, sha("tampered")) {
		t.Fatalf("refusal not audited: %+v", res.Record)
	}
	if got, _ := reg.Get(ctx, "credit", 1); got.State != registry.StateRegistered {
		t.Fatalf("state %s after a refused approval", got.State)
	}
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 1, Principal: "a", Reason: "r"}); !errors.Is(err, registry.ErrTransition) {
		t.Fatalf("promote unapproved: %v", err)
	}
	approve(t, reg, v)
	// A repeated approval naming another bundle is not a duplicate: refused.
	if _, err := reg.Approve(ctx, registry.DecisionInput{Model: "credit", Version: 1, BundleSHA256: sha("tampered"), Principal: "bob", Reason: "ok"}); !errors.Is(err, registry.ErrBundleMismatch) {
		t.Fatalf("second approval of another bundle: %v", err)
	}
	hist, _ := reg.History(ctx, "credit")
	if len(hist) != 5 || hist[2].Kind != registry.KindChecked || hist[4].Kind != registry.KindRefused { // registered, refused, checked, approved, refused
		t.Fatalf("trail: %d records", len(hist))
	}
	verifyOK(t, reg, "credit")
}

func TestChecksOncePerPolicy(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	register(t, reg, "credit", 1)
	in := registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: "p1", Verdict: registry.VerdictPass,
		Checks: []map[string]any{{"name": "auc", "value": 0.8, "threshold": 0.75, "pass": true}}, Principal: "gate"}
	first, err := reg.RecordChecks(ctx, in)
	if err != nil || !first.Created || first.Audit == "" {
		t.Fatalf("%+v %v", first, err)
	}
	in.Verdict = registry.VerdictFail
	again, err := reg.RecordChecks(ctx, in)
	if err != nil || again.Created || again.Record.Verdict != registry.VerdictPass || again.Audit != first.Audit || again.SHA256 != first.SHA256 {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	res, err := reg.Approve(ctx, registry.DecisionInput{Model: "credit", Version: 1, BundleSHA256: sha(runID(1)), Principal: "alice", Reason: "ok"})
	if err != nil || res.Record.Hashes.PolicyHash != "p1" {
		t.Fatalf("approval %+v %v", res, err)
	}
	hist, _ := reg.History(ctx, "credit")
	if len(hist) != 3 || hist[1].Kind != registry.KindChecked || hist[1].Hashes.ChecksSHA256 != first.SHA256 {
		t.Fatalf("trail %+v", hist)
	}
	// A tampered bundle is refused once per run.
	for range 2 {
		if _, err := reg.Refuse(ctx, registry.RefuseInput{Model: "credit", RunID: runID(9), BundleSHA256: sha("x"), Principal: "gate", Reason: "bundle hash mismatch"}); err != nil {
			t.Fatal(err)
		}
	}
	hist, _ = reg.History(ctx, "credit")
	if len(hist) != 4 || hist[3].Kind != registry.KindRefused {
		t.Fatalf("refusals: %d records", len(hist))
	}
	verifyOK(t, reg, "credit")
}

func TestRollbackRetire(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	v1, v2 := register(t, reg, "credit", 1), register(t, reg, "credit", 2)
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrNoPrevious) {
		t.Fatalf("rollback with nothing: %v", err)
	}
	approve(t, reg, v1)
	promote(t, reg, v1)
	approve(t, reg, v2)
	promote(t, reg, v2)
	want := func(champ int, st map[int]registry.State) {
		t.Helper()
		c, err := reg.Champion(ctx, "credit")
		if champ == 0 {
			if !errors.Is(err, registry.ErrNoChampion) {
				t.Fatalf("champion %+v %v, want none", c, err)
			}
		} else if err != nil || c.Version != champ {
			t.Fatalf("champion %+v %v, want %d", c, err, champ)
		}
		got := states(t, reg, "credit")
		for v, s := range st {
			if got[v] != s {
				t.Fatalf("version %d is %s, want %s", v, got[v], s)
			}
		}
		verifyOK(t, reg, "credit")
	}
	want(2, map[int]registry.State{1: registry.StateArchived, 2: registry.StateChampion})
	res, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", From: 2, Principal: "p", Reason: "bad"})
	if err != nil || !res.Created || res.Record.Version != 1 || res.Record.Previous != 2 {
		t.Fatalf("rollback %+v %v", res, err)
	}
	want(1, map[int]registry.State{1: registry.StateChampion, 2: registry.StateArchived})
	dup, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", From: 2, Principal: "p", Reason: "bad"})
	if err != nil || dup.Created || dup.Key != res.Key {
		t.Fatalf("duplicate rollback %+v %v", dup, err)
	}
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", From: 3, Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrStale) {
		t.Fatalf("rollback from a non-champion: %v", err)
	}
	// Retiring the champion needs force.
	_, err = reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: 1, Principal: "p", Reason: "r"})
	if !errors.Is(err, registry.ErrTransition) || !strings.Contains(err.Error(), "force") {
		t.Fatalf("retire the champion: %v", err)
	}
	// Retire v2 (archived), then force-retire the champion: no champion.
	if _, err := reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: 2, Principal: "p", Reason: "old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: 1, Principal: "p", Reason: "broken", Force: true}); err != nil {
		t.Fatal(err)
	}
	want(0, map[int]registry.State{1: registry.StateRetired, 2: registry.StateRetired})
	// Retired is final: nothing to roll back to, nothing brings it back.
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrNoPrevious) {
		t.Fatalf("rollback to retired: %v", err)
	}
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 1, Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrTransition) {
		t.Fatalf("promote retired: %v", err)
	}
	// A new version can become champion again; a rollback after a forced
	// retirement restores the most recent archived champion.
	v3, v4 := register(t, reg, "credit", 3), register(t, reg, "credit", 4)
	approve(t, reg, v3)
	promote(t, reg, v3)
	approve(t, reg, v4)
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 4, Principal: "p", Reason: "r", OnlyOverLower: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Retire(ctx, registry.RetireInput{Model: "credit", Version: 4, Principal: "p", Reason: "r", Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "restore"}); err != nil {
		t.Fatal(err)
	}
	want(3, map[int]registry.State{3: registry.StateChampion, 4: registry.StateRetired})
}

func TestOnlyOverLower(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	v1, v2 := register(t, reg, "credit", 1), register(t, reg, "credit", 2)
	approve(t, reg, v1)
	approve(t, reg, v2)
	promote(t, reg, v2)
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 1, Principal: "gate", Reason: "auto", OnlyOverLower: true}); !errors.Is(err, registry.ErrStale) {
		t.Fatalf("late older candidate: %v", err)
	}
	verifyOK(t, reg, "credit")
}

// Promotions, rollbacks, retirements, duplicates and reconcile sweeps all at
// once: the trail stays whole and the derived state agrees with it.
func TestConcurrentMixed(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	const n = 10
	vs := make([]*registry.Version, n)
	for i := range n {
		vs[i] = register(t, reg, "credit", i)
		approve(t, reg, vs[i])
	}
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	for range 2 {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reg.Reconcile(ctx, "credit"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: vs[i].Version, Principal: "p", Reason: "r"})
			if err != nil && !errors.Is(err, registry.ErrTransition) { // a duplicate may find it archived already
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"})
			} else {
				_, err = reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: vs[i].Version, Principal: "p", Reason: "dup"})
			}
			if err != nil && !errors.Is(err, registry.ErrNoPrevious) && !errors.Is(err, registry.ErrTransition) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	verifyOK(t, reg, "credit")
	c, err := reg.Champion(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	champions := 0
	for v, s := range states(t, reg, "credit") {
		if s == registry.StateChampion {
			champions++
			if v != c.Version {
				t.Fatalf("version %d is champion, the pointer says %d", v, c.Version)
			}
		}
	}
	if champions != 1 {
		t.Fatalf("%d champions", champions)
	}
	hist, _ := reg.History(ctx, "credit")
	promoted := map[int]int{}
	for _, e := range hist {
		if e.Kind == registry.KindPromoted {
			promoted[e.Version]++
		}
	}
	for v, k := range promoted {
		if k != 1 {
			t.Fatalf("version %d promoted %d times", v, k)
		}
	}
}

// A record JSON cannot hold (a NaN metric from a trainer) is an error the
// caller sees, never a panic and never an empty record.
func TestUnencodableRecordIsAnError(t *testing.T) {
	reg, _ := setup(t)
	_, _, err := reg.Register(context.Background(), registry.RegisterInput{Model: "credit", RunID: runID(1), BundleSHA256: sha("nan"),
		BundlePrefix: "runs/" + runID(1) + "/bundle/", Metrics: map[string]float64{"auc": math.NaN()}, Principal: "gate"})
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("registering a NaN metric: %v", err)
	}
}

// Only what passed is approved (issue 10, item 1): a version whose check
// failed, or that has no check under the policy named (a crash before its
// checks, a policy changed since), is refused and the refusal audited; an
// override is approved and says so.
func TestApprovalNeedsAPass(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	v := register(t, reg, "credit", 1)
	in := registry.DecisionInput{Model: "credit", Version: 1, BundleSHA256: v.BundleSHA256, Principal: "alice", Reason: "ok"}
	if _, err := reg.Approve(ctx, in); !errors.Is(err, registry.ErrNotPassed) {
		t.Fatalf("approval before any check: %v", err)
	}
	if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: "p1", Verdict: registry.VerdictFail,
		Checks: []map[string]any{{"name": "auc", "pass": false}}, Principal: "gate", Reason: "policy evaluated"}); err != nil {
		t.Fatal(err)
	}
	in.PolicyHash = "p1"
	res, err := reg.Approve(ctx, in)
	if !errors.Is(err, registry.ErrNotPassed) || !strings.Contains(err.Error(), "is fail") || res.Record.Kind != registry.KindRefused {
		t.Fatalf("approval of a failed version: %v %+v", err, res)
	}
	in.PolicyHash = "p2"
	if _, err := reg.Approve(ctx, in); !errors.Is(err, registry.ErrNotPassed) || !strings.Contains(err.Error(), "no check under the policy in force") {
		t.Fatalf("approval under a policy it was never checked against: %v", err)
	}
	if got, _ := reg.Get(ctx, "credit", 1); got.State != registry.StateRegistered {
		t.Fatalf("state %s after refused approvals", got.State)
	}
	in.Override, in.Reason = true, "the fairness check is wrong for this slice; risk accepted by the CRO"
	res, err = reg.Approve(ctx, in)
	if err != nil || !res.Record.Override || res.Version.State != registry.StateApproved {
		t.Fatalf("override: %v %+v", err, res)
	}
	verifyOK(t, reg, "credit")
}

// A promotion rests on an approval in the trail, not on the version record's
// state, which is derived and could be altered by whoever can write the bucket.
func TestPromotionNeedsAnApprovalInTheTrail(t *testing.T) {
	reg, st := setup(t)
	ctx := context.Background()
	v := register(t, reg, "credit", 1)
	if _, err := reg.MarkPending(ctx, registry.DecisionInput{Model: "credit", Version: 1, Principal: "gate", Reason: "needs a person"}); err != nil {
		t.Fatal(err)
	}
	b, _, err := st.ReadAll(ctx, bucket, registry.VersionKey("credit", 1))
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(b), `"state": "pending_approval"`, `"state": "approved"`, 1)
	if forged == string(b) {
		t.Fatal("the test did not forge the state")
	}
	if _, err := st.Put(ctx, bucket, registry.VersionKey("credit", 1), []byte(forged), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: v.Version, Principal: "bob", Reason: "r"}); err == nil {
		t.Fatal("a forged approved state was promoted")
	}
	if _, err := reg.Champion(ctx, "credit"); !errors.Is(err, registry.ErrNoChampion) {
		t.Fatalf("champion after the refused promotion: %v", err)
	}
}

// The endpoint's view of the registry: a cached champion is revalidated with
// its ETag, an unknown model is told from one without a champion, and the
// newest version awaiting a decision is the shadow candidate.
func TestChampionIfChangedAndCandidate(t *testing.T) {
	reg, _ := setup(t)
	ctx := context.Background()
	if _, _, err := reg.ChampionIfChanged(ctx, "credit", ""); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("unknown model: %v, want ErrNotFound", err)
	}
	v1 := register(t, reg, "credit", 1)
	if _, _, err := reg.ChampionIfChanged(ctx, "credit", ""); !errors.Is(err, registry.ErrNoChampion) {
		t.Fatalf("no champion: %v, want ErrNoChampion", err)
	}
	if c, err := reg.Candidate(ctx, "credit"); err != nil || c != nil {
		t.Fatalf("candidate of a registered version: %v %v, want none", c, err)
	}
	if _, err := reg.MarkPending(ctx, registry.DecisionInput{Model: "credit", Version: 1, Principal: "gate", Reason: "needs a person"}); err != nil {
		t.Fatal(err)
	}
	if c, err := reg.Candidate(ctx, "credit"); err != nil || c == nil || c.Version != 1 {
		t.Fatalf("candidate: %+v %v, want version 1", c, err)
	}
	approve(t, reg, v1)
	promote(t, reg, v1)
	c, etag, err := reg.ChampionIfChanged(ctx, "credit", "")
	if err != nil || c.Version != 1 || etag == "" {
		t.Fatalf("champion: %+v %q %v", c, etag, err)
	}
	if _, same, err := reg.ChampionIfChanged(ctx, "credit", etag); !errors.Is(err, store.ErrNotModified) || same != etag {
		t.Fatalf("unchanged: %q %v, want ErrNotModified and the same ETag", same, err)
	}
	if c, err := reg.Candidate(ctx, "credit"); err != nil || c != nil {
		t.Fatalf("candidate once promoted: %+v %v, want none", c, err)
	}
	v2 := register(t, reg, "credit", 2)
	approve(t, reg, v2)
	if c, err := reg.Candidate(ctx, "credit"); err != nil || c == nil || c.Version != 2 {
		t.Fatalf("approved candidate: %+v %v, want version 2", c, err)
	}
	promote(t, reg, v2)
	c, etag2, err := reg.ChampionIfChanged(ctx, "credit", etag)
	if err != nil || c.Version != 2 || etag2 == etag {
		t.Fatalf("after promotion: %+v %q %v", c, etag2, err)
	}
	if _, _, err := reg.ChampionIfChanged(ctx, "../x", ""); err == nil {
		t.Fatal("a bad model name was accepted")
	}
}

// A compiled model is stored once, where its hash names it, and recorded in
// the version: by every duplicate delivery alike (racing or late), and not at
// all for a run registered without one.
func TestRegisterCompiled(t *testing.T) {
	reg, st := setup(t)
	ctx := context.Background()
	data := []byte("compiled model bytes")
	in := func(run string) registry.RegisterInput {
		return registry.RegisterInput{Model: "credit", RunID: run, BundleSHA256: sha(run), Principal: "gate",
			Compiled: &registry.CompiledInput{Data: data, Format: 1, ModelSHA256: sha("model.json")}}
	}
	want := &registry.CompiledModel{Key: registry.CompiledKey("credit", runID(1), sha(string(data))), SHA256: sha(string(data)),
		Bytes: int64(len(data)), Format: 1, ModelSHA256: sha("model.json")}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := reg.Register(ctx, in(runID(1)))
			if err != nil {
				t.Error(err)
				return
			}
			if v.Version != 1 || v.Compiled == nil || *v.Compiled != *want {
				t.Errorf("version %d records %+v, want %+v", v.Version, v.Compiled, want)
			}
		}()
	}
	wg.Wait()
	body, _, err := st.ReadAll(ctx, bucket, want.Key)
	if err != nil || string(body) != string(data) {
		t.Fatalf("stored %q, %v", body, err)
	}
	v, err := reg.Get(ctx, "credit", 1)
	if err != nil || v.Compiled == nil || *v.Compiled != *want {
		t.Fatalf("the version record names %+v (%v), want %+v", v.Compiled, err, want)
	}
	// Registered first without one: a later delivery with one changes nothing.
	if _, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(2), BundleSHA256: sha(runID(2)), Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := reg.Register(ctx, in(runID(2))); err != nil || v.Version != 2 || v.Compiled != nil {
		t.Fatalf("late delivery: %+v, %v", v, err)
	}
	bad := in(runID(3))
	bad.Compiled.ModelSHA256 = "nope"
	if _, _, err := reg.Register(ctx, bad); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("a compiled model without its model.json hash: %v", err)
	}
	verifyOK(t, reg, "credit")
}

// RunOutcome: nothing until the gate has registered a run, then its version
// as it stands; a refused run's refusal record; a run's number taken by
// another run is not its version.
func TestRunOutcome(t *testing.T) {
	reg, st := setup(t)
	ctx := context.Background()
	outcome := func(run string) (*registry.Version, *registry.AuditRecord) {
		t.Helper()
		v, rec, err := reg.RunOutcome(ctx, "credit", run)
		if err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		return v, rec
	}
	if v, rec := outcome(runID(1)); v != nil || rec != nil {
		t.Fatalf("a run the gate never saw: %+v %+v", v, rec)
	}
	v1 := register(t, reg, "credit", 1)
	if v, rec := outcome(runID(1)); v == nil || rec != nil || v.Version != 1 || v.State != registry.StateRegistered {
		t.Fatalf("registered, not decided: %+v %+v", v, rec)
	}
	pass(t, reg, v1)
	if _, err := reg.MarkPending(ctx, registry.DecisionInput{Model: "credit", Version: 1, PolicyHash: "p1", Principal: "gate", Reason: "needs a person"}); err != nil {
		t.Fatal(err)
	}
	if v, rec := outcome(runID(1)); v == nil || rec != nil || v.Version != 1 || v.RunID != runID(1) || v.State != registry.StatePendingApproval {
		t.Fatalf("decided: %+v %+v", v, rec)
	}
	if _, err := reg.Refuse(ctx, registry.RefuseInput{Model: "credit", RunID: runID(2), BundleSHA256: sha("x"), Principal: "gate", Reason: "bundle hash mismatch"}); err != nil {
		t.Fatal(err)
	}
	if v, rec := outcome(runID(2)); v != nil || rec == nil || rec.Kind != registry.KindRefused || rec.Reason != "bundle hash mismatch" {
		t.Fatalf("refused: %+v %+v", v, rec)
	}
	// A run index naming version 1, which run 1 holds: another run's
	// version is never this run's.
	idx, _ := json.Marshal(registry.RunIndex{RunID: runID(3), Version: 1, Input: registry.RegisterInput{Model: "credit", RunID: runID(3)}})
	if _, err := st.Create(ctx, bucket, registry.RunKey("credit", runID(3)), idx, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, rec := outcome(runID(3)); v != nil || rec != nil {
		t.Fatalf("a number another run holds: %+v %+v", v, rec)
	}
	for _, bad := range [][2]string{{"Credit!", runID(1)}, {"credit", "../x"}, {"credit", ""}} {
		if _, _, err := reg.RunOutcome(ctx, bad[0], bad[1]); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("%q %q: %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
	if _, err := st.Create(ctx, bucket, registry.RefusalKey("credit", runID(4)), []byte("{"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.RunOutcome(ctx, "credit", runID(4)); !errors.Is(err, registry.ErrDamaged) {
		t.Errorf("a refusal marker that is not a link: %v, want ErrDamaged", err)
	}
}

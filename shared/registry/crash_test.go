package registry_test

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// crashing fails writes the way a crash would stop them: Swap of registry
// objects (the version records and the champion pointer) and/or Create of
// audit records, while the trail's head still moves.
type crashing struct {
	registry.Store
	swap   atomic.Bool
	create atomic.Value // a string: fail Create of keys that have it (never the head)
}

var errCrash = errors.New("crash")

func (c *crashing) Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	if c.swap.Load() && strings.HasPrefix(key, registry.ModelsPrefix) {
		return store.ObjectInfo{}, errCrash
	}
	return c.Store.Swap(ctx, bucket, key, etag, body, opt)
}

func (c *crashing) Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	if m, _ := c.create.Load().(string); m != "" && path.Base(key) != "head" && strings.Contains(key, m) {
		return store.ObjectInfo{}, errCrash
	}
	return c.Store.Create(ctx, bucket, key, body, opt)
}

func TestCrashBetweenDecisionAndPointer(t *testing.T) {
	_, st := setup(t)
	ctx := context.Background()
	cs := &crashing{Store: st}
	reg := registry.New(cs, registry.Config{Bucket: bucket})
	v1, v2, v3 := register(t, reg, "credit", 1), register(t, reg, "credit", 2), register(t, reg, "credit", 3)
	for _, v := range []*registry.Version{v1, v2, v3} {
		approve(t, reg, v)
	}
	promote(t, reg, v1)

	// 1. The promotion of v2 is decided, but neither the versions nor the
	// pointer move. Reconcile finishes it.
	cs.swap.Store(true)
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 2, Principal: "p", Reason: "r"}); !errors.Is(err, errCrash) {
		t.Fatalf("promote with a crash: %v", err)
	}
	cs.swap.Store(false)
	if c, _ := reg.Champion(ctx, "credit"); c.Version != 1 {
		t.Fatalf("pointer moved to %d despite the crash", c.Version)
	}
	rep, _ := reg.Verify(ctx, "credit")
	if rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "000002.json: state approved but the trail's last event for it") {
		t.Fatalf("verify after the crash: %+v", rep)
	}
	rec, err := reg.Reconcile(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reconcile: %v", rec.Done)
	if c, _ := reg.Champion(ctx, "credit"); c.Version != 2 {
		t.Fatalf("champion %d after reconcile, want 2", c.Version)
	}
	if s := states(t, reg, "credit"); s[1] != registry.StateArchived || s[2] != registry.StateChampion {
		t.Fatalf("states %v", s)
	}
	verifyOK(t, reg, "credit")

	// 2. Same crash; repeating the operation completes it, and reports the
	// earlier decision rather than deciding twice.
	cs.swap.Store(true)
	if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 3, Principal: "p", Reason: "r"}); !errors.Is(err, errCrash) {
		t.Fatalf("promote with a crash: %v", err)
	}
	cs.swap.Store(false)
	res, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 3, Principal: "p", Reason: "r"})
	if err != nil || res.Created || res.Version.State != registry.StateChampion {
		t.Fatalf("repeat: %+v %v", res, err)
	}
	verifyOK(t, reg, "credit")

	// 3. The crash hits before the record itself is written (the head moved):
	// the next operation on the model writes it from the head.
	cs.create.Store("-rolled_back.json")
	if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"}); !errors.Is(err, errCrash) {
		t.Fatalf("rollback with a crash: %v", err)
	}
	cs.create.Store("")
	rep, _ = reg.Verify(ctx, "credit")
	if rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "rolled_back.json: missing: the head names it") {
		t.Fatalf("verify: %+v", rep)
	}
	if _, err := reg.Reconcile(ctx, "credit"); err != nil {
		t.Fatal(err)
	}
	if c, _ := reg.Champion(ctx, "credit"); c.Version != 2 {
		t.Fatalf("champion %d after the rollback, want 2", c.Version)
	}
	hist, _ := reg.History(ctx, "credit")
	if n := len(hist); hist[n-1].Kind != registry.KindRolledBack {
		t.Fatalf("last record %s", hist[n-1].Key)
	}
	verifyOK(t, reg, "credit")

	// 4. A registration that stopped after the version record, before its
	// audit record: Reconcile audits it; a redelivery does too, once.
	cs.create.Store("-registered.json")
	if _, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(4), BundleSHA256: sha(runID(4)), Principal: "gate"}); !errors.Is(err, errCrash) {
		t.Fatalf("register with a crash: %v", err)
	}
	cs.create.Store("")
	v4, created, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(4), BundleSHA256: sha(runID(4)), Principal: "gate"})
	if err != nil || created || v4.Version != 4 || v4.Seq == 0 {
		t.Fatalf("redelivery: %+v %v %v", v4, created, err)
	}
	if _, err := reg.Reconcile(ctx, "credit"); err != nil {
		t.Fatal(err)
	}
	hist, _ = reg.History(ctx, "credit")
	regs := 0
	for _, e := range hist {
		if e.Kind == registry.KindRegistered && e.Version == 4 {
			regs++
		}
	}
	if regs != 1 {
		t.Fatalf("%d registrations of version 4", regs)
	}
	verifyOK(t, reg, "credit")

	// 5. A registration that stopped between the run index and the version
	// record: Reconcile creates the version and audits it.
	cs.create.Store("/versions/")
	if _, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(5), BundleSHA256: sha(runID(5)), Principal: "gate"}); !errors.Is(err, errCrash) {
		t.Fatalf("register with a crash: %v", err)
	}
	cs.create.Store("")
	done, err := reg.Reconcile(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if v5, err := reg.Get(ctx, "credit", 5); err != nil || v5.RunID != runID(5) || v5.Seq == 0 {
		t.Fatalf("version 5 after reconcile (%v): %+v %v", done.Done, v5, err)
	}
	verifyOK(t, reg, "credit")
}

func TestTamper(t *testing.T) {
	ctx := context.Background()
	trail := func(t *testing.T) (*registry.Registry, *store.Store, []registry.Entry) {
		reg, st := setup(t)
		v := register(t, reg, "credit", 1)
		if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: "p1", Checks: []byte(`[]`), Verdict: registry.VerdictPass, Principal: "gate"}); err != nil {
			t.Fatal(err)
		}
		approve(t, reg, v)
		promote(t, reg, v)
		verifyOK(t, reg, "credit")
		hist, err := reg.History(ctx, "credit")
		if err != nil || len(hist) != 4 {
			t.Fatalf("%d records, %v", len(hist), err)
		}
		return reg, st, hist
	}
	problems := func(t *testing.T, reg *registry.Registry) string {
		t.Helper()
		return problemsOf(t, reg)
	}
	t.Run("delete", func(t *testing.T) {
		reg, st, hist := trail(t)
		if err := st.Delete(ctx, bucket, hist[1].Key, ""); err != nil {
			t.Fatal(err)
		}
		p := problems(t, reg)
		if !strings.Contains(p, "audit/credit/000002-*.json: missing (000003-approved.json names audit/credit/000002-checked.json") {
			t.Fatal("the deleted record is not named")
		}
	})
	t.Run("alter", func(t *testing.T) {
		reg, st, hist := trail(t)
		b, _, _ := st.ReadAll(ctx, bucket, hist[1].Key)
		b = []byte(strings.Replace(string(b), `"verdict": "pass"`, `"verdict": "fail"`, 1))
		if _, err := st.Put(ctx, bucket, hist[1].Key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		p := problems(t, reg)
		if !strings.Contains(p, "audit/credit/000003-approved.json: previous record hash "+hist[1].SHA256[:12]+" but 000002-checked.json hashes to") {
			t.Fatal("the altered record is not named")
		}
	})
	t.Run("alter last", func(t *testing.T) {
		reg, st, hist := trail(t)
		b, _, _ := st.ReadAll(ctx, bucket, hist[3].Key)
		b = append(b, ' ')
		if _, err := st.Put(ctx, bucket, hist[3].Key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := problems(t, reg); !strings.Contains(p, "000004-promoted.json: hashes to") {
			t.Fatal("the altered last record is not named")
		}
		// Operations refuse to build on a damaged trail.
		if _, err := reg.Rollback(ctx, registry.RollbackInput{Model: "credit", Principal: "p", Reason: "r"}); !errors.Is(err, registry.ErrDamaged) {
			t.Fatalf("append on a damaged trail: %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		reg, st, hist := trail(t)
		if _, err := st.Put(ctx, bucket, hist[2].Key, []byte("{not json"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		p := problems(t, reg)
		if !strings.Contains(p, "000003-approved.json: does not parse") || !strings.Contains(p, "000004-promoted.json: previous record hash") {
			t.Fatal("the unparsable record is not named")
		}
	})
	t.Run("state", func(t *testing.T) {
		reg, st, _ := trail(t)
		b, _, _ := st.ReadAll(ctx, bucket, registry.VersionKey("credit", 1))
		b = []byte(strings.Replace(string(b), `"state": "champion"`, `"state": "approved"`, 1))
		if _, err := st.Put(ctx, bucket, registry.VersionKey("credit", 1), b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := problems(t, reg); !strings.Contains(p, "models/credit/versions/000001.json: state approved but the trail's last event for it (audit/credit/000004-promoted.json) makes it champion") {
			t.Fatal("the altered version is not named")
		}
		if _, err := reg.Reconcile(ctx, "credit"); err != nil {
			t.Fatal(err)
		}
		verifyOK(t, reg, "credit")
	})
	t.Run("head", func(t *testing.T) {
		reg, st, _ := trail(t)
		if err := st.Delete(ctx, bucket, registry.HeadKey("credit"), ""); err != nil {
			t.Fatal(err)
		}
		if p := problems(t, reg); !strings.Contains(p, "audit/credit/head: missing") {
			t.Fatal("the missing head is not named")
		}
		// An append creates the head before record 1, so no crash leaves
		// records without a head: Reconcile refuses to rebuild it (issue 10).
		if _, err := reg.Reconcile(ctx, "credit"); !errors.Is(err, registry.ErrDamaged) {
			t.Fatalf("reconcile rebuilt a deleted head: %v", err)
		}
		if p := problems(t, reg); !strings.Contains(p, "audit/credit/head: missing") {
			t.Fatal("the missing head is not named after reconcile")
		}
	})
}

// holding holds writes of keys that have a string, the way a slow S3 would,
// until released.
type holding struct {
	registry.Store
	match   atomic.Value  // a string: hold Create and Swap of keys that have it
	reached chan struct{} // a hold began
	release chan struct{}
	heads   atomic.Int32 // reads of a head: a pass of Verify reads it twice
}

func (h *holding) ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error) {
	if path.Base(key) == "head" {
		h.heads.Add(1)
	}
	return h.Store.ReadAll(ctx, bucket, key)
}

func (h *holding) hold(key string) {
	if m, _ := h.match.Load().(string); m != "" && strings.Contains(key, m) {
		h.match.Store("")
		h.reached <- struct{}{}
		<-h.release
	}
}

func (h *holding) Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	h.hold(key)
	return h.Store.Swap(ctx, bucket, key, etag, body, opt)
}

func (h *holding) Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	h.hold(key)
	return h.Store.Create(ctx, bucket, key, body, opt)
}

// An operation in flight leaves, for a moment, what a crash would leave: a
// version registered but not audited, a record appended but not applied.
// Verify called in that moment waits for it to finish rather than report
// a problem; one pass reports it.
func TestVerifyBesideOperationsInFlight(t *testing.T) {
	_, st := setup(t)
	ctx := context.Background()
	h := &holding{Store: st, reached: make(chan struct{}), release: make(chan struct{})}
	reg := registry.New(h, registry.Config{Bucket: bucket})
	v1 := register(t, reg, "credit", 1)
	approve(t, reg, v1)
	cases := []struct {
		name, match, want string
		op                func() error
	}{
		{"registration before its record", "-registered.json", "no registration in the trail", func() error {
			_, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(2), BundleSHA256: sha(runID(2)),
				BundlePrefix: "runs/" + runID(2) + "/bundle/", DatasetVersion: "ds1", ContractHash: "c1", SpecHash: "s1", Principal: "gate"})
			return err
		}},
		{"promotion before the version record moves", "/versions/000001.json", "state approved but the trail's last event", func() error {
			_, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: 1, Principal: "p", Reason: "r"})
			return err
		}},
	}
	for _, c := range cases {
		h.match.Store(c.match)
		done := make(chan error, 1)
		go func() { done <- c.op() }()
		select {
		case <-h.reached:
		case err := <-done:
			t.Fatalf("%s: the operation ended (%v) without writing a key with %q", c.name, err, c.match)
		}
		once, err := reg.VerifyOnce(ctx, "credit")
		if err != nil || once.OK || len(once.Damage) > 0 || !strings.Contains(strings.Join(once.Problems, "\n"), c.want) {
			close(h.release)
			t.Fatalf("%s: one pass: %+v %v; want the problem %q and no damage", c.name, once, err, c.want)
		}
		got := make(chan *registry.VerifyReport, 1)
		heads := h.heads.Load()
		go func() {
			rep, err := reg.Verify(ctx, "credit")
			if err != nil {
				t.Error(err)
			}
			got <- rep
		}()
		// Release once Verify's first pass is over, so that it found the
		// operation unfinished.
		for h.heads.Load() < heads+2 {
			time.Sleep(time.Millisecond)
		}
		h.release <- struct{}{}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if rep := <-got; rep == nil || !rep.OK {
			t.Fatalf("%s: verify beside it: %+v", c.name, rep)
		}
	}
}

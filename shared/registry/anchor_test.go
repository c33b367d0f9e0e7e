package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

func hmacSigner(t *testing.T, seed string) *registry.HMACSigner {
	t.Helper()
	s, err := registry.NewHMACSigner(bytes.Repeat([]byte(seed), registry.MinHMACKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signed is a registry whose trail is anchored by an HMAC key.
func signed(t *testing.T) (*registry.Registry, *store.Store, *registry.HMACSigner) {
	t.Helper()
	_, st := lambdatest.S3(t, bucket)
	s := hmacSigner(t, "k")
	return registry.New(st, registry.Config{Bucket: bucket, Signer: s}), st, s
}

func TestHMACSigner(t *testing.T) {
	ctx := context.Background()
	if _, err := registry.NewHMACSigner(make([]byte, registry.MinHMACKey-1)); err == nil {
		t.Fatal("a short key was taken")
	}
	a, b := hmacSigner(t, "a"), hmacSigner(t, "b")
	if a.KeyID() == b.KeyID() || !strings.HasPrefix(a.KeyID(), "hmac-sha256:") || a.KeyID() != hmacSigner(t, "a").KeyID() {
		t.Fatalf("key ids %s %s", a.KeyID(), b.KeyID())
	}
	mac, id, err := a.Sign(ctx, []byte("m"))
	if err != nil || id != a.KeyID() {
		t.Fatal(id, err)
	}
	for _, c := range []struct {
		s       *registry.HMACSigner
		msg, id string
		want    bool
	}{{a, "m", a.KeyID(), true}, {a, "n", a.KeyID(), false}, {b, "m", b.KeyID(), false}, {b, "m", a.KeyID(), false}} {
		if ok, err := c.s.Verify(ctx, []byte(c.msg), mac, c.id); err != nil || ok != c.want {
			t.Fatalf("verify %q under %s: %v %v", c.msg, c.id, ok, err)
		}
	}
}

func TestCheckpointsAnchorTheTrail(t *testing.T) {
	ctx := context.Background()
	reg, st, s := signed(t)
	fiveRecords(t, reg)
	rep, err := reg.Verify(ctx, "credit")
	if err != nil || !rep.OK || !rep.Anchored || !strings.Contains(rep.Anchor, s.KeyID()) {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	for seq := 1; seq <= 5; seq++ {
		b, _, err := st.ReadAll(ctx, bucket, registry.CheckpointKey("credit", seq))
		if err != nil {
			t.Fatal(err)
		}
		if c, err := registry.ParseCheckpoint(b); err != nil || c.Seq != seq || c.KeyID != s.KeyID() {
			t.Fatalf("checkpoint %d: %+v %v", seq, c, err)
		}
	}
	// History lists records, not checkpoints.
	if hist, err := reg.History(ctx, "credit"); err != nil || len(hist) != 5 {
		t.Fatalf("history: %d %v", len(hist), err)
	}

	// The same trail read without the key verifies, but says it is not anchored.
	plain := registry.New(st, registry.Config{Bucket: bucket})
	if rep, err := plain.Verify(ctx, "credit"); err != nil || !rep.OK || rep.Anchored || !strings.Contains(rep.Anchor, "unanchored") {
		t.Fatalf("verify without a key: %+v %v", rep, err)
	}
	// Another key does not verify it.
	other := registry.New(st, registry.Config{Bucket: bucket, Signer: hmacSigner(t, "x")})
	if rep, err := other.Verify(ctx, "credit"); err != nil || rep.OK || len(rep.Damage) != 5 || !strings.Contains(rep.Damage[0], "MAC does not verify") {
		t.Fatalf("verify under another key: %+v %v", rep, err)
	}
}

// rewrite changes record i of the trail and rewrites every later record and
// the head so that the hash chain is whole again: what someone with write
// access to the bucket, but not the key, can do.
func rewrite(t *testing.T, st *store.Store, hist []registry.Entry, i int, change func(*registry.AuditRecord)) {
	t.Helper()
	ctx := context.Background()
	var prev *registry.Link
	for j := i; j < len(hist); j++ {
		rec := hist[j].AuditRecord
		if j == i {
			change(&rec)
		} else {
			rec.Prev = prev
		}
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(ctx, bucket, hist[j].Key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		prev = &registry.Link{Key: hist[j].Key, SHA256: hex.EncodeToString(sum[:])}
		if j == len(hist)-1 {
			h, _ := json.MarshalIndent(registry.Head{Seq: rec.Seq, Key: hist[j].Key, SHA256: prev.SHA256, Record: b}, "", "  ")
			if _, err := st.Put(ctx, bucket, registry.HeadKey("credit"), h, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestConsistentRewriteIsDetected(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := signed(t)
	hist := fiveRecords(t, reg)
	rewrite(t, st, hist, 2, func(r *registry.AuditRecord) { r.Principal, r.Reason = "mallory", "nothing to see" })

	p := problemsOf(t, reg)
	for seq, key := range []string{"000003-approved.json", "000004-promoted.json", "000005-registered.json"} {
		want := registry.CheckpointKey("credit", seq+3) + ": signs " + key + " hashing to"
		if !strings.Contains(p, want) || !strings.Contains(p, "the chain was rewritten") {
			t.Fatalf("verify does not say %q", want)
		}
	}
	// Rewrite the checkpoints too: without the key their MACs cannot follow.
	hist, _ = reg.History(ctx, "credit")
	for _, e := range hist[2:] {
		key := registry.CheckpointKey("credit", e.Seq)
		b, _, _ := st.ReadAll(ctx, bucket, key)
		var c registry.Checkpoint
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		c.SHA256 = e.SHA256
		b, _ = json.Marshal(c)
		if _, err := st.Put(ctx, bucket, key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Read without the key, the rewrite is whole: the limit of a hash chain.
	plain := registry.New(st, registry.Config{Bucket: bucket})
	if rep, err := plain.Verify(ctx, "credit"); err != nil || !rep.OK || rep.Anchored {
		t.Fatalf("verify without the key: %+v %v", rep, err)
	}
	p = problemsOf(t, reg)
	for seq := 3; seq <= 5; seq++ {
		if want := registry.CheckpointKey("credit", seq) + ": its MAC does not verify"; !strings.Contains(p, want) {
			t.Fatalf("verify does not say %q", want)
		}
	}
	if _, err := reg.Reconcile(ctx, "credit"); !errors.Is(err, registry.ErrDamaged) {
		t.Fatalf("reconcile: %v", err)
	}
}

func TestCutTrailIsDetectedByItsCheckpoints(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := signed(t)
	hist := fiveRecords(t, reg)
	// Cut the last two records and make the head name the new last one.
	del(t, st, hist[4].Key, hist[3].Key, registry.HeadKey("credit"))
	rewrite(t, st, hist[:3], 2, func(*registry.AuditRecord) {})
	p := problemsOf(t, reg)
	if !strings.Contains(p, "audit/credit/checkpoints/000004.json: signs 000004-promoted.json but the trail ends at record 3: the records after it were deleted") {
		t.Fatal("the cut is not named")
	}
	// Writing on after the cut collides with the checkpoints left behind.
	_, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: runID(7), BundleSHA256: sha(runID(7)), Principal: "gate"})
	if !errors.Is(err, registry.ErrDamaged) || !strings.Contains(err.Error(), "signs another record") {
		t.Fatalf("register on a cut trail: %v", err)
	}
}

func TestForgedCheckpoint(t *testing.T) {
	ctx := context.Background()
	reg, st, _ := signed(t)
	fiveRecords(t, reg)
	key := registry.CheckpointKey("credit", 2)
	b, _, _ := st.ReadAll(ctx, bucket, key)
	var c registry.Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c.SHA256 = strings.Repeat("0", 64)
	b, _ = json.Marshal(c)
	if _, err := st.Put(ctx, bucket, key, b, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := problemsOf(t, reg); !strings.Contains(p, key+": its MAC does not verify") {
		t.Fatal("the forged checkpoint is not named")
	}
	// A deleted checkpoint is damage too, except the last record's (a crash).
	del(t, st, key)
	if p := problemsOf(t, reg); !strings.Contains(p, key+": missing: 000002-checked.json is not anchored") {
		t.Fatal("the missing checkpoint is not named")
	}
}

// The states an interrupted append leaves are still repaired with a signer:
// the head moved but the record is not written, or the record is written but
// not signed.
func TestSignedCrashStates(t *testing.T) {
	ctx := context.Background()
	_, st := lambdatest.S3(t, bucket)
	cs := &crashing{Store: st}
	reg := registry.New(cs, registry.Config{Bucket: bucket, Signer: hmacSigner(t, "k")})
	for i := 1; i <= 2; i++ {
		approve(t, reg, register(t, reg, "credit", i))
	}
	// Each version is registered, checked and approved: the promotions are records 7 and 8.
	for i, where := range []string{"/checkpoints/000007.json", "/000008-promoted.json"} {
		cs.create.Store(where)
		if _, err := reg.Promote(ctx, registry.PromoteInput{Model: "credit", Version: i + 1, Principal: "p", Reason: "r"}); !errors.Is(err, errCrash) {
			t.Fatalf("promote with a crash at %s: %v", where, err)
		}
		cs.create.Store("")
		rep, err := reg.VerifyOnce(ctx, "credit")
		if err != nil || rep.OK || len(rep.Damage) > 0 {
			t.Fatalf("verify after a crash at %s: %+v %v", where, rep, err)
		}
		t.Logf("after a crash at %s: %s", where, strings.Join(rep.Problems, "; "))
		if _, err := reg.Reconcile(ctx, "credit"); err != nil {
			t.Fatal(err)
		}
		verifyOK(t, reg, "credit")
		if c, err := reg.Champion(ctx, "credit"); err != nil || c.Version != i+1 {
			t.Fatalf("champion after reconcile: %+v %v", c, err)
		}
	}
}

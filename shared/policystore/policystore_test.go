package policystore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/store"
)

const bucket = "platform"

// Apply stores the canonical JSON once and moves the pointer; Current reads
// it back through the embedded S3 endpoint and the real SDK.
func TestApplyCurrent(t *testing.T) {
	ctx := context.Background()
	_, st := lambdatest.S3(t, bucket)
	if _, _, err := policystore.Current(ctx, st, bucket, "credit"); !errors.Is(err, policystore.ErrNoPolicy) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no policy yet: %v", err)
	}
	p := lambdatest.CreditPolicy(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	a, err := policystore.Apply(ctx, st, bucket, p, at)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Changed || a.Model != "credit" || a.Hash != p.Hash() || a.Key != "policies/credit/"+p.Hash()+".json" {
		t.Fatalf("applied: %+v", a)
	}
	stored, _, err := st.ReadAll(ctx, bucket, a.Key)
	if err != nil || string(stored) != string(p.Canonical()) {
		t.Fatalf("stored: %v\n%s", err, stored)
	}
	ptr, _, err := st.ReadAll(ctx, bucket, "policies/credit/current")
	want := fmt.Sprintf(`{"hash":%q,"key":%q,"at":"2026-03-01T11:00:00Z"}`, a.Hash, a.Key)
	if err != nil || string(ptr) != want {
		t.Fatalf("pointer:\n got %s\nwant %s (%v)", ptr, want, err)
	}

	// Again, and with its comments edited: nothing changes.
	if again, err := policystore.Apply(ctx, st, bucket, p, at.Add(time.Hour)); err != nil || again.Changed {
		t.Fatalf("re-apply: %+v %v", again, err)
	}
	edited, err := policy.Parse("policy.yaml", []byte(strings.ReplaceAll(string(credit.PolicyYAML()), "#", "\n# edited:")))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := policystore.Apply(ctx, st, bucket, edited, at); err != nil || again.Changed || again.Hash != a.Hash {
		t.Fatalf("re-apply with other comments: %+v %v", again, err)
	}
	if ptr2, _, _ := st.ReadAll(ctx, bucket, "policies/credit/current"); string(ptr2) != want {
		t.Fatalf("a no-op apply rewrote the pointer: %s", ptr2)
	}
	got, hash, err := policystore.Current(ctx, st, bucket, "credit")
	if err != nil || hash != a.Hash || got.Hash() != a.Hash {
		t.Fatalf("current: %v %s", err, hash)
	}

	// A new version becomes current; the old one stays, loadable by hash.
	q := *p
	q.MinTestRows = 600
	b, err := policystore.Apply(ctx, st, bucket, &q, at)
	if err != nil || !b.Changed || b.Hash == a.Hash {
		t.Fatalf("new version: %+v %v", b, err)
	}
	if cur, hash, _ := policystore.Current(ctx, st, bucket, "credit"); hash != b.Hash || cur.MinTestRows != 600 {
		t.Fatalf("current is %s, want %s", hash, b.Hash)
	}
	if old, err := policystore.Load(ctx, st, bucket, "credit", a.Hash); err != nil || old.Hash() != a.Hash {
		t.Fatalf("load the earlier version: %v", err)
	}

	// An invalid policy is refused, and nothing moves.
	bad := *p
	bad.AutoPromote = true
	if _, err := policystore.Apply(ctx, st, bucket, &bad, at); err == nil || err.Error() != "model credit: invalid policy:\nautoPromote: autoPromote needs approval.required: false: a required approval is what promotes" {
		t.Fatalf("invalid: %v", err)
	}
	if _, hash, _ := policystore.Current(ctx, st, bucket, "credit"); hash != b.Hash {
		t.Fatal("a refused policy moved the pointer")
	}
}

// Corruption is reported, not served.
func TestCurrentCorrupt(t *testing.T) {
	ctx := context.Background()
	_, st := lambdatest.S3(t, bucket)
	p := lambdatest.CreditPolicy(t)
	a, err := policystore.Apply(ctx, st, bucket, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := st.ReadAll(ctx, bucket, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(p.Canonical()), `"auc":0.75`, `"auc":0.5`, 1)
	if _, err := st.Swap(ctx, bucket, a.Key, info.ETag, []byte(tampered), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := policystore.Current(ctx, st, bucket, "credit"); err == nil || !strings.Contains(err.Error(), "the stored policy is corrupt") {
		t.Fatalf("tampered: %v", err)
	}
	_, info, _ = st.ReadAll(ctx, bucket, policystore.PointerKey("credit"))
	if _, err := st.Swap(ctx, bucket, policystore.PointerKey("credit"), info.ETag, []byte("garbage"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := policystore.Current(ctx, st, bucket, "credit"); err == nil || err.Error() != `model credit: policy pointer policies/credit/current is not a pointer: "garbage"` {
		t.Fatalf("garbage pointer: %v", err)
	}
	if _, _, err := policystore.Current(ctx, st, bucket, "../x"); err == nil || err.Error() != `"../x" is not a model name` {
		t.Fatalf("bad name: %v", err)
	}
	// A policy stored under another model's folder is not that model's.
	other := *p
	other.Model = "other"
	if _, err := st.Create(ctx, bucket, policystore.Key("credit", other.Hash()), other.Canonical(), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Load(ctx, st, bucket, "credit", other.Hash()); err == nil || err.Error() != "model credit: policy "+other.Hash()[:12]+" is model other's" {
		t.Fatalf("another model's policy: %v", err)
	}
	if _, err := policystore.Load(ctx, st, bucket, "credit", "abc"); err == nil || err.Error() != `model credit: "abc" is not a policy hash` {
		t.Fatalf("bad hash: %v", err)
	}
}

// Twenty writers applying twenty policies to one model at once: each Apply
// succeeds and the pointer ends at exactly one of them, stored whole.
func TestApplyConcurrent(t *testing.T) {
	ctx := context.Background()
	_, st := lambdatest.S3(t, bucket)
	base := lambdatest.CreditPolicy(t)
	const n = 20
	hashes := map[string]bool{}
	ps := make([]*policy.Policy, n)
	for i := range ps {
		q := *base
		q.MinTestRows = int64(500 + i)
		ps[i] = &q
		hashes[q.Hash()] = true
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = policystore.Apply(ctx, st, bucket, ps[i], time.Now())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	cur, hash, err := policystore.Current(ctx, st, bucket, "credit")
	if err != nil || !hashes[hash] || cur.Hash() != hash {
		t.Fatalf("current: %v %s", err, hash)
	}
}

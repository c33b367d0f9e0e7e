package specstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
)

const bucket = "platform"

// platform is the embedded S3 endpoint (gofakes3 with AWS's conditional-write
// semantics) reached through the real SDK, with the credit contract applied
// when withContract is set.
func platform(t *testing.T, withContract bool) *store.Store {
	t.Helper()
	_, st := lambdatest.S3(t, bucket)
	if withContract {
		c, err := credit.Contract()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ingest.ApplyContract(context.Background(), st, bucket, c, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestApplyNeedsTheDatasetsContract(t *testing.T) {
	st := platform(t, false)
	_, err := specstore.Apply(context.Background(), st, ingest.NewDatasets(st, bucket, ""), bucket, lambdatest.CreditSpec(t), time.Now())
	if !errors.Is(err, specstore.ErrNoContract) || err.Error() != `model credit: dataset "credit": the dataset has no contract: apply one first (mlops contract apply)` {
		t.Fatalf("got %v", err)
	}
	if _, _, err := st.ReadAll(context.Background(), bucket, specstore.PointerKey("credit")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused spec moved the pointer: %v", err)
	}
}

func TestApplyCurrentList(t *testing.T) {
	ctx := context.Background()
	st := platform(t, true)
	s := lambdatest.CreditSpec(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	a, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, s, at)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := credit.Contract()
	if !a.Changed || a.Model != "credit" || a.Hash != s.Hash() || a.Key != "specs/credit/"+s.Hash()+".json" || a.ContractHash != c.Hash() {
		t.Fatalf("applied: %+v", a)
	}
	stored, _, err := st.ReadAll(ctx, bucket, a.Key)
	if err != nil || string(stored) != string(s.Canonical()) {
		t.Fatalf("stored spec: %v\n%s", err, stored)
	}
	// The pointer has the shape of a contract pointer: hash, key, at (UTC).
	ptr, _, err := st.ReadAll(ctx, bucket, "specs/credit/current")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"hash":%q,"key":%q,"at":"2026-03-01T11:00:00Z"}`, a.Hash, a.Key)
	if string(ptr) != want {
		t.Fatalf("pointer:\n got %s\nwant %s", ptr, want)
	}
	var asContract ingest.ContractPointer
	if err := json.Unmarshal(ptr, &asContract); err != nil || asContract.Hash != a.Hash || asContract.Key != a.Key || !asContract.At.Equal(at) {
		t.Fatalf("the spec pointer does not read as a contract pointer: %v %+v", err, asContract)
	}

	// Again, and again with other comments: nothing changes.
	if again, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, s, at.Add(time.Hour)); err != nil || again.Changed || again.Hash != a.Hash {
		t.Fatalf("re-apply: %+v %v", again, err)
	}
	recommented := strings.ReplaceAll(string(credit.SpecYAML()), "#", "\n# edited:")
	s2, err := spec.Parse("credit.model.yaml", []byte(recommented), func(string) ([]byte, error) { return credit.Card(), nil })
	if err != nil {
		t.Fatal(err)
	}
	if again, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, s2, at); err != nil || again.Changed {
		t.Fatalf("re-apply with other comments: %+v %v", again, err)
	}
	if ptr2, _, _ := st.ReadAll(ctx, bucket, "specs/credit/current"); string(ptr2) != want {
		t.Fatalf("a no-op apply rewrote the pointer: %s", ptr2)
	}

	got, hash, err := specstore.Current(ctx, st, bucket, "credit")
	if err != nil || hash != a.Hash || got.Hash() != a.Hash || got.Card != s.Card {
		t.Fatalf("current: %v %s", err, hash)
	}

	// A new version of the spec becomes current; the old one stays stored.
	s3 := *s
	s3.Threshold = 0.35
	b, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, &s3, at)
	if err != nil || !b.Changed || b.Hash == a.Hash {
		t.Fatalf("new version: %+v %v", b, err)
	}
	if _, hash, _ := specstore.Current(ctx, st, bucket, "credit"); hash != b.Hash {
		t.Fatalf("current is %s, want %s", hash, b.Hash)
	}
	if _, _, err := st.ReadAll(ctx, bucket, a.Key); err != nil {
		t.Fatalf("the earlier version is gone: %v", err)
	}

	// A second model on the same dataset; a folder with no pointer is no model.
	other := *s
	other.Name = "credit-small"
	other.Params = map[string]any{"max_depth": 2}
	if _, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, &other, at); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, bucket, "specs/orphan/"+strings.Repeat("0", 64)+".json", []byte("{}"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := specstore.List(ctx, st, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Model != "credit" || list[0].Hash != b.Hash || list[1].Model != "credit-small" ||
		list[0].Dataset != "credit" || list[0].Objective != spec.BinaryLogistic || !list[0].AppliedAt.Equal(at) {
		t.Fatalf("list: %+v", list)
	}

	if _, _, err := specstore.Current(ctx, st, bucket, "nope"); !errors.Is(err, specstore.ErrNoSpec) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
}

// A spec that cannot train on its dataset is refused when it is applied, with
// the reason, and the pointer does not move.
func TestApplyChecksTheContract(t *testing.T) {
	ctx := context.Background()
	st := platform(t, true)
	good := lambdatest.CreditSpec(t)
	if _, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, good, time.Now()); err != nil {
		t.Fatal(err)
	}
	bad := *good
	bad.Target.Column = "Outcome"
	_, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, &bad, time.Now())
	c, _ := credit.Contract()
	want := fmt.Sprintf("model credit: the spec does not fit the dataset's contract (contract %s):\n"+
		`credit.model.yaml:20:11: target.column: target column "Outcome" is not a column of dataset credit's contract`, c.Hash()[:12])
	if !errors.Is(err, specstore.ErrContract) || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	var se *spec.Error
	if !errors.As(err, &se) || se.Field != "target.column" {
		t.Fatalf("no *spec.Error inside: %#v", err)
	}
	if _, hash, _ := specstore.Current(ctx, st, bucket, "credit"); hash != good.Hash() {
		t.Fatal("a refused spec moved the pointer")
	}
	if _, _, err := st.ReadAll(ctx, bucket, specstore.Key("credit", bad.Hash())); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused spec was stored: %v", err)
	}
	invalid := *good
	invalid.Trainer.GPUs = 99
	if _, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, &invalid, time.Now()); err == nil || !strings.Contains(err.Error(), "model credit: invalid spec:\ntrainer.gpus: gpus 99 is out of range") {
		t.Fatalf("invalid spec: %v", err)
	}
}

// Twenty writers applying twenty different specs to one model at once, through
// the SDK: every Apply succeeds, and the pointer ends at exactly one of them,
// whose object is stored whole.
func TestApplyConcurrent(t *testing.T) {
	ctx := context.Background()
	st := platform(t, true)
	base := lambdatest.CreditSpec(t)
	const n = 20
	specs := make([]*spec.Spec, n)
	hashes := map[string]int{}
	for i := range specs {
		s := *base
		s.NumBoostRound = 100 + i
		specs[i] = &s
		hashes[s.Hash()] = i
	}
	results := make([]specstore.Applied, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range specs {
		wg.Go(func() {
			<-start
			results[i], errs[i] = specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, specs[i], time.Now())
		})
	}
	close(start)
	wg.Wait()
	changed := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		if results[i].Changed {
			changed++
		}
		if _, _, err := st.ReadAll(ctx, bucket, results[i].Key); err != nil {
			t.Fatalf("writer %d's spec is not stored: %v", i, err)
		}
	}
	cur, hash, err := specstore.Current(ctx, st, bucket, "credit")
	if err != nil {
		t.Fatal(err)
	}
	i, ok := hashes[hash]
	if !ok || cur.NumBoostRound != 100+i {
		t.Fatalf("the pointer names %s, which no writer applied", hash)
	}
	if changed == 0 {
		t.Fatal("no writer reported a change")
	}
	t.Logf("%d of %d writers moved the pointer; spec %d is current", changed, n, i)

	// Applying the winner again is a no-op; twenty writers of one spec to a
	// new model: exactly one creates the pointer, the others find it current.
	if a, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, specs[i], time.Now()); err != nil || a.Changed {
		t.Fatalf("re-apply of the current spec: %+v %v", a, err)
	}
	same := *base
	same.Name = "credit-same"
	var mu sync.Mutex
	created := 0
	for range n {
		wg.Go(func() {
			a, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, &same, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			if a.Changed {
				created++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d writers of one spec reported a change, want exactly 1", created)
	}
}

// The stored bytes must hash to the name the pointer gives them.
func TestCurrentDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	st := platform(t, true)
	a, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, bucket, ""), bucket, lambdatest.CreditSpec(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, bucket, a.Key, []byte(`{"name":"credit"}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = specstore.Current(ctx, st, bucket, "credit")
	if err == nil || !strings.Contains(err.Error(), "does not hash to "+a.Hash[:12]+": the stored spec is corrupt") {
		t.Fatalf("got %v", err)
	}
	if _, err := st.Put(ctx, bucket, specstore.PointerKey("credit"), []byte(`{"hash":"../../x"}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := specstore.Current(ctx, st, bucket, "credit"); err == nil || !strings.Contains(err.Error(), "is not a pointer") {
		t.Fatalf("bad pointer: %v", err)
	}
}

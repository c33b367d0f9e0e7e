package local_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// The loop up to the gate: an upload trains a model, the gate verifies its
// bundle, registers version 1, evaluates the credit policy (which requires a
// person's approval) and leaves it pending; duplicate events change nothing, and
// a bundle tampered with afterwards is refused, with the refusal audited.
func TestTrainedModelWaitsForApproval(t *testing.T) {
	needXGBoost(t)
	p := creditPlatform(t, local.Config{})
	ctx := context.Background()
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	uploadCredit(t, p, "credit.csv", credit.CSV())
	waitIdleFor(t, p, 5*time.Minute)

	runs := runsOf(t, p)
	if len(runs) != 1 || runs[0].State != training.StateSucceeded {
		t.Fatalf("runs %+v", runs)
	}
	r := runs[0]
	v, err := p.Registry.Get(ctx, "credit", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != registry.StatePendingApproval || v.RunID != r.RunID || v.BundleSHA256 != r.Bundle.SHA256 {
		h, _ := p.Registry.History(ctx, "credit")
		t.Fatalf("version 1: %+v\n%+v", v, h)
	}

	// Ten duplicate deliveries at once: one version, one decision.
	d := event.TrainingSucceededDetail{SchemaVersion: "1", RunID: r.RunID, Model: r.Model, Dataset: r.Dataset,
		DatasetVersion: r.DatasetVersion, ContractHash: r.ContractHash, SpecHash: r.SpecHash, Bucket: p.Endpoint.Buckets.Platform,
		BundlePrefix: r.Bundle.Prefix, BundleSHA256: r.Bundle.SHA256}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Gate.OnTrainingSucceeded(ctx, d); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	versions, err := p.Registry.List(ctx, "credit")
	if err != nil || len(versions) != 1 || versions[0].State != registry.StatePendingApproval {
		t.Fatalf("versions after duplicates: %+v %v", versions, err)
	}
	hist, err := p.Registry.History(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[registry.Kind]int{}
	for _, e := range hist {
		kinds[e.Kind]++
	}
	if kinds[registry.KindRegistered] != 1 || kinds[registry.KindChecked] != 1 || kinds[registry.KindPending] != 1 {
		t.Fatalf("audit kinds %v", kinds)
	}

	// One byte of model.json changed after training: refused, and audited.
	key := r.Bundle.Prefix + bundle.ModelFile
	model, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, key)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(model), "base_score")
	model[i] = 'B'
	if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Platform, key, model, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := p.Gate.OnTrainingSucceeded(ctx, d)
	if err != nil || out.Version != 0 || len(out.Reasons) != 1 || !strings.Contains(out.Reasons[0], "model.json") {
		t.Fatalf("tampered bundle: %+v %v", out, err)
	}
	hist, _ = p.Registry.History(ctx, "credit")
	if last := hist[len(hist)-1]; last.Kind != registry.KindRefused || !strings.Contains(last.Reason, "model.json") {
		t.Fatalf("the refusal was not audited: %+v", last)
	}
	rep, err := p.Registry.Verify(ctx, "credit")
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// The policy decides: a model below its minimum is rejected with the failed
// checks as reasons; under a policy that promotes automatically, the next
// version becomes champion, compared with the champion on the same test rows.
func TestPolicyRejectsThenPromotesAutomatically(t *testing.T) {
	needXGBoost(t)
	p := creditPlatform(t, local.Config{})
	ctx := context.Background()
	applyPolicy := func(edit func(string) string) {
		t.Helper()
		pol, err := policy.Parse("policy.yaml", []byte(edit(string(credit.PolicyYAML()))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	applyPolicy(func(y string) string { return strings.Replace(y, "auc: 0.75", "auc: 0.99", 1) })
	uploadCredit(t, p, "credit.csv", credit.CSV())
	waitIdleFor(t, p, 5*time.Minute)
	v1, err := p.Registry.Get(ctx, "credit", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v1.State != registry.StateRejected {
		t.Fatalf("v1 under min auc 0.99: %s", v1.State)
	}
	hist, _ := p.Registry.History(ctx, "credit")
	if last := hist[len(hist)-1]; last.Kind != registry.KindRejected || !strings.Contains(last.Reason, "min auc") {
		t.Fatalf("rejection reasons: %+v", last)
	}

	applyPolicy(func(y string) string {
		y = strings.Replace(y, "required: true", "required: false", 1)
		y = strings.Replace(y, `approvers: ["local:*"]`, "", 1)
		y = strings.Replace(y, "separatePromotion: false", "", 1)
		return strings.Replace(y, "autoPromote: false", "autoPromote: true", 1)
	})
	v2 := retrainVersion(t, p, "again", "new policy", 2)
	c, err := p.Registry.Champion(ctx, "credit")
	if err != nil || v2.State != registry.StateChampion || c.Version != 2 {
		h, _ := p.Registry.History(ctx, "credit")
		t.Fatalf("v2 %s, champion %+v %v\n%+v", v2.State, c, err, h)
	}

	// The next candidate is compared with champion v2, scored on the
	// candidate's own test rows.
	v3 := retrainVersion(t, p, "third", "again", 3)
	var ref registry.CheckRef
	for _, r := range v3.Checks {
		ref = r
	}
	raw, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, ref.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "regression auc vs champion v2") || strings.Contains(string(raw), "scored on its own test rows") {
		t.Fatalf("v3's checks do not compare with champion v2 on the same rows:\n%s", raw)
	}
	if c, err := p.Registry.Champion(ctx, "credit"); err != nil || c.Version != 3 {
		t.Fatalf("champion after v3: %+v %v", c, err)
	}
	if rep, err := p.Registry.Verify(ctx, "credit"); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// retrainVersion asks for a retrain of credit (request id, reason), waits for
// the platform to be idle and reads the model version n it made.
func retrainVersion(t *testing.T, p *local.Platform, id, reason string, n int) *registry.Version {
	t.Helper()
	ctx := context.Background()
	if err := p.Train.OnRetrain(ctx, event.RetrainRequestedDetail{RequestID: id, Model: "credit", Reason: reason}); err != nil {
		t.Fatal(err)
	}
	waitIdleFor(t, p, 5*time.Minute)
	v, err := p.Registry.Get(ctx, "credit", n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

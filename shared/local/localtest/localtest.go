// Package localtest helps tests stand up the local platform with a served
// model. It is imported by tests only (shared/local/lambdatest cannot hold it:
// the local platform's own packages test with lambdatest).
package localtest

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
)

// NeedXGBoost fails the test (skips it with -short) where /usr/bin/python3
// cannot import xgboost, which the reference trainer needs.
func NeedXGBoost(t testing.TB) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import xgboost").Run(); err != nil {
		if testing.Short() {
			t.Skip("/usr/bin/python3 cannot import xgboost (CI installs python3-xgboost)")
		}
		t.Fatal("the reference trainer needs /usr/bin/python3 with xgboost: apt-get install python3-xgboost")
	}
}

// AutoPromote applies the credit policy with automatic promotion and no
// person's approval, so that each good run becomes champion; the local user
// may still retire a version.
func AutoPromote(t testing.TB, p *local.Platform) {
	t.Helper()
	y := string(credit.PolicyYAML())
	for _, r := range [][2]string{{"required: true", "required: false"}, {`approvers: ["local:*"]`, `retire: ["local:*"]`},
		{"separatePromotion: false", ""}, {"autoPromote: false", "autoPromote: true"}} {
		y = strings.Replace(y, r[0], r[1], 1)
	}
	pol, err := policy.Parse("policy.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(context.Background(), p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// ServedCredit starts a local platform configured by cfg in a new state
// directory (closed when the test ends), applies the credit contract, spec
// and an automatically promoting policy, uploads the credit data and waits
// until the model it trains is champion (version 1).
func ServedCredit(t testing.TB, cfg local.Config) *local.Platform {
	t.Helper()
	NeedXGBoost(t)
	ctx := context.Background()
	cfg.Dir, cfg.S3Addr, cfg.ReconcileEvery = t.TempDir(), "127.0.0.1:0", -1
	cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	p, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	bucket := p.Endpoint.Buckets.Platform
	if _, _, err := ingest.ApplyContract(ctx, p.Store, bucket, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	sp, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := specstore.Apply(ctx, p.Store, ingest.NewDatasets(p.Store, bucket, ""), bucket, sp, time.Now()); err != nil {
		t.Fatal(err)
	}
	AutoPromote(t, p)
	if _, err := p.Store.Upload(ctx, p.Endpoint.Buckets.Uploads, "incoming/credit/credit.csv", bytes.NewReader(credit.CSV()), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := p.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	if ch, err := p.Registry.Champion(ctx, "credit"); err != nil || ch.Version != 1 {
		t.Fatalf("champion: %+v %v", ch, err)
	}
	return p
}

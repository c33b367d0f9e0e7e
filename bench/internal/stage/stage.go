// Package stage is what the side-by-side benchmarks share to set up the
// local platform as a user would: models trained through it (a contract, a
// spec and a policy applied, the credit data uploaded, the reference trainer,
// the gate, an approval through the decisions API), and the machine's load.
package stage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
)

// Model is a model to train on the credit data: its spec and policy.
type Model struct {
	Spec   *spec.Spec
	Policy *policy.Policy
}

// CreditModel is the credit example's model (examples/credit).
func CreditModel() (Model, error) {
	s, err := credit.Spec()
	if err != nil {
		return Model{}, err
	}
	p, err := credit.Policy()
	if err != nil {
		return Model{}, err
	}
	return Model{Spec: s, Policy: p}, nil
}

// APIClient is an HTTP client of p's API that trusts its certificate and
// nothing else.
func APIClient(p *local.Platform) (*http.Client, error) {
	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}, nil
}

// HaveChampions says whether every model named has a champion (a platform
// kept from an earlier run).
func HaveChampions(ctx context.Context, p *local.Platform, names ...string) bool {
	for _, name := range names {
		if _, err := p.Registry.Champion(ctx, name); err != nil {
			return false
		}
	}
	return true
}

// Train applies the credit contract and each model's spec and policy,
// uploads the credit data once (which trains them all), and approves each
// candidate through the decisions API, which promotes it; reason is the
// approval's.
func Train(ctx context.Context, p *local.Platform, hc *http.Client, models []Model, reason string) error {
	t0 := time.Now()
	bucket, now := p.Endpoint.Buckets.Platform, time.Now()
	c, err := credit.Contract()
	if err != nil {
		return err
	}
	if _, _, err := ingest.ApplyContract(ctx, p.Store, bucket, c, now); err != nil {
		return err
	}
	datasets := ingest.NewDatasets(p.Store, bucket, "")
	var names []string
	for _, m := range models {
		if _, err := specstore.Apply(ctx, p.Store, datasets, bucket, m.Spec, now); err != nil {
			return err
		}
		if _, err := policystore.Apply(ctx, p.Store, bucket, m.Policy, now); err != nil {
			return err
		}
		names = append(names, m.Spec.Name)
	}
	if _, err := p.Store.Upload(ctx, p.Endpoint.Buckets.Uploads, "incoming/credit/credit.csv",
		bytes.NewReader(credit.CSV()), store.PutOptions{}); err != nil {
		return err
	}
	fmt.Printf("training %s through the platform (the reference trainer, then the gate)...\n", strings.Join(names, " and "))
	wctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := p.WaitIdle(wctx); err != nil {
		return fmt.Errorf("waiting for training: %w", err)
	}
	fmt.Printf("trained in %.0f s\n", time.Since(t0).Seconds())

	dc := decisions.NewClient(p.Endpoint.API.URL, hc, decisions.BearerToken(p.Endpoint.API.Token))
	for _, name := range names {
		vs, err := p.Registry.List(ctx, name)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("model %s: training made no version (see the runs' logs under %s)", name, p.Endpoint.Dir)
		}
		v := vs[len(vs)-1]
		if v.State != registry.StatePendingApproval {
			return fmt.Errorf("model %s version %d is %s, not waiting for approval (did it pass its policy?)", name, v.Version, v.State)
		}
		r, err := dc.Approve(ctx, name, v.Version, decisions.Decision{Reason: reason, BundleSHA256: v.BundleSHA256})
		if err != nil {
			return fmt.Errorf("approve %s version %d: %w", name, v.Version, err)
		}
		if !r.Promoted {
			return fmt.Errorf("approve %s version %d: not promoted: %s", name, v.Version, r.NotPromoted)
		}
	}
	return p.WaitIdle(wctx)
}

// Champion is model's champion version and its verified bundle.
func Champion(ctx context.Context, p *local.Platform, model string) (*registry.Version, *bundle.Bundle, error) {
	c, err := p.Registry.Champion(ctx, model)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", model, err)
	}
	v, err := p.Registry.Get(ctx, model, c.Version)
	if err != nil {
		return nil, nil, err
	}
	b, err := bundlestore.FetchVerified(ctx, p.Store, p.Endpoint.Buckets.Platform, v.BundlePrefix, v.BundleSHA256)
	if err != nil {
		return nil, nil, err
	}
	return v, b, nil
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures: how busy the
// machine was, which the figures depend on.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
)

//go:embed deep.model.yaml
var deepSpecYAML []byte

//go:embed deep.policy.yaml
var deepPolicyYAML []byte

// The benchmark's two models: the credit example's (served under load, beside
// the FastAPI peer) and the oversized one of deep.model.yaml (cold start).
const (
	creditModel = "credit"
	deepModel   = "credit-deep"
)

// stage is a running local platform whose two models have a champion.
type stage struct {
	p      *local.Platform
	hc     *http.Client // trusts the API's certificate and nothing else
	models map[string]*served
	// warnings counts the platform's warnings, run by run.
	warnings *warnings
}

// served is a model's champion: its version and its verified bundle.
type served struct {
	version *registry.Version
	bundle  *bundle.Bundle
	modelMB float64 // model.json
	shape   policy.Shape
}

// startStage starts the platform in dir and gives both models a champion,
// training them unless dir holds a platform that has them already.
func startStage(ctx context.Context, dir, python string, logSample float64) (*stage, error) {
	// The platform's warnings and errors (a refused bundle, a full prediction
	// log buffer) are the benchmark's business too.
	warn := newWarnings()
	p, err := local.Start(ctx, local.Config{Dir: dir, S3Addr: "127.0.0.1:0", ReconcileEvery: -1, Python: python,
		Logger: slog.New(warn), Serving: local.Serving{SampleRate: logSample}})
	if err != nil {
		return nil, err
	}
	st := &stage{p: p, models: map[string]*served{}, warnings: warn}
	if err := st.prepare(ctx); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

func (st *stage) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = st.p.Close(ctx)
}

func (st *stage) bucket() string { return st.p.Endpoint.Buckets.Platform }

func (st *stage) describe() string {
	var parts []string
	for _, name := range []string{creditModel, deepModel} {
		m := st.models[name]
		parts = append(parts, fmt.Sprintf("%s v%d: %d trees, depth %d, %d nodes, %.1f MB model.json", name, m.version.Version,
			m.shape.Trees, m.shape.MaxDepth, m.shape.TotalNodes, m.modelMB))
	}
	return strings.Join(parts, "; ")
}

func (st *stage) prepare(ctx context.Context) error {
	tlsCfg, err := api.ClientTLS(st.p.Endpoint.API.CACert)
	if err != nil {
		return err
	}
	st.hc = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	if !st.haveChampions(ctx) {
		if err := st.train(ctx); err != nil {
			return err
		}
	}
	for _, name := range []string{creditModel, deepModel} {
		c, err := st.p.Registry.Champion(ctx, name)
		if err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		v, err := st.p.Registry.Get(ctx, name, c.Version)
		if err != nil {
			return err
		}
		b, err := bundlestore.FetchVerified(ctx, st.p.Store, st.bucket(), v.BundlePrefix, v.BundleSHA256)
		if err != nil {
			return err
		}
		mj, _, err := st.p.Store.ReadAll(ctx, st.bucket(), v.BundlePrefix+bundle.ModelFile)
		if err != nil {
			return err
		}
		shape, err := policy.ModelShape(mj)
		if err != nil {
			return err
		}
		st.models[name] = &served{version: v, bundle: b, modelMB: float64(len(mj)) / 1e6, shape: shape}
	}
	return nil
}

func (st *stage) haveChampions(ctx context.Context) bool {
	for _, name := range []string{creditModel, deepModel} {
		if _, err := st.p.Registry.Champion(ctx, name); err != nil {
			return false
		}
	}
	return true
}

// train applies the credit contract, both specs and their policies, uploads
// the credit data once (which trains both models), and approves each
// candidate through the decisions API, which promotes it.
func (st *stage) train(ctx context.Context) error {
	t0 := time.Now()
	bucket, now := st.bucket(), time.Now()
	c, err := credit.Contract()
	if err != nil {
		return err
	}
	if _, _, err := ingest.ApplyContract(ctx, st.p.Store, bucket, c, now); err != nil {
		return err
	}
	creditSpec, err := credit.Spec()
	if err != nil {
		return err
	}
	creditPolicy, err := credit.Policy()
	if err != nil {
		return err
	}
	deepSpec, err := spec.Parse("deep.model.yaml", deepSpecYAML, nil)
	if err != nil {
		return err
	}
	deepPolicy, err := policy.Parse("deep.policy.yaml", deepPolicyYAML)
	if err != nil {
		return err
	}
	datasets := ingest.NewDatasets(st.p.Store, bucket, "")
	for _, m := range []struct {
		s *spec.Spec
		p *policy.Policy
	}{{creditSpec, creditPolicy}, {deepSpec, deepPolicy}} {
		if _, err := specstore.Apply(ctx, st.p.Store, datasets, bucket, m.s, now); err != nil {
			return err
		}
		if _, err := policystore.Apply(ctx, st.p.Store, bucket, m.p, now); err != nil {
			return err
		}
	}
	if _, err := st.p.Store.Upload(ctx, st.p.Endpoint.Buckets.Uploads, "incoming/credit/credit.csv",
		bytes.NewReader(credit.CSV()), store.PutOptions{}); err != nil {
		return err
	}
	fmt.Println("training credit and credit-deep through the platform (the reference trainer, then the gate)...")
	wctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := st.p.WaitIdle(wctx); err != nil {
		return fmt.Errorf("waiting for training: %w", err)
	}
	fmt.Printf("trained in %.0f s\n", time.Since(t0).Seconds())

	dc := decisions.NewClient(st.p.Endpoint.API.URL, st.hc, decisions.BearerToken(st.p.Endpoint.API.Token))
	for _, name := range []string{creditModel, deepModel} {
		vs, err := st.p.Registry.List(ctx, name)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("model %s: training made no version (see the runs' logs under %s)", name, st.p.Endpoint.Dir)
		}
		v := vs[len(vs)-1]
		if v.State != registry.StatePendingApproval {
			return fmt.Errorf("model %s version %d is %s, not waiting for approval (did it pass its policy?)", name, v.Version, v.State)
		}
		r, err := dc.Approve(ctx, name, v.Version, decisions.Decision{Reason: "bench/serve", BundleSHA256: v.BundleSHA256})
		if err != nil {
			return fmt.Errorf("approve %s version %d: %w", name, v.Version, err)
		}
		if !r.Promoted {
			return fmt.Errorf("approve %s version %d: not promoted: %s", name, v.Version, r.NotPromoted)
		}
	}
	return st.p.WaitIdle(wctx)
}

// post sends body to the local endpoint's prediction route of model and
// returns the answer, which must be 200.
func (st *stage) post(ctx context.Context, model string, body []byte) (*predict.Response, error) {
	return postPredict(ctx, st.hc, st.p.Endpoint.API.URL+predict.PredictPath(model), st.p.Endpoint.API.Token, body)
}

func postPredict(ctx context.Context, hc *http.Client, url, token string, body []byte) (*predict.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	var out predict.Response
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("POST %s: %w", url, err)
	}
	if len(out.Predictions) == 0 {
		return nil, errors.New("POST " + url + ": no predictions")
	}
	return &out, nil
}

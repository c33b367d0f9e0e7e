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

	benchstage "github.com/openmlops/mlops/bench/internal/stage"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
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
	hc, err := benchstage.APIClient(st.p)
	if err != nil {
		return err
	}
	st.hc = hc
	if !benchstage.HaveChampions(ctx, st.p, creditModel, deepModel) {
		if err := st.train(ctx); err != nil {
			return err
		}
	}
	for _, name := range []string{creditModel, deepModel} {
		v, b, err := benchstage.Champion(ctx, st.p, name)
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

// train trains both models through the platform: the credit example's and
// deep.model.yaml's.
func (st *stage) train(ctx context.Context) error {
	creditM, err := benchstage.CreditModel()
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
	return benchstage.Train(ctx, st.p, st.hc, []benchstage.Model{creditM, {Spec: deepSpec, Policy: deepPolicy}}, "bench/serve")
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

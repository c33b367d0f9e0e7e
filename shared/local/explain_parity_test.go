package local_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/pythontest"
	"github.com/openmlops/mlops/shared/specstore"
)

// The endpoint's explanations are xgboost's: each prediction's per-feature
// contributions (TreeSHAP in Go, a one-hot feature's columns summed into it)
// match xgboost's pred_contribs summed the same way, |ours − xgboost| ≤
// 1e-5·max(1, |xgboost|), and so do the bias and the margin they add up to.
// On the credit model as the platform trains it (trees 4 deep), then on a
// deeper model of the same data (8 deep, no early stopping), each on
// applicants with missing values: NA in the data, empty cells, nulls and
// absent optional fields.
func TestExplanationsMatchXGBoost(t *testing.T) {
	p := servedCredit(t, local.Config{})
	ctx := context.Background()
	c := predictClient(t, p, "")
	req := explainedRows(t)
	explainParity(t, p, c, req, 1, 4)

	sp, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	sp.Params["max_depth"] = 8
	sp.Params["min_child_weight"] = 0
	sp.NumBoostRound, sp.EarlyStoppingRounds = 80, 0
	if _, err := specstore.Apply(ctx, p.Store, ingest.NewDatasets(p.Store, p.Endpoint.Buckets.Platform, ""), p.Endpoint.Buckets.Platform, sp, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The deeper model may overfit and widen the fairness gaps: this test
	// wants it served, not judged.
	pol, err := policy.Parse("policy.yaml", []byte("apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\n"+
		"minimum: {auc: 0.6}\napproval: {required: false}\nautoPromote: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	retrainVersion(t, p, "deeper", "a deeper model to explain", 2)
	waitServed(t, c, 2, 30*time.Second)
	explainParity(t, p, c, req, 2, 7)
}

// explainedRows are credit applicants for the parity test: the first 40,
// every one with NA somewhere among the first 1,500 (about 60), one with
// every optional feature an empty cell, and copies of the first with JSON
// nulls and absent fields.
func explainedRows(t *testing.T) *predict.Request {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(credit.CSV())), "\n")
	pick := slices.Clone(lines[:41])
	for _, l := range lines[41:1500] {
		if strings.Contains(l, "NA") {
			pick = append(pick, l)
		}
	}
	// Status, Seniority, Home, Time, Age, Marital, Records, Job, Expenses, Income, Assets, Debt, Amount, Price
	pick = append(pick, `"good",3,,36,41,,"no",,60,,,,1000,1400`)
	req, err := predict.RequestFromCSV(strings.NewReader(strings.Join(pick, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	null := json.RawMessage("null")
	var nulls, absent predict.Instance
	for _, f := range req.Instances[0].Fields {
		switch f.Name {
		case "Income", "Job", "Assets": // null in one, given in the other
			nulls.Fields = append(nulls.Fields, predict.Field{Name: f.Name, Value: null})
			absent.Fields = append(absent.Fields, f)
		case "Home", "Debt", "Marital": // null in one, absent from the other
			nulls.Fields = append(nulls.Fields, predict.Field{Name: f.Name, Value: null})
		default:
			nulls.Fields = append(nulls.Fields, f)
			absent.Fields = append(absent.Fields, f)
		}
	}
	req.Instances = append(req.Instances, nulls, absent)
	return req
}

// contribsOracle is testdata/contribs.py's answer.
type contribsOracle struct {
	Contribs   [][]float64 `json:"contribs"`
	Margin     []float64   `json:"margin"`
	Prediction []float64   `json:"prediction"`
	MaxDepth   int         `json:"maxDepth"`
	Trees      int         `json:"trees"`
}

// explainParity asks the endpoint to explain req with version (whose trees
// must be at least minDepth deep) and compares every contribution, bias and
// margin with xgboost's, and every probability with xgboost's prediction.
func explainParity(t *testing.T, p *local.Platform, c *predict.Client, req *predict.Request, version, minDepth int) {
	t.Helper()
	ctx := context.Background()
	if err := pythontest.XGBoost(); err != nil {
		t.Fatalf("%s cannot import xgboost: %v", pythontest.Python, err)
	}
	v, b := creditVersion(t, p, version)
	ct, err := ingest.NewDatasets(p.Store, p.Endpoint.Buckets.Platform, "").ContractAt(ctx, b.Lineage.Dataset, b.Lineage.ContractHash)
	if err != nil {
		t.Fatal(err)
	}
	feats := b.Encoder.Features()
	chk, err := predict.NewChecker(ct.Contract, feats, predict.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chk.Check(req.Instances)
	if err != nil {
		t.Fatal(err)
	}
	values := make([][]string, len(rows))
	withMissing := 0
	for i, r := range rows {
		values[i] = r.Values
		if slices.Contains(r.Values, "") {
			withMissing++
		}
	}
	if withMissing < 10 {
		t.Fatalf("only %d of %d rows have a missing value", withMissing, len(rows))
	}

	dir := t.TempDir()
	model, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, v.BundlePrefix+bundle.ModelFile)
	if err != nil {
		t.Fatal(err)
	}
	modelPath, in, out := filepath.Join(dir, "model.json"), filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(modelPath, model, 0o600); err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(map[string]any{"model": modelPath, "encoding": b.Encoding, "rows": values})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, input, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(pythontest.Python, "testdata/contribs.py", in, out).CombinedOutput(); err != nil {
		t.Fatalf("contribs.py: %v\n%s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want contribsOracle
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if want.MaxDepth < minDepth || len(want.Contribs) != len(rows) {
		t.Fatalf("v%d: xgboost explains %d rows with trees %d deep, want %d rows, at least %d deep", version, len(want.Contribs), want.MaxDepth, len(rows), minDepth)
	}

	ex := *req
	ex.Explain = true
	resp, err := c.Predict(ctx, "credit", &ex)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ModelVersion != version || len(resp.Predictions) != len(rows) {
		t.Fatalf("v%d, %d predictions: want v%d, %d", resp.ModelVersion, len(resp.Predictions), version, len(rows))
	}
	within := func(ours, xgb float64) bool { return math.Abs(ours-xgb) <= 1e-5*math.Max(1, math.Abs(xgb)) }
	maxDiff, maxSumDiff, bad := 0.0, 0.0, 0
	for i, pr := range resp.Predictions {
		if pr.Explanation == nil || len(pr.Explanation.Outputs) != 1 || len(pr.Explanation.Outputs[0].Features) != len(feats) {
			t.Fatalf("instance %d: explanation %+v", i, pr.Explanation)
		}
		got := pr.Explanation.Outputs[0]
		w := want.Contribs[i]
		sum := got.Bias
		for f, cf := range got.Features {
			if cf.Feature != feats[f] {
				t.Fatalf("instance %d: contribution %d is %s, want %s", i, f, cf.Feature, feats[f])
			}
			sum += cf.Value
			maxDiff = math.Max(maxDiff, math.Abs(cf.Value-w[f]))
			if !within(cf.Value, w[f]) {
				if bad++; bad <= 10 {
					t.Errorf("v%d instance %d %s: %.9g, xgboost %.9g", version, i, cf.Feature, cf.Value, w[f])
				}
			}
		}
		if !within(got.Bias, w[len(feats)]) {
			t.Errorf("v%d instance %d: bias %.9g, xgboost %.9g", version, i, got.Bias, w[len(feats)])
		}
		maxSumDiff = math.Max(maxSumDiff, math.Abs(sum-want.Margin[i]))
		if !within(sum, want.Margin[i]) {
			t.Errorf("v%d instance %d: contributions and bias add up to %.9g, xgboost's margin is %.9g", version, i, sum, want.Margin[i])
		}
		pb, ok := pr.Number("p_bad")
		if !ok || !bundle.Agrees(pb, want.Prediction[i]) {
			t.Errorf("v%d instance %d: p_bad %v, xgboost %v", version, i, pb, want.Prediction[i])
		}
		if len(pr.Explanation.Reasons) == 0 {
			t.Errorf("v%d instance %d: no reasons", version, i)
		}
	}
	if bad > 0 {
		t.Errorf("v%d: %d contributions outside the tolerance", version, bad)
	}
	t.Logf("v%d (%d trees, %d deep): %d instances, %d with missing values: max |ours − xgboost| %.3g per feature, %.3g for the margin",
		version, want.Trees, want.MaxDepth, len(rows), withMissing, maxDiff, maxSumDiff)
}

package policy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/policy"
)

func f(v float64) *float64 { return &v }

// short renders a check as "verdict name value/threshold: why" for tables.
func short(c policy.Check) string {
	s := c.Verdict + " " + c.Name
	if c.Value != nil {
		s += " " + fmtNum(*c.Value)
	}
	if c.Threshold != nil {
		s += " / " + fmtNum(*c.Threshold)
	}
	if c.Why != "" {
		s += ": " + c.Why
	}
	return s
}

func fmtNum(v float64) string { return fmt.Sprintf("%.6g", v) }

func checks(r policy.Result) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, short(c))
	}
	return out
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("checks:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func good() policy.Candidate {
	return policy.Candidate{
		Objective: "binary:logistic",
		Metrics:   map[string]float64{"auc": 0.84, "log_loss": 0.43, "recall": 0.55},
		Fairness: map[string]policy.Gaps{
			"Age":     {DemographicParityDifference: f(0.14), EqualOpportunityDifference: f(0.21), DisparateImpactRatio: f(0.51)},
			"Marital": {DemographicParityDifference: f(0.16), EqualOpportunityDifference: nil, DisparateImpactRatio: f(0.49)},
		},
		TestRows:   668,
		Shape:      &policy.Shape{Trees: 79, TotalNodes: 2000, MaxDepth: 4},
		ModelBytes: 155658,
	}
}

const evalPolicy = `apiVersion: mlops/v1
kind: PromotionPolicy
model: credit
objective: binary:logistic
minimum: {auc: 0.75, recall: 0.3}
maximum: {log_loss: 0.6}
regression:
  auc: {absolute: 0.02}
  log_loss: {relative: 0.1}
fairness:
  Age: {demographicParityDifference: 0.2, disparateImpactRatio: 0.5}
  Marital: {equalOpportunityDifference: 0.2}
minTestRows: 500
complexity: {maxTrees: 100, maxTotalNodes: 5000, maxDepth: 4, maxModelBytes: 1000000}
approval: {approvers: ["local:*"]}
`

func TestEvaluatePasses(t *testing.T) {
	p := mustParse(t, evalPolicy)
	r := policy.Evaluate(p, good(), nil)
	eq(t, checks(r), []string{
		"pass objective",
		"pass min auc 0.84 / 0.75",
		"pass min recall 0.55 / 0.3",
		"pass max log_loss 0.43 / 0.6",
		"skipped regression auc vs champion: no champion",
		"skipped regression log_loss vs champion: no champion",
		"pass fairness Age demographicParityDifference 0.14 / 0.2",
		"pass fairness Age disparateImpactRatio 0.51 / 0.5",
		"skipped fairness Marital equalOpportunityDifference / 0.2: equalOpportunityDifference is undefined on the test set (a slice with no positive predictions or no positives)",
		"pass min test rows 668 / 500",
		"pass max trees 79 / 100",
		"pass max total nodes 2000 / 5000",
		"pass max depth 4 / 4",
		"pass max model bytes 155658 / 1e+06",
	})
	if !r.Passed || !r.NeedsApproval || r.AutoPromote || len(r.Approvers) != 1 || r.PolicyHash != p.Hash() {
		t.Fatalf("%+v", r)
	}
}

func TestEvaluateFails(t *testing.T) {
	p := mustParse(t, evalPolicy)
	c := good()
	c.Objective = "reg:squarederror"
	c.Metrics = map[string]float64{"auc": 0.7, "log_loss": 0.9}
	c.Fairness = map[string]policy.Gaps{"Age": {DemographicParityDifference: f(0.25), DisparateImpactRatio: f(0.45)}}
	c.TestRows = 300
	c.Shape = &policy.Shape{Trees: 101, TotalNodes: 5001, MaxDepth: 5}
	c.ModelBytes = 2000000
	r := policy.Evaluate(p, c, nil)
	eq(t, checks(r), []string{
		"fail objective: the candidate is reg:squarederror, the policy is for binary:logistic",
		"fail min auc 0.7 / 0.75: auc 0.7 is below the minimum of 0.75",
		"fail min recall / 0.3: the candidate's test metrics have no recall",
		"fail max log_loss 0.9 / 0.6: log_loss 0.9 is above the maximum of 0.6",
		"skipped regression auc vs champion: no champion",
		"skipped regression log_loss vs champion: no champion",
		"fail fairness Age demographicParityDifference 0.25 / 0.2: the difference 0.25 is above the maximum of 0.2",
		"fail fairness Age disparateImpactRatio 0.45 / 0.5: the ratio 0.45 is below the minimum of 0.5",
		"fail fairness Marital equalOpportunityDifference / 0.2: the candidate has no slices for Marital: is it a sensitive attribute of the dataset's contract?",
		"fail min test rows 300 / 500: 300 test rows, fewer than 500: too few to trust the metrics",
		"fail max trees 101 / 100: 101 is above the maximum of 100",
		"fail max total nodes 5001 / 5000: 5001 is above the maximum of 5000",
		"fail max depth 5 / 4: 5 is above the maximum of 4",
		"fail max model bytes 2e+06 / 1e+06: 2000000 is above the maximum of 1000000",
	})
	if r.Passed || r.NeedsApproval || r.AutoPromote || len(r.Failures()) != 12 {
		t.Fatalf("%+v", r)
	}
}

func TestEvaluateUnmeasuredShape(t *testing.T) {
	p := mustParse(t, head+"complexity: {maxTrees: 10, maxModelBytes: 10}\n")
	c := good()
	c.Shape, c.ModelBytes = nil, 0
	r := policy.Evaluate(p, c, nil)
	eq(t, checks(r), []string{
		"skipped max trees / 10: the model's shape was not measured",
		"skipped max model bytes / 10: the model's size was not measured",
	})
	if !r.Passed {
		t.Fatal("skipped checks failed the candidate")
	}
}

func TestEvaluateRegression(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		metric     string
		cand, base float64
		sameRows   bool
		want       string
	}{
		{"absolute within", "auc: {absolute: 0.02}", "auc", 0.82, 0.84, true, "pass regression auc vs champion v3 0.82 / 0.82"},
		{"absolute beyond", "auc: {absolute: 0.02}", "auc", 0.8199, 0.84, true, "fail regression auc vs champion v3 0.8199 / 0.82: auc 0.8199 is 0.0201 below champion v3's 0.84, more than the 0.02 allowed"},
		{"better", "auc: {absolute: 0}", "auc", 0.9, 0.84, true, "pass regression auc vs champion v3 0.9 / 0.84"},
		{"relative within", "auc: {relative: 0.05}", "auc", 0.8, 0.84, true, "pass regression auc vs champion v3 0.8 / 0.798"},
		{"relative beyond", "auc: {relative: 0.01}", "auc", 0.8, 0.84, true, "fail regression auc vs champion v3 0.8 / 0.8316: auc 0.8 is 0.04 below champion v3's 0.84, more than the 0.0084 allowed"},
		{"both: the stricter", "auc: {absolute: 0.05, relative: 0.01}", "auc", 0.82, 0.84, true, "fail regression auc vs champion v3 0.82 / 0.8316: auc 0.82 is 0.02 below champion v3's 0.84, more than the 0.0084 allowed"},
		{"lower is better within", "log_loss: {relative: 0.1}", "log_loss", 0.44, 0.43, true, "pass regression log_loss vs champion v3 0.44 / 0.473"},
		{"lower is better beyond", "log_loss: {absolute: 0.01}", "log_loss", 0.45, 0.43, true, "fail regression log_loss vs champion v3 0.45 / 0.44: log_loss 0.45 is 0.02 above champion v3's 0.43, more than the 0.01 allowed"},
		{"lower is better, improved", "log_loss: {absolute: 0}", "log_loss", 0.3, 0.43, true, "pass regression log_loss vs champion v3 0.3 / 0.43"},
		{"other rows", "auc: {absolute: 0.02}", "auc", 0.83, 0.84, false, "pass regression auc vs champion v3 0.83 / 0.82: champion v3 scored on its own test rows, not the candidate's"},
		{"other rows, failing", "auc: {absolute: 0}", "auc", 0.83, 0.84, false, "fail regression auc vs champion v3 0.83 / 0.84: auc 0.83 is 0.01 below champion v3's 0.84, more than the 0 allowed (champion v3 scored on its own test rows, not the candidate's)"},
		{"champion lacks it", "recall: {absolute: 0.1}", "auc", 0.83, 0.84, true, "skipped regression recall vs champion v3: champion v3 has no recall to compare with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, head+"regression: {"+tc.rule+"}\n")
			c := good()
			c.Metrics = map[string]float64{tc.metric: tc.cand, "recall": 0.5}
			r := policy.Evaluate(p, c, &policy.Champion{Version: 3, Metrics: map[string]float64{tc.metric: tc.base}, SameRows: tc.sameRows})
			eq(t, checks(r), []string{tc.want})
		})
	}
}

func TestAutoPromote(t *testing.T) {
	p := mustParse(t, "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\nminimum: {auc: 0.8}\napproval: {required: false}\nautoPromote: true\n")
	r := policy.Evaluate(p, good(), nil)
	if !r.Passed || r.NeedsApproval || !r.AutoPromote {
		t.Fatalf("%+v", r)
	}
	c := good()
	c.Metrics["auc"] = 0.7
	if r := policy.Evaluate(p, c, nil); r.Passed || r.AutoPromote {
		t.Fatalf("a failing candidate: %+v", r)
	}
	q := mustParse(t, "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval: {required: false}\n")
	if r := policy.Evaluate(q, good(), nil); !r.Passed || r.NeedsApproval || r.AutoPromote || len(r.Checks) != 0 {
		t.Fatalf("no rules, no auto promotion: %+v", r)
	}
}

func TestAssumedRoleARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice": "arn:aws:iam::123456789012:role/ModelRiskApprover",
		"arn:aws-us-gov:sts::123456789012:assumed-role/R/s":              "arn:aws-us-gov:iam::123456789012:role/R",
		"arn:aws:sts::123456789012:assumed-role/R":                       "",
		"arn:aws:iam::123456789012:role/R":                               "",
		"arn:aws:sts:us-east-1:123456789012:assumed-role/R/s":            "",
		"arn::sts::123456789012:assumed-role/R/s":                        "",
		"arn:aws:sts::123456789012:assumed-role//s":                      "",
		"local:alice": "",
		"arn:aws:sts::123456789012:assumed-role/R/s:with:colons": "arn:aws:iam::123456789012:role/R",
	} {
		got, ok := policy.AssumedRoleARN(in)
		if got != want || ok != (want != "") {
			t.Errorf("AssumedRoleARN(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestMayApprove(t *testing.T) {
	p := mustParse(t, `apiVersion: mlops/v1
kind: PromotionPolicy
model: credit
approval:
  approvers: ["local:*", "arn:aws:iam::123456789012:role/ModelRisk*", "arn:aws:sts::123456789012:assumed-role/Approver/*"]
  separatePromotion: true
`)
	for principal, want := range map[string]bool{
		"local:alice": true,
		"local:":      true,
		"arn:aws:iam::123456789012:role/ModelRiskApprover":            true,
		"arn:aws:iam::123456789012:role/ModelRisk":                    true,
		"arn:aws:iam::123456789012:role/DataScientist":                false,
		"arn:aws:iam::999999999999:role/ModelRiskApprover":            false,
		"arn:aws:iam::123456789012:role/ModelRisk/nested":             false, // * stops at /
		"arn:aws:sts::123456789012:assumed-role/Approver/alice":       true,
		"arn:aws:sts::123456789012:assumed-role/Approver/alice/extra": false,
		// A person who assumed a role, as API Gateway's IAM authorizer reports
		// them (events/apigw-approve.json), matches the role's pattern.
		"arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice":     true,
		"arn:aws:sts::123456789012:assumed-role/ModelRisk/bob":               true,
		"arn:aws:sts::999999999999:assumed-role/ModelRiskApprover/alice":     false,
		"arn:aws:sts::123456789012:assumed-role/DataScientist/alice":         false,
		"arn:aws:sts::123456789012:assumed-role/ModelRiskApprover":           false, // no session: not an assumed-role ARN
		"arn:aws:sts::123456789012:federated-user/ModelRiskApprover":         false,
		"arn:aws:iam::123456789012:user/ModelRiskApprover":                   false,
		"arn:aws:sts::12345678901:assumed-role/ModelRiskApprover/alice":      false, // not an account
		"arn:aws-us-gov:sts::123456789012:assumed-role/ModelRiskApprover/al": false, // another partition than the pattern's
		"remote:alice":  false,
		"":              false,
		"LOCAL:alice":   false,
		"xlocal:alice":  false,
		"local:alice\n": false,
		"local:al ice":  false,
		"local:a/b":     false,
	} {
		if got := policy.MayApprove(p, principal); got != want {
			t.Errorf("MayApprove(%q) = %v, want %v", principal, got, want)
		}
	}
	if r := policy.Evaluate(p, good(), nil); !r.SeparatePromotion || !r.NeedsApproval || len(r.Approvers) != 3 {
		t.Fatalf("%+v", r)
	}
	if policy.MayApprove(mustParse(t, "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: m\napproval: {required: false}\n"), "local:alice") {
		t.Fatal("no approvers, yet someone may approve")
	}
}

// The example policy passes the model the reference trainer makes of the
// credit data (testdata/credit-bundle, from go test ./trainer/ -run
// TestCreditBinary -args -trainer.keep), and fails degraded ones.
func TestCreditPolicyOnATrainedBundle(t *testing.T) {
	b, err := bundle.OpenDir("testdata/credit-bundle")
	if err != nil {
		t.Fatal(err)
	}
	modelJSON, err := os.ReadFile("testdata/credit-bundle/model.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := policy.CandidateFromBundle(b, modelJSON)
	if err != nil {
		t.Fatal(err)
	}
	if c.Shape == nil || c.Shape.Trees != b.Model.NumTrees() || c.Shape.MaxDepth != 4 || c.Shape.TotalNodes < c.Shape.Trees || c.ModelBytes != int64(len(modelJSON)) || c.TestRows != 668 {
		t.Fatalf("candidate: %+v %+v", c, c.Shape)
	}
	p, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	r := policy.Evaluate(p, c, nil)
	if !r.Passed || !r.NeedsApproval || r.AutoPromote {
		t.Fatalf("the reference model fails the example policy:\n%s", r)
	}
	// Against itself as the champion on the same rows: no regression.
	if r := policy.Evaluate(p, c, &policy.Champion{Version: 1, Metrics: c.Metrics, SameRows: true}); !r.Passed {
		t.Fatalf("against itself:\n%s", r)
	}
	degrade := map[string]func(c *policy.Candidate){
		"worse auc":  func(c *policy.Candidate) { c.Metrics["auc"] = 0.72 },
		"fewer rows": func(c *policy.Candidate) { c.TestRows = 300 },
		"unfair on Age": func(c *policy.Candidate) {
			g := c.Fairness["Age"]
			g.DisparateImpactRatio = f(0.3)
			c.Fairness["Age"] = g
		},
		"deeper":         func(c *policy.Candidate) { c.Shape = &policy.Shape{Trees: 79, TotalNodes: 3000, MaxDepth: 8} },
		"poor recall":    func(c *policy.Candidate) { c.Metrics["recall"] = 0.2 },
		"no Marital":     func(c *policy.Candidate) { delete(c.Fairness, "Marital") },
		"over-confident": func(c *policy.Candidate) { c.Metrics["log_loss"] = 0.7 },
	}
	for name, d := range degrade {
		c2, _ := policy.CandidateFromBundle(b, modelJSON)
		d(&c2)
		if r := policy.Evaluate(p, c2, nil); r.Passed {
			t.Errorf("%s: passed\n%s", name, r)
		}
	}
	// A champion 0.03 AUC better on the same rows makes the candidate a regression.
	champ := &policy.Champion{Version: 2, Metrics: map[string]float64{"auc": c.Metrics["auc"] + 0.03, "log_loss": c.Metrics["log_loss"]}, SameRows: true}
	r = policy.Evaluate(p, c, champ)
	if r.Passed || len(r.Failures()) != 1 || r.Failures()[0].Name != "regression auc vs champion v2" {
		t.Fatalf("regression:\n%s", r)
	}
	// Without model.json the shape is not measured.
	c3, err := policy.CandidateFromBundle(b, nil)
	if err != nil || c3.Shape != nil {
		t.Fatal(err)
	}
}

func TestModelShape(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[{"left_children":[1,-1,3,-1,-1],"right_children":[2,-1,4,-1,-1]},{"left_children":[-1],"right_children":[-1]}]}}}}`, "2 6 2"},
		{`{"learner":{"gradient_booster":{"name":"dart","gbtree":{"model":{"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1]}]}}}}}`, "1 3 1"},
		{`{"learner":{"gradient_booster":{"model":{"trees":[]}}}}`, "model.json: no trees"},
		{`{"learner":{"gradient_booster":{"model":{"trees":[{"left_children":[1,0],"right_children":[-1,-1]}]}}}}`, "model.json: tree 0: node 1 has child 0: not a tree"},
		{`{"learner":{"gradient_booster":{"model":{"trees":[{"left_children":[1,-1],"right_children":[1,-1]}]}}}}`, "model.json: tree 0: node 0 has child 1: not a tree"},
		{`{"learner":{"gradient_booster":{"model":{"trees":[{"left_children":[5],"right_children":[-1]}]}}}}`, "model.json: tree 0: node 0 has child 5: not a tree"},
		{`{"learner":{"gradient_booster":{"model":{"trees":[{"left_children":[-1],"right_children":[]}]}}}}`, "model.json: tree 0: 1 left and 0 right children"},
		{`nope`, "model.json: invalid character 'o' in literal null (expecting 'u')"},
	} {
		s, err := policy.ModelShape([]byte(tc.json))
		got := fmt.Sprintf("%d %d %d", s.Trees, s.TotalNodes, s.MaxDepth)
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got %q want %q", tc.json, got, tc.want)
		}
	}
}

func TestResultString(t *testing.T) {
	p := mustParse(t, head+"minimum: {auc: 0.9}\nregression: {auc: {absolute: 0.01}}\nminTestRows: 500\n")
	r := policy.Evaluate(p, good(), nil)
	want := "fail    min auc: 0.84 (threshold 0.9): auc 0.84 is below the minimum of 0.9\n" +
		"skipped regression auc vs champion: no champion\n" +
		"pass    min test rows: 668 (threshold 500)\n"
	if got := r.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// Every decision is someone's under the policy: approvers approve, reject and
// promote; rollback and retire have roles that default to the approvers; an
// override is nobody's unless named.
func TestMayDecide(t *testing.T) {
	base := "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval:\n  approvers: [\"local:alice\", \"arn:aws:iam::123456789012:role/ModelRisk*\"]\n"
	p := mustParse(t, base)
	q := mustParse(t, base+"  rollback: [\"local:oncall\"]\n  retire: [\"local:owner\"]\n  override: [\"local:cro\"]\n")
	session := "arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice"
	for _, c := range []struct {
		p        *policy.Policy
		decision string
		who      string
		want     bool
	}{
		{p, policy.DecideApprove, "local:alice", true},
		{p, policy.DecideReject, "local:alice", true},
		{p, policy.DecidePromote, session, true},
		{p, policy.DecideRollback, "local:alice", true}, // defaults to the approvers
		{p, policy.DecideRetire, session, true},
		{p, policy.DecideOverride, "local:alice", false}, // no default
		{p, policy.DecideReject, "local:mallory", false},
		{p, "delete", "local:alice", false},
		{q, policy.DecideRollback, "local:oncall", true},
		{q, policy.DecideRollback, "local:alice", false}, // the role replaces the default
		{q, policy.DecideRetire, "local:owner", true},
		{q, policy.DecideRetire, "local:oncall", false},
		{q, policy.DecideOverride, "local:cro", true},
		{q, policy.DecideApprove, "local:cro", false},
	} {
		if got := policy.MayDecide(c.p, c.decision, c.who); got != c.want {
			t.Errorf("MayDecide(%s, %q) = %v, want %v (roles %+v)", c.decision, c.who, got, c.want, c.p.Approval)
		}
	}
	// Roles are checked as approvers are.
	for _, bad := range []string{"  rollback: local:x\n", "  retire: [\"\"]\n", "  override: [\"a\", \"a\"]\n", "  override: [\"[\"]\n"} {
		if _, err := policy.Parse("p.yaml", []byte(base+bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// A policy without the new roles hashes as it did: they are left out.
	if strings.Contains(string(p.Canonical()), "rollback") || !strings.Contains(string(q.Canonical()), `"override"`) {
		t.Errorf("canonical forms: %s / %s", p.Canonical(), q.Canonical())
	}
}

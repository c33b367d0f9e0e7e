package policy_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/yamldoc/doctest"
)

// head is the smallest valid policy; cases append to it from line 5 on.
const head = `apiVersion: mlops/v1
kind: PromotionPolicy
model: credit
approval: {approvers: ["local:*"]}
`

func mustParse(t testing.TB, yaml string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("p.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, yaml)
	}
	return p
}

func TestMinimal(t *testing.T) {
	p := mustParse(t, head)
	if got, want := string(p.Canonical()), `{"model":"credit","complexity":{},"approval":{"required":true,"approvers":["local:*"]}}`; got != want {
		t.Fatalf("canonical:\n got %s\nwant %s", got, want)
	}
	// Approval is required unless the policy says otherwise.
	if !p.Approval.Required {
		t.Fatal("approval.required should default to true")
	}
}

func TestBadPolicies(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", ``, `p.yaml:1: empty document: expected a promotion policy (apiVersion: mlops/v1, kind: PromotionPolicy)`},
		{"not yaml", "a: [1,\n", `p.yaml:2: not valid YAML: line 2: did not find expected node content`},
		{"list", "- 1\n", `p.yaml:1:1: expected a mapping (key: value lines), found a list`},
		{"two docs", head + "---\nb: 1\n", `p.yaml:6:1: more than one YAML document: expected one promotion policy per file`},
		{"alias", head + "minimum: &m {auc: 0.7}\nmaximum: *m\n", `p.yaml:5:10: YAML anchors and aliases are not supported in policies: write the value out`},
		{"spec", "apiVersion: mlops/v1\nkind: ModelSpec\n", `p.yaml:2:7: kind: kind "ModelSpec" is not a promotion policy: expected PromotionPolicy (this is a model spec: apply it with mlops models apply)`},
		{"api", "apiVersion: v2\nkind: PromotionPolicy\n", `p.yaml:1:13: apiVersion: apiVersion "v2" is not supported: expected mlops/v1`},
		{"missing", "model: credit\napproval: {required: false}\n", "p.yaml:1:1: apiVersion: missing apiVersion: expected apiVersion: mlops/v1\np.yaml:1:1: kind: missing kind: expected kind: PromotionPolicy"},
		{"no model", "apiVersion: mlops/v1\nkind: PromotionPolicy\napproval: {required: false}\n", `p.yaml:1:1: model: missing model: expected the model's name, as in its spec`},
		{"bad model", strings.Replace(head, "model: credit", "model: Credit Model", 1), `p.yaml:3:8: model: model "Credit Model" is not a model name: expected 1 to 63 of a-z 0-9 _ -, starting with a letter or digit`},
		{"model mapping", strings.Replace(head, "model: credit", "model: {name: credit}", 1), `p.yaml:3:8: model: expected a text value, found a mapping`},
		{"fairness list", head + "fairness: [Age]\n", `p.yaml:5:11: fairness: expected a mapping of sensitive attributes to gap bounds (Age: {demographicParityDifference: 0.1}), found a list`},
		{"fairness text", head + "fairness: {Age: 0.1}\n", `p.yaml:5:17: fairness.Age: expected a mapping (key: value lines), found the value "0.1"`},
		{"regression text", head + "regression: {auc: 0.01}\n", `p.yaml:5:19: regression.auc: expected a mapping (key: value lines), found the value "0.01"`},
		{"typo key", head + "minTestRow: 500\n", `p.yaml:5:1: minTestRow: unknown key "minTestRow": did you mean "minTestRows"?`},
		{"unknown key", head + "owner: me\n", `p.yaml:5:1: owner: unknown key "owner": expected one of apiVersion, kind, model, objective, minimum, maximum, regression, fairness, minTestRows, complexity, approval, autoPromote, drift`},
		{"dup key", head + "minTestRows: 1\nminTestRows: 2\n", `p.yaml:6:1: minTestRows: key "minTestRows" appears twice`},
		{"objective", head + "objective: binary:logistc\n", `p.yaml:5:12: objective: objective "binary:logistc" is not supported: did you mean "binary:logistic"?`},
		{"metric typo", head + "minimum: {acu: 0.7}\n", `p.yaml:5:11: minimum.acu: unknown metric "acu": did you mean "auc"?`},
		{"metric unknown", head + "minimum: {gini: 0.7}\n", `p.yaml:5:11: minimum.gini: unknown metric "gini": expected one of auc, log_loss, accuracy, precision, recall, f1, brier, rmse, mae, r2, macro_f1`},
		{"metric of another objective", head + "objective: binary:logistic\nminimum: {r2: 0.7}\n", `p.yaml:6:11: minimum.r2: metric "r2" is not one of binary:logistic's test metrics: expected one of auc, log_loss, accuracy, precision, recall, f1, brier`},
		{"min of error metric", head + "minimum: {rmse: 3}\n", `p.yaml:5:11: minimum.rmse: rmse is lower-is-better: bound it under maximum, not minimum`},
		{"max of score", head + "maximum:\n  auc: 0.9\n", `p.yaml:6:3: maximum.auc: auc is higher-is-better: bound it under minimum, not maximum`},
		{"out of range", head + "minimum: {auc: 1.5}\n", `p.yaml:5:11: minimum.auc: auc 1.5 is out of range: expected a number from 0 to 1`},
		{"negative loss", head + "maximum: {log_loss: -1}\n", `p.yaml:5:11: maximum.log_loss: log_loss -1 is out of range: expected a finite number of at least 0`},
		{"r2 above 1", head + "minimum: {r2: 2}\n", `p.yaml:5:11: minimum.r2: r2 2 is out of range: expected a finite number of at most 1`},
		{"not a number", head + "minimum: {auc: high}\n", `p.yaml:5:16: minimum.auc: expected a finite number, found the value "high"`},
		{"nan", head + "minimum: {auc: .nan}\n", `p.yaml:5:16: minimum.auc: expected a finite number, found the value ".nan"`},
		{"minimum list", head + "minimum: [auc]\n", `p.yaml:5:10: minimum: expected a mapping of metric names to numbers (auc: 0.75), found a list`},
		{"dup metric", head + "minimum: {auc: 0.7, auc: 0.8}\n", `p.yaml:5:21: minimum.auc: "auc" appears twice`},
		{"regression empty", head + "regression: {auc: {}}\n", `p.yaml:5:14: regression.auc: expected absolute, relative or both: how much worse than the champion a candidate may be`},
		{"regression typo", head + "regression:\n  auc: {absolut: 0.01}\n", `p.yaml:6:9: regression.auc.absolut: unknown key "absolut": did you mean "absolute"?`},
		{"regression negative", head + "regression:\n  auc: {absolute: -0.01}\n", `p.yaml:6:19: regression.auc.absolute: absolute -0.01 is out of range: expected a finite number of at least 0, in auc's units`},
		{"regression relative", head + "regression:\n  rmse: {relative: 5}\n", `p.yaml:6:20: regression.rmse.relative: relative 5 is out of range: expected a fraction of the champion's value from 0 to 1`},
		{"regression metric", head + "regression: {aucc: {absolute: 0.1}}\n", `p.yaml:5:14: regression.aucc: unknown metric "aucc": did you mean "auc"?`},
		{"gap typo", head + "fairness:\n  Age: {demographicParity: 0.1}\n", `p.yaml:6:9: fairness.Age.demographicParity: unknown key "demographicParity": expected one of demographicParityDifference, equalOpportunityDifference, disparateImpactRatio`},
		{"gap near typo", head + "fairness:\n  Age: {disparateImpactRatios: 0.8}\n", `p.yaml:6:9: fairness.Age.disparateImpactRatios: unknown key "disparateImpactRatios": did you mean "disparateImpactRatio"?`},
		{"gap range", head + "fairness:\n  Age: {disparateImpactRatio: 1.25}\n", `p.yaml:6:31: fairness.Age.disparateImpactRatio: disparateImpactRatio 1.25 is out of range: expected the smallest ratio allowed, from 0 to 1`},
		{"difference range", head + "fairness:\n  Age:\n    equalOpportunityDifference: -0.1\n", `p.yaml:7:33: fairness.Age.equalOpportunityDifference: equalOpportunityDifference -0.1 is out of range: expected the largest difference allowed, from 0 to 1`},
		{"no gaps", head + "fairness:\n  Age: {}\n", `p.yaml:6:3: fairness.Age: expected at least one of demographicParityDifference, equalOpportunityDifference, disparateImpactRatio`},
		{"fairness regression", head + "objective: reg:squarederror\nfairness:\n  Age: {demographicParityDifference: 0.1}\n", `p.yaml:7:3: fairness: the trainer measures fairness gaps for binary:logistic models only, not reg:squarederror`},
		{"rows", head + "minTestRows: 0\n", `p.yaml:5:14: minTestRows: minTestRows 0 is out of range: expected at least 1 (omit the key for no minimum)`},
		{"rows fraction", head + "minTestRows: 1.5\n", `p.yaml:5:14: minTestRows: expected a whole number, found the value "1.5"`},
		{"complexity zero", head + "complexity: {maxDepth: 0}\n", `p.yaml:5:24: complexity.maxDepth: maxDepth 0 is out of range: expected at least 1 (omit the key for no bound)`},
		{"complexity negative", head + "complexity:\n  maxTrees: -1\n", `p.yaml:6:13: complexity.maxTrees: maxTrees -1 is out of range: expected at least 1 (omit the key for no bound)`},
		{"complexity typo", head + "complexity: {maxNodes: 10}\n", `p.yaml:5:14: complexity.maxNodes: unknown key "maxNodes": expected one of maxTrees, maxTotalNodes, maxDepth, maxModelBytes`},
		{"complexity huge", head + "complexity: {maxTrees: 1e12}\n", `p.yaml:5:24: complexity.maxTrees: maxTrees 1000000000000 is out of range: expected at most 2147483647`},
		{"no approvers", "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\n", `p.yaml:1:1: approval.approvers: approval is required but no approver is named: expected patterns of who may approve (local:*, arn:aws:iam::123456789012:role/ModelRisk*), or required: false`},
		{"empty approvers", "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval:\n  required: true\n  approvers: []\n", `p.yaml:6:14: approval.approvers: approval is required but no approver is named: expected patterns of who may approve (local:*, arn:aws:iam::123456789012:role/ModelRisk*), or required: false`},
		{"bad pattern", strings.Replace(head, `"local:*"`, `"local:[a"`, 1), `p.yaml:4:24: approval.approvers[0]: pattern "local:[a" is not a valid pattern (path.Match syntax: * ? [a-z] \): syntax error in pattern`},
		{"dup pattern", strings.Replace(head, `"local:*"`, `"local:*", "local:*"`, 1), `p.yaml:4:35: approval.approvers[1]: pattern "local:*" appears twice`},
		{"empty pattern", strings.Replace(head, `"local:*"`, `""`, 1), `p.yaml:4:24: approval.approvers[0]: expected a pattern of principals, found an empty one`},
		{"approvers text", "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval: {approvers: local:*}\n", `p.yaml:4:23: approval.approvers: expected a list of principal patterns (["local:*"]), found the value "local:*"`},
		{"required text", "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval: {required: yes, approvers: [a]}\n", `p.yaml:4:22: approval.required: expected true or false, found the value "yes"`},
		{"auto with approval", head + "autoPromote: true\n", `p.yaml:5:14: autoPromote: autoPromote needs approval.required: false: a required approval is what promotes`},
		{"separate without approval", "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: credit\napproval: {required: false, separatePromotion: true}\n", `p.yaml:4:48: approval.separatePromotion: separatePromotion applies to approvals, and approval is not required`},
		{"several", head + "minimum: {acu: 0.7}\nminTestRows: -3\nautoPromote: true\n", "p.yaml:5:11: minimum.acu: unknown metric \"acu\": did you mean \"auc\"?\np.yaml:6:14: minTestRows: minTestRows -3 is out of range: expected at least 1 (omit the key for no minimum)\np.yaml:7:14: autoPromote: autoPromote needs approval.required: false: a required approval is what promotes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("p.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error for\n%s", tc.yaml)
			}
			if err.Error() != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", err, tc.want)
			}
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("not an *Error: %T", err)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	_, err := policy.Parse("p.yaml", bytes.Repeat([]byte("#"), policy.MaxPolicyBytes+1))
	if err == nil || !strings.Contains(err.Error(), "expected at most 262144") {
		t.Fatalf("got %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	p, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	doctest.Stable(t, p, policy.ParseCanonical)
	if len(p.Hash()) != 64 {
		t.Fatal(p.Hash())
	}
}

// Comments, key order, flow or block style and number spelling do not make a
// new version; a changed threshold does.
func TestHashIgnoresFormatting(t *testing.T) {
	a := mustParse(t, head+"minimum: {auc: 0.75, recall: 0.3}\nregression:\n  auc: {absolute: 0.01}\n")
	b := mustParse(t, `# a comment
kind: PromotionPolicy   # the kind
apiVersion: mlops/v1
model: credit
regression: {auc: {absolute: 1e-2}}
minimum:
  recall: 0.30   # recall
  auc: .75
approval:
  approvers:
    - local:*
  required: true
`)
	if a.Hash() != b.Hash() {
		t.Fatalf("formatting changed the hash:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	c := mustParse(t, head+"minimum: {auc: 0.76, recall: 0.3}\nregression:\n  auc: {absolute: 0.01}\n")
	if c.Hash() == a.Hash() {
		t.Fatal("a changed threshold kept the hash")
	}
	// The example's comments are its own business.
	y := credit.PolicyYAML()
	var stripped []string
	for _, l := range strings.Split(string(y), "\n") {
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		if !strings.HasPrefix(l, "#") {
			stripped = append(stripped, l)
		}
	}
	p, _ := credit.Policy()
	if q := mustParse(t, strings.Join(stripped, "\n")); q.Hash() != p.Hash() {
		t.Fatal("removing the example's comments changed its hash")
	}
}

// An explicit 0 where 0 is meaningful, a -0 and an absent key.
func TestZeroes(t *testing.T) {
	p := mustParse(t, head+"regression: {auc: {absolute: -0, relative: 0}}\nfairness: {Age: {demographicParityDifference: 0}}\n")
	want := `{"model":"credit","regression":{"auc":{"absolute":0,"relative":0}},"fairness":{"Age":{"demographicParityDifference":0}},"complexity":{},"approval":{"required":true,"approvers":["local:*"]}}`
	if got := string(p.Canonical()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	q := mustParse(t, "apiVersion: mlops/v1\nkind: PromotionPolicy\nmodel: m\napproval: {required: false}\nautoPromote: true\n")
	if got := string(q.Canonical()); got != `{"model":"m","complexity":{},"approval":{"required":false},"autoPromote":true}` {
		t.Fatal(got)
	}
}

func TestParseCanonicalErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"model":"m","approval":{"required":false},"extra":1}`, `canonical policy JSON: json: unknown field "extra"`},
		{`{"model":"m","approval":{"required":false}} {}`, `canonical policy JSON: unexpected data after the policy object`},
		{`{"model":"m"}`, `approval.approvers: approval is required but no approver is named: expected patterns of who may approve (local:*, arn:aws:iam::123456789012:role/ModelRisk*), or required: false`},
		{`{"model":"m","approval":{"required":false},"minimum":{"rmse":1}}`, `minimum.rmse: rmse is lower-is-better: bound it under maximum, not minimum`},
		{`[]`, `canonical policy JSON: json: cannot unmarshal array into Go value of type policy.Policy`},
	} {
		_, err := policy.ParseCanonical([]byte(tc.json))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.json, err, tc.want)
		}
	}
}

func TestValidateBuiltInGo(t *testing.T) {
	p := &policy.Policy{Model: "m", Approval: policy.Approval{Required: true}}
	if err := p.Validate(); err == nil {
		t.Fatal("required approval without approvers passed")
	}
	p.Approval.Approvers = []string{"arn:aws:iam::123456789012:role/ModelRisk*"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

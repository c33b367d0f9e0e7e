package credit

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/validate"
)

// The example contract accepts the example data and rejects the broken file for
// each of its planted problems.
func TestExampleDataAgainstItsContract(t *testing.T) {
	c, err := Contract()
	if err != nil {
		t.Fatal(err)
	}
	res, err := validate.Scan(context.Background(), bytes.NewReader(CSV()), c, validate.Options{Name: "credit_data.csv"})
	if err != nil || !res.Valid() || res.Rows != 4454 {
		t.Fatalf("credit_data.csv: valid %v rows %d err %v\n%s", res.Valid(), res.Rows, err, res.Text())
	}
	res, err = validate.Scan(context.Background(), bytes.NewReader(BrokenCSV()), c, validate.Options{Name: "credit_broken.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, v := range res.Violations {
		got[v.Rule+":"+v.Column] = true
	}
	for _, want := range []string{"type:Age", "allowed:Status", "min:Amount", "allowed:Home", "not_finite:Expenses", "required:Status", "formula:Records"} {
		if !got[want] {
			t.Errorf("credit_broken.csv: no %s violation; got %v", want, got)
		}
	}
}

// The example spec parses, carries its card, and fits the example contract.
func TestExampleSpecFitsItsContract(t *testing.T) {
	s, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := Contract()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckContract(c); err != nil {
		t.Fatalf("credit.model.yaml does not fit credit.odcs.yaml: %v", err)
	}
	if s.Name != "credit" || s.Dataset != c.Dataset || s.Objective != spec.BinaryLogistic ||
		s.Target.PositiveClass != "bad" || s.NumBoostRound != 300 || s.EarlyStoppingRounds != 20 || s.Threshold != 0.5 {
		t.Fatalf("unexpected spec: %s", s.Canonical())
	}
	if s.Trigger != (spec.Trigger{}) {
		t.Fatalf("the example trains on every new version; trigger is %+v", s.Trigger)
	}
	if s.Card != string(Card()) || !strings.Contains(s.Card, "## Ethical considerations") ||
		!strings.Contains(s.Card, "Age") || !strings.Contains(s.Card, "Marital") {
		t.Fatalf("card not embedded as card.md: %.80q", s.Card)
	}
	// The spec on disk reads the same through os.ReadFile (the CLI's path).
	disk, err := spec.Parse("credit.model.yaml", SpecYAML(), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if disk.Hash() != s.Hash() {
		t.Fatalf("from disk: hash %s, embedded %s", disk.Hash(), s.Hash())
	}
}

// The example policy parses, names the credit model and its objective, and is
// the file the spec names.
func TestExamplePolicy(t *testing.T) {
	p, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	if p.Model != s.Name || p.Objective != s.Objective || s.Policy != "policy.yaml" {
		t.Fatalf("policy for %s (%s), spec %s (%s) names %q", p.Model, p.Objective, s.Name, s.Objective, s.Policy)
	}
	if !p.Approval.Required || !policy.MayApprove(p, "local:alice") || policy.MayApprove(p, "arn:aws:iam::123456789012:role/Other") {
		t.Fatalf("approval: %+v", p.Approval)
	}
	onDisk, err := os.ReadFile("policy.yaml")
	if err != nil || !bytes.Equal(onDisk, PolicyYAML()) {
		t.Fatalf("PolicyYAML is not policy.yaml: %v", err)
	}
}

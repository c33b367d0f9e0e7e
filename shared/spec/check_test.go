package spec_test

import (
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/spec"
)

// loans is a small contract with one column of each kind a target can be.
func loans() *contract.Contract {
	return &contract.Contract{Dataset: "loans", Target: "status", Features: []string{"age", "amount"},
		Columns: []contract.Column{
			{Name: "status", Type: contract.Category, Allowed: []string{"good", "bad"}},
			{Name: "age", Type: contract.Integer},
			{Name: "amount", Type: contract.Number},
			{Name: "grade", Type: contract.Category, Allowed: []string{"a", "b", "c"}},
			{Name: "paid", Type: contract.Boolean},
			{Name: "note", Type: contract.String},
			{Name: "opened", Type: contract.Timestamp},
			{Name: "flag", Type: contract.Category, Allowed: []string{"y", "n"}},
			{Name: "level", Type: contract.Integer, Allowed: []string{"1", "2", "3"}},
		}}
}

func TestCheckContract(t *testing.T) {
	bin := func(col, pc string) *spec.Spec {
		return &spec.Spec{Name: "m", Dataset: "loans", Objective: spec.BinaryLogistic, Target: spec.Target{Column: col, PositiveClass: pc}}
	}
	obj := func(o, col string) *spec.Spec {
		return &spec.Spec{Name: "m", Dataset: "loans", Objective: o, Target: spec.Target{Column: col}}
	}
	noTarget := loans()
	noTarget.Target, noTarget.Features = "", nil
	for _, tc := range []struct {
		name string
		s    *spec.Spec
		c    *contract.Contract
		want string // "" = fits
	}{
		{"contract's target", bin("", "bad"), loans(), ""},
		{"explicit target", bin("status", "good"), loans(), ""},
		{"boolean target", bin("paid", "true"), loans(), ""},
		{"integer target", bin("level", "3"), loans(), ""},
		{"free text target", bin("note", "anything"), loans(), ""},
		{"regression on a number", obj(spec.RegSquaredError, "amount"), noTarget, ""},
		{"regression on an integer", obj(spec.RegSquaredError, "age"), noTarget, ""},
		{"multiclass, three classes", obj(spec.MultiSoftprob, "grade"), loans(), ""},
		{"multiclass, integers without a list", obj(spec.MultiSoftprob, "age"), noTarget, ""},

		{"other dataset", &spec.Spec{Name: "m", Dataset: "credit", Objective: spec.BinaryLogistic, Target: spec.Target{PositiveClass: "bad"}}, loans(),
			`dataset: the spec trains on dataset "credit" but the contract is for "loans"`},
		{"no target anywhere", bin("", "bad"), noTarget,
			"target.column: no target column: dataset loans's contract names none, so set target.column"},
		{"missing column", bin("Status", "bad"), loans(),
			`target.column: target column "Status" is not a column of dataset loans's contract: did you mean "status"?`},
		{"missing column, nothing near", bin("outcome", "bad"), loans(),
			`target.column: target column "outcome" is not a column of dataset loans's contract`},
		{"target is a feature", bin("age", "1"), loans(),
			`target.column: target column "age" is a feature in dataset loans's contract: a model may not learn its label from itself`},
		{"positive class not allowed", bin("", "Bad"), loans(),
			`target.positiveClass: positive class "Bad" is not one of column "status"'s allowed values ["good" "bad"]`},
		{"boolean positive class", bin("paid", "yes"), loans(),
			`target.positiveClass: column "paid" is boolean: the positive class is true or false, not "yes"`},
		{"binary on a number", bin("amount", "1"), noTarget,
			`target.column: binary:logistic needs a class label, but target column "amount" is number: use reg:squarederror, or a category, boolean, integer or string column`},
		{"binary on a timestamp", bin("opened", "x"), loans(),
			`target.column: binary:logistic needs a class label, but target column "opened" is timestamp: use reg:squarederror, or a category, boolean, integer or string column`},
		{"regression on a category", obj(spec.RegSquaredError, "grade"), loans(),
			`target.column: reg:squarederror needs a numeric target, but column "grade" is category: use binary:logistic or multi:softprob for classes`},
		{"regression on the contract's category target", obj(spec.RegSquaredError, ""), loans(),
			`target: reg:squarederror needs a numeric target, but column "status" is category: use binary:logistic or multi:softprob for classes`},
		{"multiclass with two classes", obj(spec.MultiSoftprob, "flag"), loans(),
			`target.column: multi:softprob needs at least three classes, but column "flag" allows 2 (["y" "n"]): use binary:logistic`},
		{"multiclass on a boolean", obj(spec.MultiSoftprob, "paid"), loans(),
			`target.column: multi:softprob needs at least three classes, but column "paid" is boolean: use binary:logistic`},
	} {
		err := tc.s.CheckContract(tc.c)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestExampleFitsAndTargetColumn(t *testing.T) {
	s, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckContract(c); err != nil {
		t.Fatal(err)
	}
	s.Target.Column = ""
	if s.TargetColumn(c) != "Status" || s.CheckContract(c) != nil {
		t.Fatal("an empty target.column must default to the contract's target")
	}
	s.Target.Column = "Age"
	if err := s.CheckContract(c); err == nil || !strings.Contains(err.Error(), "is a feature in dataset credit's contract") {
		t.Fatalf("Age as the target: %v", err)
	}
}

// Contract problems of a parsed spec point at its YAML, even after wrapping.
func TestContractProblemsArePositioned(t *testing.T) {
	y := head + "trainer:\n  command: [a, b]\n"
	s, err := spec.Parse("m.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := credit.Contract()
	s.Target.Column = "Outcome" // not written in the YAML: shown on the target mapping
	want := `m.yaml:5:9: target.column: target column "Outcome" is not a column of dataset credit's contract`
	if err := s.CheckContract(c); err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	y = strings.Replace(y, "{positiveClass: bad}", "{positiveClass: Bad, column: Status}", 1)
	if s, err = spec.Parse("m.yaml", []byte(y), nil); err != nil {
		t.Fatal(err)
	}
	want = `m.yaml:5:25: target.positiveClass: positive class "Bad" is not one of column "Status"'s allowed values ["good" "bad"]`
	if err := s.CheckContract(c); err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	// A copy keeps the positions; the canonical form does not carry them.
	cp := *s
	if err := cp.CheckContract(c); err == nil || !strings.HasPrefix(err.Error(), "m.yaml:5:25:") {
		t.Fatalf("copy: %v", err)
	}
	back, _ := spec.ParseCanonical(s.Canonical())
	if err := back.CheckContract(c); err == nil || !strings.HasPrefix(err.Error(), "target.positiveClass: ") {
		t.Fatalf("from JSON: %v", err)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
)

const creditSpec = "../../examples/credit/credit.model.yaml"

// writeSpec writes a variant of the credit spec, with its card beside it, and
// returns its path.
func writeSpec(t *testing.T, name string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "card.md"), credit.Card(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), credit.PolicyYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(edit(string(credit.SpecYAML()))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The flow a user follows: a spec needs its dataset's contract; once applied
// it is current, shown, listed, and applying it again changes nothing.
func TestModelsSpecFlow(t *testing.T) {
	dir := startPlatform(t)
	r := mlops(t, "models", "apply", creditSpec, "--dir", dir)
	if r.code != 3 || !strings.Contains(r.stderr, `dataset "credit": the dataset has no contract: apply one first (mlops contract apply)`) {
		t.Fatalf("apply before the contract: %+v", r)
	}
	if r := mlops(t, "models", "specs", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "no model specs yet") {
		t.Fatalf("specs before any: %+v", r)
	}
	if r := mlops(t, "contract", "apply", creditContract, "--dir", dir); r.code != 0 {
		t.Fatalf("contract apply: %+v", r)
	}

	want, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	hash := want.Hash()
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	phash := pol.Hash()
	r = mlops(t, "models", "apply", creditSpec, "--dir", dir)
	if r.code != 0 || r.stdout != "model credit: spec "+hash+" (specs/credit/"+hash+".json, checked against contract "+
		mustContractHash(t)[:12]+"): now current\n"+
		"model credit: promotion policy "+phash+" (policies/credit/"+phash+".json): now current\n" {
		t.Fatalf("apply: %+v", r)
	}
	r = mlops(t, "models", "apply", creditSpec, "--dir", dir, "-o", "json")
	var applied struct {
		Model, Hash, Key, ContractHash string
		Changed                        bool
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &applied) != nil || applied.Model != "credit" ||
		applied.Hash != hash || applied.Key != "specs/credit/"+hash+".json" || applied.Changed {
		t.Fatalf("apply again, json: %+v", r)
	}
	// Other comments, same spec.
	recommented := writeSpec(t, "credit.model.yaml", func(y string) string { return "# a new comment\n" + y })
	if r := mlops(t, "models", "apply", recommented, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "unchanged (already current)") {
		t.Fatalf("apply with other comments: %+v", r)
	}

	r = mlops(t, "models", "spec", "credit", "--dir", dir)
	for _, s := range []string{"model        credit\n", "spec         " + hash + " (current since ",
		"target       Status (positive class bad)\n", "objective    binary:logistic\n",
		"params       colsample_bytree=0.9 eta=0.1 max_depth=4 min_child_weight=1 subsample=0.9\n",
		"rounds       at most 300; early stopping after 20 rounds without improvement\n",
		"resources    1 GPU, 4 vCPU, 8192 MiB, timeout 30m0s\n", "trigger      every new dataset version\n",
		`card         "Model card: credit", `} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Fatalf("spec: no %q in\n%+v", s, r)
		}
	}
	r = mlops(t, "models", "spec", "credit", "--dir", dir, "-o", "json")
	if r.code != 0 || r.stdout != string(want.Canonical())+"\n" {
		t.Fatalf("spec -o json is not the canonical JSON: %+v", r)
	}
	if r := mlops(t, "models", "spec", "nope", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, `model "nope": no spec`) {
		t.Fatalf("unknown model: %+v", r)
	}
	if r := mlops(t, "models", "spec", "Not A Name", "--dir", dir); r.code != 2 {
		t.Fatalf("bad model name: %+v", r)
	}

	// A second version becomes current; specs lists the model once.
	lower := writeSpec(t, "credit.model.yaml", func(y string) string {
		return strings.Replace(y, "threshold: 0.5 ", "threshold: 0.4 ", 1)
	})
	if r := mlops(t, "models", "apply", lower, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "now current") ||
		strings.Contains(r.stdout, hash) {
		t.Fatalf("apply a new version: %+v", r)
	}
	r = mlops(t, "models", "specs", "--dir", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "MODEL   SPEC          DATASET  OBJECTIVE        APPLIED\ncredit  ") ||
		strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "  credit   binary:logistic  ") {
		t.Fatalf("specs: %+v", r)
	}
	r = mlops(t, "models", "specs", "--dir", dir, "-o", "json")
	var list []struct{ Model, Hash, Dataset, Objective string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 || list[0].Hash == hash ||
		list[0].Dataset != "credit" || list[0].Objective != "binary:logistic" {
		t.Fatalf("specs -o json: %+v", r)
	}
}

// A spec whose policy is for another model, or is not valid, is refused before
// anything is stored.
func TestModelsApplyRefusesBadPolicy(t *testing.T) {
	dir := startPlatform(t)
	if r := mlops(t, "contract", "apply", creditContract, "--dir", dir); r.code != 0 {
		t.Fatalf("contract apply: %+v", r)
	}
	spec := writeSpec(t, "credit.model.yaml", func(y string) string { return y })
	ppath := filepath.Join(filepath.Dir(spec), "policy.yaml")
	for _, c := range []struct{ edit, want string }{
		{"model: credit", `is the policy of model "other", but the spec is model "credit"`},
		{"minTestRows: 500", "invalid promotion policy:"},
	} {
		bad := strings.Replace(string(credit.PolicyYAML()), c.edit, map[string]string{
			"model: credit": "model: other", "minTestRows: 500": "minTestRows: -1"}[c.edit], 1)
		if bad == string(credit.PolicyYAML()) {
			t.Fatalf("the example policy has no %q to edit", c.edit)
		}
		if err := os.WriteFile(ppath, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		r := mlops(t, "models", "apply", spec, "--dir", dir)
		if r.code != 3 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("%s: %+v", c.edit, r)
		}
		if r := mlops(t, "models", "spec", "credit", "--dir", dir); r.code != 1 {
			t.Fatalf("a spec with a bad policy became current: %+v", r)
		}
	}
}

// A spec that cannot train on its dataset, or that is not valid, is refused with
// exit status 3 and the place in the file to fix.
func TestModelsApplyRefuses(t *testing.T) {
	dir := startPlatform(t)
	if r := mlops(t, "contract", "apply", creditContract, "--dir", dir); r.code != 0 {
		t.Fatalf("contract apply: %+v", r)
	}
	noTarget := writeSpec(t, "bad.model.yaml", func(y string) string {
		return strings.Replace(y, "column: Status ", "column: Outcome", 1)
	})
	r := mlops(t, "models", "apply", noTarget, "--dir", dir)
	if r.code != 3 || !strings.Contains(r.stderr, "mlops: model credit: the spec does not fit the dataset's contract (contract ") ||
		!strings.Contains(r.stderr, noTarget+`:20:11: target.column: target column "Outcome" is not a column of dataset credit's contract`) {
		t.Fatalf("target not in the contract: %+v", r)
	}
	if r := mlops(t, "models", "spec", "credit", "--dir", dir); r.code != 1 {
		t.Fatalf("a refused spec became current: %+v", r)
	}

	typo := writeSpec(t, "typo.model.yaml", func(y string) string {
		return strings.Replace(y, "numBoostRound: 300", "numBoostRounds: 300", 1)
	})
	r = mlops(t, "models", "apply", typo, "--dir", dir)
	if r.code != 3 || !strings.Contains(r.stderr, "invalid model spec:\n"+typo+`:33:1: numBoostRounds: unknown key "numBoostRounds": did you mean "numBoostRound"?`) {
		t.Fatalf("YAML error: %+v", r)
	}
	refused := writeSpec(t, "gpu.model.yaml", func(y string) string {
		return strings.Replace(y, "  max_depth: 4\n", "  max_depth: 4\n  tree_method: gpu_hist\n", 1)
	})
	r = mlops(t, "models", "apply", refused, "--dir", dir)
	if r.code != 3 || !strings.Contains(r.stderr, refused+`:29:3: params.tree_method: "tree_method" may not be set in params`) {
		t.Fatalf("refused parameter: %+v", r)
	}
	noCard := writeSpec(t, "nocard.model.yaml", func(y string) string { return strings.Replace(y, "card: card.md", "card: missing.md", 1) })
	r = mlops(t, "models", "apply", noCard, "--dir", dir)
	if r.code != 3 || !strings.Contains(r.stderr, noCard+":49:7: card: cannot read the model card: open "+filepath.Join(filepath.Dir(noCard), "missing.md")+": no such file or directory") {
		t.Fatalf("missing card: %+v", r)
	}
	if r := mlops(t, "models", "apply", filepath.Join(t.TempDir(), "none.yaml"), "--dir", dir); r.code != 3 || !strings.Contains(r.stderr, "read spec: open ") {
		t.Fatalf("missing file: %+v", r)
	}
	if r := mlops(t, "models", "apply", "--dir", dir); r.code != 2 {
		t.Fatalf("no file: %+v", r)
	}
	if r := mlops(t, "models", "apply", creditSpec, "--dir", dir, "-o", "yaml"); r.code != 2 {
		t.Fatalf("bad -o: %+v", r)
	}
}

func TestModelsHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{{"models", "--help"}, {"models", "apply", "--help"}, {"models", "spec", "--help"}, {"models", "specs", "--help"}} {
		r := mlops(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "mlops models ") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := mlops(t, "models", "apply", "--help"); !strings.Contains(r.stdout, "mlops models apply examples/credit/credit.model.yaml") {
		t.Errorf("apply's example does not apply the credit spec: %s", r.stdout)
	}
}

func mustContractHash(t *testing.T) string {
	t.Helper()
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	return c.Hash()
}

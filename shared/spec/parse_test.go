package spec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/yamldoc/doctest"
)

// head is the smallest valid spec; cases append to it from line 7 on.
const head = `apiVersion: mlops/v1
kind: ModelSpec
name: credit
dataset: credit
target: {positiveClass: bad}
objective: binary:logistic
`

func parse(t *testing.T, yaml string) (*spec.Spec, error) {
	t.Helper()
	return spec.Parse("m.yaml", []byte(yaml), nil)
}

func mustParse(t testing.TB, yaml string, files map[string]string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse("dir/m.yaml", []byte(yaml), readFrom(files))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, yaml)
	}
	return s
}

// readFrom serves files by the name Parse asks for (joined to the spec's directory).
func readFrom(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return []byte(b), nil
		}
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, head, nil)
	want := spec.Spec{Name: "credit", Dataset: "credit", Target: spec.Target{PositiveClass: "bad"},
		Objective: spec.BinaryLogistic, NumBoostRound: 500, EarlyStoppingRounds: 20, Threshold: 0.5,
		Split:   spec.Split{Validation: 0.15, Test: 0.15, Seed: 42},
		Trainer: spec.Trainer{TimeoutSeconds: 3600, GPUs: 1, VCPUs: 4, MemoryMiB: 16384}}
	if got, w := s.Canonical(), want.Canonical(); !bytes.Equal(got, w) {
		t.Fatalf("defaults:\n got %s\nwant %s", got, w)
	}
	// Spelling the defaults out is the same spec.
	full := mustParse(t, head+`numBoostRound: 500
earlyStoppingRounds: 20
threshold: 0.5
split: {validation: 0.15, test: 0.15, seed: 42}
trainer: {timeoutSeconds: 3600, gpus: 1, vcpus: 4, memoryMiB: 16384}
trigger: {}
params: {}
`, nil)
	if full.Hash() != s.Hash() {
		t.Fatalf("spelled-out defaults hash differently:\n%s\n%s", full.Canonical(), s.Canonical())
	}
	// A regression spec has no threshold.
	r := mustParse(t, strings.Replace(strings.Replace(head, "binary:logistic", "reg:squarederror", 1), "{positiveClass: bad}", "{column: Amount}", 1), nil)
	if r.Threshold != 0 || bytes.Contains(r.Canonical(), []byte("threshold")) {
		t.Fatalf("regression spec has a threshold: %s", r.Canonical())
	}
}

// 0 is meaningful for earlyStoppingRounds (off), seed and gpus (CPU only): an
// explicit 0 stays 0, an omitted key takes the default.
func TestExplicitZeroIsNotOmitted(t *testing.T) {
	zero := mustParse(t, head+"earlyStoppingRounds: 0\nsplit: {seed: 0}\ntrainer: {gpus: 0}\n", nil)
	if zero.EarlyStoppingRounds != 0 || zero.Split.Seed != 0 || zero.Trainer.GPUs != 0 {
		t.Fatalf("explicit zeroes lost: %s", zero.Canonical())
	}
	def := mustParse(t, head, nil)
	if zero.Hash() == def.Hash() {
		t.Fatal("explicit zeroes hash like omitted keys")
	}
	// The canonical JSON keeps them, and reads back as 0, not as the default.
	back, err := spec.ParseCanonical(zero.Canonical())
	if err != nil || back.EarlyStoppingRounds != 0 || back.Split.Seed != 0 || back.Trainer.GPUs != 0 {
		t.Fatalf("canonical round trip: %v %+v", err, back)
	}
	// JSON that omits them gets the defaults, as YAML does.
	j := []byte(`{"name":"credit","dataset":"credit","target":{"positiveClass":"bad"},"objective":"binary:logistic"}`)
	fromJSON, err := spec.ParseCanonical(j)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.Hash() != def.Hash() {
		t.Fatalf("sparse JSON and sparse YAML differ:\n%s\n%s", fromJSON.Canonical(), def.Canonical())
	}
}

// Every problem is reported at the author's line and column, with the YAML path.
func TestBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each a whole line of the error
	}{
		{"unknown key", head + "numBoostRounds: 10\n",
			[]string{`m.yaml:7:1: numBoostRounds: unknown key "numBoostRounds": did you mean "numBoostRound"?`}},
		{"snake case key", head + "early_stopping_rounds: 10\n",
			[]string{`m.yaml:7:1: early_stopping_rounds: unknown key "early_stopping_rounds": did you mean "earlyStoppingRounds"?`}},
		{"param at top level", head + "max_depth: 4\n",
			[]string{`m.yaml:7:1: max_depth: unknown key "max_depth": XGBoost parameters go under params`}},
		{"unknown nested key", head + "trainer:\n  gpu: 1\n",
			[]string{`m.yaml:8:3: trainer.gpu: unknown key "gpu": did you mean "gpus"?`}},
		{"duplicate key", head + "threshold: 0.4\nthreshold: 0.6\n",
			[]string{`m.yaml:8:1: threshold: key "threshold" appears twice`}},
		{"refused param", head + "params:\n  max_depth: 4\n  tree_method: hist\n",
			[]string{`m.yaml:9:3: params.tree_method: "tree_method" may not be set in params: the platform picks it from trainer.gpus (gpu_hist on a GPU, hist on the CPU)`}},
		{"refused params, each with its reason", head + "params: {seed: 1, nthread: 2, eval_metric: auc}\n",
			[]string{
				`m.yaml:7:10: params.seed: "seed" may not be set in params: the platform derives it from split.seed, so that a run is reproducible`,
				`m.yaml:7:19: params.nthread: "nthread" may not be set in params: the platform sets it from trainer.vcpus`,
				`m.yaml:7:31: params.eval_metric: "eval_metric" may not be set in params: the platform sets it per objective, so that runs and the promotion gate compare like with like`,
			}},
		{"param typo", head + "params:\n  max_dept: 4\n",
			[]string{`m.yaml:8:3: params.max_dept: unknown XGBoost parameter "max_dept": did you mean "max_depth"?`}},
		{"param value a list", head + "params:\n  eta: [0.1]\n",
			[]string{`m.yaml:8:8: params.eta: expected a number, a text value or true/false, found a list`}},
		{"param value not finite", head + "params:\n  eta: .nan\n",
			[]string{`m.yaml:8:8: params.eta: expected a finite number, found the value ".nan"`}},
		{"param booster", head + "params:\n  booster: gblinear\n",
			[]string{`m.yaml:8:3: params.booster: booster gblinear is not supported: the prediction endpoint evaluates gbtree models only`}},
		{"objective", strings.Replace(head, "binary:logistic", "binary:logitraw", 1),
			[]string{`m.yaml:6:12: objective: objective "binary:logitraw" is not supported: expected one of binary:logistic, reg:squarederror, multi:softprob`}},
		{"objective typo", strings.Replace(head, "binary:logistic", "binary:logistc", 1),
			[]string{`m.yaml:6:12: objective: objective "binary:logistc" is not supported: did you mean "binary:logistic"?`}},
		{"binary needs a positive class", strings.Replace(head, "{positiveClass: bad}", "{column: Status}", 1),
			[]string{`m.yaml:5:9: target.positiveClass: binary:logistic needs the positive class: the label value whose probability the model predicts (for example bad)`}},
		{"positive class on regression", strings.Replace(head, "binary:logistic", "reg:squarederror", 1),
			[]string{`m.yaml:5:25: target.positiveClass: a positive class applies only to binary:logistic, not reg:squarederror`}},
		{"threshold range", head + "threshold: 1\n",
			[]string{`m.yaml:7:12: threshold: threshold 1 is out of range: expected a probability strictly between 0 and 1`}},
		{"threshold on multiclass", strings.Replace(strings.Replace(head, "binary:logistic", "multi:softprob", 1), "{positiveClass: bad}", "{}", 1) + "threshold: 0.3\n",
			[]string{`m.yaml:7:12: threshold: a decision threshold applies only to binary:logistic, not multi:softprob`}},
		{"fraction too small", head + "split:\n  validation: 0.01\n",
			[]string{`m.yaml:8:15: split.validation: validation 0.01 is out of range: expected a fraction from 0.05 to 0.45`}},
		{"fractions sum", head + "split:\n  validation: 0.4\n  test: 0.4\n",
			[]string{`m.yaml:9:9: split.test: validation 0.4 + test 0.4 holds out 0.8 of the rows: keep the sum below 0.8 so that training has at least 0.2`}},
		{"rounds written as 0", head + "numBoostRound: 0\n",
			// In Go, 0 means the default; written in the file, it is a mistake.
			[]string{`m.yaml:7:16: numBoostRound: numBoostRound 0 is out of range: expected 1 to 100000`}},
		{"zeroes written", head + "threshold: 0\nsplit: {test: 0}\ntrainer: {vcpus: 0, memoryMiB: 0, timeoutSeconds: 0}\n",
			[]string{
				`m.yaml:7:12: threshold: threshold 0 is out of range: expected a probability strictly between 0 and 1`,
				`m.yaml:8:15: split.test: test 0 is out of range: expected a fraction from 0.05 to 0.45`,
				`m.yaml:9:18: trainer.vcpus: vcpus 0 is out of range: expected 1 to 192`,
				`m.yaml:9:32: trainer.memoryMiB: memoryMiB 0 is out of range: expected 512 to 2097152`,
				`m.yaml:9:51: trainer.timeoutSeconds: timeoutSeconds 0 is out of range: expected 60 (a minute) to 1209600 (14 days)`,
			}},
		{"rounds negative", head + "numBoostRound: -5\n",
			[]string{`m.yaml:7:16: numBoostRound: numBoostRound -5 is out of range: expected 1 to 100000`}},
		{"rounds fractional", head + "numBoostRound: 10.5\n",
			[]string{`m.yaml:7:16: numBoostRound: expected a whole number, found the value "10.5"`}},
		{"rounds huge", head + "numBoostRound: 1e30\n",
			[]string{`m.yaml:7:16: numBoostRound: expected a whole number, found the value "1e30"`}},
		{"image not pinned", head + "trainer:\n  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:latest\n",
			[]string{`m.yaml:8:10: trainer.image: image "123456789012.dkr.ecr.us-east-1.amazonaws…" is not pinned by digest: expected <repository>@sha256:<64 hex digits>, so that a run names the exact bytes that trained it`}},
		{"timeout", head + "trainer: {timeoutSeconds: 30}\n",
			[]string{`m.yaml:7:27: trainer.timeoutSeconds: timeoutSeconds 30 is out of range: expected 60 (a minute) to 1209600 (14 days)`}},
		{"gpus", head + "trainer: {gpus: 9}\n",
			[]string{`m.yaml:7:17: trainer.gpus: gpus 9 is out of range: expected 0 (CPU only) to 8`}},
		{"command not a list", head + "trainer: {command: python3 train.py}\n",
			[]string{`m.yaml:7:20: trainer.command: expected a list of arguments ([/usr/bin/python3, train.py]), found the value "python3 train.py"`}},
		{"manual with limits", head + "trigger: {manual: true, minNewRows: 100}\n",
			[]string{`m.yaml:7:19: trigger.manual: manual: true means new versions never train, so minIntervalHours and minNewRows would do nothing: drop them or manual`}},
		{"manual not a bool", head + "trigger: {manual: yes}\n",
			[]string{`m.yaml:7:19: trigger.manual: expected true or false, found the value "yes"`}},
		{"names", strings.Replace(strings.Replace(head, "name: credit", "name: Credit Model", 1), "dataset: credit", "dataset: ''", 1),
			[]string{
				`m.yaml:3:7: name: model name "Credit Model" is not valid: expected 1 to 63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit`,
				`m.yaml:4:10: dataset: missing dataset: expected the name of the dataset the model trains on (its contract gives features and target)`,
			}},
		{"missing everything", "apiVersion: mlops/v1\nkind: ModelSpec\n",
			[]string{
				`m.yaml:1:1: name: missing name: expected the model's name (1 to 63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit)`,
				`m.yaml:1:1: dataset: missing dataset: expected the name of the dataset the model trains on (its contract gives features and target)`,
				`m.yaml:1:1: objective: objective is missing: expected one of binary:logistic, reg:squarederror, multi:softprob`,
			}},
		{"a contract, not a spec", "apiVersion: v3.1.0\nkind: DataContract\n",
			[]string{
				`m.yaml:1:13: apiVersion: apiVersion "v3.1.0" is not supported: expected mlops/v1`,
				`m.yaml:2:7: kind: kind "DataContract" is not a model spec: expected ModelSpec (this is a dataset contract: apply it with mlops contract apply)`,
			}},
		{"no apiVersion", "kind: ModelSpec\nname: x\ndataset: x\nobjective: reg:squarederror\n",
			[]string{`m.yaml:1:1: apiVersion: missing apiVersion: expected apiVersion: mlops/v1`}},
		{"card without file access", head + "card: card.md\n",
			[]string{`m.yaml:7:7: card: card "card.md" cannot be read here (no file access): read the spec from a file, or drop the card key`}},
		{"not a mapping", "- a\n- b\n",
			[]string{`m.yaml:1:1: expected a mapping (key: value lines), found a list`}},
		{"aliases", head + "params: &p {eta: 0.1}\n",
			[]string{`m.yaml:7:9: YAML anchors and aliases are not supported in model specs: write the value out`}},
		{"two documents", head + "---\nname: other\n",
			[]string{`m.yaml:8:1: more than one YAML document: expected one model spec per file`}},
		{"trailing document markers", head + "---\n# nothing\n---\n", nil},
		{"syntax: unclosed flow mapping", head + "params: {eta: 0.1\n",
			[]string{`m.yaml:7: not valid YAML: line 7: did not find expected ',' or '}'`}},
		{"syntax: bad indentation", head + "split:\n  seed: 1\n test: 0.2\n",
			[]string{`m.yaml:9: not valid YAML: line 9: did not find expected key`}},
		{"syntax: tab", head + "split:\n\tseed: 1\n",
			[]string{`m.yaml:8: not valid YAML: line 8: found character that cannot start any token`}},
		{"empty", "# nothing\n",
			[]string{`m.yaml:1: empty document: expected a model spec (apiVersion: mlops/v1, kind: ModelSpec)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.yaml)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
			var se *spec.Error
			if !errors.As(err, &se) || se.File != "m.yaml" {
				t.Fatalf("not a *spec.Error with the file: %#v", err)
			}
		})
	}
}

func TestCard(t *testing.T) {
	y := head + "card: docs/card.md\n"
	s := mustParse(t, y, map[string]string{"dir/docs/card.md": "# Card\r\nLine two\r\n"})
	if s.Card != "# Card\nLine two\n" {
		t.Fatalf("card text %q: want LF line endings", s.Card)
	}
	lf := mustParse(t, y, map[string]string{"dir/docs/card.md": "\ufeff# Card\nLine two\n"})
	if lf.Hash() != s.Hash() {
		t.Fatal("a BOM or CRLF in the card changed the hash")
	}
	other := mustParse(t, y, map[string]string{"dir/docs/card.md": "# Card\nLine 2\n"})
	if other.Hash() == s.Hash() {
		t.Fatal("a card edit did not change the hash: the card is versioned with the spec")
	}
	for _, tc := range []struct {
		card string
		file string
		want string
	}{
		{"missing.md", "", `dir/m.yaml:7:7: card: cannot read the model card: open dir/missing.md: file does not exist`},
		{"/etc/card.md", "", `dir/m.yaml:7:7: card: card "/etc/card.md" is an absolute path: expected a path relative to the spec file, so that the spec and its card travel together`},
		{"big.md", strings.Repeat("x", spec.MaxCardBytes+1), `dir/m.yaml:7:7: card: the model card dir/big.md is 65537 bytes: expected at most 65536 (64 KiB); link to longer material instead`},
		{"bin.md", "\xff\xfe", `dir/m.yaml:7:7: card: the model card dir/bin.md is not valid UTF-8 text`},
		{"empty.md", "", `dir/m.yaml:7:7: card: the model card dir/empty.md is empty`},
	} {
		files := map[string]string{}
		if tc.card == "empty.md" || tc.file != "" {
			files["dir/"+tc.card] = tc.file
		}
		_, err := spec.Parse("dir/m.yaml", []byte(head+"card: "+tc.card+"\n"), readFrom(files))
		if err == nil || err.Error() != tc.want {
			t.Errorf("card %s: got %v\nwant %s", tc.card, err, tc.want)
		}
	}
	// Validate holds a card built in Go to the same limit.
	big := mustParse(t, head, nil)
	big.Card = strings.Repeat("é", spec.MaxCardBytes)
	if err := big.Validate(); err == nil || !strings.Contains(err.Error(), "card: the card is 131072 bytes") {
		t.Fatalf("big card: %v", err)
	}
}

// The hash is of the meaning: comments, layout, key order, number spelling and
// spelled-out defaults do not make a new version.
func TestHashIgnoresSpelling(t *testing.T) {
	orig, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	// The same spec, without comments, in flow style, keys reordered, numbers
	// spelled differently, the card read from another place.
	rewritten := `{kind: ModelSpec, apiVersion: mlops/v1, dataset: credit, name: credit,
  description: "Probability that a loan application turns out a bad credit risk, from the applicant's finances, employment and history (gradient-boosted trees).",
  objective: "binary:logistic", target: {positiveClass: bad, column: Status},
  params: {subsample: 0.90, min_child_weight: 1.0, max_depth: 4.0, eta: 1e-1, colsample_bytree: 0.9},
  numBoostRound: 3e2, earlyStoppingRounds: 20, threshold: 0.50,
  split: {seed: 42, test: 0.15, validation: 0.15},
  trainer: {memoryMiB: 8192, vcpus: 4, gpus: 1, timeoutSeconds: 1800},
  policy: policy.yaml, card: ../card.md}`
	again := mustParse(t, rewritten, map[string]string{"card.md": string(credit.Card())})
	if again.Hash() != orig.Hash() {
		t.Fatalf("same spec, other spelling, other hash:\n%s\n%s", orig.Canonical(), again.Canonical())
	}
	changed := mustParse(t, strings.Replace(rewritten, "max_depth: 4.0", "max_depth: 5", 1), map[string]string{"card.md": string(credit.Card())})
	if changed.Hash() == orig.Hash() {
		t.Fatal("a parameter change kept the hash")
	}
	// A spec built in Go with Go integers is the same as the YAML.
	g := *orig
	g.Params = map[string]any{"max_depth": 4, "eta": 0.1, "subsample": float32(0.9), "colsample_bytree": 0.9, "min_child_weight": int64(1)}
	g.Params["subsample"] = 0.9 // float32(0.9) is not 0.9: only exact conversions hash alike
	if g.Hash() != orig.Hash() {
		t.Fatalf("Go-built params hash differently:\n%s\n%s", g.Canonical(), orig.Canonical())
	}
	if orig.Params["max_depth"] != float64(4) {
		t.Fatalf("parameters are not normalised to float64: %T", orig.Params["max_depth"])
	}
}

func TestRoundTrip(t *testing.T) {
	orig, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	doctest.Stable(t, orig, spec.ParseCanonical)
	// The card keeps its Markdown as written (no \u003c for "<", no \u0026).
	withHTML := *orig
	withHTML.Card = "a <b> & c\n"
	if !bytes.Contains(withHTML.Canonical(), []byte(`"a <b> & c\n"`)) {
		t.Fatalf("canonical JSON escapes HTML: %s", withHTML.Canonical())
	}
	// Canonical does not change the value it is called on.
	p := map[string]any{"max_depth": 3}
	s := *orig
	s.Params = p
	_ = s.Canonical()
	if _, isInt := p["max_depth"].(int); !isInt {
		t.Fatal("Canonical normalised the caller's map")
	}
}

func TestParseCanonicalRefuses(t *testing.T) {
	good, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	c := string(good.Canonical())
	for _, tc := range []struct{ name, json, want string }{
		{"unknown field", strings.Replace(c, `"name":`, `"nmae":"x","name":`, 1), `canonical spec JSON: json: unknown field "nmae"`},
		{"trailing data", c + "{}", "canonical spec JSON: unexpected data after the spec object"},
		{"not JSON", "name: credit", "canonical spec JSON: invalid character 'a' in literal null (expecting 'u')"},
		{"invalid", strings.Replace(c, `"gpus":1`, `"gpus":12`, 1), "trainer.gpus: gpus 12 is out of range: expected 0 (CPU only) to 8"},
		{"refused param", strings.Replace(c, `"params":{`, `"params":{"device":"cuda",`, 1), `params.device: "device" may not be set in params: the platform picks it from trainer.gpus`},
		{"nested param", strings.Replace(c, `"params":{`, `"params":{"alpha":{"x":1},`, 1), "params.alpha: expected a number, a text value or true/false, found a mapping"},
		{"huge param", strings.Replace(c, `"params":{`, `"params":{"alpha":1e999,`, 1), "params.alpha: 1e999 is not a finite number"},
	} {
		_, err := spec.ParseCanonical([]byte(tc.json))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// A Spec built in Go is held to the same rules, with canonical JSON paths.
func TestValidateGoValue(t *testing.T) {
	s := spec.Spec{Name: "m", Dataset: "d", Objective: spec.BinaryLogistic, Target: spec.Target{PositiveClass: "1"},
		Params: map[string]any{"eta": math.Inf(1), "gamma": []int{1}, "lambda": "x"}, Split: spec.Split{Seed: -1}}
	err := s.Validate()
	want := []string{
		"params.eta: expected a finite number, found +Inf",
		"params.gamma: expected a number, a text value or true/false, found a []int",
		"split.seed: seed -1 is out of range: expected 0 to 2147483647",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if s.Canonical() != nil {
		t.Fatal("Canonical of a spec with an infinite parameter must be nil")
	}
	// Zero values of defaulted fields are the defaults, and valid.
	ok := spec.Spec{Name: "m", Dataset: "d", Objective: spec.RegSquaredError}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExampleFileOnDisk(t *testing.T) {
	b, err := os.ReadFile("../../examples/credit/credit.model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("../../examples/credit/credit.model.yaml", b, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := credit.Spec()
	if s.Hash() != emb.Hash() {
		t.Fatal("the embedded example differs from the file")
	}
}

// Oversized or garbage input is refused quickly and readably.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(head + "params:\n")
	for i := range spec.MaxParams + 1 {
		fmt.Fprintf(&b, "  custom_%d: 1\n", i)
	}
	if _, err := parse(t, b.String()); err == nil || err.Error() != "m.yaml:8:3: params: 101 parameters: expected at most 100 (XGBoost has fewer than 60)" {
		t.Fatalf("too many parameters: %v", err)
	}
	b.Reset()
	b.WriteString(head)
	for i := range 60 {
		fmt.Fprintf(&b, "unknown_%d: 1\n", i)
	}
	_, err := parse(t, b.String())
	lines := strings.Split(fmt.Sprint(err), "\n")
	if len(lines) != 51 || lines[50] != "m.yaml: and 10 more problems" {
		t.Fatalf("error cap: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	big := head + "description: " + strings.Repeat("x", spec.MaxSpecBytes) + "\n"
	if _, err := parse(t, big); err == nil || !strings.HasPrefix(err.Error(), "m.yaml: the spec is 1048712 bytes: expected at most 1048576") {
		t.Fatalf("oversized spec: %v", err)
	}
}

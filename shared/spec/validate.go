package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/yamldoc"
)

// Error is one problem with a spec. Parse fills File, Line, Col and the YAML
// path in Field (trainer.gpus, params.tree_method); Validate and ParseCanonical,
// which have no YAML to point into, leave Line at 0 and put the canonical JSON
// path in Field. The two paths only differ for card, which is a file name in
// YAML and the card's text in JSON.
type Error = yamldoc.Error

// Defaults. Those whose zero value is invalid (rounds, fractions, threshold,
// timeout, vCPUs, memory) replace a zero value, except a 0 written in the
// YAML, which Parse reports; those where 0 means something (early stopping
// off, seed 0, CPU only) are filled only where Parse or ParseCanonical finds
// the key absent.
const (
	DefaultNumBoostRound       = 500
	DefaultEarlyStoppingRounds = 20
	DefaultValidation          = 0.15
	DefaultTest                = 0.15
	DefaultSeed                = 42
	DefaultTimeoutSeconds      = 3600
	DefaultGPUs                = 1
	DefaultVCPUs               = 4
	DefaultMemoryMiB           = 16384
)

// Limits Validate enforces.
const (
	MaxNumBoostRound  = 100000
	MinFraction       = 0.05
	MaxFraction       = 0.45
	MaxHeldOut        = 0.8 // validation + test must stay below, so training keeps 20%
	MaxSeed           = math.MaxInt32
	MinTimeoutSeconds = 60
	MaxTimeoutSeconds = 14 * 24 * 3600
	MaxGPUs           = 8
	MaxVCPUs          = 192     // the largest Batch-capable instances
	MinMemoryMiB      = 512     // below this the reference trainer cannot load xgboost
	MaxMemoryMiB      = 2 << 20 // 2 TiB
	MaxIntervalHours  = 8760    // a year; rarer than that is manual: true
	MaxCardBytes      = 64 << 10
	MaxParams         = 100
	// MaxSpecBytes bounds the YAML Parse reads: a spec is a page of settings,
	// and a bound keeps a stray upload from costing memory.
	MaxSpecBytes = 1 << 20
)

// Objectives lists the objectives in the order messages name them.
var Objectives = []string{BinaryLogistic, RegSquaredError, MultiSoftprob}

// ValidName reports whether s is an acceptable model or dataset name
// (naming.Valid: both become S3 key segments).
func ValidName(s string) bool { return naming.Valid(s) }

// imageRE is a repository (registry host, port and path allowed, an optional
// tag) pinned by digest. A tag alone can be moved to other bytes, which would
// break the promise that a run ID names what ran.
var imageRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/:-]*@sha256:[0-9a-f]{64}$`)

// refusedParams are XGBoost parameters the platform sets itself, with why.
// Letting a spec set them would make two runs of one spec behave differently
// in AWS and locally, or contradict another field of the spec.
var refusedParams = map[string]string{
	"objective":    "the objective is the spec's objective field",
	"tree_method":  "the platform picks it from trainer.gpus (gpu_hist on a GPU, hist on the CPU)",
	"device":       "the platform picks it from trainer.gpus",
	"gpu_id":       "the platform picks it from trainer.gpus",
	"seed":         "the platform derives it from split.seed, so that a run is reproducible",
	"random_state": "the platform derives it from split.seed, so that a run is reproducible",
	"nthread":      "the platform sets it from trainer.vcpus",
	"n_jobs":       "the platform sets it from trainer.vcpus",
	"num_class":    "the platform counts the target's classes in the data",
	"eval_metric":  "the platform sets it per objective, so that runs and the promotion gate compare like with like",
}

// knownParams are XGBoost 1.7's booster and learning-task parameters. A key
// within two edits of one of these (and not itself known) is refused as a
// probable typo, since xgboost only warns about parameters it does not use;
// other keys pass through, for trainers other than the reference one.
var knownParams = []string{
	"booster", "verbosity", "validate_parameters", "disable_default_eval_metric", "num_feature",
	"eta", "learning_rate", "gamma", "min_split_loss", "max_depth", "min_child_weight", "max_delta_step",
	"subsample", "sampling_method", "colsample_bytree", "colsample_bylevel", "colsample_bynode",
	"lambda", "reg_lambda", "alpha", "reg_alpha", "sketch_eps", "scale_pos_weight", "updater",
	"refresh_leaf", "process_type", "grow_policy", "max_leaves", "max_bin", "predictor",
	"num_parallel_tree", "monotone_constraints", "interaction_constraints", "max_cat_to_onehot",
	"max_cat_threshold", "base_score", "seed_per_iteration", "huber_slope", "tweedie_variance_power",
	"max_cached_hist_node", "multi_strategy",
}

// paramKeyRE: XGBoost's parameter names are snake_case identifiers.
var paramKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// presence reports whether a field's key was written, by canonical JSON path.
type presence func(field string) bool

// fillAbsent applies the defaults whose zero value is meaningful, for keys the
// document did not write. It is how "omitted" and "0" stay different.
func (s *Spec) fillAbsent(has presence) {
	if !has("earlyStoppingRounds") {
		s.EarlyStoppingRounds = DefaultEarlyStoppingRounds
	}
	if !has("split.seed") {
		s.Split.Seed = DefaultSeed
	}
	if !has("trainer.gpus") {
		s.Trainer.GPUs = DefaultGPUs
	}
}

// normalize fills the defaults whose zero value is invalid, turns every
// numeric parameter into a float64 (so 4, 4.0 and int64(4) encode alike), and
// gives the card Unix line endings, so that what the hash sees is what the
// spec means rather than how it was spelled or saved.
func (s *Spec) normalize() { s.normalizeWritten(nil) }

// normalizeWritten is normalize, except that a zero the author wrote (written
// reports the field's canonical path) is kept, for Validate to refuse: a
// numBoostRound: 0 in the YAML is a mistake to report, not a request for 500.
func (s *Spec) normalizeWritten(written presence) {
	unset := func(field string, zero bool) bool { return zero && (written == nil || !written(field)) }
	if unset("numBoostRound", s.NumBoostRound == 0) {
		s.NumBoostRound = DefaultNumBoostRound
	}
	if s.Objective == BinaryLogistic && unset("threshold", s.Threshold == 0) {
		s.Threshold = DefaultThreshold
	}
	if unset("split.validation", s.Split.Validation == 0) {
		s.Split.Validation = DefaultValidation
	}
	if unset("split.test", s.Split.Test == 0) {
		s.Split.Test = DefaultTest
	}
	t := &s.Trainer
	if unset("trainer.timeoutSeconds", t.TimeoutSeconds == 0) {
		t.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if unset("trainer.vcpus", t.VCPUs == 0) {
		t.VCPUs = DefaultVCPUs
	}
	if unset("trainer.memoryMiB", t.MemoryMiB == 0) {
		t.MemoryMiB = DefaultMemoryMiB
	}
	if len(t.Command) == 0 {
		t.Command = nil
	}
	if len(s.Params) == 0 {
		s.Params = nil
	}
	for k, v := range s.Params {
		if f, ok := toFloat(v); ok {
			if f == 0 {
				f = 0 // -0 would encode as "-0" and hash apart from 0
			}
			s.Params[k] = f
		}
	}
	s.Card = normalizeCard(s.Card)
}

// normalizeCard drops a UTF-8 byte order mark and CRLF line endings: an editor
// or a git checkout on Windows must not make a new spec version.
func normalizeCard(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// toFloat converts the numeric types a Params value may arrive as.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// clone returns a deep copy, so that Canonical and Validate can normalise
// without changing the caller's value.
func (s *Spec) clone() *Spec {
	d := *s
	d.Trainer.Command = append([]string(nil), s.Trainer.Command...)
	if s.Params != nil {
		d.Params = make(map[string]any, len(s.Params))
		for k, v := range s.Params {
			d.Params[k] = v
		}
	}
	return &d
}

// Canonical returns the spec's canonical JSON: defaults filled, parameters as
// float64 in key order (encoding/json sorts map keys), encoding/json's fixed
// field order, no HTML escaping, no insignificant whitespace. It is the stored
// and hashed form, and what the trainer reads. It returns nil only for a spec
// that would not pass Validate (a NaN parameter cannot be written as JSON).
func (s *Spec) Canonical() []byte {
	d := s.clone()
	d.normalize()
	return yamldoc.Canonical(d)
}

// Hash is the hex SHA-256 of Canonical(): the spec's version identity.
func (s *Spec) Hash() string { return hashid.Of(s.Canonical()) }

// ParseCanonical reads a spec stored by the platform (or any JSON of the same
// shape). Unknown fields are errors, because a field this code does not know
// is a setting it would silently ignore. A missing earlyStoppingRounds,
// split.seed or trainer.gpus takes its default, as in YAML.
func ParseCanonical(data []byte) (*Spec, error) {
	// A parameter's number keeps its digits until normalize makes it a float64.
	s, err := yamldoc.ParseCanonical[Spec](data, "spec")
	if err != nil {
		return nil, err
	}
	s.fillAbsent(yamldoc.Present(data))
	for k, v := range s.Params {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil || math.IsInf(f, 0) {
				return nil, &Error{Field: "params." + k, Msg: fmt.Sprintf("%s is not a finite number", n)}
			}
			s.Params[k] = f
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.normalize()
	return s, nil
}

// Validate checks the spec on its own (CheckContract checks it against its
// dataset's contract). Zero values of defaulted fields are valid: they mean the
// default. Every problem is reported, each as an *Error whose Field is the
// canonical JSON path, joined with errors.Join in field order.
func (s *Spec) Validate() error {
	return yamldoc.Join(s.problems(nil))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// problems is Validate's worker; Parse calls it too, with the fields the YAML
// wrote, and moves each problem onto the line its field came from.
func (s *Spec) problems(written presence) []*Error {
	var errs []*Error
	add := func(field, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	d := s.clone()
	d.normalizeWritten(written)
	if written == nil {
		written = func(string) bool { return false }
	}

	switch {
	case d.Name == "":
		add("name", "missing name: expected the model's name (%s)", naming.Rule)
	case !ValidName(d.Name):
		add("name", "model name %q is not valid: expected %s", yamldoc.Clip(d.Name), naming.Rule)
	}
	switch {
	case d.Dataset == "":
		add("dataset", "missing dataset: expected the name of the dataset the model trains on (its contract gives features and target)")
	case !ValidName(d.Dataset):
		add("dataset", "dataset name %q is not valid: expected %s", yamldoc.Clip(d.Dataset), naming.Rule)
	}
	binary := d.Objective == BinaryLogistic
	// Checks that depend on the objective are skipped when it is unknown: the
	// objective's own message says what is wrong.
	known := true
	switch d.Objective {
	case BinaryLogistic, RegSquaredError, MultiSoftprob:
	case "":
		known = false
		add("objective", "objective is missing: expected one of %s", strings.Join(Objectives, ", "))
	default:
		msg := fmt.Sprintf("objective %q is not supported: expected one of %s", d.Objective, strings.Join(Objectives, ", "))
		if c := yamldoc.Closest(d.Objective, Objectives); c != "" {
			msg = fmt.Sprintf("objective %q is not supported: did you mean %q?", d.Objective, c)
		}
		add("objective", "%s", msg)
		known = false
	}
	switch {
	case binary && d.Target.PositiveClass == "":
		add("target.positiveClass", "binary:logistic needs the positive class: the label value whose probability the model predicts (for example bad)")
	case !binary && known && d.Target.PositiveClass != "":
		add("target.positiveClass", "a positive class applies only to binary:logistic, not %s", d.Objective)
	}
	if binary {
		if !finite(d.Threshold) || d.Threshold <= 0 || d.Threshold >= 1 {
			add("threshold", "threshold %v is out of range: expected a probability strictly between 0 and 1", d.Threshold)
		}
	} else if known && (d.Threshold != 0 || written("threshold")) {
		add("threshold", "a decision threshold applies only to binary:logistic, not %s", d.Objective)
	}

	if len(d.Params) > MaxParams {
		add("params", "%d parameters: expected at most %d (XGBoost has fewer than 60)", len(d.Params), MaxParams)
	}
	paramKeys := make([]string, 0, len(d.Params))
	for k := range d.Params {
		paramKeys = append(paramKeys, k)
	}
	sort.Strings(paramKeys)
	for i, k := range paramKeys {
		if i == MaxParams {
			break // reported above; checking thousands of names one by one helps no one
		}
		f := "params." + k
		if why, ok := refusedParams[k]; ok {
			add(f, "%q may not be set in params: %s", k, why)
			continue
		}
		if !paramKeyRE.MatchString(k) {
			add(f, "parameter name %q is not valid: expected a snake_case XGBoost parameter such as max_depth", yamldoc.Clip(k))
			continue
		}
		if !slices.Contains(knownParams, k) {
			if c := yamldoc.Closest(k, knownParams); c != "" {
				add(f, "unknown XGBoost parameter %q: did you mean %q?", k, c)
				continue
			}
		}
		switch v := d.Params[k].(type) {
		case float64:
			if !finite(v) {
				add(f, "expected a finite number, found %v", v)
			}
		case string:
			if !utf8.ValidString(v) {
				add(f, "the value is not valid UTF-8")
			}
		case bool:
		default:
			add(f, "expected a number, a text value or true/false, found %s", describe(v))
		}
		if k == "booster" {
			if v, _ := d.Params[k].(string); v != "gbtree" {
				add(f, "booster %v is not supported: the prediction endpoint evaluates gbtree models only", d.Params[k])
			}
		}
	}

	if d.NumBoostRound < 1 || d.NumBoostRound > MaxNumBoostRound {
		add("numBoostRound", "numBoostRound %d is out of range: expected 1 to %d", d.NumBoostRound, MaxNumBoostRound)
	}
	if d.EarlyStoppingRounds < 0 || d.EarlyStoppingRounds > MaxNumBoostRound {
		add("earlyStoppingRounds", "earlyStoppingRounds %d is out of range: expected 0 (off) to %d", d.EarlyStoppingRounds, MaxNumBoostRound)
	}

	sp := d.Split
	okV := checkFraction(add, "split.validation", sp.Validation)
	okT := checkFraction(add, "split.test", sp.Test)
	if okV && okT && sp.Validation+sp.Test >= MaxHeldOut {
		add("split.test", "validation %v + test %v holds out %v of the rows: keep the sum below %v so that training has at least %v",
			sp.Validation, sp.Test, sp.Validation+sp.Test, MaxHeldOut, 1-MaxHeldOut)
	}
	if sp.Seed < 0 || sp.Seed > MaxSeed {
		add("split.seed", "seed %d is out of range: expected 0 to %d", sp.Seed, int64(MaxSeed))
	}

	t := d.Trainer
	if t.Image != "" && !imageRE.MatchString(t.Image) {
		add("trainer.image", "image %q is not pinned by digest: expected <repository>@sha256:<64 hex digits>, so that a run names the exact bytes that trained it", yamldoc.Clip(t.Image))
	}
	for i, a := range t.Command {
		if a == "" {
			add(fmt.Sprintf("trainer.command[%d]", i), "empty argument: remove it or quote the intended value")
		} else if strings.ContainsRune(a, 0) {
			add(fmt.Sprintf("trainer.command[%d]", i), "argument contains a NUL byte")
		}
	}
	if t.TimeoutSeconds < MinTimeoutSeconds || t.TimeoutSeconds > MaxTimeoutSeconds {
		add("trainer.timeoutSeconds", "timeoutSeconds %d is out of range: expected %d (a minute) to %d (14 days)", t.TimeoutSeconds, MinTimeoutSeconds, MaxTimeoutSeconds)
	}
	if t.GPUs < 0 || t.GPUs > MaxGPUs {
		add("trainer.gpus", "gpus %d is out of range: expected 0 (CPU only) to %d", t.GPUs, MaxGPUs)
	}
	if t.VCPUs < 1 || t.VCPUs > MaxVCPUs {
		add("trainer.vcpus", "vcpus %d is out of range: expected 1 to %d", t.VCPUs, MaxVCPUs)
	}
	if t.MemoryMiB < MinMemoryMiB || t.MemoryMiB > MaxMemoryMiB {
		add("trainer.memoryMiB", "memoryMiB %d is out of range: expected %d to %d", t.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	}

	tr := d.Trigger
	if !finite(tr.MinIntervalHours) || tr.MinIntervalHours < 0 || tr.MinIntervalHours > MaxIntervalHours {
		add("trigger.minIntervalHours", "minIntervalHours %v is out of range: expected 0 to %d (for rarer runs, use manual: true and request them)", tr.MinIntervalHours, MaxIntervalHours)
	}
	if tr.MinNewRows < 0 {
		add("trigger.minNewRows", "minNewRows %d is negative", tr.MinNewRows)
	}
	if tr.Manual && (tr.MinIntervalHours != 0 || tr.MinNewRows != 0) {
		add("trigger.manual", "manual: true means new versions never train, so minIntervalHours and minNewRows would do nothing: drop them or manual")
	}

	if d.Policy != "" && (filepath.IsAbs(d.Policy) || strings.HasPrefix(d.Policy, "/")) {
		add("policy", "policy %q is an absolute path: expected a path relative to the spec file", yamldoc.Clip(d.Policy))
	}
	switch {
	case len(d.Card) > MaxCardBytes:
		add("card", "the card is %d bytes: expected at most %d (64 KiB); link to longer material instead", len(d.Card), MaxCardBytes)
	case !utf8.ValidString(d.Card):
		add("card", "the card is not valid UTF-8 text")
	}
	for _, f := range []struct{ field, v string }{{"name", d.Name}, {"description", d.Description},
		{"target.column", d.Target.Column}, {"target.positiveClass", d.Target.PositiveClass}, {"policy", d.Policy}} {
		if !utf8.ValidString(f.v) {
			add(f.field, "not valid UTF-8 text")
		}
	}

	sort.SliceStable(errs, func(i, j int) bool { return fieldRank(errs[i].Field) < fieldRank(errs[j].Field) })
	return errs
}

func checkFraction(add func(string, string, ...any), field string, v float64) bool {
	if !finite(v) || v < MinFraction || v > MaxFraction {
		add(field, "%s %v is out of range: expected a fraction from %v to %v", field[strings.LastIndexByte(field, '.')+1:], v, MinFraction, MaxFraction)
		return false
	}
	return true
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing (null)"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}

// fieldOrder is the order of Spec's fields: problems are reported the way the
// spec reads.
var fieldOrder = []string{"name", "description", "dataset", "target", "objective", "params", "numBoostRound",
	"earlyStoppingRounds", "threshold", "split", "trainer", "trigger", "policy", "card"}

func fieldRank(f string) int {
	head := f
	if i := strings.IndexAny(f, ".["); i >= 0 {
		head = f[:i]
	}
	for i, p := range fieldOrder {
		if p == head {
			return i
		}
	}
	return len(fieldOrder)
}

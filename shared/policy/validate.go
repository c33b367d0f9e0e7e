package policy

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/yamldoc"
)

// Error is one problem with a policy. Parse fills File, Line, Col and the path
// in Field (minimum.auc, fairness.Age.disparateImpactRatio); Validate and
// ParseCanonical leave Line at 0.
type Error = yamldoc.Error

// Limits Validate enforces.
const (
	MaxApprovers = 100
	MaxFairness  = 100
	// MaxPolicyBytes bounds the YAML Parse reads.
	MaxPolicyBytes = 256 << 10
)

// Metric describes one test metric the trainer records (bundle.Metrics.Test).
type Metric struct {
	Name string
	// HigherIsBetter: auc, accuracy, ...; otherwise lower is (log_loss, rmse, ...).
	HigherIsBetter bool
	// Lo and Hi bound the values a threshold may take.
	Lo, Hi float64
}

// Metrics are the test metrics per objective, as bundle.Metrics documents them.
var Metrics = map[string][]Metric{
	spec.BinaryLogistic: {
		{"auc", true, 0, 1}, {"log_loss", false, 0, math.Inf(1)}, {"accuracy", true, 0, 1},
		{"precision", true, 0, 1}, {"recall", true, 0, 1}, {"f1", true, 0, 1}, {"brier", false, 0, 1},
	},
	spec.RegSquaredError: {
		{"rmse", false, 0, math.Inf(1)}, {"mae", false, 0, math.Inf(1)}, {"r2", true, math.Inf(-1), 1},
	},
	spec.MultiSoftprob: {
		{"accuracy", true, 0, 1}, {"macro_f1", true, 0, 1}, {"log_loss", false, 0, math.Inf(1)},
	},
}

// metricNames lists the metrics of an objective ("" = every objective), in
// the order Metrics gives them.
func metricNames(objective string) []string {
	var out []string
	objs := spec.Objectives
	if objective != "" {
		objs = []string{objective}
	}
	for _, o := range objs {
		for _, m := range Metrics[o] {
			if !slices.Contains(out, m.Name) {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

// LookupMetric returns the metric named name for the objective ("" = any).
func LookupMetric(objective, name string) (Metric, bool) {
	objs := spec.Objectives
	if objective != "" {
		objs = []string{objective}
	}
	for _, o := range objs {
		for _, m := range Metrics[o] {
			if m.Name == name {
				return m, true
			}
		}
	}
	return Metric{}, false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// presence reports whether a field's key was written, by canonical JSON path.
type presence func(field string) bool

// Validate checks the policy. Every problem is reported, each as an *Error
// whose Field is the canonical JSON path, joined with errors.Join in field order.
func (p *Policy) Validate() error { return yamldoc.Join(p.problems(nil)) }

func (p *Policy) problems(written presence) []*Error {
	var errs []*Error
	add := func(field, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Model == "":
		add("model", "missing model: expected the model's name, as in its spec")
	case !spec.ValidName(p.Model):
		add("model", "model %q is not a model name: expected 1 to 63 of a-z 0-9 _ -, starting with a letter or digit", yamldoc.Clip(p.Model))
	}
	objOK := true
	if p.Objective != "" && !slices.Contains(spec.Objectives, p.Objective) {
		msg := fmt.Sprintf("objective %q is not supported: expected one of %s", yamldoc.Clip(p.Objective), strings.Join(spec.Objectives, ", "))
		if s := yamldoc.Closest(p.Objective, spec.Objectives); s != "" {
			msg = fmt.Sprintf("objective %q is not supported: did you mean %q?", yamldoc.Clip(p.Objective), s)
		}
		add("objective", "%s", msg)
		objOK = false
	}
	obj := p.Objective
	if !objOK {
		obj = ""
	}
	// metric checks a metric name; ok is false (and a problem added) when it
	// is not one the objective records.
	metric := func(field, name string) (Metric, bool) {
		m, ok := LookupMetric(obj, name)
		if ok {
			return m, true
		}
		known := metricNames(obj)
		of := "the trainer's test metrics"
		if obj != "" {
			of = obj + "'s test metrics"
		}
		if _, other := LookupMetric("", name); other {
			add(field, "metric %q is not one of %s: expected one of %s", name, of, strings.Join(known, ", "))
		} else if s := yamldoc.Closest(name, known); s != "" {
			add(field, "unknown metric %q: did you mean %q?", yamldoc.Clip(name), s)
		} else {
			add(field, "unknown metric %q: expected one of %s", yamldoc.Clip(name), strings.Join(known, ", "))
		}
		return Metric{}, false
	}
	bound := func(field string, m Metric, v float64) {
		if !finite(v) || v < m.Lo || v > m.Hi {
			switch {
			case math.IsInf(m.Hi, 1):
				add(field, "%s %v is out of range: expected a finite number of at least %v", m.Name, v, m.Lo)
			case math.IsInf(m.Lo, -1):
				add(field, "%s %v is out of range: expected a finite number of at most %v", m.Name, v, m.Hi)
			default:
				add(field, "%s %v is out of range: expected a number from %v to %v", m.Name, v, m.Lo, m.Hi)
			}
		}
	}
	for _, name := range sortedKeys(p.Minimum) {
		f := "minimum." + name
		if m, ok := metric(f, name); ok {
			if !m.HigherIsBetter {
				add(f, "%s is lower-is-better: bound it under maximum, not minimum", name)
				continue
			}
			bound(f, m, p.Minimum[name])
		}
	}
	for _, name := range sortedKeys(p.Maximum) {
		f := "maximum." + name
		if m, ok := metric(f, name); ok {
			if m.HigherIsBetter {
				add(f, "%s is higher-is-better: bound it under minimum, not maximum", name)
				continue
			}
			bound(f, m, p.Maximum[name])
		}
	}
	for _, name := range sortedKeys(p.Regression) {
		f := "regression." + name
		if _, ok := metric(f, name); !ok {
			continue
		}
		r := p.Regression[name]
		if r.Absolute == nil && r.Relative == nil {
			add(f, "expected absolute, relative or both: how much worse than the champion a candidate may be")
		}
		if r.Absolute != nil && (!finite(*r.Absolute) || *r.Absolute < 0) {
			add(f+".absolute", "absolute %v is out of range: expected a finite number of at least 0, in %s's units", *r.Absolute, name)
		}
		if r.Relative != nil && (!finite(*r.Relative) || *r.Relative < 0 || *r.Relative > 1) {
			add(f+".relative", "relative %v is out of range: expected a fraction of the champion's value from 0 to 1", *r.Relative)
		}
	}
	if len(p.Fairness) > 0 && objOK && p.Objective != "" && p.Objective != spec.BinaryLogistic {
		add("fairness", "the trainer measures fairness gaps for %s models only, not %s", spec.BinaryLogistic, p.Objective)
	}
	if len(p.Fairness) > MaxFairness {
		add("fairness", "%d attributes: expected at most %d", len(p.Fairness), MaxFairness)
	}
	for _, attr := range sortedKeys(p.Fairness) {
		f := "fairness." + attr
		if strings.TrimSpace(attr) == "" {
			add(f, "expected a sensitive attribute's name (a column of the contract)")
			continue
		}
		g := p.Fairness[attr]
		some := false
		for _, name := range GapNames {
			v := g.get(name)
			if v == nil {
				continue
			}
			some = true
			if !finite(*v) || *v < 0 || *v > 1 {
				what := "the largest difference allowed"
				if name == DisparateImpactRatio {
					what = "the smallest ratio allowed"
				}
				add(f+"."+name, "%s %v is out of range: expected %s, from 0 to 1", name, *v, what)
			}
		}
		if !some {
			add(f, "expected at least one of %s", strings.Join(GapNames, ", "))
		}
	}
	if p.MinTestRows < 0 || (p.MinTestRows == 0 && written != nil && written("minTestRows")) {
		add("minTestRows", "minTestRows %d is out of range: expected at least 1 (omit the key for no minimum)", p.MinTestRows)
	}
	c := p.Complexity
	for _, b := range []struct {
		key string
		v   int64
	}{{"maxTrees", int64(c.MaxTrees)}, {"maxTotalNodes", int64(c.MaxTotalNodes)}, {"maxDepth", int64(c.MaxDepth)}, {"maxModelBytes", c.MaxModelBytes}} {
		f := "complexity." + b.key
		if b.v < 0 || (b.v == 0 && written != nil && written(f)) {
			add(f, "%s %d is out of range: expected at least 1 (omit the key for no bound)", b.key, b.v)
		}
	}
	a := p.Approval
	if a.Required && len(a.Approvers) == 0 {
		add("approval.approvers", "approval is required but no approver is named: expected patterns of who may approve (local:*, arn:aws:iam::123456789012:role/ModelRisk*), or required: false")
	}
	for _, l := range []struct {
		key      string
		patterns []string
	}{{"approvers", a.Approvers}, {"rollback", a.Rollback}, {"retire", a.Retire}, {"override", a.Override}} {
		if len(l.patterns) > MaxApprovers {
			add("approval."+l.key, "%d patterns: expected at most %d", len(l.patterns), MaxApprovers)
		}
		seen := map[string]bool{}
		for i, pat := range l.patterns {
			f := fmt.Sprintf("approval.%s[%d]", l.key, i)
			switch {
			case strings.TrimSpace(pat) == "":
				add(f, "expected a pattern of principals, found an empty one")
			case strings.TrimSpace(pat) != pat:
				add(f, "pattern %q has leading or trailing spaces", yamldoc.Clip(pat))
			case seen[pat]:
				add(f, "pattern %q appears twice", yamldoc.Clip(pat))
			default:
				if _, err := path.Match(pat, ""); err != nil {
					add(f, "pattern %q is not a valid pattern (path.Match syntax: * ? [a-z] \\): %v", yamldoc.Clip(pat), err)
				}
			}
			seen[pat] = true
		}
	}
	if a.SeparatePromotion && !a.Required {
		add("approval.separatePromotion", "separatePromotion applies to approvals, and approval is not required")
	}
	if p.AutoPromote && a.Required {
		add("autoPromote", "autoPromote needs approval.required: false: a required approval is what promotes")
	}
	p.Drift.problems(add, metric)
	sort.SliceStable(errs, func(i, j int) bool { return fieldRank(errs[i].Field) < fieldRank(errs[j].Field) })
	return errs
}

// fieldOrder is the order of Policy's fields: problems are reported the way
// the policy reads.
var fieldOrder = []string{"apiVersion", "kind", "model", "objective", "minimum", "maximum", "regression", "fairness",
	"minTestRows", "complexity", "approval", "autoPromote", "drift"}

func fieldRank(f string) int {
	head := f
	if i := strings.IndexAny(f, ".["); i >= 0 {
		head = f[:i]
	}
	if i := slices.Index(fieldOrder, head); i >= 0 {
		return i
	}
	return len(fieldOrder)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// clone returns a deep copy, so that Canonical can normalise without changing
// the caller's value.
func (p *Policy) clone() *Policy {
	d := *p
	d.src = nil
	d.Minimum = cloneMap(p.Minimum, func(v float64) float64 { return zero(v) })
	d.Maximum = cloneMap(p.Maximum, func(v float64) float64 { return zero(v) })
	d.Regression = cloneMap(p.Regression, func(r Regression) Regression {
		return Regression{Absolute: zeroPtr(r.Absolute), Relative: zeroPtr(r.Relative)}
	})
	d.Fairness = cloneMap(p.Fairness, func(g Gaps) Gaps {
		var o Gaps
		for _, n := range GapNames {
			o.set(n, zeroPtr(g.get(n)))
		}
		return o
	})
	if len(p.Approval.Approvers) > 0 {
		d.Approval.Approvers = slices.Clone(p.Approval.Approvers)
	} else {
		d.Approval.Approvers = nil
	}
	d.Drift = p.Drift.clone()
	return &d
}

func cloneMap[V any](m map[string]V, f func(V) V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}

// zero turns -0 into 0: it would encode as "-0" and hash apart from 0.
func zero(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}

func zeroPtr(v *float64) *float64 {
	if v == nil {
		return nil
	}
	z := zero(*v)
	return &z
}

// Canonical returns the policy's canonical JSON: maps in key order
// (encoding/json sorts them), encoding/json's fixed field order, no HTML
// escaping, no insignificant whitespace. It is the stored and hashed form. It
// returns nil only for a policy that would not pass Validate (a NaN threshold
// cannot be written as JSON).
func (p *Policy) Canonical() []byte { return yamldoc.Canonical(p.clone()) }

// Hash is the hex SHA-256 of Canonical(): the policy's version identity.
func (p *Policy) Hash() string { return hashid.Of(p.Canonical()) }

// ParseCanonical reads a policy stored by the platform (or any JSON of the
// same shape) and validates it. Unknown fields are errors: a field this code
// does not know is a rule it would silently ignore. A missing
// approval.required is true, as in YAML.
func ParseCanonical(data []byte) (*Policy, error) {
	p, err := yamldoc.ParseCanonical[Policy](data, "policy")
	if err != nil {
		return nil, err
	}
	if !yamldoc.Present(data)("approval.required") {
		p.Approval.Required = true
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

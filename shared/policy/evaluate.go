package policy

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
)

// Candidate is what Evaluate judges: a trained model's test-set measures.
// CandidateFromBundle fills it from a bundle.
type Candidate struct {
	Objective string `json:"objective"`
	// Metrics are the test metrics (bundle.Metrics.Test).
	Metrics map[string]float64 `json:"metrics"`
	// Fairness are the measured gaps per sensitive attribute
	// (bundle.Slices); a nil gap is undefined on the test set.
	Fairness map[string]Gaps `json:"fairness,omitempty"`
	// TestRows is the number of test rows (bundle.Metrics.Rows.Test).
	TestRows int64 `json:"testRows"`
	// Shape is the model's size and shape; nil: not measured, and the
	// complexity checks other than model bytes are skipped.
	Shape *Shape `json:"shape,omitempty"`
	// ModelBytes is the size of model.json (0: not measured).
	ModelBytes int64 `json:"modelBytes,omitempty"`
}

// Shape is a tree ensemble's size: ModelShape measures it.
type Shape struct {
	Trees      int `json:"trees"`
	TotalNodes int `json:"totalNodes"`
	// MaxDepth is the longest root-to-leaf path in splits (a lone leaf is 0):
	// what XGBoost's max_depth bounds.
	MaxDepth int `json:"maxDepth"`
}

// Champion is the current champion, as the gate scored it for a comparison.
type Champion struct {
	Version int `json:"version"`
	// Metrics are the champion's test metrics, computed by the caller on the
	// candidate's test rows where SameRows, otherwise its own recorded ones.
	Metrics map[string]float64 `json:"metrics"`
	// SameRows: Metrics were computed on the candidate's test rows (those the
	// champion did not train on), and CandidateMetrics are the candidate's on
	// exactly those rows: the regression checks compare the two.
	SameRows         bool               `json:"sameRows"`
	CandidateMetrics map[string]float64 `json:"candidateMetrics,omitempty"`
	// Rows is how many rows both were scored on (SameRows).
	Rows int `json:"rows,omitempty"`
}

// Verdicts of a Check.
const (
	Pass    = "pass"
	Fail    = "fail"
	Skipped = "skipped"
)

// Check is one rule applied to a candidate. Value and Threshold are nil where
// there is nothing to show (a skipped check, a metric the candidate lacks).
type Check struct {
	Name      string   `json:"name"` // "min auc", "regression auc vs champion v3", "fairness Age disparateImpactRatio", "max depth"
	Value     *float64 `json:"value,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	Verdict   string   `json:"verdict"`       // Pass, Fail or Skipped
	Why       string   `json:"why,omitempty"` // for a failure or a skip, and notes ("champion scored on its own test rows")
}

// Result is Evaluate's verdict.
type Result struct {
	// PolicyHash is the hash of the policy applied.
	PolicyHash string  `json:"policyHash"`
	Checks     []Check `json:"checks"`
	// Passed: no check failed.
	Passed bool `json:"passed"`
	// NeedsApproval: the candidate passed and the policy requires a person's approval.
	NeedsApproval bool `json:"needsApproval"`
	// Approvers are the patterns of who may approve.
	Approvers []string `json:"approvers,omitempty"`
	// AutoPromote: the candidate passed and the policy promotes it without approval.
	AutoPromote bool `json:"autoPromote"`
	// SeparatePromotion: an approval does not promote by itself.
	SeparatePromotion bool `json:"separatePromotion,omitempty"`
}

// Failures are the failed checks, for a rejection's reasons.
func (r Result) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Verdict == Fail {
			out = append(out, c)
		}
	}
	return out
}

// String is one line per check, for consoles and reasons.
func (r Result) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-7s %s", c.Verdict, c.Name)
		if c.Value != nil {
			fmt.Fprintf(&b, ": %s", num(*c.Value))
		}
		if c.Threshold != nil {
			fmt.Fprintf(&b, " (threshold %s)", num(*c.Threshold))
		}
		if c.Why != "" {
			fmt.Fprintf(&b, ": %s", c.Why)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func num(f float64) string { return fmt.Sprintf("%.6g", f) }

// tolerance absorbs floating-point noise in a threshold computed from the
// champion's value (0.84 - 0.02 is 0.8199999999999999): a candidate that
// meets a bound as written passes.
const tolerance = 1e-9

func atLeast(v, lo float64) bool { return v >= lo-tolerance*math.Max(1, math.Abs(lo)) }
func atMost(v, hi float64) bool  { return v <= hi+tolerance*math.Max(1, math.Abs(hi)) }

func ptr(f float64) *float64 { return &f }

// Evaluate judges the candidate c against p, and against the champion where
// there is one (nil: none). It does no I/O: the same inputs always give the
// same Result. Checks come in the policy's order: objective, minimum and
// maximum metrics, regression against the champion, fairness, test rows,
// complexity; within each, by name.
func Evaluate(p *Policy, c Candidate, champ *Champion) Result {
	r := Result{PolicyHash: p.Hash()}
	add := func(ch Check) { r.Checks = append(r.Checks, ch) }
	if p.Objective != "" {
		ch := Check{Name: "objective", Verdict: Pass}
		if c.Objective != p.Objective {
			ch.Verdict, ch.Why = Fail, fmt.Sprintf("the candidate is %s, the policy is for %s", c.Objective, p.Objective)
		}
		add(ch)
	}
	value := func(name string) (float64, string) {
		v, ok := c.Metrics[name]
		switch {
		case !ok:
			return 0, fmt.Sprintf("the candidate's test metrics have no %s", name)
		case !finite(v):
			return 0, fmt.Sprintf("the candidate's %s is %v", name, v)
		}
		return v, ""
	}
	bound := func(kind string, m map[string]float64, ok func(v, t float64) bool) {
		for _, name := range sortedKeys(m) {
			ch := Check{Name: kind + " " + name, Threshold: ptr(m[name])}
			v, why := value(name)
			switch {
			case why != "":
				ch.Verdict, ch.Why = Fail, why
			case ok(v, m[name]):
				ch.Value, ch.Verdict = ptr(v), Pass
			default:
				ch.Value, ch.Verdict = ptr(v), Fail
				ch.Why = fmt.Sprintf("%s %s is %s the %s of %s", name, num(v), map[string]string{"min": "below", "max": "above"}[kind], map[string]string{"min": "minimum", "max": "maximum"}[kind], num(m[name]))
			}
			add(ch)
		}
	}
	bound("min", p.Minimum, atLeast)
	bound("max", p.Maximum, atMost)
	for _, name := range sortedKeys(p.Regression) {
		add(regression(name, p.Regression[name], c, champ, value))
	}
	for _, attr := range sortedKeys(p.Fairness) {
		limits := p.Fairness[attr]
		got, sliced := c.Fairness[attr]
		for _, gap := range GapNames {
			lim := limits.get(gap)
			if lim == nil {
				continue
			}
			ch := Check{Name: "fairness " + attr + " " + gap, Threshold: ptr(*lim)}
			v := got.get(gap)
			switch {
			case !sliced:
				ch.Verdict, ch.Why = Fail, fmt.Sprintf("the candidate has no slices for %s: is it a sensitive attribute of the dataset's contract?", attr)
			case v == nil || !finite(*v):
				ch.Verdict, ch.Why = Skipped, fmt.Sprintf("%s is undefined on the test set (a slice with no positive predictions or no positives)", gap)
			case gap == DisparateImpactRatio:
				ch.Value = ptr(*v)
				if ch.Verdict = Pass; !atLeast(*v, *lim) {
					ch.Verdict, ch.Why = Fail, fmt.Sprintf("the ratio %s is below the minimum of %s", num(*v), num(*lim))
				}
			default:
				ch.Value = ptr(*v)
				if ch.Verdict = Pass; !atMost(*v, *lim) {
					ch.Verdict, ch.Why = Fail, fmt.Sprintf("the difference %s is above the maximum of %s", num(*v), num(*lim))
				}
			}
			add(ch)
		}
	}
	if p.MinTestRows > 0 {
		ch := Check{Name: "min test rows", Value: ptr(float64(c.TestRows)), Threshold: ptr(float64(p.MinTestRows)), Verdict: Pass}
		if c.TestRows < p.MinTestRows {
			ch.Verdict, ch.Why = Fail, fmt.Sprintf("%d test rows, fewer than %d: too few to trust the metrics", c.TestRows, p.MinTestRows)
		}
		add(ch)
	}
	limit := func(name string, lim int64, v int64, known bool, unknown string) {
		if lim <= 0 {
			return
		}
		ch := Check{Name: name, Threshold: ptr(float64(lim))}
		switch {
		case !known:
			ch.Verdict, ch.Why = Skipped, unknown
		case v > lim:
			ch.Value, ch.Verdict, ch.Why = ptr(float64(v)), Fail, fmt.Sprintf("%d is above the maximum of %d", v, lim)
		default:
			ch.Value, ch.Verdict = ptr(float64(v)), Pass
		}
		add(ch)
	}
	cx, s := p.Complexity, c.Shape
	const noShape = "the model's shape was not measured"
	if s == nil {
		s = &Shape{}
	}
	limit("max trees", int64(cx.MaxTrees), int64(s.Trees), c.Shape != nil, noShape)
	limit("max total nodes", int64(cx.MaxTotalNodes), int64(s.TotalNodes), c.Shape != nil, noShape)
	limit("max depth", int64(cx.MaxDepth), int64(s.MaxDepth), c.Shape != nil, noShape)
	limit("max model bytes", cx.MaxModelBytes, c.ModelBytes, c.ModelBytes > 0, "the model's size was not measured")

	r.Passed = !slices.ContainsFunc(r.Checks, func(ch Check) bool { return ch.Verdict == Fail })
	r.NeedsApproval = r.Passed && p.Approval.Required
	r.AutoPromote = r.Passed && !p.Approval.Required && p.AutoPromote
	r.SeparatePromotion = p.Approval.SeparatePromotion
	r.Approvers = slices.Clone(p.Approval.Approvers)
	return r
}

// regression checks one metric against the champion: the candidate may be
// worse by at most the stricter of the absolute and relative limits.
func regression(name string, lim Regression, c Candidate, champ *Champion, value func(string) (float64, string)) Check {
	ch := Check{Name: "regression " + name + " vs champion"}
	if champ == nil {
		ch.Verdict, ch.Why = Skipped, "no champion"
		return ch
	}
	ch.Name = fmt.Sprintf("regression %s vs champion v%d", name, champ.Version)
	m, ok := LookupMetric(c.Objective, name)
	if !ok {
		m, ok = LookupMetric("", name)
	}
	if !ok {
		ch.Verdict, ch.Why = Fail, fmt.Sprintf("%s is not a metric the platform knows", name)
		return ch
	}
	base, has := champ.Metrics[name]
	if !has || !finite(base) {
		ch.Verdict, ch.Why = Skipped, fmt.Sprintf("champion v%d has no %s to compare with", champ.Version, name)
		return ch
	}
	v, why := value(name)
	if champ.SameRows && champ.CandidateMetrics != nil {
		// Compare like with like: the candidate on the rows the champion was scored on.
		cv, ok := champ.CandidateMetrics[name]
		if !ok || !finite(cv) {
			ch.Verdict, ch.Why = Skipped, fmt.Sprintf("the candidate has no %s on the %d rows shared with champion v%d", name, champ.Rows, champ.Version)
			return ch
		}
		v, why = cv, ""
	}
	if why != "" {
		ch.Verdict, ch.Why = Fail, why
		return ch
	}
	allowed := math.Inf(1)
	if lim.Absolute != nil {
		allowed = *lim.Absolute
	}
	if lim.Relative != nil {
		allowed = math.Min(allowed, *lim.Relative*math.Abs(base))
	}
	if math.IsInf(allowed, 1) {
		allowed = 0
	}
	ch.Value = ptr(v)
	if m.HigherIsBetter {
		ch.Threshold = ptr(base - allowed)
		ch.Verdict = Pass
		if !atLeast(v, base-allowed) {
			ch.Verdict, ch.Why = Fail, fmt.Sprintf("%s %s is %s below champion v%d's %s, more than the %s allowed", name, num(v), num(base-v), champ.Version, num(base), num(allowed))
		}
	} else {
		ch.Threshold = ptr(base + allowed)
		ch.Verdict = Pass
		if !atMost(v, base+allowed) {
			ch.Verdict, ch.Why = Fail, fmt.Sprintf("%s %s is %s above champion v%d's %s, more than the %s allowed", name, num(v), num(v-base), champ.Version, num(base), num(allowed))
		}
	}
	note := ""
	switch {
	case !champ.SameRows:
		note = fmt.Sprintf("champion v%d scored on its own test rows, not the candidate's", champ.Version)
	case champ.Rows > 0:
		note = fmt.Sprintf("both scored on the %d test rows champion v%d did not train on", champ.Rows, champ.Version)
	}
	if note != "" {
		if ch.Why == "" {
			ch.Why = note
		} else {
			ch.Why += " (" + note + ")"
		}
	}
	return ch
}

// MayApprove reports whether principal (a verified IAM ARN, or local:<user>
// locally) matches one of the policy's approver patterns (path.Match: a *
// does not cross a /). A person who assumed a role reaches AWS as the role's
// STS session, arn:aws:sts::<account>:assumed-role/<role>/<session>, which is
// what API Gateway's IAM authorizer reports; patterns name roles by their IAM
// ARN, arn:aws:iam::<account>:role/<role>. So a session matches a pattern
// either as itself or as the role's IAM ARN (without the role's path, which
// the session's ARN does not carry: write role patterns without a path).
func MayApprove(p *Policy, principal string) bool {
	return matchesAny(p.Approval.Approvers, principal)
}

// Decisions people make through the decisions API, each authorized by the
// policy (MayDecide).
const (
	DecideApprove  = "approve"
	DecideReject   = "reject"
	DecidePromote  = "promote"
	DecideRollback = "rollback"
	DecideRetire   = "retire"
	DecideOverride = "override" // approve a version with no passing check
)

// Deciders are the patterns of who may make decision: the approvers approve,
// reject and promote; rollback and retire have roles of their own that
// default to the approvers; an override needs the override role, which has
// no default.
func Deciders(p *Policy, decision string) []string {
	a := &p.Approval
	switch decision {
	case DecideApprove, DecideReject, DecidePromote:
		return a.Approvers
	case DecideRollback:
		if len(a.Rollback) > 0 {
			return a.Rollback
		}
		return a.Approvers
	case DecideRetire:
		if len(a.Retire) > 0 {
			return a.Retire
		}
		return a.Approvers
	case DecideOverride:
		return a.Override
	}
	return nil
}

// MayDecide reports whether principal may make decision under p, matched as
// MayApprove matches (an assumed role's session as its role too). An unknown
// decision is nobody's.
func MayDecide(p *Policy, decision, principal string) bool {
	return matchesAny(Deciders(p, decision), principal)
}

func matchesAny(patterns []string, principal string) bool {
	// A principal with spaces or control characters is no verified ARN or
	// local user: refuse it rather than let a * match it.
	if principal == "" || strings.ContainsFunc(principal, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	forms := []string{principal}
	if role, ok := AssumedRoleARN(principal); ok {
		forms = append(forms, role)
	}
	for _, pat := range patterns {
		for _, f := range forms {
			if ok, err := path.Match(pat, f); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// AssumedRoleARN returns the IAM ARN of the role an STS assumed-role session
// ARN (arn:<partition>:sts::<account>:assumed-role/<role>/<session>) is a
// session of: arn:<partition>:iam::<account>:role/<role>.
func AssumedRoleARN(principal string) (string, bool) {
	parts := strings.SplitN(principal, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "sts" || parts[3] != "" || !isAccount(parts[4]) {
		return "", false
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 3 || res[0] != "assumed-role" || res[1] == "" || res[2] == "" {
		return "", false
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + res[1], true
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Package policy holds promotion policies: one YAML file per model that says what
// a trained candidate must show before it may become the champion (minimum and
// maximum test metrics, how much worse than the champion it may be, fairness
// gaps per sensitive attribute, test rows, model size and complexity) and who
// must approve it.
//
// In the platform a policy is stored as the canonical JSON of Policy and
// versioned by the SHA-256 of that JSON (policies/<model>/<hash>.json, with
// policies/<model>/current a CAS pointer; shared/policystore keeps them), like
// model specs: comments and formatting never make a new version. Evaluate
// judges a candidate against a policy without any I/O, so that the gate
// reaches the same verdict on every redelivery.
package policy

import "github.com/openmlops/mlops/shared/yamldoc"

// APIVersion and Kind identify a promotion policy document.
const (
	APIVersion = "mlops/v1"
	Kind       = "PromotionPolicy"
)

// Policy is the parsed, validated form of a promotion policy. Its JSON encoding
// (Canonical) is the stored, hashed form.
type Policy struct {
	// Model is the model the policy governs: a model name (spec.ValidName).
	Model string `json:"model"`
	// Objective, when set, is the model's objective (binary:logistic,
	// reg:squarederror, multi:softprob): metric names are checked against it,
	// and a candidate of another objective fails. Empty accepts the metrics of
	// every objective, and a candidate fails on a metric it does not record.
	Objective string `json:"objective,omitempty"`
	// Minimum maps higher-is-better test metrics to the least value a
	// candidate may have; Maximum maps lower-is-better ones to the most.
	Minimum map[string]float64 `json:"minimum,omitempty"`
	Maximum map[string]float64 `json:"maximum,omitempty"`
	// Regression bounds, per metric, how much worse than the current champion
	// a candidate may be on the same test rows.
	Regression map[string]Regression `json:"regression,omitempty"`
	// Fairness bounds the fairness gaps per sensitive attribute (the names of
	// the contract's sensitive columns, as the bundle's slices.json records them).
	Fairness map[string]Gaps `json:"fairness,omitempty"`
	// MinTestRows is the least number of test rows (0: no minimum).
	MinTestRows int64 `json:"minTestRows,omitempty"`
	// Complexity bounds the model's size and shape.
	Complexity Complexity `json:"complexity"`
	// Approval says whether a person must approve, and who may.
	Approval Approval `json:"approval"`
	// AutoPromote promotes a candidate that passed every check at once. Only
	// where approval is not required.
	AutoPromote bool `json:"autoPromote,omitempty"`
	// Drift is what the nightly drift run applies to the model's traffic
	// (nil: the defaults, and no retraining).
	Drift *Drift `json:"drift,omitempty"`

	// src is where Parse read the policy from. Not part of the canonical form.
	src *yamldoc.Source
}

// Regression is how much worse than the champion a candidate may be on one
// metric: Absolute in the metric's units, Relative as a fraction of the
// champion's value. With both, the stricter applies. Worse means lower for
// higher-is-better metrics and higher for lower-is-better ones.
type Regression struct {
	Absolute *float64 `json:"absolute,omitempty"`
	Relative *float64 `json:"relative,omitempty"`
}

// Gaps are fairness gaps of one sensitive attribute, in the shape of
// bundle.Attribute's: in a policy, the bounds (differences are maxima, the
// ratio a minimum; nil: not checked); in a Candidate, the measured gaps (nil:
// undefined on the test set).
type Gaps struct {
	DemographicParityDifference *float64 `json:"demographicParityDifference,omitempty"`
	EqualOpportunityDifference  *float64 `json:"equalOpportunityDifference,omitempty"`
	DisparateImpactRatio        *float64 `json:"disparateImpactRatio,omitempty"`
}

// Gap names, in the order checks report them.
const (
	DemographicParityDifference = "demographicParityDifference"
	EqualOpportunityDifference  = "equalOpportunityDifference"
	DisparateImpactRatio        = "disparateImpactRatio"
)

// GapNames lists the gap names in report order.
var GapNames = []string{DemographicParityDifference, EqualOpportunityDifference, DisparateImpactRatio}

func (g Gaps) get(name string) *float64 {
	switch name {
	case DemographicParityDifference:
		return g.DemographicParityDifference
	case EqualOpportunityDifference:
		return g.EqualOpportunityDifference
	case DisparateImpactRatio:
		return g.DisparateImpactRatio
	}
	return nil
}

func (g *Gaps) set(name string, v *float64) {
	switch name {
	case DemographicParityDifference:
		g.DemographicParityDifference = v
	case EqualOpportunityDifference:
		g.EqualOpportunityDifference = v
	case DisparateImpactRatio:
		g.DisparateImpactRatio = v
	}
}

// Complexity bounds a model's size and shape: deterministic measures, unlike a
// latency. Zero means no bound.
type Complexity struct {
	MaxTrees      int   `json:"maxTrees,omitempty"`
	MaxTotalNodes int   `json:"maxTotalNodes,omitempty"`
	MaxDepth      int   `json:"maxDepth,omitempty"`
	MaxModelBytes int64 `json:"maxModelBytes,omitempty"`
}

// Approval says whether a person must approve a candidate that passed, and
// who may.
type Approval struct {
	// Required: a candidate that passed waits for an approval. Where the key
	// is absent from the YAML or JSON that Parse or ParseCanonical reads, it
	// defaults to true: a policy must say so to let models through unseen.
	Required bool `json:"required"`
	// Approvers are path.Match patterns of the principals allowed to approve:
	// "local:*" (any local user), "arn:aws:iam::123456789012:role/ModelRisk*".
	// A * does not cross a /. A person who assumed a role is matched as the
	// role's IAM ARN too (MayApprove), so role patterns cover their sessions.
	Approvers []string `json:"approvers,omitempty"`
	// SeparatePromotion: an approval only approves, and promotion is a step of
	// its own (mlops models promote). Otherwise approval promotes at once.
	SeparatePromotion bool `json:"separatePromotion,omitempty"`
	// Rollback and Retire are who may roll the champion back and who may
	// retire a version (patterns, as Approvers); empty: the approvers.
	Rollback []string `json:"rollback,omitempty"`
	Retire   []string `json:"retire,omitempty"`
	// Override is who may approve a version that has no passing check under
	// the policy in force (an audited override); empty: nobody.
	Override []string `json:"override,omitempty"`
}

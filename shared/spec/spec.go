// Package spec holds model specs: one YAML file per model that says what to train
// (dataset, target, objective, hyperparameters, threshold), with which trainer, when,
// under which promotion policy, and with which model card.
//
// In the platform a spec is stored as the canonical JSON of Spec and versioned by the
// SHA-256 of that JSON (specs/<model>/<hash>.json, with specs/<model>/current a CAS
// pointer), like contracts: comments and formatting never make a new version.
package spec

import "github.com/openmlops/mlops/shared/yamldoc"

// APIVersion and Kind identify a model spec document.
const (
	APIVersion = "mlops/v1"
	Kind       = "ModelSpec"
)

// Objectives the platform trains and serves.
const (
	BinaryLogistic   = "binary:logistic"
	RegSquaredError  = "reg:squarederror"
	MultiSoftprob    = "multi:softprob"
	DefaultThreshold = 0.5
)

// Spec is the parsed, validated form of a model spec. Its JSON encoding (Canonical)
// is the stored, hashed form, and what the trainer reads (--spec).
type Spec struct {
	// Name is the model's name: [a-z0-9][a-z0-9_-]{0,62}, like dataset names.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Dataset is the dataset it trains on; its contract gives features and target.
	Dataset string `json:"dataset"`
	Target  Target `json:"target"`
	// Objective is one of the objectives above.
	Objective string `json:"objective"`
	// Params are XGBoost booster parameters (eta, max_depth, subsample, ...), as
	// numbers, strings or booleans. Keys the platform sets itself (objective,
	// tree_method, device, gpu_id, seed, random_state, nthread, n_jobs,
	// num_class, eval_metric) are refused.
	Params map[string]any `json:"params,omitempty"`
	// NumBoostRound is the most boosting rounds (default 500); EarlyStoppingRounds
	// stops when validation has not improved for that many rounds (default 20, 0 = off).
	// Because 0 is meaningful here, the default is filled only where the key is
	// absent from the YAML or JSON that Parse or ParseCanonical reads; in a Spec
	// built in Go the zero value means off.
	NumBoostRound       int `json:"numBoostRound"`
	EarlyStoppingRounds int `json:"earlyStoppingRounds"`
	// Threshold is the decision threshold on the positive class's probability
	// (binary only; default 0.5).
	Threshold float64 `json:"threshold,omitempty"`
	Split     Split   `json:"split"`
	Trainer   Trainer `json:"trainer"`
	Trigger   Trigger `json:"trigger"`
	// Policy names the promotion policy file (relative to the spec), applied with it.
	Policy string `json:"policy,omitempty"`
	// Card is the model card's Markdown text (read from the file the YAML names),
	// so that the card is versioned with the spec.
	Card string `json:"card,omitempty"`

	// src is where Parse read the spec from, so that CheckContract can point
	// its problems at the author's lines too. Not part of the canonical form.
	src *yamldoc.Source
}

// Target says which column is the label and, for binary models, which of its
// values is the positive class.
type Target struct {
	// Column defaults to the contract's target.
	Column string `json:"column,omitempty"`
	// PositiveClass is required for binary:logistic: the label value whose
	// probability the model predicts.
	PositiveClass string `json:"positiveClass,omitempty"`
}

// Split is the stratified train / validation / test split (fixed seed).
type Split struct {
	Validation float64 `json:"validation"` // fraction, default 0.15
	Test       float64 `json:"test"`       // fraction, default 0.15
	// Seed fixes the split and the booster's randomness, 0..2^31-1. Default 42
	// where the key is absent (Parse, ParseCanonical); 0 is a valid seed.
	Seed int64 `json:"seed"`
}

// Trainer says what runs the training job.
type Trainer struct {
	// Image is the container image in AWS, pinned by digest
	// (<repo>@sha256:<64 hex>); empty means the platform's reference trainer image.
	Image string `json:"image,omitempty"`
	// Command is the program run locally (argv prefix; the platform appends the
	// standard arguments of the container contract, see trainer/README.md). Empty
	// means the reference trainer, /usr/bin/python3 <state dir>/trainer.
	Command []string `json:"command,omitempty"`
	// TimeoutSeconds bounds one attempt (default 3600).
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Resources the job asks Batch for (defaults 1 GPU, 4 vCPU, 16384 MiB).
	// GPUs 0 means CPU only, so its default is filled only where the key is
	// absent (Parse, ParseCanonical); in a Spec built in Go the zero value is 0.
	GPUs      int `json:"gpus"`
	VCPUs     int `json:"vcpus"`
	MemoryMiB int `json:"memoryMiB"`
}

// Trigger says which new dataset versions start a run. With neither field set,
// every new version trains. MinIntervalHours skips a version when the model's
// last run started less than that many hours ago; MinNewRows skips it unless
// its row count differs from the last trained version's by at least that many.
// When both are set, both must allow it. A retrain request always trains.
type Trigger struct {
	// Manual: new versions never train; only retrain requests do.
	Manual           bool    `json:"manual,omitempty"`
	MinIntervalHours float64 `json:"minIntervalHours,omitempty"`
	MinNewRows       int64   `json:"minNewRows,omitempty"`
}

package predict

import (
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
)

// NewMetadata describes a model version from what the checker and the
// bundle's encoding know: its features with their rules, its target and
// outputs, and the checks' settings. The caller fills in the hashes, the
// dataset version and the model card.
func NewMetadata(model string, version int, k *Checker, enc *bundle.Encoding) *Metadata {
	t := enc.Target
	m := &Metadata{ModelSpec: ModelSpec{Name: model, Version: version}, Metadata: ModelMetadata{
		Features: k.Features(), UnknownFields: k.opt.UnknownFields, OutOfRange: k.opt.OutOfRange, Dataset: k.dataset,
		Target: Target{Column: t.Column, Kind: t.Kind, Classes: t.Classes, PositiveClass: t.PositiveClass},
	}}
	for _, name := range enc.OutputColumns() {
		o := OutputSpec{Name: name, Type: "number"}
		switch {
		case name == bundle.OutputLabel && t.Kind == bundle.LabelBinary && len(t.Classes) == 2:
			o.Type = "string"
			o.Description = "the predicted " + t.Column + ": " + t.Classes[1] + " when " + bundle.OutputProbPrefix + t.Classes[1] +
				" is at least the threshold, else " + t.Classes[0]
		case name == bundle.OutputLabel:
			o.Type, o.Description = "string", "the predicted "+t.Column+": the most probable class"
		case name == bundle.OutputPrediction:
			o.Description = "the predicted " + t.Column
		default:
			o.Description = "the probability that " + t.Column + " is " + strings.TrimPrefix(name, bundle.OutputProbPrefix)
		}
		m.Metadata.Outputs = append(m.Metadata.Outputs, o)
	}
	if t.Kind == bundle.LabelBinary {
		m.Metadata.Target.Threshold = enc.Threshold
	}
	return m
}

// Metadata is the answer of GET /v1/models/{model}/metadata, in TF Serving's
// shape (model_spec and metadata), camelCase like the rest of the platform's
// JSON: which version serves, and what it takes and gives.
type Metadata struct {
	ModelSpec ModelSpec     `json:"modelSpec"`
	Metadata  ModelMetadata `json:"metadata"`
}

// ModelMetadata is what the serving version takes and gives.
type ModelMetadata struct {
	// BundleSHA256, ContractHash and DatasetVersion name what the version was
	// made of: its bundle, the contract it was trained under, the data.
	BundleSHA256   string `json:"bundleSha256"`
	Dataset        string `json:"dataset"`
	ContractHash   string `json:"contractHash"`
	DatasetVersion string `json:"datasetVersion"`
	// ModelCard is the model card's path in the governance site, relative to
	// the site's root (models/<model>/v<version>/index.html); "" where none.
	ModelCard string `json:"modelCard,omitempty"`
	// Features are the model's inputs in order, with the contract's rules
	// that the endpoint checks.
	Features []Feature `json:"features"`
	// Outputs are the fields of each prediction before flags and explanations.
	Outputs []OutputSpec `json:"outputs"`
	Target  Target       `json:"target"`
	// UnknownFields and OutOfRange are the checks' settings (CheckOptions).
	UnknownFields string `json:"unknownFields"`
	OutOfRange    string `json:"outOfRange"`
}

// Feature is one input of a model with its contract's rules.
type Feature struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // the contract's: integer, number, boolean, category, string, timestamp
	Required    bool     `json:"required"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Allowed     []string `json:"allowed,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Format      string   `json:"format,omitempty"` // a timestamp's layout (Go reference time; "" is RFC 3339)
	PII         bool     `json:"pii,omitempty"`
	Description string   `json:"description,omitempty"`
}

// OutputSpec is one output of a prediction.
type OutputSpec struct {
	Name string `json:"name"`
	Type string `json:"type"` // number or string
	// Description says what the value is.
	Description string `json:"description"`
}

// Target is what the model predicts.
type Target struct {
	Column  string   `json:"column"`
	Kind    string   `json:"kind"` // binary, multiclass or regression
	Classes []string `json:"classes,omitempty"`
	// PositiveClass and Threshold: a binary model's label is PositiveClass
	// when its probability is at least Threshold.
	PositiveClass string  `json:"positiveClass,omitempty"`
	Threshold     float64 `json:"threshold,omitempty"`
}

// ModelSpec names the model and the version that serves (its champion).
type ModelSpec struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

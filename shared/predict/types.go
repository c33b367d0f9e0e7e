package predict

import (
	"encoding/json"
	"net/url"
	"sync/atomic"
)

// The routes' patterns (net/http ServeMux patterns: method and path). A
// ServeMux wildcard is a whole path segment, so RoutePredict matches any
// POST /v1/models/<segment>; the route splits ":predict" off the segment in
// code (see Routes). Both stand beside the decisions API's routes on one mux
// (its GET /v1/models/{model} is another method; .../metadata another path).
const (
	RoutePredict  = "POST /v1/models/{target}"
	RouteMetadata = "GET /v1/models/{model}/metadata"
)

// Verb is the suffix of a prediction's path segment: <model>:predict.
const Verb = "predict"

// modelsPath is the decisions API's model list, under which both APIs' model
// routes are.
const modelsPath = "/v1/models"

// PredictPath is the path that scores instances with a model's champion.
func PredictPath(model string) string { return modelsPath + "/" + url.PathEscape(model) + ":" + Verb }

// MetadataPath is the path of a model's metadata.
func MetadataPath(model string) string { return modelsPath + "/" + url.PathEscape(model) + "/metadata" }

// Request is the body of a prediction: {"instances": [{...}, ...], "explain": true}.
type Request struct {
	Instances []Instance
	// Explain asks for each prediction's contributions and reasons.
	Explain bool

	// buf is the pooled memory Instances are in (DecodeRequestSized's),
	// which Release gives back unless kept.
	buf  *requestBuf
	kept bool
}

// Instance is one record to score: its fields in the order they came, each
// value a JSON scalar (string, number, boolean or null) kept as it was
// written, so that nothing is lost or reinterpreted before the contract's
// check reads it (a number stays its literal, never a float64 first).
type Instance struct {
	Fields []Field
}

// Field is one named JSON value. Value is the JSON text (a scalar in an
// instance; see Prediction for outputs).
type Field struct {
	Name  string
	Value json.RawMessage
}

// Response is the answer of a prediction: one prediction per instance, in
// order, and the version of the model that made them all.
type Response struct {
	Predictions  []Prediction `json:"predictions"`
	Model        string       `json:"model"`
	ModelVersion int          `json:"modelVersion"`
	// RequestID names the request in the platform's logs (and in the
	// prediction log's records).
	RequestID string `json:"requestId"`

	release *releaseOnce
}

// releaseOnce calls f at most once, however many copies of the Response
// that holds it are released.
type releaseOnce struct {
	f    func()
	done atomic.Bool
}

// OnRelease has Release call f: the service that made the answer in memory
// it reuses says so here.
func (r *Response) OnRelease(f func()) { r.release = &releaseOnce{f: f} }

// Release says the answer has been written (apierror.Guard calls it then):
// nothing reads it afterwards, and the memory it is in may be reused. Only
// the first Release of the answer, or of any copy of it, counts.
func (r *Response) Release() {
	if rel := r.release; rel != nil && rel.done.CompareAndSwap(false, true) {
		rel.f()
	}
}

// Prediction is one instance's prediction, written as one JSON object in
// this order: the outputs, exactly the shared scorer's row (bundle.Scorer):
// "p_<class>" probabilities then "label" for a classifier, "prediction" for
// a regression; "flags" where values were scored under the out-of-range
// "flag" setting; and, only when the request asked to explain,
// "contributions", "bias" and "reasons":
//
//	{"p_bad": 0.1734, "label": "good", "flags": ["Age: 130 is above the maximum 120"],
//	 "contributions": {"Seniority": -0.41, "Home": 0.02, ...}, "bias": -1.21,
//	 "reasons": [{"feature": "Income", "value": 80, "contribution": 0.55}, ...]}
//
// For a multiclass model "contributions" is class → (feature → number) and
// "bias" class → number.
type Prediction struct {
	// Outputs are the scorer's outputs in its column order, each value its
	// JSON text (a number, or a string for label); see ScorerOutputs.
	Outputs []Field
	// Flags name the rules broken by values that were scored anyway.
	Flags []string
	// Explanation is nil unless the request asked to explain.
	Explanation *Explanation
}

// Explanation is why a prediction came out as it did: each feature's
// contribution to the model's raw output (its margin, before the link
// function: TreeSHAP, mapped from encoded columns back to the contract's
// features), the bias (the expected margin), and the features that pushed
// the prediction most, as reason codes.
type Explanation struct {
	// Outputs has one entry for a binary or regression model (Class ""), one
	// per class, in the model's class order, for a multiclass model.
	Outputs []Contributions
	Reasons []Reason
}

// Contributions are one model output's contributions and bias.
type Contributions struct {
	Class    string         // "" for a single-output model
	Features []Contribution // in the model's feature order (the contract's)
	Bias     float64
}

// Contribution is one feature's contribution.
type Contribution struct {
	Feature string
	Value   float64
}

// Reason is one of the features that pushed a prediction most, with its
// value as the request gave it.
type Reason struct {
	Feature      string  `json:"feature"`
	Value        any     `json:"value"`
	Contribution float64 `json:"contribution"`
}

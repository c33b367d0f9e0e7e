// Package bundle reads and verifies model bundles: what a trainer writes under
// runs/<run-id>/bundle/, manifest last. The manifest lists every other file with its
// SHA-256, so the manifest's own SHA-256 (the bundle SHA-256) names the whole bundle.
//
// The JSON shapes below are the container contract's output format
// (trainer/README.md documents them for trainer authors; trainer/train.py writes them).
package bundle

import "time"

// Format identifies the bundle format in Manifest.Format.
const Format = "mlops-bundle/1"

// File names inside a bundle. ManifestFile is written last.
const (
	ManifestFile    = "manifest.json"
	ModelFile       = "model.json"       // XGBoost JSON model (1.7 format)
	EncodingFile    = "encoding.json"    // Encoding
	MetricsFile     = "metrics.json"     // Metrics
	SlicesFile      = "slices.json"      // Slices
	ImportanceFile  = "importance.json"  // Importance
	PredictionsFile = "predictions.json" // Baseline: test-set prediction distribution
	SamplesFile     = "samples.json"     // Samples: test rows with xgboost's predictions
	TestRowsFile    = "test_rows.json"   // TestRows: which rows of the dataset version are the test set
	LineageFile     = "lineage.json"     // Lineage
	// ErrorFile is not part of a bundle: a trainer that fails writes it (and no
	// manifest) to the output folder to say why (ErrorReport).
	ErrorFile = "error.json"
)

// ErrorReport is error.json: why a trainer refused or failed a job.
type ErrorReport struct {
	Error string `json:"error"` // one line naming the file, row, column or field and what was expected
	Kind  string `json:"kind"`  // ErrorBadInput (exit code 2: retrying cannot help) or ErrorInternal (exit code 1)
}

// Error kinds of ErrorReport.
const (
	ErrorBadInput = "bad_input"
	ErrorInternal = "internal"
)

// RequiredFiles are the files every bundle has besides the manifest.
var RequiredFiles = []string{ModelFile, EncodingFile, MetricsFile, SlicesFile, ImportanceFile,
	PredictionsFile, SamplesFile, TestRowsFile, LineageFile}

// Manifest is manifest.json.
type Manifest struct {
	Format    string    `json:"format"` // Format
	RunID     string    `json:"runId"`
	Model     string    `json:"model"`     // spec name
	Objective string    `json:"objective"` // binary:logistic | reg:squarederror | multi:softprob
	CreatedAt time.Time `json:"createdAt"`
	Files     []File    `json:"files"` // every file but the manifest, sorted by path
}

// File is one file of a bundle.
type File struct {
	Path   string `json:"path"` // relative, "/"-separated, no ".." (e.g. "model.json")
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Encoding is encoding.json: how a row of the dataset (canonical CSV values, as
// strings) becomes the model's feature vector, and what the outputs mean. Serving,
// scoring and the gate apply exactly this; the trainer applied it in training.
type Encoding struct {
	// Features are the contract's feature columns in order; each contributes one
	// model column (numeric, boolean, timestamp) or one per category (one-hot).
	Features []Feature `json:"features"`
	// Columns are the model's feature names in order (len = the model's
	// num_feature), and exactly model.json's feature_names.
	Columns []string `json:"columns"`
	Target  Label    `json:"target"`
	// Threshold is the decision threshold on the positive class (binary): the
	// label is positive when p >= float32(Threshold), compared in float32.
	Threshold float64 `json:"threshold,omitempty"`
}

// Feature kinds.
const (
	KindNumeric   = "numeric"   // integer / number: parsed as float64, then float32
	KindBoolean   = "boolean"   // true/1/yes → 1, false/0/no → 0 (case-insensitive)
	KindTimestamp = "timestamp" // Unix seconds with the fraction, as float64, then float32; Format is the Go layout ("" = RFC 3339)
	KindOneHot    = "onehot"    // one column per category: 1 for the value's, 0 for the others
)

// Feature is one input column's encoding.
type Feature struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Format string `json:"format,omitempty"` // timestamp layout
	// Categories are the one-hot categories, in model-column order; the model
	// columns are named "<name>=<category>".
	Categories []string `json:"categories,omitempty"`
	// Unseen says what a value not in Categories becomes: "missing" (its only
	// value; "" means the same): every one of the feature's columns is missing,
	// so trees follow their learned default branch. A missing value (empty cell)
	// is always missing in every column.
	Unseen string `json:"unseen,omitempty"`
}

// Label kinds.
const (
	LabelBinary     = "binary"
	LabelRegression = "regression"
	LabelMulticlass = "multiclass"
)

// Label says what the model predicts.
type Label struct {
	Column string `json:"column"`
	Kind   string `json:"kind"` // LabelBinary | LabelRegression | LabelMulticlass
	// Classes are the label values in output order: for binary [negative, positive]
	// (the model outputs the probability of Classes[1]); for multiclass one per
	// output column.
	Classes       []string `json:"classes,omitempty"`
	PositiveClass string   `json:"positiveClass,omitempty"`
}

// Metrics is metrics.json.
type Metrics struct {
	Objective string `json:"objective"`
	// Headline is the metric the gate's policies lead with: auc (binary),
	// rmse (regression), macro_f1 (multiclass), on the test set, with a bootstrap
	// confidence interval.
	Headline Headline `json:"headline"`
	// Test, Validation and Train map metric names to values. Binary: auc, log_loss,
	// accuracy, precision, recall, f1, brier. Regression: rmse, mae, r2.
	// Multiclass: accuracy, macro_f1, log_loss.
	Test       map[string]float64 `json:"test"`
	Validation map[string]float64 `json:"validation"`
	Train      map[string]float64 `json:"train"`
	// Calibration is for binary models: ten equal-width bins of predicted probability.
	Calibration     []CalibrationBin `json:"calibration,omitempty"`
	Threshold       float64          `json:"threshold,omitempty"`
	Rows            SplitRows        `json:"rows"`
	BestIteration   int              `json:"bestIteration"`
	NumTrees        int              `json:"numTrees"`
	ConfusionMatrix [][]int64        `json:"confusionMatrix,omitempty"` // [actual][predicted], class order of Encoding.Target.Classes
}

// Headline is one metric with its bootstrap confidence interval.
type Headline struct {
	Name       string  `json:"name"`
	Value      float64 `json:"value"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	Level      float64 `json:"level"`      // 0.95
	Replicates int     `json:"replicates"` // bootstrap resamples
}

// CalibrationBin is one bin of a reliability diagram.
type CalibrationBin struct {
	Lower            float64 `json:"lower"`
	Upper            float64 `json:"upper"`
	Count            int64   `json:"count"`
	MeanPredicted    float64 `json:"meanPredicted"`
	FractionPositive float64 `json:"fractionPositive"`
}

// SplitRows counts the rows in each part of the split.
type SplitRows struct {
	Train      int64 `json:"train"`
	Validation int64 `json:"validation"`
	Test       int64 `json:"test"`
}

// Slices is slices.json: test-set metrics per value (or band) of each sensitive
// attribute, and the fairness gaps between slices.
type Slices struct {
	Attributes []Attribute `json:"attributes"`
}

// Attribute is one sensitive attribute's slices.
type Attribute struct {
	Name   string  `json:"name"`
	Kind   string  `json:"kind"` // "categorical" or "numeric" (sliced into bands)
	Slices []Slice `json:"slices"`
	// Gaps (binary models): the largest difference across slices of the
	// positive-prediction rate (demographic parity difference) and of the true
	// positive rate (equal-opportunity difference), and the smallest ratio of
	// positive-prediction rates (disparate impact ratio). Nil where undefined.
	DemographicParityDifference *float64 `json:"demographicParityDifference"`
	EqualOpportunityDifference  *float64 `json:"equalOpportunityDifference"`
	DisparateImpactRatio        *float64 `json:"disparateImpactRatio"`
}

// Slice is the test rows with one value (or band) of an attribute.
type Slice struct {
	Value string `json:"value"` // the category, "missing", or a band like "[25, 35)"
	Rows  int64  `json:"rows"`
	// Metrics as in Metrics.Test plus, for binary models, positive_rate
	// (share predicted positive) and tpr (recall on the slice); a metric that is
	// undefined on the slice (AUC with one class) is absent.
	Metrics map[string]float64 `json:"metrics"`
}

// Importance is importance.json: total gain per model column and per input feature
// (one-hot columns summed into their feature), sorted by gain, descending.
type Importance struct {
	Type     string        `json:"type"` // "total_gain"
	Columns  []Importance1 `json:"columns"`
	Features []Importance1 `json:"features"`
}

// Importance1 is one entry of Importance.
type Importance1 struct {
	Name string  `json:"name"`
	Gain float64 `json:"gain"`
}

// Baseline is predictions.json: the distribution of the model's outputs on the
// test set, the reference for prediction drift. One histogram per output
// (binary: the positive class's probability; multiclass: one per class).
type Baseline struct {
	Outputs []OutputDistribution `json:"outputs"`
}

// BaselineQuantiles are the keys of OutputDistribution.Quantiles.
var BaselineQuantiles = []string{"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"}

// OutputDistribution is one output's distribution on the test set. Name is
// "prediction" (regression) or "p(<class>)" (binary: the positive class;
// multiclass: each class in Encoding.Target.Classes order).
type OutputDistribution struct {
	Name      string             `json:"name"`  // "prediction", or "p(<class>)"
	Edges     []float64          `json:"edges"` // bin edges, len(Counts)+1 (probabilities: 0, 0.05, …, 1)
	Counts    []int64            `json:"counts"`
	Quantiles map[string]float64 `json:"quantiles"` // exactly BaselineQuantiles
	Mean      float64            `json:"mean"`
	Count     int64              `json:"count"`
}

// Samples is samples.json: test rows as the dataset holds them (canonical CSV
// values of the feature columns, "" = missing) with xgboost's own predictions, so
// any evaluator can be checked against the trainer's.
type Samples struct {
	Columns []string `json:"columns"` // Encoding.Features names, in order
	Rows    []Sample `json:"rows"`
}

// Sample is one row of Samples.
type Sample struct {
	Row    int64     `json:"row"`    // 0-based data row in the dataset version (partitions in manifest order)
	Values []string  `json:"values"` // one per Samples.Columns
	Output []float64 `json:"output"` // xgboost predict(): one value (binary, regression) or one per class
}

// TestRows is test_rows.json: the test set's rows, so that the gate can score a
// champion and a candidate on the same rows.
type TestRows struct {
	DatasetVersion string  `json:"datasetVersion"`
	Seed           int64   `json:"seed"`
	Rows           []int64 `json:"rows"` // 0-based data rows, ascending
}

// Lineage is lineage.json: everything needed to say how the model was made.
type Lineage struct {
	RunID          string             `json:"runId"`
	Model          string             `json:"model"`
	Dataset        string             `json:"dataset"`
	DatasetVersion string             `json:"datasetVersion"`
	ContractHash   string             `json:"contractHash"` // SHA-256 of the contract file as read
	SpecHash       string             `json:"specHash"`     // SHA-256 of the spec file as read
	DataSHA256     []string           `json:"dataSha256"`   // of each data file as read, in order
	Trainer        string             `json:"trainer"`      // image digest, or the local trainer's hash
	Params         map[string]any     `json:"params"`       // the booster parameters as given to xgboost
	NumBoostRound  int                `json:"numBoostRound"`
	Seed           int64              `json:"seed"`
	Libraries      map[string]string  `json:"libraries"`  // python, xgboost, numpy, ...
	Device         string             `json:"device"`     // "cuda" or "cpu"
	TreeMethod     string             `json:"treeMethod"` // gpu_hist or hist
	StartedAt      time.Time          `json:"startedAt"`
	FinishedAt     time.Time          `json:"finishedAt"`
	Durations      map[string]float64 `json:"durationsSeconds"` // load, encode, train, evaluate, write
}

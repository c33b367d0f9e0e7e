// Package xgboost evaluates XGBoost models saved in XGBoost's JSON format
// (Booster.save_model("model.json")) natively in Go, without cgo.
//
// Supported: the gbtree booster (including num_parallel_tree > 1) with numerical
// splits, and the objectives binary:logistic, reg:squarederror and multi:softprob.
// The base_score encodings of XGBoost 1.7 ("5E-1") and of 2.x/3.x ("[5E-1]", or
// one value per class) are accepted; only the 1.7 format is verified against
// xgboost in this repository's tests.
//
// Prediction follows xgboost's CPU predictor exactly: the margin starts at the
// base score (converted to a margin by the objective, in float32), each tree's
// leaf value is added in float32 in tree order, a missing value (NaN) follows the
// node's default direction, and a present value goes left when value < threshold
// (both float32). The output transform is then applied in float32 (sigmoid for
// binary:logistic, softmax for multi:softprob).
//
// Loading validates the model strictly (array lengths, child indices, cycles and
// shared nodes, feature indices, NaN thresholds), so a Model that loaded can be
// evaluated on any input without panicking or looping. The JSON is read in one
// pass by a scanner that knows the model's schema (decode.go), each tree
// flattened as soon as it has been read, into one packed slice, then laid out
// for prediction in a cache-friendly layout (blocked.go, generic.go); Predict
// does not allocate.
//
// Explainer.Contributions gives a row's per-feature contributions (exact
// TreeSHAP, equal to xgboost's predict(pred_contribs=True)) from the node
// covers (sum_hessian), which are kept apart from the nodes Predict walks
// (shap.go).
package xgboost

import (
	"errors"
	"fmt"
	"math"
)

// Objectives supported by the evaluator.
const (
	BinaryLogistic  = "binary:logistic"
	RegSquaredError = "reg:squarederror"
	MultiSoftprob   = "multi:softprob"
)

// batchBlock is the largest number of rows evaluated together, tree by tree,
// in the batch functions (like xgboost's block of rows): the forest is walked
// once per block instead of once per row.
const batchBlock = 64

// Model is a validated, flattened XGBoost model. It is safe for concurrent use.
type Model struct {
	objective    string
	numFeature   int
	numOutputs   int
	featureNames []string
	version      []int

	numTrees int
	group    []uint32 // output (class) each tree adds to, in xgboost's tree order
	base     []float32

	// The trees are held in exactly one of two layouts: the blocked one
	// (blocked.go), which is faster, when the trees are shallow enough and use
	// few enough features, else the generic one (generic.go).
	blocked *blockedForest
	generic *genericForest

	// trees are the trees as loaded, which both layouts are made from; kept
	// so that the Model can be compiled (MarshalBinary). The generic layout,
	// where it predicts, is this one.
	trees *genericForest

	// shap holds what Contributions needs (the generic nodes with their
	// covers); nil when the model recorded no covers.
	shap *shapForest
}

// Objective returns the model's objective name, e.g. "binary:logistic".
func (m *Model) Objective() string { return m.objective }

// NumFeatures returns the number of features a row must have.
func (m *Model) NumFeatures() int { return m.numFeature }

// NumOutputs returns the number of values Predict writes per row: 1 for
// binary:logistic and reg:squarederror, the number of classes for
// multi:softprob.
func (m *Model) NumOutputs() int { return m.numOutputs }

// NumTrees returns the number of trees in the model.
func (m *Model) NumTrees() int { return m.numTrees }

// FeatureNames returns the feature names recorded in the model, if any. The
// caller must not modify the returned slice.
func (m *Model) FeatureNames() []string { return m.featureNames }

// Version returns the xgboost version recorded in the model (e.g. [1 7 4]), or
// nil if none was recorded.
func (m *Model) Version() []int { return m.version }

// ErrShape is wrapped by the errors Predict and the batch functions return when
// the lengths of their arguments do not fit the model.
var ErrShape = errors.New("xgboost: wrong input or output length")

// Predict evaluates one row. features must have NumFeatures values (NaN is a
// missing value) and out must have NumOutputs values; it receives the
// probability (binary:logistic), the predicted value (reg:squarederror) or the
// class probabilities (multi:softprob). Predict does not allocate.
func (m *Model) Predict(features, out []float32) error {
	if len(features) != m.numFeature || len(out) != m.numOutputs {
		return fmt.Errorf("%w: got %d features and %d outputs, model has %d and %d",
			ErrShape, len(features), len(out), m.numFeature, m.numOutputs)
	}
	m.margin(features, out)
	m.transform(out)
	return nil
}

// PredictMargin is Predict without the output transform: it writes the raw
// margin (xgboost's output_margin=True).
func (m *Model) PredictMargin(features, out []float32) error {
	if len(features) != m.numFeature || len(out) != m.numOutputs {
		return fmt.Errorf("%w: got %d features and %d outputs, model has %d and %d",
			ErrShape, len(features), len(out), m.numFeature, m.numOutputs)
	}
	m.margin(features, out)
	return nil
}

// margin writes the row's margins into out: the base margin plus each tree's
// leaf value, added in float32 in tree order (as xgboost does).
func (m *Model) margin(x, out []float32) {
	copy(out, m.base)
	b := m.blocked
	if b == nil {
		m.generic.margin(x, m.group, out)
		return
	}
	// The row's keys live on the stack. Go zeroes the array on every call,
	// so the usual case (few features) gets a small one.
	if n := b.rowKeysLen(); n <= smallRowKeys {
		var keys [smallRowKeys]int32
		b.margin(x, keys[:n], out)
	} else {
		var keys [maxRowKeys]int32
		b.margin(x, keys[:n], out)
	}
}

// PredictBatch evaluates rows (each with NumFeatures values) into out, which
// must have len(rows)*NumOutputs values: row i's outputs are
// out[i*NumOutputs:(i+1)*NumOutputs]. Results equal Predict's bit for bit.
func (m *Model) PredictBatch(rows [][]float32, out []float32) error {
	if len(out) != len(rows)*m.numOutputs {
		return fmt.Errorf("%w: %d rows need %d outputs, got %d", ErrShape, len(rows), len(rows)*m.numOutputs, len(out))
	}
	for i, r := range rows {
		if len(r) != m.numFeature {
			return fmt.Errorf("%w: row %d has %d features, model has %d", ErrShape, i, len(r), m.numFeature)
		}
	}
	m.predictRows(len(rows), func(i int) []float32 { return rows[i] }, out)
	return nil
}

// PredictFlat evaluates a row-major matrix: x holds n rows of NumFeatures
// values each, and out must have n*NumOutputs values. Results equal Predict's
// bit for bit.
func (m *Model) PredictFlat(x, out []float32) error {
	f, k := m.numFeature, m.numOutputs
	var n int
	if f == 0 {
		if len(x) != 0 {
			return fmt.Errorf("%w: model has no features, got %d values", ErrShape, len(x))
		}
		if len(out)%k != 0 {
			return fmt.Errorf("%w: %d outputs is not a multiple of %d", ErrShape, len(out), k)
		}
		n = len(out) / k
	} else {
		if len(x)%f != 0 {
			return fmt.Errorf("%w: %d values is not a multiple of %d features", ErrShape, len(x), f)
		}
		n = len(x) / f
		if len(out) != n*k {
			return fmt.Errorf("%w: %d rows need %d outputs, got %d", ErrShape, n, n*k, len(out))
		}
	}
	m.predictRows(n, func(i int) []float32 { return x[i*f : (i+1)*f] }, out)
	return nil
}

// predictRows evaluates n rows, row(i) returning row i, into out (n *
// NumOutputs values). Rows are taken in blocks, and each block is walked tree
// by tree (blocked layout: group of trees by group), so that the trees' nodes
// stay in cache while the block's rows use them; each row still adds its
// trees' leaf values in tree order.
func (m *Model) predictRows(n int, row func(i int) []float32, out []float32) {
	k := m.numOutputs
	if b := m.blocked; b != nil {
		// The keys of a block of rows, on the stack: fewer rows per block
		// when rows have many keys.
		var keys [batchRowKeys]int32
		w := b.rowKeysLen()
		size := batchBlock
		if w > 0 {
			size = min(batchBlock, len(keys)/w)
		}
		for start := 0; start < n; start += size {
			end := min(start+size, n)
			o := out[start*k : end*k]
			m.initBlock(o)
			for i := start; i < end; i++ {
				j := i - start
				b.rowKeys(row(i), keys[j*w:(j+1)*w])
			}
			b.blockMargins(keys[:(end-start)*w], end-start, k, o)
			m.transformBlock(o)
		}
		return
	}
	var rows [batchBlock][]float32
	for start := 0; start < n; start += batchBlock {
		end := min(start+batchBlock, n)
		for i := start; i < end; i++ {
			rows[i-start] = row(i)
		}
		o := out[start*k : end*k]
		m.initBlock(o)
		m.generic.blockMargins(rows[:end-start], m.group, k, o)
		m.transformBlock(o)
	}
}

func (m *Model) initBlock(o []float32) {
	k := m.numOutputs
	for i := 0; i+k <= len(o); i += k {
		copy(o[i:i+k], m.base)
	}
}

func (m *Model) transformBlock(o []float32) {
	k := m.numOutputs
	for i := 0; i+k <= len(o); i += k {
		m.transform(o[i : i+k])
	}
}

func (m *Model) transform(out []float32) {
	switch m.objective {
	case BinaryLogistic:
		out[0] = sigmoid(out[0])
	case MultiSoftprob:
		softmax(out)
	}
}

func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

// sigmoid is xgboost 1.7's common::Sigmoid, in float32.
func sigmoid(x float32) float32 {
	const eps = float32(1e-16)
	x = -x
	if !(x < 88.7) && x == x {
		x = 88.7
	}
	denom := expf(x) + 1 + eps
	return 1 / denom
}

// softmax is xgboost 1.7's common::Softmax: float32 exponentials of the
// margins minus their maximum, divided by their sum (accumulated in double).
func softmax(v []float32) {
	wmax := v[0]
	for _, x := range v[1:] {
		if x > wmax {
			wmax = x
		}
	}
	var wsum float64
	for i, x := range v {
		e := expf(x - wmax)
		v[i] = e
		wsum += float64(e)
	}
	s := float32(wsum)
	for i := range v {
		v[i] /= s
	}
}

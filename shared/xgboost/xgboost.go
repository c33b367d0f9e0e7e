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
// evaluated on any input without panicking or looping. Trees are flattened into
// one packed node slice in breadth-first order (siblings adjacent, children after
// their parent); Predict does not allocate.
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

const (
	defaultLeftBit = uint32(1) << 31
	splitBit       = uint32(1) << 30
	featureMask    = splitBit - 1
	// batchBlock is the number of rows evaluated together, tree by tree, in
	// the batch functions (like xgboost's block of rows): the forest is walked
	// once per block instead of once per row.
	batchBlock = 64
)

// node is one packed tree node. For a split, value is the threshold, child is
// the index of the left child (the right child is child+1) and feature holds
// the split feature index, the splitBit and, if a missing value goes left, the
// defaultLeftBit. A leaf holds its value, its own index as child and feature 0:
// stepping from a leaf stays on it, so every tree is walked with a fixed number
// of steps (its depth) and no leaf test. Children come after their parents.
type node struct {
	value   float32
	feature uint32
	child   uint32
}

// Model is a validated, flattened XGBoost model. It is safe for concurrent use.
type Model struct {
	objective    string
	numFeature   int
	numOutputs   int
	featureNames []string
	version      []int

	nodes []node
	roots []uint32 // root node index per tree, in xgboost's tree order
	group []uint32 // output (class) each tree adds to
	depth []uint32 // depth of each tree (steps from the root to its deepest leaf)
	// quadDepth[q] is the largest depth of trees 4q..4q+3: Predict walks four
	// trees at once, for instruction-level parallelism.
	quadDepth []uint32
	base      []float32
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
func (m *Model) NumTrees() int { return len(m.roots) }

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

// margin writes the row's margins into out: the base margin plus each tree's
// leaf value, added in float32 in tree order (as xgboost does). Trees are
// walked four at a time; only the additions need to be in order.
func (m *Model) margin(x, out []float32) {
	copy(out, m.base)
	nodes, roots, group := m.nodes, m.roots, m.group
	t := 0
	for _, d := range m.quadDepth {
		if t+4 > len(roots) {
			break // the last, partial group of trees is walked one by one
		}
		i0, i1, i2, i3 := roots[t], roots[t+1], roots[t+2], roots[t+3]
		for range d {
			i0 = step(nodes, i0, x)
			i1 = step(nodes, i1, x)
			i2 = step(nodes, i2, x)
			i3 = step(nodes, i3, x)
		}
		out[group[t]] += nodes[i0].value
		out[group[t+1]] += nodes[i1].value
		out[group[t+2]] += nodes[i2].value
		out[group[t+3]] += nodes[i3].value
		t += 4
	}
	for ; t < len(roots); t++ {
		out[group[t]] += leafValue(nodes, roots[t], m.depth[t], x)
	}
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
	k := m.numOutputs
	for start := 0; start < len(rows); start += batchBlock {
		end := min(start+batchBlock, len(rows))
		block := rows[start:end]
		o := out[start*k : end*k]
		m.initBlock(o)
		for t, root := range m.roots {
			g, d := int(m.group[t]), m.depth[t]
			i := 0
			for ; i+4 <= len(block); i += 4 {
				v0, v1, v2, v3 := leafValues4(m.nodes, root, d, block[i], block[i+1], block[i+2], block[i+3])
				o[i*k+g] += v0
				o[(i+1)*k+g] += v1
				o[(i+2)*k+g] += v2
				o[(i+3)*k+g] += v3
			}
			for ; i < len(block); i++ {
				o[i*k+g] += leafValue(m.nodes, root, d, block[i])
			}
		}
		m.transformBlock(o)
	}
	return nil
}

// PredictFlat evaluates a row-major matrix: x holds n rows of NumFeatures
// values each, and out must have n*NumOutputs values. Results equal Predict's
// bit for bit.
func (m *Model) PredictFlat(x, out []float32) error {
	f, k := m.numFeature, m.numOutputs
	if f == 0 {
		if len(x) != 0 {
			return fmt.Errorf("%w: model has no features, got %d values", ErrShape, len(x))
		}
		if len(out)%k != 0 {
			return fmt.Errorf("%w: %d outputs is not a multiple of %d", ErrShape, len(out), k)
		}
		m.initBlock(out)
		m.transformBlock(out)
		return nil
	}
	if len(x)%f != 0 {
		return fmt.Errorf("%w: %d values is not a multiple of %d features", ErrShape, len(x), f)
	}
	n := len(x) / f
	if len(out) != n*k {
		return fmt.Errorf("%w: %d rows need %d outputs, got %d", ErrShape, n, n*k, len(out))
	}
	for start := 0; start < n; start += batchBlock {
		end := min(start+batchBlock, n)
		xb := x[start*f : end*f]
		o := out[start*k : end*k]
		m.initBlock(o)
		nb := end - start
		for t, root := range m.roots {
			g, d := int(m.group[t]), m.depth[t]
			i := 0
			for ; i+4 <= nb; i += 4 {
				v0, v1, v2, v3 := leafValues4(m.nodes, root, d,
					xb[i*f:(i+1)*f], xb[(i+1)*f:(i+2)*f], xb[(i+2)*f:(i+3)*f], xb[(i+3)*f:(i+4)*f])
				o[i*k+g] += v0
				o[(i+1)*k+g] += v1
				o[(i+2)*k+g] += v2
				o[(i+3)*k+g] += v3
			}
			for ; i < nb; i++ {
				o[i*k+g] += leafValue(m.nodes, root, d, xb[i*f:(i+1)*f])
			}
		}
		m.transformBlock(o)
	}
	return nil
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

// step moves from node i to its child for row x: a missing value (NaN) takes
// the default direction, a present one goes left when value < threshold, as in
// xgboost. A leaf steps to itself. The choice is made without branches, which
// avoids mispredicting the data-dependent comparisons.
func step(nodes []node, i uint32, x []float32) uint32 {
	n := nodes[i]
	v := x[n.feature&featureMask]
	var right uint32
	if !(v < n.value) {
		right = 1
	}
	if v != v {
		right = (n.feature >> 31) ^ 1
	}
	return n.child + (right & (n.feature >> 30))
}

// leafValue walks one tree of the given depth from root and returns the value
// of the leaf row x reaches.
func leafValue(nodes []node, root, depth uint32, x []float32) float32 {
	i := root
	for range depth {
		i = step(nodes, i, x)
	}
	return nodes[i].value
}

// leafValues4 walks one tree for four rows at once.
func leafValues4(nodes []node, root, depth uint32, x0, x1, x2, x3 []float32) (float32, float32, float32, float32) {
	i0, i1, i2, i3 := root, root, root, root
	for range depth {
		i0 = step(nodes, i0, x0)
		i1 = step(nodes, i1, x1)
		i2 = step(nodes, i2, x2)
		i3 = step(nodes, i3, x3)
	}
	return nodes[i0].value, nodes[i1].value, nodes[i2].value, nodes[i3].value
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

package xgboost

// Per-feature contributions by exact TreeSHAP (Lundberg, Erion and Lee,
// "Consistent individualized feature attribution for tree ensembles"), as
// xgboost's CPU predictor computes them for predict(pred_contribs=True):
// RegTree::CalculateContributions in xgboost 1.7's src/tree/tree_model.cc,
// ported operation for operation in float32 so the values match xgboost's
// to rounding.

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNoCovers is returned by NewExplainer for a model whose trees do not
// record each node's cover (sum_hessian), which TreeSHAP weighs paths by.
var ErrNoCovers = errors.New("xgboost: the model records no node covers (sum_hessian): contributions need them")

// shapForest is the generic layout's nodes with, in parallel slices, each
// node's cover and the cover-weighted mean of the leaf values below it (the
// tree's expected value at the root). The means are computed when the first
// Explainer is made, not at load: most models loaded are never asked to
// explain, and the means are a pass over the nodes and as much memory as the
// covers.
type shapForest struct {
	nodes     []node
	covers    []float32
	roots     []uint32
	maxDepth  uint32
	meansOnce sync.Once
	means     []float32
}

func newShapForest(g *genericForest, covers []float32) *shapForest {
	s := &shapForest{nodes: g.nodes, covers: covers, roots: g.roots}
	for _, d := range g.depth {
		s.maxDepth = max(s.maxDepth, d)
	}
	return s
}

// nodeMeans returns the nodes' means, computing them on first use.
func (s *shapForest) nodeMeans() []float32 {
	s.meansOnce.Do(func() {
		means := make([]float32, len(s.nodes))
		// Children come after their parents, so walking backwards fills
		// every child's mean before its parent's (xgboost's
		// FillNodeMeanValue, same float32 operations).
		for i := len(s.nodes) - 1; i >= 0; i-- {
			n := s.nodes[i]
			if n.feature&splitBit == 0 {
				means[i] = n.value
				continue
			}
			l, r := n.child, n.child+1
			v := means[l] * s.covers[l]
			v += means[r] * s.covers[r]
			means[i] = v / s.covers[i]
		}
		s.means = means
	})
	return s.means
}

// pathElement is xgboost's PathElement: one feature on the unique path from
// the root, the fractions of the "zero" (feature unknown) and "one" (feature
// known) paths that flow through it, and the permutation weight.
type pathElement struct {
	feature int32
	zero    float32
	one     float32
	pweight float32
}

// Explainer computes contributions for one model with reusable scratch space,
// so that Contributions does not allocate. It is not safe for concurrent use:
// create one per goroutine.
type Explainer struct {
	m     *Model
	means []float32 // m.shap's
	path  []pathElement
	tree  []float32 // one tree's contributions, added to the output per tree as xgboost does
}

// NewExplainer returns an Explainer for m, or ErrNoCovers if m's JSON had no
// sum_hessian.
func (m *Model) NewExplainer() (*Explainer, error) {
	if m.shap == nil {
		return nil, ErrNoCovers
	}
	d := int(m.shap.maxDepth) + 2
	return &Explainer{
		m:     m,
		means: m.shap.nodeMeans(),
		path:  make([]pathElement, d*(d+1)/2),
		tree:  make([]float32, m.numFeature+1),
	}, nil
}

// NumContributions returns the number of values Contributions writes per row:
// NumOutputs × (NumFeatures + 1).
func (m *Model) NumContributions() int { return m.numOutputs * (m.numFeature + 1) }

// Contributions is Explainer.Contributions with a new Explainer (it
// allocates; reuse an Explainer for many rows).
func (m *Model) Contributions(features, out []float32) error {
	e, err := m.NewExplainer()
	if err != nil {
		return err
	}
	return e.Contributions(features, out)
}

// Contributions writes the SHAP values of row features (NumFeatures values,
// NaN missing) into out, which must have NumContributions values, laid out as
// xgboost's pred_contribs: for each output (class) g, NumFeatures
// contributions then the bias, at out[g*(NumFeatures+1):(g+1)*(NumFeatures+1)].
// They are in margin space: each output's values sum to PredictMargin's
// margin, the bias holding the base score plus the trees' expected values.
func (e *Explainer) Contributions(features, out []float32) error {
	m := e.m
	nf := m.numFeature
	if len(features) != nf || len(out) != m.NumContributions() {
		return fmt.Errorf("%w: got %d features and %d contributions, model has %d and %d",
			ErrShape, len(features), len(out), nf, m.NumContributions())
	}
	clear(out)
	s := m.shap
	for g := range m.numOutputs {
		phi := out[g*(nf+1) : (g+1)*(nf+1)]
		for t, root := range s.roots {
			if int(m.group[t]) != g {
				continue
			}
			clear(e.tree)
			e.tree[nf] += e.means[root]
			s.treeShap(features, e.tree, root, 0, e.path, 1, 1, -1, 1)
			for c, v := range e.tree {
				phi[c] += v
			}
		}
		phi[nf] += m.base[g]
	}
	return nil
}

// treeShap is xgboost's RegTree::TreeShap without the interaction
// conditioning: it extends the unique path with the parent's split, and at a
// leaf credits every feature on the path; at a split it follows the branch
// row x takes (hot) and the other (cold), undoing an earlier split on the same
// feature first.
func (s *shapForest) treeShap(x, phi []float32, i uint32, depth int, parentPath []pathElement,
	parentZero, parentOne float32, parentFeature int32, condFraction float32) {
	if condFraction == 0 {
		return
	}
	path := parentPath[depth+1:]
	copy(path[:depth+1], parentPath[:depth+1])
	extendPath(path, depth, parentZero, parentOne, parentFeature)

	n := s.nodes[i]
	if n.feature&splitBit == 0 {
		for k := 1; k <= depth; k++ {
			w := unwoundPathSum(path, depth, k)
			el := path[k]
			phi[el.feature] += w * (el.one - el.zero) * n.value * condFraction
		}
		return
	}

	f := n.feature & featureMask
	left, right := n.child, n.child+1
	hot, cold := right, left
	if v := x[f]; v != v {
		if n.feature&defaultLeftBit != 0 {
			hot, cold = left, right
		}
	} else if v < n.value {
		hot, cold = left, right
	}
	w := s.covers[i]
	hotZero := s.covers[hot] / w
	coldZero := s.covers[cold] / w
	inZero, inOne := float32(1), float32(1)

	k := 0
	for ; k <= depth; k++ {
		if path[k].feature == int32(f) {
			break
		}
	}
	if k != depth+1 {
		inZero, inOne = path[k].zero, path[k].one
		unwindPath(path, depth, k)
		depth--
	}
	s.treeShap(x, phi, hot, depth+1, path, hotZero*inZero, inOne, int32(f), condFraction)
	s.treeShap(x, phi, cold, depth+1, path, coldZero*inZero, 0, int32(f), condFraction)
}

// extendPath is xgboost's ExtendPath.
func extendPath(p []pathElement, depth int, zero, one float32, feature int32) {
	pw := float32(0)
	if depth == 0 {
		pw = 1
	}
	p[depth] = pathElement{feature: feature, zero: zero, one: one, pweight: pw}
	d1 := float32(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		p[i+1].pweight += one * p[i].pweight * float32(i+1) / d1
		p[i].pweight = zero * p[i].pweight * float32(depth-i) / d1
	}
}

// unwindPath is xgboost's UnwindPath: it removes element k from the path.
func unwindPath(p []pathElement, depth, k int) {
	one, zero := p[k].one, p[k].zero
	next := p[depth].pweight
	d1 := float32(depth + 1)
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].pweight
			p[i].pweight = next * d1 / (float32(i+1) * one)
			next = tmp - p[i].pweight*zero*float32(depth-i)/d1
		} else {
			p[i].pweight = p[i].pweight * d1 / (zero * float32(depth-i))
		}
	}
	for i := k; i < depth; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

// unwoundPathSum is xgboost's UnwoundPathSum: the total permutation weight
// the path would have without element k.
func unwoundPathSum(p []pathElement, depth, k int) float32 {
	one, zero := p[k].one, p[k].zero
	next := p[depth].pweight
	d1 := float32(depth + 1)
	var total float32
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * d1 / (float32(i+1) * one)
			total += tmp
			next = p[i].pweight - tmp*zero*(float32(depth-i)/d1)
		} else {
			total += (p[i].pweight / zero) / (float32(depth-i) / d1)
		}
	}
	return total
}

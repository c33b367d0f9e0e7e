package xgboost

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Limits that keep a hostile model from making Load allocate without bound
// beyond the size of its own JSON.
const (
	maxClasses  = 1 << 16
	maxFeatures = int(featureMask) // feature indices share a word with two flag bits
	maxNodes    = 1 << 31
)

// useBlocked lets tests force the generic layout, to check it against the
// blocked one.
var useBlocked = true

// Load reads an XGBoost JSON model from r and validates it. See Parse.
func Load(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("xgboost: reading model: %w", err)
	}
	return Parse(data)
}

// Parse decodes and validates an XGBoost JSON model (the format written by
// Booster.save_model with a .json name). It returns an error, never panics,
// for malformed JSON, unsupported boosters, objectives or split types, and
// structurally invalid trees. The Model keeps nothing of data.
//
// The JSON is read in one pass by a scanner that knows the model's schema
// (decode.go), each tree being validated and flattened as soon as it has been
// read. It accepts what encoding/json accepts when decoding into the schema
// below (keys matched ignoring case, null for an absent value, numbers or
// strings for xgboost's parameters), with two differences: a member named twice
// in an object the model is read from is refused (encoding/json would merge
// the two), and xgboost's own literals for non-finite numbers (NaN, Infinity,
// -Infinity; not JSON, but what xgboost writes for them) are read as if they
// were the strings "NaN", "Infinity" and "-Infinity". reference_test.go holds
// the encoding/json decoder and checks both against each other.
func Parse(data []byte) (*Model, error) {
	var doc jsonModel
	b := new(builder)
	if err := decode(data, &doc, b); err != nil {
		if te := (*treeError)(nil); errors.As(err, &te) {
			return nil, fmt.Errorf("xgboost: invalid model: %w", err)
		}
		return nil, fmt.Errorf("xgboost: decoding model JSON: %w", err)
	}
	m, err := b.build(&doc)
	if err != nil {
		return nil, fmt.Errorf("xgboost: invalid model: %w", err)
	}
	return m, nil
}

// The schema a model is read into (the json tags name the members, which are
// matched ignoring case). The trees of gradient_booster.model are not kept
// here: each goes to the builder as soon as it has been read (Trees is filled
// only by the tests' encoding/json decoder).
type jsonModel struct {
	Learner *jsonLearner `json:"learner"`
	Version []int        `json:"version"`
}

type jsonLearner struct {
	FeatureNames      []string             `json:"feature_names"`
	FeatureTypes      []string             `json:"feature_types"`
	GradientBooster   *jsonGradientBooster `json:"gradient_booster"`
	LearnerModelParam *jsonLearnerParam    `json:"learner_model_param"`
	Objective         *jsonObjective       `json:"objective"`
}

type jsonGradientBooster struct {
	Name  string         `json:"name"`
	Model *jsonGBTree    `json:"model"`
	Dart  *jsonDartInner `json:"gbtree"`
}

type jsonLearnerParam struct {
	BaseScore     *jsonString `json:"base_score"`
	NumClass      *jsonString `json:"num_class"`
	NumFeature    *jsonString `json:"num_feature"`
	NumTarget     *jsonString `json:"num_target"`
	MultiStrategy *jsonString `json:"multi_strategy"`
}

type jsonObjective struct {
	Name string `json:"name"`
}

type jsonDartInner struct {
	Model *jsonGBTree `json:"model"`
}

type jsonGBTree struct {
	Param    *jsonGBTreeParam `json:"gbtree_model_param"`
	TreeInfo []int64          `json:"tree_info"`
	Trees    []jsonTree       `json:"trees"`
}

type jsonGBTreeParam struct {
	NumTrees        *jsonString `json:"num_trees"`
	NumParallelTree *jsonString `json:"num_parallel_tree"`
}

type jsonTree struct {
	ID              *int64         `json:"id"`
	LeftChildren    []int64        `json:"left_children"`
	RightChildren   []int64        `json:"right_children"`
	SplitIndices    []int64        `json:"split_indices"`
	SplitConditions []jsonFloat    `json:"split_conditions"`
	DefaultLeft     []jsonBool     `json:"default_left"`
	SplitType       []int64        `json:"split_type"`
	BaseWeights     []jsonFloat    `json:"base_weights"`
	SumHessian      []jsonFloat    `json:"sum_hessian"`
	Categories      []int64        `json:"categories"`
	CategoriesNodes []int64        `json:"categories_nodes"`
	TreeParam       *jsonTreeParam `json:"tree_param"`
}

type jsonTreeParam struct {
	NumNodes       *jsonString `json:"num_nodes"`
	NumFeature     *jsonString `json:"num_feature"`
	SizeLeafVector *jsonString `json:"size_leaf_vector"`
}

// jsonString is a parameter's text: xgboost writes parameters as strings
// ("5E-1", "0"), other writers may use numbers, whose literal is kept.
type jsonString string

// jsonFloat is a float32 parsed directly from its decimal text (no rounding
// through float64). A string ("NaN", "1.5E0") is accepted too.
type jsonFloat float32

// jsonBool is default_left: 0/1 (xgboost 1.6+ writes integers) or
// true/false.
type jsonBool bool

// parseFloat32 reads a float given as a string (or a number's literal) as
// jsonFloat does: a value beyond float32's range is kept as ±Inf or 0, as
// strconv rounds it.
func parseFloat32(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, fmt.Errorf("bad float %q", s)
		}
	}
	return float32(v), nil
}

func parseInt(field string, s *jsonString, lo, hi int) (int, error) {
	if s == nil {
		return 0, fmt.Errorf("%s is missing", field)
	}
	v, err := strconv.ParseFloat(string(*s), 64)
	if err != nil || v != math.Trunc(v) || v < float64(lo) || v > float64(hi) {
		return 0, fmt.Errorf("%s = %q: want an integer in [%d, %d]", field, string(*s), lo, hi)
	}
	return int(v), nil
}

// parseBaseScore accepts "5E-1" (1.7) and "[5E-1]" or "[a,b,c]" (2.x/3.x).
func parseBaseScore(s *jsonString) ([]float32, error) {
	if s == nil {
		return nil, errors.New("learner_model_param.base_score is missing")
	}
	text := strings.TrimSpace(string(*s))
	var parts []string
	if strings.HasPrefix(text, "[") {
		if !strings.HasSuffix(text, "]") {
			return nil, fmt.Errorf("base_score %q: unterminated vector", text)
		}
		inner := strings.TrimSpace(text[1 : len(text)-1])
		if inner == "" {
			return nil, fmt.Errorf("base_score %q: empty vector", text)
		}
		parts = strings.Split(inner, ",")
	} else {
		parts = []string{text}
	}
	if len(parts) > maxClasses {
		return nil, fmt.Errorf("base_score has %d values", len(parts))
	}
	out := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("base_score %q: value %q is not a finite number", text, p)
		}
		out[i] = float32(v)
	}
	return out, nil
}

// build checks the model's header against the trees the builder has been
// given, and assembles the Model.
func (b *builder) build(doc *jsonModel) (*Model, error) {
	l := doc.Learner
	if l == nil {
		return nil, errors.New(`no "learner" object`)
	}
	if l.Objective == nil || l.Objective.Name == "" {
		return nil, errors.New("learner.objective.name is missing")
	}
	obj := l.Objective.Name
	switch obj {
	case BinaryLogistic, RegSquaredError, MultiSoftprob:
	default:
		return nil, fmt.Errorf("unsupported objective %q (supported: %s, %s, %s)",
			obj, BinaryLogistic, RegSquaredError, MultiSoftprob)
	}
	gb := l.GradientBooster
	if gb == nil {
		return nil, errors.New("learner.gradient_booster is missing")
	}
	if gb.Name != "gbtree" {
		return nil, fmt.Errorf("unsupported booster %q (only gbtree is supported)", gb.Name)
	}
	if gb.Model == nil {
		return nil, errors.New("gradient_booster.model is missing")
	}
	p := l.LearnerModelParam
	if p == nil {
		return nil, errors.New("learner.learner_model_param is missing")
	}
	numFeature, err := parseInt("learner_model_param.num_feature", p.NumFeature, 0, maxFeatures)
	if err != nil {
		return nil, err
	}
	numClass := 0
	if p.NumClass != nil {
		if numClass, err = parseInt("learner_model_param.num_class", p.NumClass, 0, maxClasses); err != nil {
			return nil, err
		}
	}
	if p.NumTarget != nil {
		nt, err := parseInt("learner_model_param.num_target", p.NumTarget, 0, maxClasses)
		if err != nil {
			return nil, err
		}
		if nt > 1 {
			return nil, fmt.Errorf("num_target = %d: multi-target models are not supported", nt)
		}
	}
	if p.MultiStrategy != nil && string(*p.MultiStrategy) != "one_output_per_tree" && string(*p.MultiStrategy) != "0" {
		return nil, fmt.Errorf("multi_strategy %q is not supported", string(*p.MultiStrategy))
	}
	outputs := 1
	if obj == MultiSoftprob {
		if numClass < 2 {
			return nil, fmt.Errorf("objective %s needs num_class >= 2, got %d", obj, numClass)
		}
		outputs = numClass
	} else if numClass > 1 {
		return nil, fmt.Errorf("objective %s with num_class = %d", obj, numClass)
	}
	if len(l.FeatureNames) != 0 && len(l.FeatureNames) != numFeature {
		return nil, fmt.Errorf("%d feature_names for num_feature = %d", len(l.FeatureNames), numFeature)
	}
	for i, t := range l.FeatureTypes {
		if t == "c" {
			return nil, fmt.Errorf("feature %d is categorical: categorical features are not supported", i)
		}
	}

	scores, err := parseBaseScore(p.BaseScore)
	if err != nil {
		return nil, err
	}
	if len(scores) != 1 && len(scores) != outputs {
		return nil, fmt.Errorf("base_score has %d values for %d outputs", len(scores), outputs)
	}
	base := make([]float32, outputs)
	for i := range base {
		s := scores[0]
		if len(scores) > 1 {
			s = scores[i]
		}
		if obj == BinaryLogistic {
			// LogisticRegression::ProbToMargin, in float32.
			if !(s > 0 && s < 1) {
				return nil, fmt.Errorf("base_score %v: must be in (0, 1) for %s", s, obj)
			}
			s = -float32(math.Log(float64(1/s - 1)))
		}
		base[i] = s
	}

	g := gb.Model
	trees := b.trees
	if g.Param != nil && g.Param.NumTrees != nil {
		nt, err := parseInt("gbtree_model_param.num_trees", g.Param.NumTrees, 0, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		if nt != len(trees) {
			return nil, fmt.Errorf("gbtree_model_param.num_trees = %d but %d trees", nt, len(trees))
		}
	}
	if len(g.TreeInfo) != len(trees) {
		return nil, fmt.Errorf("tree_info has %d entries for %d trees", len(g.TreeInfo), len(trees))
	}
	// xgboost places each tree by its id; require the ids to be a permutation.
	order := make([]int, len(trees))
	for i := range order {
		order[i] = -1
	}
	inOrder := true
	for i, t := range trees {
		if t.id < 0 || t.id >= int64(len(trees)) || order[t.id] >= 0 {
			return nil, fmt.Errorf("tree at position %d has id %d: ids must be 0..%d, each once", i, t.id, len(trees)-1)
		}
		order[t.id] = i
		inOrder = inOrder && t.id == int64(i)
	}
	if b.total >= maxNodes {
		return nil, fmt.Errorf("%d nodes in all: too many", b.total)
	}
	for id, pos := range order {
		t := &trees[pos]
		gid := g.TreeInfo[id]
		if gid < 0 || gid >= int64(outputs) {
			return nil, fmt.Errorf("tree_info[%d] = %d: want a class in [0, %d)", id, gid, outputs)
		}
		if t.maxFeature >= int64(numFeature) {
			return nil, fmt.Errorf("tree %d: split index %d out of range (num_feature = %d)", id, t.maxFeature, numFeature)
		}
	}
	withCovers := !b.noCovers
	if withCovers && b.coverErr != nil {
		return nil, b.coverErr
	}

	m := &Model{
		objective:  obj,
		numFeature: numFeature,
		numOutputs: outputs,
		// Empty lists are kept as nil, as the compiled form reads them back.
		featureNames: nilIfEmpty(l.FeatureNames),
		version:      nilIfEmpty(doc.Version),
		numTrees:     len(trees),
		group:        make([]uint32, len(trees)),
		base:         base,
	}
	gen := &genericForest{
		nodes:     b.nodes,
		roots:     make([]uint32, len(trees)),
		depth:     make([]uint32, len(trees)),
		quadDepth: make([]uint32, (len(trees)+3)/4),
	}
	covers := b.covers
	if !inOrder {
		gen.nodes, covers = b.reorder(order)
	}
	next := uint32(0)
	for id, pos := range order {
		t := &trees[pos]
		m.group[id] = uint32(g.TreeInfo[id])
		gen.roots[id] = next
		gen.depth[id] = t.depth
		gen.quadDepth[id/4] = max(gen.quadDepth[id/4], t.depth)
		next += t.end - t.start
	}
	m.trees = gen
	if withCovers {
		m.shap = newShapForest(gen, covers)
	}
	if useBlocked {
		m.blocked = newBlockedForest(gen, m.group)
	}
	if m.blocked == nil {
		m.generic = gen
	}
	return m, nil
}

// builder receives the trees of gradient_booster.model one at a time, in the
// order of the JSON, and flattens each as it comes (so that the arrays of only
// one tree are ever held); build then checks what needs the whole model.
type builder struct {
	nodes []node // the trees' nodes, tree after tree in the order given
	// covers parallels nodes while every tree given had sum_hessian;
	// noCovers is set once one had not (a model without covers loads, but
	// cannot explain). coverErr is the first bad cover seen: an error only if
	// every tree has covers.
	covers   []float32
	noCovers bool
	coverErr error
	trees    []builtTree
	total    int // nodes in all, reachable or not
	scratch  flattenScratch
}

// builtTree is where a flattened tree is in builder.nodes, and what build
// checks against the header.
type builtTree struct {
	id         int64 // its id, or its position when it has none
	start, end uint32
	depth      uint32
	maxFeature int64 // the largest split index, -1 for a single leaf
}

// treeError is a tree that cannot be flattened: the model is invalid whatever
// the rest of the JSON holds.
type treeError struct {
	id  int64
	err error
}

func (e *treeError) Error() string { return fmt.Sprintf("tree %d: %v", e.id, e.err) }
func (e *treeError) Unwrap() error { return e.err }

// reserve sizes the node slices once the first tree has been read, from the
// bytes it took (first) and those from its start to the end of the JSON
// (rest): trees of one model take about as many bytes per node, and most of a
// model's JSON is trees. A node takes at least 10 bytes in any valid JSON
// (five arrays with an entry each), which bounds what a hostile one can make
// it reserve.
func (b *builder) reserve(rest, first int) {
	if first <= 0 || len(b.nodes) == 0 {
		return
	}
	n := int(float64(len(b.nodes)) * float64(rest) / float64(first) * 1.05)
	n = min(n, len(b.nodes)+rest/10)
	b.nodes = slices.Grow(b.nodes, n-len(b.nodes))
	if !b.noCovers {
		b.covers = slices.Grow(b.covers, n-len(b.covers))
	}
}

// addTree validates tree t and appends its nodes (and covers). It checks the
// split indices against the largest number of features a model may have: the
// model's own num_feature is checked in build.
func (b *builder) addTree(t *jsonTree) error {
	id := int64(len(b.trees))
	if t.ID != nil {
		id = *t.ID
	}
	b.total += len(t.LeftChildren)
	start := len(b.nodes)
	if start >= maxNodes {
		return &treeError{id, fmt.Errorf("%d nodes before it: too many", start)}
	}
	nodes, depth, err := flatten(b.nodes, t, maxFeatures, &b.scratch)
	if err != nil {
		return &treeError{id, err}
	}
	b.nodes = nodes
	maxFeature := b.scratch.maxFeature
	if !b.noCovers {
		if len(t.SumHessian) == 0 {
			b.covers, b.noCovers, b.coverErr = nil, true, nil
		} else {
			var err error
			if b.covers, err = appendCovers(b.covers, t, b.scratch.queue); err != nil && b.coverErr == nil {
				b.coverErr = fmt.Errorf("tree %d: %w", id, err)
			}
			// After a bad cover the covers no longer parallel the nodes;
			// they will not be used.
		}
	}
	b.trees = append(b.trees, builtTree{id: id, start: uint32(start), end: uint32(len(nodes)), depth: depth, maxFeature: maxFeature})
	return nil
}

// reorder returns the nodes and covers with the trees in the order given (the
// position of the tree of each id), their child indices moved with them.
func (b *builder) reorder(order []int) ([]node, []float32) {
	nodes := make([]node, 0, len(b.nodes))
	var covers []float32
	if !b.noCovers {
		covers = make([]float32, 0, len(b.covers))
	}
	for _, pos := range order {
		t := b.trees[pos]
		shift := uint32(len(nodes)) - t.start // modulo 2^32, as the indices
		for _, n := range b.nodes[t.start:t.end] {
			n.child += shift
			nodes = append(nodes, n)
		}
		if covers != nil {
			covers = append(covers, b.covers[t.start:t.end]...)
		}
	}
	return nodes, covers
}

type flattenScratch struct {
	newIndex []int32
	queue    []int32
	depth    []uint32
	// maxFeature is the largest split index of the tree flatten has just
	// flattened, -1 if it has no splits.
	maxFeature int64
}

// flatten validates one tree and appends its reachable nodes to dst in
// breadth-first order, with each node's two children adjacent. It returns the
// tree's depth too.
func flatten(dst []node, t *jsonTree, numFeature int, s *flattenScratch) ([]node, uint32, error) {
	n := len(t.LeftChildren)
	if n == 0 {
		return dst, 0, errors.New("tree has no nodes")
	}
	if t.TreeParam != nil {
		nn, err := parseInt("tree_param.num_nodes", t.TreeParam.NumNodes, 0, math.MaxInt32)
		if err != nil {
			return dst, 0, err
		}
		if nn != n {
			return dst, 0, fmt.Errorf("tree_param.num_nodes = %d but left_children has %d entries", nn, n)
		}
		if t.TreeParam.SizeLeafVector != nil {
			slv, err := parseInt("tree_param.size_leaf_vector", t.TreeParam.SizeLeafVector, 0, math.MaxInt32)
			if err != nil {
				return dst, 0, err
			}
			if slv > 1 {
				return dst, 0, fmt.Errorf("size_leaf_vector = %d: vector leaves are not supported", slv)
			}
		}
	}
	for _, a := range []struct {
		name string
		n    int
	}{
		{"right_children", len(t.RightChildren)},
		{"split_indices", len(t.SplitIndices)},
		{"split_conditions", len(t.SplitConditions)},
		{"default_left", len(t.DefaultLeft)},
	} {
		if a.n != n {
			return dst, 0, fmt.Errorf("%s has %d entries, left_children has %d", a.name, a.n, n)
		}
	}
	for _, a := range []struct {
		name string
		n    int
	}{
		{"split_type", len(t.SplitType)},
		{"base_weights", len(t.BaseWeights)},
		{"sum_hessian", len(t.SumHessian)},
	} {
		if a.n != 0 && a.n != n {
			return dst, 0, fmt.Errorf("%s has %d entries, left_children has %d", a.name, a.n, n)
		}
	}
	if len(t.Categories) != 0 || len(t.CategoriesNodes) != 0 {
		return dst, 0, errors.New("categorical splits are not supported")
	}

	if cap(s.newIndex) < n {
		s.newIndex = make([]int32, n)
	}
	newIndex := s.newIndex[:n]
	for i := range newIndex {
		newIndex[i] = -1
	}
	if cap(s.depth) < n {
		s.depth = make([]uint32, n)
	}
	depthOf := s.depth[:n] // by position in the new order
	depthOf[0] = 0
	maxDepth := uint32(0)
	base := len(dst)
	queue := append(s.queue[:0], 0)
	newIndex[0] = 0
	next := int32(1) // next free position, relative to base
	maxFeature := int64(-1)
	// Nodes are appended in queue order, so node queue[qi] lands at base+qi.
	for qi := 0; qi < len(queue); qi++ {
		old := queue[qi]
		maxDepth = max(maxDepth, depthOf[qi])
		l, r := t.LeftChildren[old], t.RightChildren[old]
		if l == -1 || r == -1 {
			if l != r {
				return dst, 0, fmt.Errorf("node %d: left child %d, right child %d: a leaf has neither", old, l, r)
			}
			v := float32(t.SplitConditions[old])
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return dst, 0, fmt.Errorf("node %d: leaf value %v is not finite", old, v)
			}
			dst = append(dst, node{value: v, child: uint32(base + qi)})
			continue
		}
		if l < 0 || l >= int64(n) || r < 0 || r >= int64(n) {
			return dst, 0, fmt.Errorf("node %d: child index out of range (left %d, right %d, %d nodes)", old, l, r, n)
		}
		if l == r {
			return dst, 0, fmt.Errorf("node %d: left and right child are both %d", old, l)
		}
		if len(t.SplitType) != 0 && t.SplitType[old] != 0 {
			return dst, 0, fmt.Errorf("node %d: split_type %d: categorical splits are not supported", old, t.SplitType[old])
		}
		f := t.SplitIndices[old]
		if f < 0 || f >= int64(numFeature) {
			return dst, 0, fmt.Errorf("node %d: split index %d out of range (num_feature = %d)", old, f, numFeature)
		}
		maxFeature = max(maxFeature, f)
		thr := float32(t.SplitConditions[old])
		if thr != thr {
			return dst, 0, fmt.Errorf("node %d: split condition is NaN", old)
		}
		for _, c := range [2]int64{l, r} {
			if newIndex[c] >= 0 {
				return dst, 0, fmt.Errorf("node %d: child %d is reached twice (cycle or shared node)", old, c)
			}
			newIndex[c] = next
			depthOf[next] = depthOf[qi] + 1
			next++
			queue = append(queue, int32(c))
		}
		feat := uint32(f) | splitBit
		if t.DefaultLeft[old] {
			feat |= defaultLeftBit
		}
		dst = append(dst, node{value: thr, feature: feat, child: uint32(base) + uint32(newIndex[l])})
	}
	s.queue = queue
	s.maxFeature = maxFeature
	return dst, maxDepth, nil
}

// appendCovers appends the covers (sum_hessian) of a tree flatten has just
// validated, in flatten's order (queue holds the old index of each new node).
func appendCovers(dst []float32, t *jsonTree, queue []int32) ([]float32, error) {
	for _, old := range queue {
		c := float32(t.SumHessian[old])
		if !(c >= 0 && c <= math.MaxFloat32) {
			return dst, fmt.Errorf("node %d: sum_hessian %v is not a finite number >= 0", old, c)
		}
		dst = append(dst, c)
	}
	return dst, nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

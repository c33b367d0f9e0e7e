package xgboost

// The generic layout holds any tree: each tree's reachable nodes in
// breadth-first order (siblings adjacent, children after their parent), each
// node with the index of its left child. It is what Parse builds first, and
// what a Model keeps when its trees do not fit the blocked layout (too deep to
// pad to complete trees, or too many features; see blocked.go).

const (
	defaultLeftBit = uint32(1) << 31
	splitBit       = uint32(1) << 30
	featureMask    = splitBit - 1
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

type genericForest struct {
	nodes []node
	roots []uint32 // root node index per tree, in xgboost's tree order
	depth []uint32 // depth of each tree (steps from the root to its deepest leaf)
	// quadDepth[q] is the largest depth of trees 4q..4q+3: margin walks four
	// trees at once, for instruction-level parallelism.
	quadDepth []uint32
}

// margin adds each tree's leaf value for row x to out[group[tree]], in tree
// order. Trees are walked four at a time; only the additions need to be in
// order.
func (g *genericForest) margin(x []float32, group []uint32, out []float32) {
	nodes, roots := g.nodes, g.roots
	t := 0
	for _, d := range g.quadDepth {
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
		out[group[t]] += leafValue(nodes, roots[t], g.depth[t], x)
	}
}

// blockMargins adds the trees' leaf values for a block of rows to o (k
// outputs per row), tree by tree, four rows at a time.
func (g *genericForest) blockMargins(rows [][]float32, group []uint32, k int, o []float32) {
	for t, root := range g.roots {
		gr, d := int(group[t]), g.depth[t]
		i := 0
		for ; i+4 <= len(rows); i += 4 {
			v0, v1, v2, v3 := leafValues4(g.nodes, root, d, rows[i], rows[i+1], rows[i+2], rows[i+3])
			o[i*k+gr] += v0
			o[(i+1)*k+gr] += v1
			o[(i+2)*k+gr] += v2
			o[(i+3)*k+gr] += v3
		}
		for ; i < len(rows); i++ {
			o[i*k+gr] += leafValue(g.nodes, root, d, rows[i])
		}
	}
}

// step moves from node i to its child for row x: a missing value (NaN) takes
// the default direction, a present one goes left when value < threshold, as in
// xgboost. A leaf steps to itself. The choice is computed, not branched on:
// about one value in ten may be missing, and a mispredicted branch would also
// throw away the other trees' loads in flight.
func step(nodes []node, i uint32, x []float32) uint32 {
	n := nodes[i]
	v := x[n.feature&featureMask]
	// !(NaN < t) is true, so a missing value goes right unless the
	// default-left bit flips it.
	right := b2u(!(v < n.value)) ^ (b2u(v != v) & (n.feature >> 31))
	return n.child + (right & (n.feature >> 30))
}

// b2u is 1 for true and 0 for false (compiled to a SETcc, without a branch).
func b2u(b bool) uint32 {
	var u uint32
	if b {
		u = 1
	}
	return u
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

package xgboost

import (
	"math"
	"slices"
	"unsafe"
)

// The blocked layout is what makes Predict fast on large forests. A walk
// through a tree is a chain of dependent loads, and for a model larger than
// the CPU's L2 cache most of them miss it; the time per row is then set by how
// many cache lines each walk touches and how many walks are in flight at once.
// This layout touches one cache line per three tree levels (the generic one
// about one per level below the fourth) and is walked eight trees at a time.
//
// Each tree is padded to a complete binary tree of its group's depth (a leaf
// above the last level is repeated below itself, under padding splits that send
// every row right), so children need no stored index. The levels are
// cut into blocks of three: a block is a complete subtree of up to seven nodes
// in one 64-byte line of eight slots, the node in slot j having its children in
// slots 2j and 2j+1 (slot 0 is unused). A tree's blocks are numbered breadth
// first, eight children each: the child of block b through exit e (0..7) is
// block 8b+1+e. Blocks are line aligned, so a slot's index a within the whole
// slice gives its place in its block as a%8, and one step down is
// a + a%8 + right. Leaving a block after its third level (relative position
// p = 8b+8+e) enters the child block at slot 8(8b+1+e)+1 = 8p-55. Leaves sit
// in the slots a walk ends on: inside the last block when the depth is not a
// multiple of three, else in extra lines after the blocks (see treeShape).
//
// Comparisons are made on int32 order keys instead of float32: a row's values
// are converted once (orderKey), missing ones to a key that sorts after every
// threshold where a missing value goes right and before every threshold where
// it goes left. Each split then reads one of the row's keys and compares two
// integers, with no NaN test in the chain of dependent steps.
//
// Trees are walked in groups of eight, padded to the group's deepest tree; the
// last group is filled up with trees whose every leaf is -0, which leave any
// sum unchanged (x + -0 == x for every float32 x, including -0).

// slot is one 8-byte cell of the blocked layout. For a split, key is the order
// key of the threshold and feat the index of the row key it is compared with
// (right when the row's key >= key). For a leaf, key holds the bits of the leaf
// value. An unused slot is zero.
type slot struct {
	key  int32
	feat uint32
}

const (
	blockSlots  = 8 // slots per block: one 64-byte cache line
	blockLevels = 3 // tree levels per block: 7 nodes in slots 1..7
	groupTrees  = 8 // trees walked at once by Predict

	// Rows need two keys per feature used, held on the stack: up to
	// smallRowKeys in a small array, else up to maxRowKeys; batches hold
	// batchRowKeys, for as many rows as fit (at most batchBlock).
	smallRowKeys = 64
	maxRowKeys   = 512
	batchRowKeys = 2048

	// A model keeps the generic layout if its splits use more than
	// maxRowKeys/2 features, if a tree is deeper than maxBlockedDepth, or if
	// the padded trees would take more than blockedGrowth times the memory of
	// the generic layout and more than blockedMinBudget bytes.
	maxBlockedDepth  = 18
	blockedGrowth    = 4
	blockedMinBudget = 8 << 20
)

// treeShape describes the trees of one group, all padded to the same depth.
type treeShape struct {
	depth     uint32 // levels of splits; the leaves are below the last one
	leafShift uint32 // added to the slot a walk ends on to find the leaf
	slots     uint32 // slots per tree
}

func newTreeShape(depth uint32) treeShape {
	if depth == 0 {
		return treeShape{slots: blockSlots} // the leaf is in slot 1
	}
	levels := (depth + blockLevels - 1) / blockLevels
	blocks, perLevel := uint32(0), uint32(1)
	for range levels {
		blocks += perLevel
		perLevel *= blockSlots
	}
	lastLevel := perLevel / blockSlots // blocks in the last level of blocks
	s := treeShape{depth: depth}
	if depth%blockLevels == 0 {
		// A walk leaves the last block as if into a child block (relative
		// position p = 8b+8+e, e the exit): the leaves follow the blocks, eight
		// per line in the order of the last level's blocks, at p + 8(n-1) for
		// n blocks in that level.
		blocks += lastLevel
		s.leafShift = blockSlots * (lastLevel - 1)
	}
	s.slots = blockSlots * blocks
	return s
}

type blockedForest struct {
	slots  []slot
	roots  []uint32    // first slot of each tree, filler trees included
	out    []uint32    // output each tree adds to, filler trees included
	shapes []treeShape // one per group of groupTrees trees
	// keyFeatures lists the features splits use; row key u (missing: sorts
	// last) and u+len(keyFeatures) (missing: sorts first) are for feature
	// keyFeatures[u].
	keyFeatures []uint32
}

// orderKey maps a float32 that is not NaN to an int32 in the same order: a < b
// exactly when orderKey(a) < orderKey(b), and -0 and +0 both map to 0. The keys
// lie in [-0x7F800000, 0x7F800000] (the infinities), so MinInt32 and MaxInt32
// are free for missing values.
func orderKey(v float32) int32 {
	b := math.Float32bits(v)
	mag := int32(b &^ (1 << 31))
	neg := int32(b) >> 31 // 0, or -1 for a negative sign
	return (mag ^ neg) - neg
}

// rowKeysLen is the number of keys a row needs.
func (b *blockedForest) rowKeysLen() int { return 2 * len(b.keyFeatures) }

// rowKeys writes row x's keys into keys (rowKeysLen values).
func (b *blockedForest) rowKeys(x []float32, keys []int32) {
	u := len(b.keyFeatures)
	last, first := keys[:u], keys[u:2*u]
	for i, f := range b.keyFeatures {
		v := x[f]
		k := orderKey(v)
		hi, lo := k, k
		if v != v {
			hi, lo = math.MaxInt32, math.MinInt32
		}
		last[i], first[i] = hi, lo
	}
}

// down takes one step from slot a: to the right child when the row's key is
// at least the split's, else to the left one (slot a + a%8 is the left child
// of the node in slot a, see the layout above).
func down(slots []slot, a uint32, keys []int32) uint32 {
	s := slots[a]
	return a + a%blockSlots + b2u(keys[s.feat] >= s.key)
}

// enter moves from the slot a walk reaches on leaving a block of the tree whose
// first slot is root to the first slot of the child block: 8p-55 in positions
// relative to root.
func enter(a, root uint32) uint32 { return 8*a - 7*root - 55 }

func leafAt(slots []slot, a uint32) float32 { return math.Float32frombits(uint32(slots[a].key)) }

// margin adds each tree's leaf value for row x to out, in tree order, using
// keys (rowKeysLen values) as scratch.
func (b *blockedForest) margin(x []float32, keys []int32, out []float32) {
	b.rowKeys(x, keys)
	b.addGroups(0, len(b.shapes), keys, out)
}

// blockMargins adds the trees' leaf values for n rows to o (k outputs per row).
// keys holds the rows' keys one after the other. It goes group of trees by
// group, each group for all the rows, so that the group's blocks stay in cache
// while the rows use them; each row still adds its trees' values in tree order.
func (b *blockedForest) blockMargins(keys []int32, n int, k int, o []float32) {
	w := b.rowKeysLen()
	for g := range b.shapes {
		for i := range n {
			b.addGroups(g, g+1, keys[i*w:(i+1)*w], o[i*k:(i+1)*k])
		}
	}
}

// addGroups walks the trees of groups first to last-1 for the row whose keys
// are given and adds their leaf values to out, in tree order. The eight walks
// of a group are independent chains of loads, so the CPU overlaps their cache
// misses.
func (b *blockedForest) addGroups(first, last int, keys []int32, out []float32) {
	slots := b.slots
	for g := first; g < last; g++ {
		s := b.shapes[g]
		t := g * groupTrees
		r := b.roots[t : t+groupTrees : t+groupTrees]
		a0, a1, a2, a3 := r[0]+1, r[1]+1, r[2]+1, r[3]+1
		a4, a5, a6, a7 := r[4]+1, r[5]+1, r[6]+1, r[7]+1
		for lvl := uint32(1); lvl <= s.depth; lvl++ {
			a0 = down(slots, a0, keys)
			a1 = down(slots, a1, keys)
			a2 = down(slots, a2, keys)
			a3 = down(slots, a3, keys)
			a4 = down(slots, a4, keys)
			a5 = down(slots, a5, keys)
			a6 = down(slots, a6, keys)
			a7 = down(slots, a7, keys)
			if lvl%blockLevels == 0 && lvl < s.depth {
				a0, a1, a2, a3 = enter(a0, r[0]), enter(a1, r[1]), enter(a2, r[2]), enter(a3, r[3])
				a4, a5, a6, a7 = enter(a4, r[4]), enter(a5, r[5]), enter(a6, r[6]), enter(a7, r[7])
			}
		}
		sh := s.leafShift
		if len(out) == 1 {
			// One output: the same additions, in a register rather than
			// through memory (a store-to-load round trip per tree).
			v := out[0]
			v += leafAt(slots, a0+sh)
			v += leafAt(slots, a1+sh)
			v += leafAt(slots, a2+sh)
			v += leafAt(slots, a3+sh)
			v += leafAt(slots, a4+sh)
			v += leafAt(slots, a5+sh)
			v += leafAt(slots, a6+sh)
			v += leafAt(slots, a7+sh)
			out[0] = v
			continue
		}
		o := b.out[t : t+groupTrees : t+groupTrees]
		out[o[0]] += leafAt(slots, a0+sh)
		out[o[1]] += leafAt(slots, a1+sh)
		out[o[2]] += leafAt(slots, a2+sh)
		out[o[3]] += leafAt(slots, a3+sh)
		out[o[4]] += leafAt(slots, a4+sh)
		out[o[5]] += leafAt(slots, a5+sh)
		out[o[6]] += leafAt(slots, a6+sh)
		out[o[7]] += leafAt(slots, a7+sh)
	}
}

// newBlockedForest lays out the trees of g (with group[t] the output of tree
// t) in the blocked layout, or returns nil if they do not fit it: too deep, too
// many features used, or padding that would take too much memory.
func newBlockedForest(g *genericForest, group []uint32) *blockedForest {
	keys := newKeyMap(g.nodes)
	used := keys.used
	if 2*len(used) > maxRowKeys {
		return nil
	}

	numTrees := len(g.roots)
	groups := (numTrees + groupTrees - 1) / groupTrees
	padded := groups * groupTrees
	shapes := make([]treeShape, groups)
	total := 0
	for i := range shapes {
		d := uint32(0)
		for t := i * groupTrees; t < min((i+1)*groupTrees, numTrees); t++ {
			d = max(d, g.depth[t])
		}
		if d > maxBlockedDepth {
			return nil
		}
		shapes[i] = newTreeShape(d)
		total += groupTrees * int(shapes[i].slots)
	}
	budget := max(blockedMinBudget, blockedGrowth*len(g.nodes)*int(unsafe.Sizeof(node{})))
	if total*int(unsafe.Sizeof(slot{})) > budget || total >= maxNodes {
		return nil
	}

	b := &blockedForest{
		slots:       alignedSlots(total),
		roots:       make([]uint32, padded),
		out:         make([]uint32, padded),
		shapes:      shapes,
		keyFeatures: used,
	}
	copy(b.out, group)
	// A filler tree is a single leaf of value -0.
	filler := []node{{value: float32(math.Copysign(0, -1))}}
	next := uint32(0)
	for t := range padded {
		s := shapes[t/groupTrees]
		nodes, root := filler, uint32(0)
		if t < numTrees {
			nodes, root = g.nodes, g.roots[t]
		}
		b.roots[t] = next
		pl := placer{dst: b.slots[next : next+s.slots], s: s, nodes: nodes, keys: &keys}
		pl.place(root, 1, 0)
		next += s.slots
	}
	return b
}

// keyMap gives the row key a split compares with (see keyFeatures).
type keyMap struct {
	used []uint32 // the features splits use, in order
	// index[f] is the place of feature f in used, when the features are
	// few enough to index (else nil: binary search).
	index []uint32
}

// maxIndexedFeature bounds the table of keyMap.index (256 KiB).
const maxIndexedFeature = 1 << 16

func newKeyMap(nodes []node) keyMap {
	maxFeature := -1
	for _, n := range nodes {
		if n.feature&splitBit != 0 {
			maxFeature = max(maxFeature, int(n.feature&featureMask))
		}
	}
	var k keyMap
	if maxFeature < maxIndexedFeature {
		k.index = make([]uint32, maxFeature+1)
		for _, n := range nodes {
			if n.feature&splitBit != 0 {
				k.index[n.feature&featureMask] = 1
			}
		}
		for f, isUsed := range k.index {
			if isUsed != 0 {
				k.index[f] = uint32(len(k.used))
				k.used = append(k.used, uint32(f))
			}
		}
		return k
	}
	for _, n := range nodes {
		if n.feature&splitBit != 0 {
			k.used = append(k.used, n.feature&featureMask)
		}
	}
	slices.Sort(k.used)
	k.used = slices.Compact(k.used)
	return k
}

// of returns the key for a split's feature word: its feature's place in used,
// plus len(used) when a missing value goes left.
func (k *keyMap) of(feature uint32) uint32 {
	f := feature & featureMask
	var i uint32
	if k.index != nil {
		i = k.index[f]
	} else {
		j, _ := slices.BinarySearch(k.used, f)
		i = uint32(j)
	}
	if feature&defaultLeftBit != 0 {
		i += uint32(len(k.used))
	}
	return i
}

// padding is the split placed below a leaf that is above the last level: any
// row key is >= MinInt32, so every row goes right, and a batch of rows reaching
// the leaf touches one path of padding, not all of it.
var padding = slot{key: math.MinInt32}

// placer writes one tree in the blocked layout: dst is the tree's slots,
// s its shape.
type placer struct {
	dst   []slot
	s     treeShape
	nodes []node
	keys  *keyMap
}

// place writes generic node i, at level lvl (0 for the root), to slot p of
// the tree, and then its subtree. A leaf above the last level is placed again
// as both children of a padding split.
func (t *placer) place(i, p, lvl uint32) {
	n := t.nodes[i]
	if lvl == t.s.depth {
		t.dst[p+t.s.leafShift] = slot{key: int32(math.Float32bits(n.value))}
		return
	}
	split, left, right := padding, i, i
	if n.feature&splitBit != 0 {
		split = slot{key: orderKey(n.value), feat: t.keys.of(n.feature)}
		left, right = n.child, n.child+1
	}
	t.dst[p] = split
	cl := p + p%blockSlots // the left child's slot, as in down
	cr := cl + 1
	if (lvl+1)%blockLevels == 0 && lvl+1 < t.s.depth {
		cl, cr = enter(cl, 0), enter(cr, 0)
	}
	t.place(left, cl, lvl+1)
	t.place(right, cr, lvl+1)
}

// alignedSlots returns n zero slots starting on a 64-byte boundary, so that
// every block is one cache line.
func alignedSlots(n int) []slot {
	const line = blockSlots * int(unsafe.Sizeof(slot{}))
	buf := make([]slot, n+blockSlots-1)
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % uintptr(line)); r != 0 {
		off = (line - r) / int(unsafe.Sizeof(slot{}))
	}
	return buf[off : off+n : off+n]
}

package xgboost

// The compiled form of a Model: the arrays a parsed Model holds, written as
// they are in memory (little-endian), so that loading one is a few large
// copies and a validation pass instead of a parse. It exists for cold starts:
// on a 1000-tree model the JSON parse is most of a serving process's first
// load. It is an internal format of this package, versioned by its header,
// and trusted only as far as ParseCompiled validates it: a hostile file gives
// an error, never a panic or an out-of-range read, as a hostile JSON model
// does. Whoever stores one records its SHA-256 (the registry does), so that a
// reader knows it is the one written from a verified model.json.
//
// Layout (every integer a little-endian uint32 unless said; a string is its
// length then its bytes; an array of n items is n, then the items, except
// where n is known from before):
//
//	magic "mlopsxgb", format version (CompiledVersion), flags
//	objective (string), num_feature, num_outputs, num_trees
//	version: n, n int32s; feature names: n, n strings
//	base: num_outputs float32s; group: num_trees values
//	nodes: n, padding, n × (value float32, feature, child); roots: num_trees values
//	flagCovers:  padding, covers: one float32 per node
//
// The padding (zeros) puts the two large arrays at multiples of 64 bytes from
// the start, so that a reader on a little-endian machine whose buffer is so
// aligned uses them where they lie, without copying: the memory a process
// touches for the first time is much of what a cold start costs.
//
// flagBlocked says that the Model predicts with the blocked layout
// (blocked.go); it is laid out again at load from the nodes, as Parse lays it
// out, rather than stored. Version 1 stored it: the padded complete trees are
// most of a deep model's bytes (4.7 of 7.4 MB for 1000 trees of depth 8), and
// fetching, hashing and first touching them cost a cold start more than laying
// them out does (about 6 ms). What else is derived from the nodes (depths, the
// SHAP forest's means) is recomputed too.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// CompiledVersion is the version of the compiled form MarshalBinary writes
// and ParseCompiled reads.
const CompiledVersion = 2

const compiledMagic = "mlopsxgb"

const (
	flagCovers  = 1 << 1 // the nodes' covers (the Model can explain)
	flagBlocked = 1 << 2 // the blocked layout predicts (else the generic one)
	knownFlags  = flagCovers | flagBlocked
)

// nodeBytes is the size of a node, as stored.
const nodeBytes = 12

// littleEndian is whether this machine stores numbers as the compiled form
// does, so that arrays are copied as bytes (amd64, arm64) rather than decoded
// value by value.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// MarshalBinary writes the Model's compiled form (see ParseCompiled). The
// bytes are a function of the Model alone: the same model.json always
// compiles to the same bytes with one version of this package.
func (m *Model) MarshalBinary() ([]byte, error) {
	nodes, roots := m.trees.nodes, m.trees.roots
	flags := uint32(0)
	if m.shap != nil {
		flags |= flagCovers
	}
	if m.blocked != nil {
		flags |= flagBlocked
	}
	size := 3*compiledAlign + len(m.objective) + 4*(len(m.version)+len(m.base)+len(m.group)+len(roots)) + nodeBytes*len(nodes)
	for _, n := range m.featureNames {
		size += 4 + len(n)
	}
	if m.shap != nil {
		size += 4 * len(m.shap.covers)
	}
	w := make([]byte, 0, size)
	le := binary.LittleEndian
	w = append(w, compiledMagic...)
	w = le.AppendUint32(w, CompiledVersion)
	w = le.AppendUint32(w, flags)
	w = appendString(w, m.objective)
	w = le.AppendUint32(w, uint32(m.numFeature))
	w = le.AppendUint32(w, uint32(m.numOutputs))
	w = le.AppendUint32(w, uint32(m.numTrees))
	w = le.AppendUint32(w, uint32(len(m.version)))
	for _, v := range m.version {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("xgboost: compile: version number %d does not fit 32 bits", v)
		}
		w = le.AppendUint32(w, uint32(int32(v)))
	}
	w = le.AppendUint32(w, uint32(len(m.featureNames)))
	for _, n := range m.featureNames {
		w = appendString(w, n)
	}
	w = appendFloats(w, m.base)
	w = appendUint32s(w, m.group)
	w = le.AppendUint32(w, uint32(len(nodes)))
	w = pad(w)
	for _, n := range nodes {
		w = le.AppendUint32(w, math.Float32bits(n.value))
		w = le.AppendUint32(w, n.feature)
		w = le.AppendUint32(w, n.child)
	}
	w = appendUint32s(w, roots)
	if flags&flagCovers != 0 {
		w = pad(w)
		w = appendFloats(w, m.shap.covers)
	}
	return w, nil
}

// compiledAlign is the alignment, from the start of the compiled form, of
// the nodes and the covers: a 64-byte cache line. A reader whose buffer starts so aligned (as Go's
// large allocations do) uses them in place.
const compiledAlign = 64

// pad appends zeros up to the next multiple of compiledAlign.
func pad(w []byte) []byte {
	for len(w)%compiledAlign != 0 {
		w = append(w, 0)
	}
	return w
}

func appendString(w []byte, s string) []byte {
	w = binary.LittleEndian.AppendUint32(w, uint32(len(s)))
	return append(w, s...)
}

func appendUint32s(w []byte, v []uint32) []byte {
	for _, x := range v {
		w = binary.LittleEndian.AppendUint32(w, x)
	}
	return w
}

func appendFloats(w []byte, v []float32) []byte {
	for _, x := range v {
		w = binary.LittleEndian.AppendUint32(w, math.Float32bits(x))
	}
	return w
}

// ErrCompiled is wrapped by every error ParseCompiled returns.
var ErrCompiled = errors.New("xgboost: invalid compiled model")

// ParseCompiled loads a Model from its compiled form (MarshalBinary's bytes).
// On a little-endian machine the Model uses the large arrays in data where
// they lie (where data is 64-byte aligned, as large allocations are), so the
// caller must not change data afterwards. It checks what Parse's validation
// guarantees, so that the Model can be evaluated and explained on any input
// without panicking or looping: the header's values and every array's length,
// each tree's nodes (children inside the tree, after their parent, each node
// but the root the child of exactly one split; feature indices below
// num_feature; thresholds not NaN, leaves and covers finite). The blocked
// layout, when flagged, is laid out from the checked nodes as Parse does.
func ParseCompiled(data []byte) (*Model, error) {
	m, err := parseCompiled(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompiled, err)
	}
	return m, nil
}

func parseCompiled(data []byte) (*Model, error) {
	r := &reader{data: data}
	if len(data) < len(compiledMagic) || string(data[:len(compiledMagic)]) != compiledMagic {
		return nil, errors.New("not a compiled model (bad magic)")
	}
	r.off = len(compiledMagic)
	if v := r.u32("format version"); r.err == nil && v != CompiledVersion {
		return nil, fmt.Errorf("format version %d, this reader knows %d", v, CompiledVersion)
	}
	flags := r.u32("flags")
	if r.err == nil && flags&^knownFlags != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags&^knownFlags)
	}
	m := &Model{objective: r.str("objective")}
	numFeature, numOutputs, numTrees := r.u32("num_feature"), r.u32("num_outputs"), r.u32("num_trees")
	if r.err != nil {
		return nil, r.err
	}
	switch m.objective {
	case BinaryLogistic, RegSquaredError:
		if numOutputs != 1 {
			return nil, fmt.Errorf("objective %s with %d outputs", m.objective, numOutputs)
		}
	case MultiSoftprob:
		if numOutputs < 2 || numOutputs > maxClasses {
			return nil, fmt.Errorf("objective %s with %d outputs, want 2..%d", m.objective, numOutputs, maxClasses)
		}
	default:
		return nil, fmt.Errorf("unsupported objective %q", m.objective)
	}
	if numFeature > uint32(maxFeatures) {
		return nil, fmt.Errorf("num_feature %d over the limit of %d", numFeature, maxFeatures)
	}
	if numTrees > math.MaxInt32 {
		return nil, fmt.Errorf("num_trees %d over the limit", numTrees)
	}
	m.numFeature, m.numOutputs, m.numTrees = int(numFeature), int(numOutputs), int(numTrees)
	if n := r.count("version", 4); n > 0 {
		m.version = make([]int, n)
		for i := range m.version {
			m.version[i] = int(int32(r.u32("version")))
		}
	}
	if n := r.count("feature names", 4); n > 0 {
		if n != m.numFeature {
			return nil, fmt.Errorf("%d feature names for num_feature = %d", n, m.numFeature)
		}
		m.featureNames = make([]string, n)
		for i := range m.featureNames {
			m.featureNames[i] = r.str("feature names")
		}
	}
	m.base = r.floats("base", m.numOutputs)
	m.group = r.uint32s("group", m.numTrees)
	if r.err != nil {
		return nil, r.err
	}
	for t, g := range m.group {
		if g >= numOutputs {
			return nil, fmt.Errorf("tree %d adds to output %d of %d", t, g, numOutputs)
		}
	}

	gen, err := r.generic(m.numTrees, numFeature)
	if err != nil {
		return nil, err
	}
	m.trees = gen
	if flags&flagCovers != 0 {
		r.align("covers")
		covers := r.floatsInPlace("covers", len(gen.nodes))
		if r.err != nil {
			return nil, r.err
		}
		for i, c := range covers {
			if !(c >= 0 && c <= math.MaxFloat32) {
				return nil, fmt.Errorf("node %d: cover %v is not a finite number >= 0", i, c)
			}
		}
		m.shap = newShapForest(gen, covers)
	}
	// Checked before the blocked layout is laid out, which is most of the
	// work: trailing bytes are refused cheaply.
	if r.off != len(data) {
		return nil, fmt.Errorf("%d bytes after the model", len(data)-r.off)
	}
	if flags&flagBlocked != 0 {
		// The same layout Parse makes from the same nodes; nil where they do
		// not fit it, which a writer that compiled a blocked Model cannot
		// have produced.
		if m.blocked = newBlockedForest(gen, m.group); m.blocked == nil {
			return nil, errors.New("the blocked layout is flagged but the trees do not fit it")
		}
	} else {
		m.generic = gen
	}
	return m, nil
}

// reader reads the compiled form, every length checked against what is left
// before anything is allocated. The first error sticks; reads after it return
// zeros.
type reader struct {
	data []byte
	off  int
	err  error
}

func (r *reader) fail(field, format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d: %s", field, r.off, fmt.Sprintf(format, a...))
	}
}

// align skips the padding before an array, which must be zeros.
func (r *reader) align(field string) {
	n := (compiledAlign - r.off%compiledAlign) % compiledAlign
	p := r.take(field+" padding", n, 1)
	if r.err == nil && slices.ContainsFunc(p, func(b byte) bool { return b != 0 }) {
		r.fail(field, "padding is not zeros")
	}
}

// inPlace says whether b can be used as an array of elements of the given
// alignment where it lies.
func inPlace(b []byte, alignment uintptr) bool {
	return littleEndian && len(b) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%alignment == 0
}

func (r *reader) u32(field string) uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.data)-r.off < 4 {
		r.fail(field, "truncated")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.data[r.off:])
	r.off += 4
	return v
}

// take returns the next n items of size bytes each.
func (r *reader) take(field string, n, size int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > (len(r.data)-r.off)/size {
		r.fail(field, "%d entries of %d bytes, %d bytes left", n, size, len(r.data)-r.off)
		return nil
	}
	b := r.data[r.off : r.off+n*size]
	r.off += n * size
	return b
}

// count reads an array's length, refusing one the bytes left cannot hold
// (size bytes per item at least).
func (r *reader) count(field string, size int) int {
	n := r.u32(field)
	if r.err == nil && int64(n) > int64(len(r.data)-r.off)/int64(size) {
		r.fail(field, "%d entries, only %d bytes left", n, len(r.data)-r.off)
		return 0
	}
	return int(n)
}

func (r *reader) str(field string) string {
	n := r.u32(field)
	return string(r.take(field, int(min(n, math.MaxInt32)), 1))
}

func (r *reader) uint32s(field string, n int) []uint32 {
	b := r.take(field, n, 4)
	if b == nil {
		return nil
	}
	out := make([]uint32, n)
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(b)), b)
		return out
	}
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// floatsInPlace is floats, using the bytes where they lie if it can.
func (r *reader) floatsInPlace(field string, n int) []float32 {
	if r.err == nil && n > 0 && n <= (len(r.data)-r.off)/4 && inPlace(r.data[r.off:], 4) {
		b := r.take(field, n, 4)
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
	}
	return r.floats(field, n)
}

func (r *reader) floats(field string, n int) []float32 {
	u := r.uint32s(field, n)
	if u == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(u))), len(u))
}

// generic reads and validates the nodes and roots, and derives each tree's
// depth.
func (r *reader) generic(numTrees int, numFeature uint32) (*genericForest, error) {
	n := r.count("nodes", nodeBytes)
	r.align("nodes")
	b := r.take("nodes", n, nodeBytes)
	if r.err != nil {
		return nil, r.err
	}
	if n >= maxNodes {
		return nil, fmt.Errorf("%d nodes: too many", n)
	}
	var nodes []node
	switch {
	case unsafe.Sizeof(node{}) == nodeBytes && inPlace(b, unsafe.Alignof(node{})):
		nodes = unsafe.Slice((*node)(unsafe.Pointer(unsafe.SliceData(b))), n)
	case littleEndian && unsafe.Sizeof(node{}) == nodeBytes:
		nodes = make([]node, n)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(nodes))), len(b)), b)
	default:
		nodes = make([]node, n)
		le := binary.LittleEndian
		for i := range nodes {
			p := b[nodeBytes*i:]
			nodes[i] = node{value: math.Float32frombits(le.Uint32(p)), feature: le.Uint32(p[4:]), child: le.Uint32(p[8:])}
		}
	}
	roots := r.uint32s("roots", numTrees)
	if r.err != nil {
		return nil, r.err
	}
	g := &genericForest{nodes: nodes, roots: roots, depth: make([]uint32, numTrees), quadDepth: make([]uint32, (numTrees+3)/4)}
	if numTrees == 0 && n != 0 {
		return nil, fmt.Errorf("%d nodes but no trees", n)
	}
	// depth[i-start] is node i's depth in its tree, 0 until a parent
	// reaches it (but for the root, seen first); parents come first, so one
	// forward pass sets each node's before its children are looked at. A node
	// reached twice is shared (or a cycle): refused. Scratch for one tree at
	// a time, not for the whole forest: its memory is new to a cold process.
	var depth []uint32
	for t, start := range roots {
		end := uint32(n)
		if t+1 < numTrees {
			end = roots[t+1]
		}
		if (t == 0 && start != 0) || start >= end || end > uint32(n) {
			return nil, fmt.Errorf("tree %d: nodes %d..%d of %d: trees must be consecutive, non-empty, from node 0", t, start, end, n)
		}
		if size := int(end - start); cap(depth) < size {
			depth = make([]uint32, size)
		} else {
			depth = depth[:size]
		}
		const unseen = math.MaxUint32
		for i := range depth {
			depth[i] = unseen
		}
		depth[0] = 0
		maxDepth := uint32(0)
		for i := start; i < end; i++ {
			nd := nodes[i]
			d := depth[i-start]
			if d == unseen {
				return nil, fmt.Errorf("tree %d: node %d is not reached from the root", t, i)
			}
			maxDepth = max(maxDepth, d)
			if nd.feature&splitBit == 0 {
				if nd.feature != 0 || nd.child != i {
					return nil, fmt.Errorf("tree %d: leaf %d has feature word %#x and child %d, want 0 and itself", t, i, nd.feature, nd.child)
				}
				if math.IsNaN(float64(nd.value)) || math.IsInf(float64(nd.value), 0) {
					return nil, fmt.Errorf("tree %d: leaf %d: value %v is not finite", t, i, nd.value)
				}
				continue
			}
			if f := nd.feature & featureMask; f >= numFeature {
				return nil, fmt.Errorf("tree %d: node %d: split index %d out of range (num_feature = %d)", t, i, f, numFeature)
			}
			if nd.value != nd.value {
				return nil, fmt.Errorf("tree %d: node %d: split condition is NaN", t, i)
			}
			if nd.child <= i || nd.child >= end-1 {
				return nil, fmt.Errorf("tree %d: node %d: children %d and %d are not after it in the tree (nodes %d..%d)", t, i, nd.child, nd.child+1, start, end-1)
			}
			for _, c := range [2]uint32{nd.child, nd.child + 1} {
				if depth[c-start] != unseen {
					return nil, fmt.Errorf("tree %d: node %d: child %d is reached twice", t, i, c)
				}
				depth[c-start] = d + 1
			}
		}
		g.depth[t] = maxDepth
		g.quadDepth[t/4] = max(g.quadDepth[t/4], maxDepth)
	}
	return g, nil
}

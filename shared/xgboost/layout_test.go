package xgboost

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// edgeValues are thresholds and row values where the comparisons are easy to
// get wrong: signed zeros, infinities, subnormals, neighbours.
var edgeValues = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 1e-45, -1e-45, 1e30, -1e30,
	float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32,
	math.Nextafter32(1, 2), math.Nextafter32(1, 0),
}

// randomTree holds the arrays of an xgboost JSON tree.
type randomTree struct {
	left, right, split []int
	cond               []float32
	defLeft            []int
}

// grow adds a random subtree at the given depth, at most maxDepth, and returns
// its root: each node splits with probability pSplit, except that the leftmost
// path (spine) always splits down to maxDepth.
func (t *randomTree) grow(rng *rand.Rand, depth, maxDepth, numFeature int, pSplit float64, spine bool) int {
	id := len(t.left)
	t.left, t.right, t.split = append(t.left, -1), append(t.right, -1), append(t.split, 0)
	t.cond, t.defLeft = append(t.cond, float32(rng.NormFloat64())), append(t.defLeft, 0)
	if depth == maxDepth || (!spine && rng.Float64() > pSplit) {
		return id
	}
	t.split[id] = rng.IntN(numFeature)
	if rng.IntN(4) == 0 {
		t.cond[id] = edgeValues[rng.IntN(len(edgeValues))]
	}
	t.defLeft[id] = rng.IntN(2)
	t.left[id] = t.grow(rng, depth+1, maxDepth, numFeature, pSplit, spine)
	t.right[id] = t.grow(rng, depth+1, maxDepth, numFeature, pSplit, false)
	return id
}

func (t *randomTree) json(id int) string {
	conds := make([]string, len(t.cond))
	for i, c := range t.cond {
		conds[i] = fmt.Sprintf("%q", fmt.Sprint(c)) // strings also carry Inf
	}
	ints := func(v []int) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	zeros := strings.TrimSuffix(strings.Repeat("0,", len(t.left)), ",")
	return fmt.Sprintf(`{"id":%d,"left_children":%s,"right_children":%s,"split_indices":%s,"split_conditions":[%s],`+
		`"default_left":%s,"split_type":[%s],"tree_param":{"num_nodes":"%d"}}`,
		id, ints(t.left), ints(t.right), ints(t.split), strings.Join(conds, ","), ints(t.defLeft), zeros, len(t.left))
}

// randomModel returns a multi:softprob (numClass > 1) or reg:squarederror
// model of numTrees random trees, tree t of depth depths(t).
func randomModel(rng *rand.Rand, numTrees, numFeature, numClass int, depths func(t int) int, pSplit float64) []byte {
	trees := make([]string, numTrees)
	info := make([]string, numTrees)
	for i := range trees {
		var t randomTree
		t.grow(rng, 0, depths(i), numFeature, pSplit, true)
		trees[i] = t.json(i)
		info[i] = fmt.Sprint(i % max(numClass, 1))
	}
	obj := "reg:squarederror"
	if numClass > 1 {
		obj = "multi:softprob"
	}
	return fmt.Appendf(nil, `{"learner":{"gradient_booster":{"name":"gbtree","model":{"tree_info":[%s],"trees":[%s]}},`+
		`"learner_model_param":{"base_score":"5E-1","num_class":"%d","num_feature":"%d"},"objective":{"name":%q}}}`,
		strings.Join(info, ","), strings.Join(trees, ","), numClass, numFeature, obj)
}

func parseLayout(t *testing.T, data []byte, blocked bool) *Model {
	t.Helper()
	useBlocked = blocked
	defer func() { useBlocked = true }()
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomRows returns rows mixing normal values, edge values and missing ones.
func randomRows(rng *rand.Rand, n, numFeature int) [][]float32 {
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, numFeature)
		for j := range rows[i] {
			switch rng.IntN(5) {
			case 0:
				rows[i][j] = float32(math.NaN())
			case 1:
				rows[i][j] = edgeValues[rng.IntN(len(edgeValues))]
			default:
				rows[i][j] = float32(rng.NormFloat64())
			}
		}
	}
	return rows
}

// TestBlockedMatchesGeneric checks the blocked layout against the generic one
// (itself checked against xgboost) on random forests: depths 0 to 12 (each
// remainder modulo three, so leaves inside and after the last block), trees
// mixed within a group, tree counts that leave a partial group, several
// outputs, rows with many keys, and edge-case thresholds and values.
func TestBlockedMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bigKeys := 0
	for c := range 39 {
		maxDepth := c % 13
		numTrees := 1 + rng.IntN(40)
		if maxDepth >= 10 {
			numTrees = 1 + rng.IntN(8) // padded to complete trees, they are large
		}
		numFeature := 1 + rng.IntN(12)
		if c%4 == 3 {
			numFeature = 33 + rng.IntN(200) // more row keys than the small array holds
		}
		numClass := []int{0, 0, 3}[c%3]
		pSplit := []float64{1, 0.9, 0.6}[c%3]
		depths := func(int) int { return maxDepth }
		if c%2 == 1 {
			depths = func(int) int { return rng.IntN(maxDepth + 1) }
		}
		data := randomModel(rng, numTrees, numFeature, numClass, depths, pSplit)
		name := fmt.Sprintf("case %d (%d trees, depth <= %d, %d features)", c, numTrees, maxDepth, numFeature)
		mb, mg := parseLayout(t, data, true), parseLayout(t, data, false)
		if mb.blocked == nil {
			t.Fatalf("%s: the blocked layout was not used", name)
		}
		if mb.blocked.rowKeysLen() > smallRowKeys {
			bigKeys++
		}
		rows := randomRows(rng, 67, numFeature) // a partial block of four rows too
		k := mg.NumOutputs()
		want := make([]float32, len(rows)*k)
		for i, r := range rows {
			if err := mg.Predict(r, want[i*k:(i+1)*k]); err != nil {
				t.Fatal(err)
			}
		}
		checkSameOutputs(t, name, mb, rows, want)
	}
	if bigKeys == 0 {
		t.Error("no case had more row keys than the small array holds")
	}
}

// TestLayoutChoice checks that models the blocked layout cannot hold well
// keep the generic one, and still predict.
func TestLayoutChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name       string
		numTrees   int
		numFeature int
		depth      int
		pSplit     float64
		blocked    bool
	}{
		{"shallow", 20, 20, 6, 0.9, true},
		{"too deep", 1, 4, maxBlockedDepth + 1, 0.3, false},
		{"sparse and deep: padding too large", 40, 4, 14, 0.55, false},
		{"sparse and deep but small", 10, 4, 14, 0.55, true},
		{"too many features", 20, maxRowKeys, 6, 1, false},
	} {
		m := parseLayout(t, randomModel(rng, tc.numTrees, tc.numFeature, 0, func(int) int { return tc.depth }, tc.pSplit), true)
		if (m.blocked != nil) != tc.blocked || (m.generic != nil) == tc.blocked {
			t.Errorf("%s: blocked layout %v, want %v", tc.name, m.blocked != nil, tc.blocked)
		}
		out := make([]float32, 1)
		if err := m.Predict(randomRows(rng, 1, tc.numFeature)[0], out); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestOrderKey(t *testing.T) {
	vals := append([]float32{}, edgeValues...)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		vals = append(vals, math.Float32frombits(rng.Uint32()))
	}
	for _, a := range vals {
		for _, b := range vals[:200] {
			if a != a || b != b {
				continue
			}
			if (a < b) != (orderKey(a) < orderKey(b)) || (a == b) != (orderKey(a) == orderKey(b)) {
				t.Fatalf("orderKey(%v) = %d, orderKey(%v) = %d", a, orderKey(a), b, orderKey(b))
			}
		}
		if a == a && (orderKey(a) == math.MinInt32 || orderKey(a) == math.MaxInt32) {
			t.Fatalf("orderKey(%v) = %d takes a missing value's key", a, orderKey(a))
		}
	}
}

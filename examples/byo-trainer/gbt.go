package main

import (
	"fmt"
	"math"
	"sort"
)

// A from-scratch gradient-boosted tree learner for binary:logistic: exact
// greedy splits grown level by level, a learned default direction for missing
// values, and every split a plain "x < threshold" on a float32, so that the
// trees mean the same thing here, in XGBoost and in the platform's evaluator.

type params struct {
	eta            float64
	maxDepth       int
	minChildWeight float64
	lambda         float64
}

// tree is one regression tree in XGBoost's array layout: node 0 is the root, a
// leaf has left == -1 and its value in cond.
type tree struct {
	left, right, parent, feat []int
	cond                      []float32
	defLeft                   []bool
	gain, grad, hess, weight  []float64
}

func (t *tree) add(parent int, g, h float64, p params) int {
	t.left = append(t.left, -1)
	t.right = append(t.right, -1)
	t.parent = append(t.parent, parent)
	t.feat = append(t.feat, 0)
	w := -g / (h + p.lambda)
	t.cond = append(t.cond, float32(p.eta*w)) // a leaf until split
	t.defLeft = append(t.defLeft, false)
	t.gain = append(t.gain, 0)
	t.grad = append(t.grad, g)
	t.hess = append(t.hess, h)
	t.weight = append(t.weight, w)
	return len(t.left) - 1
}

// leaf walks x (NaN = missing) to its leaf and returns the leaf's value.
func (t *tree) leaf(x []float32) float32 {
	n := 0
	for t.left[n] >= 0 {
		v := x[t.feat[n]]
		switch {
		case v != v:
			if t.defLeft[n] {
				n = t.left[n]
			} else {
				n = t.right[n]
			}
		case v < t.cond[n]:
			n = t.left[n]
		default:
			n = t.right[n]
		}
	}
	return t.cond[n]
}

// predict is XGBoost's CPU predictor for binary:logistic with base_score 0.5
// (margin 0): the leaf values summed in float32 in tree order, then XGBoost
// 1.7's float32 sigmoid, 1/(exp(-m)+1+1e-16) with -m capped at 88.7.
func predict(trees []*tree, x []float32) float32 {
	var m float32
	for _, t := range trees {
		m += t.leaf(x)
	}
	return sigmoid(m)
}

func sigmoid(m float32) float32 {
	x := -m
	if !(x < 88.7) && x == x {
		x = 88.7
	}
	return 1 / (float32(math.Exp(float64(x))) + 1 + 1e-16)
}

type split struct {
	gain, gl, hl, gr, hr float64
	feat                 int
	cond                 float32
	defLeft              bool
}

// grow fits one tree to the gradients g, h of the training rows. cols[j][r] is
// column j of row r; order[j] the training rows with a value in column j,
// sorted by it; miss[j] those without.
func grow(cols [][]float32, order, miss [][]int, rows []int, g, h []float64, p params, nodeOf []int) *tree {
	t := &tree{}
	var G, H float64
	for _, r := range rows {
		G += g[r]
		H += h[r]
		nodeOf[r] = 0
	}
	t.add(-1, G, H, p)
	frontier := []int{0}
	for depth := 0; depth < p.maxDepth && len(frontier) > 0; depth++ {
		slot := map[int]int{}
		for i, n := range frontier {
			slot[n] = i
		}
		best := make([]split, len(frontier))
		gm, hm := make([]float64, len(frontier)), make([]float64, len(frontier))
		gl, hl := make([]float64, len(frontier)), make([]float64, len(frontier))
		last, seen := make([]float32, len(frontier)), make([]bool, len(frontier))
		for j := range cols {
			clear(gm)
			clear(hm)
			clear(gl)
			clear(hl)
			clear(seen)
			for _, r := range miss[j] {
				if i, ok := slot[nodeOf[r]]; ok {
					gm[i] += g[r]
					hm[i] += h[r]
				}
			}
			for _, r := range order[j] {
				i, ok := slot[nodeOf[r]]
				if !ok {
					continue
				}
				v := cols[j][r]
				if seen[i] && v != last[i] {
					n := frontier[i]
					gn, hn := t.grad[n]-gm[i], t.hess[n]-hm[i]
					// Missing values left, then right; ties go left.
					consider(&best[i], j, v, true, gl[i]+gm[i], hl[i]+hm[i], gn-gl[i], hn-hl[i], p)
					consider(&best[i], j, v, false, gl[i], hl[i], gn-gl[i]+gm[i], hn-hl[i]+hm[i], p)
				}
				gl[i] += g[r]
				hl[i] += h[r]
				last[i], seen[i] = v, true
			}
		}
		var next []int
		for i, n := range frontier {
			b := best[i]
			if b.gain <= 1e-12 {
				continue
			}
			t.feat[n], t.cond[n], t.defLeft[n], t.gain[n] = b.feat, b.cond, b.defLeft, b.gain
			t.left[n] = t.add(n, b.gl, b.hl, p)
			t.right[n] = t.add(n, b.gr, b.hr, p)
			next = append(next, t.left[n], t.right[n])
		}
		for _, r := range rows {
			n := nodeOf[r]
			if t.left[n] < 0 {
				continue
			}
			v := cols[t.feat[n]][r]
			if (v != v && t.defLeft[n]) || v < t.cond[n] {
				nodeOf[r] = t.left[n]
			} else {
				nodeOf[r] = t.right[n]
			}
		}
		frontier = next
	}
	return t
}

func consider(b *split, j int, cond float32, defLeft bool, gl, hl, gr, hr float64, p params) {
	if hl < p.minChildWeight || hr < p.minChildWeight {
		return
	}
	G, H := gl+gr, hl+hr
	gain := gl*gl/(hl+p.lambda) + gr*gr/(hr+p.lambda) - G*G/(H+p.lambda)
	if gain > b.gain {
		*b = split{gain: gain, gl: gl, hl: hl, gr: gr, hr: hr, feat: j, cond: cond, defLeft: defLeft}
	}
}

// columnIndex sorts each column's training rows by value, missing apart.
func columnIndex(cols [][]float32, rows []int) (order, miss [][]int) {
	order, miss = make([][]int, len(cols)), make([][]int, len(cols))
	for j, c := range cols {
		for _, r := range rows {
			if c[r] != c[r] {
				miss[j] = append(miss[j], r)
			} else {
				order[j] = append(order[j], r)
			}
		}
		sort.SliceStable(order[j], func(a, b int) bool { return c[order[j][a]] < c[order[j][b]] })
	}
	return order, miss
}

// model is the boosted ensemble, cut to the best iteration's trees.
type model struct {
	trees  []*tree
	best   int       // the best iteration (0-based)
	rounds int       // rounds trained before stopping
	probs  []float32 // the final model's P(positive) of every labelled row
}

// train boosts until numBoostRound or until the validation AUC has not
// improved for earlyStoppingRounds rounds, then keeps the best iteration's trees.
func train(p *prepared, cfg *config) *model {
	cols := make([][]float32, len(p.columns))
	for j := range cols {
		cols[j] = make([]float32, len(p.x))
		for i, x := range p.x {
			cols[j][i] = x[j]
		}
	}
	order, miss := columnIndex(cols, p.train)
	margin := make([]float32, len(p.x))
	g, h := make([]float64, len(p.x)), make([]float64, len(p.x))
	nodeOf := make([]int, len(p.x))
	m := &model{}
	bestAUC := math.Inf(-1)
	vy, vp := pick(p.y, p.val), make([]float32, len(p.val))
	for it := 0; it < cfg.rounds; it++ {
		for _, i := range p.train {
			pr := float64(sigmoid(margin[i]))
			g[i], h[i] = pr-float64(p.y[i]), max(pr*(1-pr), 1e-16)
		}
		t := grow(cols, order, miss, p.train, g, h, cfg.params, nodeOf)
		m.trees = append(m.trees, t)
		m.rounds = it + 1
		for i, x := range p.x {
			margin[i] += t.leaf(x)
		}
		for k, i := range p.val {
			vp[k] = sigmoid(margin[i])
		}
		auc, ok := aucOf(vy, vp)
		if !ok { // no validation AUC: no early stopping
			m.best = it
			continue
		}
		if it%10 == 0 {
			fmt.Printf("[%d] validation-auc:%.5f\n", it, auc)
		}
		if auc > bestAUC {
			bestAUC, m.best = auc, it
		} else if cfg.early > 0 && it-m.best >= cfg.early {
			break
		}
	}
	m.trees = m.trees[:m.best+1]
	fmt.Printf("best iteration %d (validation auc %.5f) of %d rounds\n", m.best, bestAUC, m.rounds)
	m.probs = make([]float32, len(p.x))
	for i, x := range p.x {
		m.probs[i] = predict(m.trees, x)
	}
	return m
}

package policy

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openmlops/mlops/shared/bundle"
)

// CandidateFromBundle takes a verified bundle's test metrics, fairness gaps,
// test rows and model size. modelJSON is the bundle's model.json, whose trees
// give the shape; nil leaves Shape unmeasured (its checks are skipped).
func CandidateFromBundle(b *bundle.Bundle, modelJSON []byte) (Candidate, error) {
	c := Candidate{
		Objective: b.Manifest.Objective,
		Metrics:   make(map[string]float64, len(b.Metrics.Test)),
		TestRows:  b.Metrics.Rows.Test,
	}
	for k, v := range b.Metrics.Test {
		c.Metrics[k] = v
	}
	if len(b.Slices.Attributes) > 0 {
		c.Fairness = make(map[string]Gaps, len(b.Slices.Attributes))
		for _, a := range b.Slices.Attributes {
			c.Fairness[a.Name] = Gaps{
				DemographicParityDifference: a.DemographicParityDifference,
				EqualOpportunityDifference:  a.EqualOpportunityDifference,
				DisparateImpactRatio:        a.DisparateImpactRatio,
			}
		}
	}
	if f, ok := b.Manifest.File(bundle.ModelFile); ok {
		c.ModelBytes = f.Bytes
	}
	if modelJSON != nil {
		s, err := ModelShape(modelJSON)
		if err != nil {
			return Candidate{}, err
		}
		c.Shape = &s
	}
	return c, nil
}

// ModelShape measures an XGBoost JSON model (gbtree or dart): its trees, their
// nodes and the deepest leaf, from each tree's left_children and
// right_children arrays (-1: none).
func ModelShape(modelJSON []byte) (Shape, error) {
	type tree struct {
		Left  []int `json:"left_children"`
		Right []int `json:"right_children"`
	}
	type model struct {
		Trees []tree `json:"trees"`
	}
	var doc struct {
		Learner struct {
			GradientBooster struct {
				Model  model `json:"model"`
				GBTree struct {
					Model model `json:"model"`
				} `json:"gbtree"`
			} `json:"gradient_booster"`
		} `json:"learner"`
	}
	if err := json.Unmarshal(modelJSON, &doc); err != nil {
		return Shape{}, fmt.Errorf("model.json: %w", err)
	}
	gb := doc.Learner.GradientBooster
	trees := gb.Model.Trees
	if len(trees) == 0 {
		trees = gb.GBTree.Model.Trees // dart
	}
	if len(trees) == 0 {
		return Shape{}, errors.New("model.json: no trees")
	}
	s := Shape{Trees: len(trees)}
	for i, t := range trees {
		n := len(t.Left)
		if n == 0 || len(t.Right) != n {
			return Shape{}, fmt.Errorf("model.json: tree %d: %d left and %d right children", i, len(t.Left), len(t.Right))
		}
		s.TotalNodes += n
		depth := make([]int, n)
		seen := make([]bool, n)
		seen[0] = true
		stack := []int{0}
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			s.MaxDepth = max(s.MaxDepth, depth[j])
			for _, k := range []int{t.Left[j], t.Right[j]} {
				if k == -1 {
					continue
				}
				if k <= 0 || k >= n || seen[k] {
					return Shape{}, fmt.Errorf("model.json: tree %d: node %d has child %d: not a tree", i, j, k)
				}
				seen[k] = true
				depth[k] = depth[j] + 1
				stack = append(stack, k)
			}
		}
	}
	return s, nil
}

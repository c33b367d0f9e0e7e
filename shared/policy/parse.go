package policy

import (
	"fmt"
	"math"

	"github.com/openmlops/mlops/shared/yamldoc"

	"go.yaml.in/yaml/v3"
)

// The keys of each mapping in the YAML, in the order the README documents them.
// A key not listed is an error: it is almost always a typo of one that would
// then be silently ignored.
var (
	topKeys        = []string{"apiVersion", "kind", "model", "objective", "minimum", "maximum", "regression", "fairness", "minTestRows", "complexity", "approval", "autoPromote", "drift"}
	regressionKeys = []string{"absolute", "relative"}
	complexityKeys = []string{"maxTrees", "maxTotalNodes", "maxDepth", "maxModelBytes"}
	approvalKeys   = []string{"required", "approvers", "separatePromotion", "rollback", "retire", "override"}
)

type parser struct {
	yamldoc.Problems
}

// kind is what Parse expects, for the messages about a file that is not a
// policy.
var kind = yamldoc.Kind{APIVersion: APIVersion, Kind: Kind, Name: "promotion policy", Plural: "policies", Short: "policy",
	MaxBytes: MaxPolicyBytes}

// Parse reads a promotion policy (YAML, see README.md) and validates it. file
// names the source in error messages. Every problem found is returned, as
// *Error values joined with errors.Join, in line order.
func Parse(file string, data []byte) (*Policy, error) {
	doc, err := yamldoc.Decode(file, data, kind)
	if err != nil {
		return nil, err
	}
	p := &parser{Problems: yamldoc.Problems{File: file}}
	pol := &Policy{}
	if !p.top(doc, pol) {
		return nil, p.Err()
	}
	if !p.Written("approval.required") {
		pol.Approval.Required = true
	}
	src, err := p.Finish(doc, pol.problems(p.Written))
	if err != nil {
		return nil, err
	}
	pol.src = src
	return pol, nil
}

func (p *parser) fields(n *yaml.Node, path string, known []string) map[string]yamldoc.Entry {
	return p.Fields(n, path, known, nil)
}

// entries reads a mapping with free keys (metric and attribute names),
// reporting duplicates. Names are checked by Validate, so a problem with one
// points at the key: the entry's location is the key's.
func (p *parser) entries(n *yaml.Node, path, what string) []yamldoc.Entry {
	if n.Kind != yaml.MappingNode {
		p.At(n, path, "expected a mapping of %s, found %s", what, yamldoc.KindName(n))
		return nil
	}
	var out []yamldoc.Entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.At(k, path, "expected a name, found %s", yamldoc.KindName(k))
			continue
		}
		kp := path + "." + k.Value
		if seen[k.Value] {
			p.At(k, kp, "%q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		p.Mark(kp, k)
		out = append(out, yamldoc.Entry{Key: k, Val: v})
	}
	return out
}

// top reads the document. It returns false when it is not a policy at all.
func (p *parser) top(doc *yaml.Node, pol *Policy) bool {
	f := p.fields(doc, "", topKeys)
	if doc.Kind != yaml.MappingNode || !p.Header(doc, f, kind) {
		return false
	}
	yamldoc.Set(f, "", "model", p.Str, &pol.Model)
	yamldoc.Set(f, "", "objective", p.Str, &pol.Objective)
	bounds := func(key string) map[string]float64 {
		e, ok := f[key]
		if !ok {
			return nil
		}
		out := map[string]float64{}
		for _, m := range p.entries(e.Val, key, "metric names to numbers (auc: 0.75)") {
			if v, ok := p.Number(m.Val, key+"."+m.Key.Value); ok {
				out[m.Key.Value] = v
			} else {
				out[m.Key.Value] = 0 // still checked by name; the number was reported
			}
		}
		return out
	}
	pol.Minimum = bounds("minimum")
	pol.Maximum = bounds("maximum")
	if e, ok := f["regression"]; ok {
		pol.Regression = map[string]Regression{}
		for _, m := range p.entries(e.Val, "regression", "metric names to limits (auc: {absolute: 0.01})") {
			mp := "regression." + m.Key.Value
			var r Regression
			rf := p.fields(m.Val, mp, regressionKeys)
			if e, ok := rf["absolute"]; ok {
				if v, ok := p.Number(e.Val, mp+".absolute"); ok {
					r.Absolute = &v
				}
			}
			if e, ok := rf["relative"]; ok {
				if v, ok := p.Number(e.Val, mp+".relative"); ok {
					r.Relative = &v
				}
			}
			if m.Val.Kind != yaml.MappingNode || len(rf) < len(m.Val.Content)/2 {
				// A problem inside was reported: do not add "expected
				// absolute, relative or both" on top of it.
				z := 0.0
				if r.Absolute == nil && r.Relative == nil {
					r.Absolute = &z
				}
			}
			pol.Regression[m.Key.Value] = r
		}
	}
	if e, ok := f["fairness"]; ok {
		pol.Fairness = map[string]Gaps{}
		for _, m := range p.entries(e.Val, "fairness", "sensitive attributes to gap bounds (Age: {demographicParityDifference: 0.1})") {
			ap := "fairness." + m.Key.Value
			var g Gaps
			gf := p.fields(m.Val, ap, GapNames)
			for _, name := range GapNames {
				if e, ok := gf[name]; ok {
					if v, ok := p.Number(e.Val, ap+"."+name); ok {
						g.set(name, &v)
					}
				}
			}
			if m.Val.Kind != yaml.MappingNode || len(gf) < len(m.Val.Content)/2 {
				z := 0.0
				if g == (Gaps{}) {
					g.DemographicParityDifference = &z // reported already: keep Validate quiet
				}
			}
			pol.Fairness[m.Key.Value] = g
		}
	}
	yamldoc.Set(f, "", "minTestRows", p.Integer, &pol.MinTestRows)
	if e, ok := f["complexity"]; ok {
		cf := p.fields(e.Val, "complexity", complexityKeys)
		c := &pol.Complexity
		for _, k := range complexityKeys {
			e, ok := cf[k]
			if !ok {
				continue
			}
			v, ok := p.Integer(e.Val, "complexity."+k)
			if !ok {
				continue
			}
			if v > math.MaxInt32 && k != "maxModelBytes" {
				p.At(e.Val, "complexity."+k, "%s %d is out of range: expected at most %d", k, v, math.MaxInt32)
				continue
			}
			switch k {
			case "maxTrees":
				c.MaxTrees = int(v)
			case "maxTotalNodes":
				c.MaxTotalNodes = int(v)
			case "maxDepth":
				c.MaxDepth = int(v)
			case "maxModelBytes":
				c.MaxModelBytes = v
			}
		}
	}
	if e, ok := f["approval"]; ok {
		af := p.fields(e.Val, "approval", approvalKeys)
		a := &pol.Approval
		yamldoc.Set(af, "approval", "required", p.Bool, &a.Required)
		yamldoc.Set(af, "approval", "separatePromotion", p.Bool, &a.SeparatePromotion)
		for _, l := range []struct {
			key  string
			dst  *[]string
			fill []string // what stands in for a list that is not one (reported)
		}{
			{"approvers", &a.Approvers, []string{"*"}}, // keeps "no approver is named" quiet
			{"rollback", &a.Rollback, nil},
			{"retire", &a.Retire, nil},
			{"override", &a.Override, nil},
		} {
			e, ok := af[l.key]
			if !ok {
				continue
			}
			f := "approval." + l.key
			if e.Val.Kind != yaml.SequenceNode {
				p.At(e.Val, f, "expected a list of principal patterns ([\"local:*\"]), found %s", yamldoc.KindName(e.Val))
				*l.dst = l.fill
				continue
			}
			for i, n := range e.Val.Content {
				ap := fmt.Sprintf("%s[%d]", f, i)
				p.Mark(ap, n)
				v, ok := p.Str(n, ap)
				if !ok {
					v = fmt.Sprintf("reported%d", i) // keep Validate quiet about it
				}
				*l.dst = append(*l.dst, v)
			}
		}
	}
	yamldoc.Set(f, "", "autoPromote", p.Bool, &pol.AutoPromote)
	if e, ok := f["drift"]; ok {
		pol.Drift = p.drift(e)
	}
	return true
}

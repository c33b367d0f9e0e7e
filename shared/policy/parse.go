package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/yamldoc"

	"go.yaml.in/yaml/v3"
)

// The keys of each mapping in the YAML, in the order the README documents them.
// A key not listed is an error: it is almost always a typo of one that would
// then be silently ignored.
var (
	topKeys        = []string{"apiVersion", "kind", "model", "objective", "minimum", "maximum", "regression", "fairness", "minTestRows", "complexity", "approval", "autoPromote"}
	regressionKeys = []string{"absolute", "relative"}
	complexityKeys = []string{"maxTrees", "maxTotalNodes", "maxDepth", "maxModelBytes"}
	approvalKeys   = []string{"required", "approvers", "separatePromotion"}
)

type location struct{ line, col int }

// source is where a parsed policy came from: the file and, by canonical JSON
// path (approval.approvers[0]), where each written field is.
type source struct {
	file      string
	loc       map[string]location
	line, col int // the document's start, for fields not written at all
}

// locate finds the field's position, or that of its nearest written ancestor.
func (src *source) locate(canon string) location {
	for f := canon; f != ""; {
		if l, ok := src.loc[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			break
		}
		f = f[:i]
	}
	return location{src.line, src.col}
}

type parser struct {
	yamldoc.Problems
	loc map[string]location
	has map[string]bool
}

func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) {
	p.At(n, path, format, args...)
}

func (p *parser) mark(canon string, n *yaml.Node) {
	p.loc[canon] = location{n.Line, n.Column}
	p.has[canon] = true
}

// Parse reads a promotion policy (YAML, see README.md) and validates it. file
// names the source in error messages. Every problem found is returned, as
// *Error values joined with errors.Join, in line order.
func Parse(file string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicyBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("the policy is %d bytes: expected at most %d", len(data), MaxPolicyBytes)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := safeDecode(dec, &root)
	if errors.Is(err, io.EOF) || (err == nil && len(root.Content) == 0) {
		return nil, &Error{File: file, Line: 1, Msg: "empty document: expected a promotion policy (apiVersion: " + APIVersion + ", kind: " + Kind + ")"}
	}
	if err != nil {
		return nil, yamlError(file, err)
	}
	for {
		var extra yaml.Node
		err := safeDecode(dec, &extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(file, err)
		}
		if len(extra.Content) > 0 && extra.Content[0].Tag != "!!null" {
			return nil, &Error{File: file, Line: extra.Content[0].Line, Col: extra.Content[0].Column, Msg: "more than one YAML document: expected one promotion policy per file"}
		}
	}
	doc := root.Content[0]
	p := &parser{Problems: yamldoc.Problems{File: file}, loc: map[string]location{}, has: map[string]bool{}}
	if a := yamldoc.FindAlias(doc); a != nil {
		p.errAt(a, "", "YAML anchors and aliases are not supported in policies: write the value out")
		return nil, p.result()
	}
	pol := &Policy{}
	if !p.top(doc, pol) {
		return nil, p.result()
	}
	if !p.has["approval.required"] {
		pol.Approval.Required = true
	}
	src := &source{file: file, loc: p.loc, line: doc.Line, col: doc.Column}
	for _, e := range pol.problems(func(f string) bool { return p.has[f] }) {
		l := src.locate(e.Field)
		e.File, e.Line, e.Col = file, l.line, l.col
		p.Errs = append(p.Errs, e)
	}
	if err := p.result(); err != nil {
		return nil, err
	}
	pol.src = src
	return pol, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parserProblems are the problems yaml.v3's parser reports with a 0-based line
// (see shared/spec): yamlError adds the one back.
var parserProblems = []string{"did not find expected <stream-start>", "did not find expected <document start>",
	"did not find expected node content", "did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'", "found undefined tag handle",
	"found duplicate %YAML directive", "found incompatible YAML document", "found duplicate %TAG directive"}

func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file}
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		for _, pp := range parserProblems {
			if strings.HasSuffix(msg, pp) {
				e.Line++
				msg = msg[:m[2]] + strconv.Itoa(e.Line) + msg[m[3]:]
				break
			}
		}
	}
	e.Msg = "not valid YAML: " + msg
	return e
}

// safeDecode turns a panic inside the YAML library into an error.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

// maxErrors is how many problems Parse reports before it says how many more.
const maxErrors = 50

// result sorts the problems by position and drops repeats of one at the same
// spot about the same field.
func (p *parser) result() error {
	sort.SliceStable(p.Errs, func(i, j int) bool {
		a, b := p.Errs[i], p.Errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	var out []*Error
	for _, e := range p.Errs {
		if n := len(out); n > 0 && out[n-1].Line == e.Line && out[n-1].Col == e.Col && out[n-1].Field == e.Field && e.Line > 0 {
			continue
		}
		out = append(out, e)
	}
	if len(out) > maxErrors {
		more := len(out) - maxErrors
		out = append(out[:maxErrors], &Error{File: p.File, Msg: fmt.Sprintf("and %d more problems", more)})
	}
	return yamldoc.Join(out)
}

type entry struct{ key, val *yaml.Node }

// fields reads a mapping with a fixed set of keys, reporting duplicate and
// unknown ones, and returns the known keys' entries.
func (p *parser) fields(n *yaml.Node, path string, known []string) map[string]entry {
	out := map[string]entry{}
	if n.Kind != yaml.MappingNode {
		p.errAt(n, path, "expected a mapping (key: value lines), found %s", yamldoc.KindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := yamldoc.Path(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, path, "expected a plain key, found %s", yamldoc.KindName(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errAt(k, kp, "key %q appears twice", k.Value)
			continue
		}
		if !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("unknown key %q", yamldoc.Clip(k.Value))
			if s := yamldoc.Closest(k.Value, known); s != "" {
				msg += fmt.Sprintf(": did you mean %q?", s)
			} else {
				msg += ": expected one of " + strings.Join(known, ", ")
			}
			p.errAt(k, kp, "%s", msg)
			continue
		}
		out[k.Value] = entry{k, v}
		p.mark(kp, v)
	}
	return out
}

// entries reads a mapping with free keys (metric and attribute names),
// reporting duplicates. Names are checked by Validate, so a problem with one
// points at the key: the entry's location is the key's.
func (p *parser) entries(n *yaml.Node, path, what string) []entry {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, path, "expected a mapping of %s, found %s", what, yamldoc.KindName(n))
		return nil
	}
	var out []entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.errAt(k, path, "expected a name, found %s", yamldoc.KindName(k))
			continue
		}
		kp := path + "." + k.Value
		if seen[k.Value] {
			p.errAt(k, kp, "%q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		p.mark(kp, k)
		out = append(out, entry{k, v})
	}
	return out
}

// top reads the document. It returns false when it is not a policy at all.
func (p *parser) top(doc *yaml.Node, pol *Policy) bool {
	f := p.fields(doc, "", topKeys)
	if doc.Kind != yaml.MappingNode {
		return false
	}
	isPolicy := true
	if e, ok := f["apiVersion"]; !ok {
		p.errAt(doc, "apiVersion", "missing apiVersion: expected apiVersion: %s", APIVersion)
	} else if v, ok := p.Str(e.val, "apiVersion"); ok && v != APIVersion {
		p.errAt(e.val, "apiVersion", "apiVersion %q is not supported: expected %s", yamldoc.Clip(v), APIVersion)
		isPolicy = false
	}
	if e, ok := f["kind"]; !ok {
		p.errAt(doc, "kind", "missing kind: expected kind: %s", Kind)
	} else if v, ok := p.Str(e.val, "kind"); ok && v != Kind {
		msg := fmt.Sprintf("kind %q is not a promotion policy: expected %s", yamldoc.Clip(v), Kind)
		switch v {
		case "ModelSpec":
			msg += " (this is a model spec: apply it with mlops models apply)"
		case "DataContract":
			msg += " (this is a dataset contract: apply it with mlops contract apply)"
		}
		p.errAt(e.val, "kind", "%s", msg)
		isPolicy = false
	}
	if !isPolicy {
		return false
	}
	if e, ok := f["model"]; ok {
		pol.Model, _ = p.Str(e.val, "model")
	}
	if e, ok := f["objective"]; ok {
		pol.Objective, _ = p.Str(e.val, "objective")
	}
	bounds := func(key string) map[string]float64 {
		e, ok := f[key]
		if !ok {
			return nil
		}
		out := map[string]float64{}
		for _, m := range p.entries(e.val, key, "metric names to numbers (auc: 0.75)") {
			if v, ok := p.Number(m.val, key+"."+m.key.Value); ok {
				out[m.key.Value] = v
			} else {
				out[m.key.Value] = 0 // still checked by name; the number was reported
			}
		}
		return out
	}
	pol.Minimum = bounds("minimum")
	pol.Maximum = bounds("maximum")
	if e, ok := f["regression"]; ok {
		pol.Regression = map[string]Regression{}
		for _, m := range p.entries(e.val, "regression", "metric names to limits (auc: {absolute: 0.01})") {
			mp := "regression." + m.key.Value
			var r Regression
			rf := p.fields(m.val, mp, regressionKeys)
			if e, ok := rf["absolute"]; ok {
				if v, ok := p.Number(e.val, mp+".absolute"); ok {
					r.Absolute = &v
				}
			}
			if e, ok := rf["relative"]; ok {
				if v, ok := p.Number(e.val, mp+".relative"); ok {
					r.Relative = &v
				}
			}
			if m.val.Kind != yaml.MappingNode || len(rf) < len(m.val.Content)/2 {
				// A problem inside was reported: do not add "expected
				// absolute, relative or both" on top of it.
				z := 0.0
				if r.Absolute == nil && r.Relative == nil {
					r.Absolute = &z
				}
			}
			pol.Regression[m.key.Value] = r
		}
	}
	if e, ok := f["fairness"]; ok {
		pol.Fairness = map[string]Gaps{}
		for _, m := range p.entries(e.val, "fairness", "sensitive attributes to gap bounds (Age: {demographicParityDifference: 0.1})") {
			ap := "fairness." + m.key.Value
			var g Gaps
			gf := p.fields(m.val, ap, GapNames)
			for _, name := range GapNames {
				if e, ok := gf[name]; ok {
					if v, ok := p.Number(e.val, ap+"."+name); ok {
						g.set(name, &v)
					}
				}
			}
			if m.val.Kind != yaml.MappingNode || len(gf) < len(m.val.Content)/2 {
				z := 0.0
				if g == (Gaps{}) {
					g.DemographicParityDifference = &z // reported already: keep Validate quiet
				}
			}
			pol.Fairness[m.key.Value] = g
		}
	}
	if e, ok := f["minTestRows"]; ok {
		pol.MinTestRows, _ = p.Integer(e.val, "minTestRows")
	}
	if e, ok := f["complexity"]; ok {
		cf := p.fields(e.val, "complexity", complexityKeys)
		c := &pol.Complexity
		for _, k := range complexityKeys {
			e, ok := cf[k]
			if !ok {
				continue
			}
			v, ok := p.Integer(e.val, "complexity."+k)
			if !ok {
				continue
			}
			if v > math.MaxInt32 && k != "maxModelBytes" {
				p.errAt(e.val, "complexity."+k, "%s %d is out of range: expected at most %d", k, v, math.MaxInt32)
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
		af := p.fields(e.val, "approval", approvalKeys)
		a := &pol.Approval
		if e, ok := af["required"]; ok {
			a.Required, _ = p.Bool(e.val, "approval.required")
		}
		if e, ok := af["separatePromotion"]; ok {
			a.SeparatePromotion, _ = p.Bool(e.val, "approval.separatePromotion")
		}
		if e, ok := af["approvers"]; ok {
			if e.val.Kind != yaml.SequenceNode {
				p.errAt(e.val, "approval.approvers", "expected a list of principal patterns ([\"local:*\"]), found %s", yamldoc.KindName(e.val))
				a.Approvers = []string{"*"} // reported: keep "no approver is named" quiet
			} else {
				for i, n := range e.val.Content {
					ap := fmt.Sprintf("approval.approvers[%d]", i)
					p.mark(ap, n)
					v, ok := p.Str(n, ap)
					if !ok {
						v = fmt.Sprintf("reported%d", i) // keep Validate quiet about it
					}
					a.Approvers = append(a.Approvers, v)
				}
			}
		}
	}
	if e, ok := f["autoPromote"]; ok {
		pol.AutoPromote, _ = p.Bool(e.val, "autoPromote")
	}
	return true
}

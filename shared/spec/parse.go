package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/yamldoc"

	"go.yaml.in/yaml/v3"
)

// The keys of each mapping in the YAML, in the order the README documents them.
// A key not listed is an error: it is almost always a typo of one that would
// then be silently ignored.
var (
	topKeys     = []string{"apiVersion", "kind", "name", "description", "dataset", "target", "objective", "params", "numBoostRound", "earlyStoppingRounds", "threshold", "split", "trainer", "trigger", "policy", "card"}
	targetKeys  = []string{"column", "positiveClass"}
	splitKeys   = []string{"validation", "test", "seed"}
	trainerKeys = []string{"image", "command", "timeoutSeconds", "gpus", "vcpus", "memoryMiB"}
	triggerKeys = []string{"manual", "minIntervalHours", "minNewRows"}
)

type location struct {
	line, col int
	path      string
}

// source is where a parsed spec came from: the file and, by canonical JSON
// path (trainer.gpus), where each written field is, so that problems found
// later (Validate's, CheckContract's) are reported on the author's line.
type source struct {
	file      string
	loc       map[string]location
	line, col int // the document's start, for fields not written at all
}

// locate finds the field's position, or that of its nearest written ancestor.
func (src *source) locate(canon string) location {
	for f := canon; f != ""; {
		if l, ok := src.loc[f]; ok {
			return location{l.line, l.col, canon}
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			break
		}
		f = f[:i]
	}
	return location{src.line, src.col, canon}
}

// position fills in the file, line and column of each problem that has none.
func (src *source) position(errs []*Error) {
	if src == nil {
		return
	}
	for _, e := range errs {
		if e.Line == 0 {
			l := src.locate(e.Field)
			e.File, e.Line, e.Col = src.file, l.line, l.col
		}
	}
}

type parser struct {
	yamldoc.Problems
	// loc maps a canonical JSON path (trainer.gpus) to where it came from.
	loc map[string]location
	// has records the canonical paths whose keys were written, so that an
	// omitted earlyStoppingRounds takes its default while an explicit 0 stays.
	has map[string]bool
}

func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) {
	p.At(n, path, format, args...)
}

func (p *parser) mark(canon string, n *yaml.Node) {
	if n != nil {
		p.loc[canon] = location{n.Line, n.Column, canon}
	}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// Parse reads a model spec (YAML, see README.md) and validates it on its own;
// CheckContract checks it against its dataset's contract. file names the
// source in error messages, and the card is read relative to it: readFile is
// called with filepath.Join(filepath.Dir(file), card), so os.ReadFile serves
// as is. A nil readFile means no file access, and a spec naming a card is then
// an error. Every problem found is returned, as *Error values joined with
// errors.Join, in line order.
func Parse(file string, data []byte, readFile func(name string) ([]byte, error)) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("the spec is %d bytes: expected at most %d; a spec is settings, and the card is a file of its own", len(data), MaxSpecBytes)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := safeDecode(dec, &root)
	if errors.Is(err, io.EOF) || (err == nil && len(root.Content) == 0) {
		return nil, &Error{File: file, Line: 1, Msg: "empty document: expected a model spec (apiVersion: " + APIVersion + ", kind: " + Kind + ")"}
	}
	if err != nil {
		return nil, yamlError(file, err)
	}
	// A second document would be silently ignored by a single decode: say so.
	// Empty ones (a trailing ---) are harmless.
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
			return nil, &Error{File: file, Line: extra.Content[0].Line, Col: extra.Content[0].Column, Msg: "more than one YAML document: expected one model spec per file"}
		}
	}
	doc := root.Content[0]
	p := &parser{Problems: yamldoc.Problems{File: file}, loc: map[string]location{}, has: map[string]bool{}}
	if p.noAliases(doc) {
		return nil, p.result()
	}
	s := &Spec{}
	if !p.top(doc, s, readFile) {
		// Not a model spec at all (a list, a contract): what it lacks as a
		// spec would only bury the one message that matters.
		return nil, p.result()
	}
	s.fillAbsent(func(f string) bool { return p.has[f] })
	// Validate after the structure: a field that failed to parse is left at its
	// zero value (its default), and any follow-on complaint lands on the same
	// spot as the first, where result() drops it.
	src := &source{file: file, loc: p.loc, line: doc.Line, col: doc.Column}
	probs := s.problems(func(f string) bool { return p.has[f] })
	src.position(probs)
	p.Errs = append(p.Errs, probs...)
	if err := p.result(); err != nil {
		return nil, err
	}
	s.normalize()
	s.src = src
	return s, nil
}

// parserProblems are the problems yaml.v3's parser (as opposed to its
// scanner) reports. For these it prints a 0-based line: that of the
// construct being parsed (an unclosed '{', a block mapping), one less than the
// line an editor shows. yamlError adds the one back.
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

// safeDecode turns a panic inside the YAML library into an error: specs come
// from people, and no input may take the process down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

// result sorts the problems by position and drops follow-on complaints: one at
// the same spot as an earlier one, about the same field or a field inside it.
func (p *parser) result() error {
	sort.SliceStable(p.Errs, func(i, j int) bool {
		a, b := p.Errs[i], p.Errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	var out []*Error
	group := 0 // out[group:] are the kept errors at the current position
	for _, e := range p.Errs {
		if len(out) > 0 && (out[group].Line != e.Line || out[group].Col != e.Col) {
			group = len(out)
		}
		dup := false
		for _, o := range out[group:] {
			if o.Line == e.Line && o.Col == e.Col && e.Line > 0 && within(e.Field, o.Field) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	// A file of garbage would otherwise give a wall of text that hides the
	// first, usually the real, problem.
	if len(out) > maxErrors {
		more := len(out) - maxErrors
		out = append(out[:maxErrors], &Error{File: p.File, Msg: fmt.Sprintf("and %d more problems", more)})
	}
	return yamldoc.Join(out)
}

// maxErrors is how many problems Parse reports before it says how many more.
const maxErrors = 50

// within reports whether field is parent or a path inside it.
func within(field, parent string) bool {
	return field == parent || strings.HasPrefix(field, parent+".") || strings.HasPrefix(field, parent+"[")
}

// noAliases rejects anchors and aliases (yamldoc.FindAlias says why).
func (p *parser) noAliases(n *yaml.Node) bool {
	if a := yamldoc.FindAlias(n); a != nil {
		p.errAt(a, "", "YAML anchors and aliases are not supported in model specs: write the value out")
		return true
	}
	return false
}

type entry struct{ key, val *yaml.Node }

// fields reads a mapping, reporting duplicate and unknown keys, and returns the
// known keys' entries. It marks each key's canonical path as written.
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
			msg := fmt.Sprintf("unknown key %q", k.Value)
			_, refused := refusedParams[k.Value]
			switch s := yamldoc.Closest(k.Value, known); {
			case s != "":
				msg += fmt.Sprintf(": did you mean %q?", s)
			case path == "" && (refused || slices.Contains(knownParams, k.Value)):
				msg += ": XGBoost parameters go under params"
			default:
				msg += ": expected one of " + strings.Join(known, ", ")
			}
			p.errAt(k, kp, "%s", msg)
			continue
		}
		out[k.Value] = entry{k, v}
		p.has[kp] = true
		p.mark(kp, v)
	}
	return out
}

func (p *parser) intField(f map[string]entry, key, path string, dst *int) {
	if e, ok := f[key]; ok {
		if v, ok := p.Integer(e.val, path); ok {
			*dst = int(v)
		}
	}
}

// top reads the document. It returns false when the document is not a model
// spec at all: not a mapping, or another apiVersion or kind.
func (p *parser) top(doc *yaml.Node, s *Spec, readFile func(string) ([]byte, error)) bool {
	f := p.fields(doc, "", topKeys)
	if doc.Kind != yaml.MappingNode {
		return false
	}
	isSpec := true
	if e, ok := f["apiVersion"]; !ok {
		p.errAt(doc, "apiVersion", "missing apiVersion: expected apiVersion: %s", APIVersion)
	} else if v, ok := p.Str(e.val, "apiVersion"); ok && v != APIVersion {
		p.errAt(e.val, "apiVersion", "apiVersion %q is not supported: expected %s", v, APIVersion)
		isSpec = false
	}
	if e, ok := f["kind"]; !ok {
		p.errAt(doc, "kind", "missing kind: expected kind: %s", Kind)
	} else if v, ok := p.Str(e.val, "kind"); ok && v != Kind {
		msg := fmt.Sprintf("kind %q is not a model spec: expected %s", v, Kind)
		if v == "DataContract" {
			msg += " (this is a dataset contract: apply it with mlops contract apply)"
		}
		p.errAt(e.val, "kind", "%s", msg)
		isSpec = false
	}
	if !isSpec {
		return false
	}
	strField := func(key string, dst *string) {
		if e, ok := f[key]; ok {
			*dst, _ = p.Str(e.val, key)
		}
	}
	strField("name", &s.Name)
	strField("description", &s.Description)
	strField("dataset", &s.Dataset)
	strField("objective", &s.Objective)
	strField("policy", &s.Policy)
	if e, ok := f["target"]; ok {
		t := p.fields(e.val, "target", targetKeys)
		if e, ok := t["column"]; ok {
			s.Target.Column, _ = p.Str(e.val, "target.column")
		}
		if e, ok := t["positiveClass"]; ok {
			s.Target.PositiveClass, _ = p.Str(e.val, "target.positiveClass")
		}
	}
	if e, ok := f["params"]; ok {
		p.params(e.val, s)
	}
	p.intField(f, "numBoostRound", "numBoostRound", &s.NumBoostRound)
	p.intField(f, "earlyStoppingRounds", "earlyStoppingRounds", &s.EarlyStoppingRounds)
	if e, ok := f["threshold"]; ok {
		s.Threshold, _ = p.Number(e.val, "threshold")
	}
	if e, ok := f["split"]; ok {
		sp := p.fields(e.val, "split", splitKeys)
		if e, ok := sp["validation"]; ok {
			s.Split.Validation, _ = p.Number(e.val, "split.validation")
		}
		if e, ok := sp["test"]; ok {
			s.Split.Test, _ = p.Number(e.val, "split.test")
		}
		if e, ok := sp["seed"]; ok {
			s.Split.Seed, _ = p.Integer(e.val, "split.seed")
		}
	}
	if e, ok := f["trainer"]; ok {
		p.trainer(e.val, &s.Trainer)
	}
	if e, ok := f["trigger"]; ok {
		tr := p.fields(e.val, "trigger", triggerKeys)
		if e, ok := tr["manual"]; ok {
			s.Trigger.Manual, _ = p.Bool(e.val, "trigger.manual")
		}
		if e, ok := tr["minIntervalHours"]; ok {
			s.Trigger.MinIntervalHours, _ = p.Number(e.val, "trigger.minIntervalHours")
		}
		if e, ok := tr["minNewRows"]; ok {
			s.Trigger.MinNewRows, _ = p.Integer(e.val, "trigger.minNewRows")
		}
	}
	if e, ok := f["card"]; ok {
		p.card(e.val, s, readFile)
	}
	return true
}

// params reads the XGBoost parameters: numbers, text or booleans. Which keys
// are allowed is Validate's business, so that a spec built in Go or read from
// JSON meets the same rules.
func (p *parser) params(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "params", "expected a mapping of XGBoost parameters (max_depth: 4), found %s", yamldoc.KindName(n))
		return
	}
	s.Params = map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.errAt(k, "params", "expected a parameter name, found %s", yamldoc.KindName(k))
			continue
		}
		kp := "params." + k.Value
		if _, dup := s.Params[k.Value]; dup {
			p.errAt(k, kp, "parameter %q appears twice", k.Value)
			continue
		}
		// Problems with the name point at the name; the value's type is
		// checked here, where its node is at hand.
		p.mark(kp, k)
		switch {
		case v.Kind != yaml.ScalarNode || v.Tag == "!!null":
			p.errAt(v, kp, "expected a number, a text value or true/false, found %s", yamldoc.KindName(v))
			s.Params[k.Value] = ""
		case v.Tag == "!!int" || v.Tag == "!!float":
			f, _ := p.Number(v, kp)
			s.Params[k.Value] = f
		case v.Tag == "!!bool":
			b, _ := p.Bool(v, kp)
			s.Params[k.Value] = b
		case v.Tag == "!!str" || v.Tag == "!!timestamp":
			s.Params[k.Value] = v.Value
		default:
			p.errAt(v, kp, "expected a number, a text value or true/false, found a value tagged %s", v.Tag)
			s.Params[k.Value] = ""
		}
	}
}

func (p *parser) trainer(n *yaml.Node, t *Trainer) {
	f := p.fields(n, "trainer", trainerKeys)
	if e, ok := f["image"]; ok {
		t.Image, _ = p.Str(e.val, "trainer.image")
	}
	if e, ok := f["command"]; ok {
		if e.val.Kind != yaml.SequenceNode {
			p.errAt(e.val, "trainer.command", "expected a list of arguments ([/usr/bin/python3, train.py]), found %s", yamldoc.KindName(e.val))
		} else {
			for i, a := range e.val.Content {
				ap := fmt.Sprintf("trainer.command[%d]", i)
				p.mark(ap, a)
				if v, ok := p.Str(a, ap); ok {
					t.Command = append(t.Command, v)
				}
			}
		}
	}
	p.intField(f, "timeoutSeconds", "trainer.timeoutSeconds", &t.TimeoutSeconds)
	p.intField(f, "gpus", "trainer.gpus", &t.GPUs)
	p.intField(f, "vcpus", "trainer.vcpus", &t.VCPUs)
	p.intField(f, "memoryMiB", "trainer.memoryMiB", &t.MemoryMiB)
}

// card reads the model card the spec names, relative to the spec file.
func (p *parser) card(n *yaml.Node, s *Spec, readFile func(string) ([]byte, error)) {
	name, ok := p.Str(n, "card")
	if !ok {
		return
	}
	full := filepath.Join(filepath.Dir(p.File), name)
	switch {
	case name == "":
		p.errAt(n, "card", "expected the model card's file name (card.md), relative to the spec")
		return
	case filepath.IsAbs(name):
		p.errAt(n, "card", "card %q is an absolute path: expected a path relative to the spec file, so that the spec and its card travel together", yamldoc.Clip(name))
		return
	case readFile == nil:
		p.errAt(n, "card", "card %q cannot be read here (no file access): read the spec from a file, or drop the card key", yamldoc.Clip(name))
		return
	}
	b, err := readFile(full)
	switch {
	case err != nil:
		p.errAt(n, "card", "cannot read the model card: %v", err)
	case len(b) == 0:
		p.errAt(n, "card", "the model card %s is empty", full)
	case len(b) > MaxCardBytes:
		p.errAt(n, "card", "the model card %s is %d bytes: expected at most %d (64 KiB); link to longer material instead", full, len(b), MaxCardBytes)
	case !utf8.Valid(b):
		p.errAt(n, "card", "the model card %s is not valid UTF-8 text", full)
	default:
		s.Card = string(b)
	}
}

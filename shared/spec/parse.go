package spec

import (
	"fmt"
	"path/filepath"
	"slices"
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

type parser struct {
	yamldoc.Problems
}

// kind is what Parse expects, for the messages about a file that is not a spec.
var kind = yamldoc.Kind{APIVersion: APIVersion, Kind: Kind, Name: "model spec", Plural: "model specs", Short: "spec",
	MaxBytes: MaxSpecBytes, SizeHint: "; a spec is settings, and the card is a file of its own"}

// Parse reads a model spec (YAML, see README.md) and validates it on its own;
// CheckContract checks it against its dataset's contract. file names the
// source in error messages, and the card is read relative to it: readFile is
// called with filepath.Join(filepath.Dir(file), card), so os.ReadFile serves
// as is. A nil readFile means no file access, and a spec naming a card is then
// an error. Every problem found is returned, as *Error values joined with
// errors.Join, in line order.
func Parse(file string, data []byte, readFile func(name string) ([]byte, error)) (*Spec, error) {
	doc, err := yamldoc.Decode(file, data, kind)
	if err != nil {
		return nil, err
	}
	p := &parser{Problems: yamldoc.Problems{File: file}}
	s := &Spec{}
	if !p.top(doc, s, readFile) {
		// Not a model spec at all (a list, a contract): what it lacks as a
		// spec would only bury the one message that matters.
		return nil, p.Err()
	}
	s.fillAbsent(p.Written)
	// Validate after the structure: a field that failed to parse is left at its
	// zero value (its default), and any follow-on complaint lands on the same
	// spot as the first, where Err drops it.
	src, err := p.Finish(doc, s.problems(p.Written))
	if err != nil {
		return nil, err
	}
	s.normalize()
	s.src = src
	return s, nil
}

// misplaced says where an unknown top-level key that is an XGBoost parameter
// belongs.
func misplaced(path, key string) string {
	if _, refused := refusedParams[key]; path == "" && (refused || slices.Contains(knownParams, key)) {
		return "XGBoost parameters go under params"
	}
	return ""
}

func (p *parser) fields(n *yaml.Node, path string, known []string) map[string]yamldoc.Entry {
	return p.Fields(n, path, known, misplaced)
}

func (p *parser) intField(f map[string]yamldoc.Entry, key, path string, dst *int) {
	if e, ok := f[key]; ok {
		if v, ok := p.Integer(e.Val, path); ok {
			*dst = int(v)
		}
	}
}

// top reads the document. It returns false when the document is not a model
// spec at all: not a mapping, or another apiVersion or kind.
func (p *parser) top(doc *yaml.Node, s *Spec, readFile func(string) ([]byte, error)) bool {
	f := p.fields(doc, "", topKeys)
	if doc.Kind != yaml.MappingNode || !p.Header(doc, f, kind) {
		return false
	}
	yamldoc.Set(f, "", "name", p.Str, &s.Name)
	yamldoc.Set(f, "", "description", p.Str, &s.Description)
	yamldoc.Set(f, "", "dataset", p.Str, &s.Dataset)
	yamldoc.Set(f, "", "objective", p.Str, &s.Objective)
	yamldoc.Set(f, "", "policy", p.Str, &s.Policy)
	if e, ok := f["target"]; ok {
		t := p.fields(e.Val, "target", targetKeys)
		yamldoc.Set(t, "target", "column", p.Str, &s.Target.Column)
		yamldoc.Set(t, "target", "positiveClass", p.Str, &s.Target.PositiveClass)
	}
	if e, ok := f["params"]; ok {
		p.params(e.Val, s)
	}
	p.intField(f, "numBoostRound", "numBoostRound", &s.NumBoostRound)
	p.intField(f, "earlyStoppingRounds", "earlyStoppingRounds", &s.EarlyStoppingRounds)
	yamldoc.Set(f, "", "threshold", p.Number, &s.Threshold)
	if e, ok := f["split"]; ok {
		sp := p.fields(e.Val, "split", splitKeys)
		yamldoc.Set(sp, "split", "validation", p.Number, &s.Split.Validation)
		yamldoc.Set(sp, "split", "test", p.Number, &s.Split.Test)
		yamldoc.Set(sp, "split", "seed", p.Integer, &s.Split.Seed)
	}
	if e, ok := f["trainer"]; ok {
		p.trainer(e.Val, &s.Trainer)
	}
	if e, ok := f["trigger"]; ok {
		tr := p.fields(e.Val, "trigger", triggerKeys)
		yamldoc.Set(tr, "trigger", "manual", p.Bool, &s.Trigger.Manual)
		yamldoc.Set(tr, "trigger", "minIntervalHours", p.Number, &s.Trigger.MinIntervalHours)
		yamldoc.Set(tr, "trigger", "minNewRows", p.Integer, &s.Trigger.MinNewRows)
	}
	if e, ok := f["card"]; ok {
		p.card(e.Val, s, readFile)
	}
	return true
}

// params reads the XGBoost parameters: numbers, text or booleans. Which keys
// are allowed is Validate's business, so that a spec built in Go or read from
// JSON meets the same rules.
func (p *parser) params(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		p.At(n, "params", "expected a mapping of XGBoost parameters (max_depth: 4), found %s", yamldoc.KindName(n))
		return
	}
	s.Params = map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.At(k, "params", "expected a parameter name, found %s", yamldoc.KindName(k))
			continue
		}
		kp := "params." + k.Value
		if _, dup := s.Params[k.Value]; dup {
			p.At(k, kp, "parameter %q appears twice", k.Value)
			continue
		}
		// Problems with the name point at the name; the value's type is
		// checked here, where its node is at hand.
		p.Mark(kp, k)
		switch {
		case v.Kind != yaml.ScalarNode || v.Tag == "!!null":
			p.At(v, kp, "expected a number, a text value or true/false, found %s", yamldoc.KindName(v))
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
			p.At(v, kp, "expected a number, a text value or true/false, found a value tagged %s", v.Tag)
			s.Params[k.Value] = ""
		}
	}
}

func (p *parser) trainer(n *yaml.Node, t *Trainer) {
	f := p.fields(n, "trainer", trainerKeys)
	yamldoc.Set(f, "trainer", "image", p.Str, &t.Image)
	if e, ok := f["command"]; ok {
		if e.Val.Kind != yaml.SequenceNode {
			p.At(e.Val, "trainer.command", "expected a list of arguments ([/usr/bin/python3, train.py]), found %s", yamldoc.KindName(e.Val))
		} else {
			for i, a := range e.Val.Content {
				ap := fmt.Sprintf("trainer.command[%d]", i)
				p.Mark(ap, a)
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
		p.At(n, "card", "expected the model card's file name (card.md), relative to the spec")
		return
	case filepath.IsAbs(name):
		p.At(n, "card", "card %q is an absolute path: expected a path relative to the spec file, so that the spec and its card travel together", yamldoc.Clip(name))
		return
	case readFile == nil:
		p.At(n, "card", "card %q cannot be read here (no file access): read the spec from a file, or drop the card key", yamldoc.Clip(name))
		return
	}
	b, err := readFile(full)
	switch {
	case err != nil:
		p.At(n, "card", "cannot read the model card: %v", err)
	case len(b) == 0:
		p.At(n, "card", "the model card %s is empty", full)
	case len(b) > MaxCardBytes:
		p.At(n, "card", "the model card %s is %d bytes: expected at most %d (64 KiB); link to longer material instead", full, len(b), MaxCardBytes)
	case !utf8.Valid(b):
		p.At(n, "card", "the model card %s is not valid UTF-8 text", full)
	default:
		s.Card = string(b)
	}
}

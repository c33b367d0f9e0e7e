package yamldoc

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problems collects the located problems of one document, and reads scalar
// values by the platform's rules, reporting a value of the wrong kind at its
// line. It also records where each field was written, so that problems found
// later are reported there (Source). A document parser embeds it.
type Problems struct {
	File string
	Errs []*Error
	// loc maps a canonical path (trainer.gpus) to where it was written.
	loc map[string]Pos
	// written records the paths whose keys Fields read, so that an omitted
	// field can take its default while an explicit zero stays.
	written map[string]bool
}

// Pos is a position in a document.
type Pos struct{ Line, Col int }

// Mark records that the field at the canonical path was written at n.
func (p *Problems) Mark(path string, n *yaml.Node) {
	if n == nil {
		return
	}
	if p.loc == nil {
		p.loc = map[string]Pos{}
	}
	p.loc[path] = Pos{n.Line, n.Column}
}

// Written reports whether Fields read the key at path.
func (p *Problems) Written(path string) bool { return p.written[path] }

// Source returns where the fields recorded so far were written; fields not
// written at all are placed at doc.
func (p *Problems) Source(doc *yaml.Node) *Source {
	return &Source{File: p.File, loc: p.loc, doc: Pos{doc.Line, doc.Column}}
}

// Source is where a parsed document came from: the file and, by canonical
// path, where each written field is, so that problems found later (Validate's,
// or against another document) are reported on the author's line.
type Source struct {
	File string
	loc  map[string]Pos
	doc  Pos
}

// Locate finds the field's position, or that of its nearest written ancestor,
// or the document's start.
func (s *Source) Locate(path string) Pos {
	if l, ok := Nearest(s.loc, path); ok {
		return l
	}
	return s.doc
}

// Nearest looks path up in m, or else its nearest ancestor (a.b for a.b[2].c).
func Nearest[T any](m map[string]T, path string) (T, bool) {
	for f := path; f != ""; {
		if v, ok := m[f]; ok {
			return v, true
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			break
		}
		f = f[:i]
	}
	var zero T
	return zero, false
}

// Position fills in the file, line and column of each problem that has no
// line. A nil Source (a document read from canonical JSON) leaves them be.
func (s *Source) Position(errs []*Error) {
	if s == nil {
		return
	}
	for _, e := range errs {
		if e.Line == 0 {
			l := s.Locate(e.Field)
			e.File, e.Line, e.Col = s.File, l.Line, l.Col
		}
	}
}

// Finish returns where the document's fields were written and every problem
// found: those reported while reading it, and later ones (Validate's, which
// have no position) placed on the author's line.
func (p *Problems) Finish(doc *yaml.Node, later []*Error) (*Source, error) {
	src := p.Source(doc)
	src.Position(later)
	p.Errs = append(p.Errs, later...)
	return src, p.Err()
}

// Entry is one key: value of a mapping.
type Entry struct{ Key, Val *yaml.Node }

// Fields reads a mapping with a fixed set of keys, reporting duplicate and
// unknown ones (with a "did you mean" hint), and returns the known keys'
// entries, each marked written at its value. For an unknown key with no close
// match, hint may say where it belongs instead; "" (or a nil hint) lists the
// known keys.
func (p *Problems) Fields(n *yaml.Node, path string, known []string, hint func(path, key string) string) map[string]Entry {
	out := map[string]Entry{}
	if n.Kind != yaml.MappingNode {
		p.At(n, path, "expected a mapping (key: value lines), found %s", KindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := Path(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.At(k, path, "expected a plain key, found %s", KindName(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.At(k, kp, "key %q appears twice", k.Value)
			continue
		}
		if !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("unknown key %q", Clip(k.Value))
			h := ""
			if hint != nil {
				h = hint(path, k.Value)
			}
			switch s := Closest(k.Value, known); {
			case s != "":
				msg += fmt.Sprintf(": did you mean %q?", s)
			case h != "":
				msg += ": " + h
			default:
				msg += ": expected one of " + strings.Join(known, ", ")
			}
			p.At(k, kp, "%s", msg)
			continue
		}
		out[k.Value] = Entry{k, v}
		if p.written == nil {
			p.written = map[string]bool{}
		}
		p.written[kp] = true
		p.Mark(kp, v)
	}
	return out
}

// MaxErrors is how many problems Err reports before it says how many more: a
// file of garbage would otherwise give a wall of text that hides the first,
// usually the real, problem.
const MaxErrors = 50

// Err returns the problems in line order, joined (nil for none), without
// follow-on complaints: one at the same spot as an earlier one, about the same
// field or a field inside it.
func (p *Problems) Err() error {
	SortByPosition(p.Errs)
	var out []*Error
	group := 0 // out[group:] are the kept problems at the current position
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
	if len(out) > MaxErrors {
		more := len(out) - MaxErrors
		out = append(out[:MaxErrors], &Error{File: p.File, Msg: fmt.Sprintf("and %d more problems", more)})
	}
	return Join(out)
}

// SortByPosition sorts problems by line, then column, keeping the order of
// those at one position.
func SortByPosition(errs []*Error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// within reports whether field is parent or a path inside it.
func within(field, parent string) bool {
	return field == parent || strings.HasPrefix(field, parent+".") || strings.HasPrefix(field, parent+"[")
}

// At records a problem at n (nil: no position) in the field at path.
func (p *Problems) At(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: p.File, Field: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.Errs = append(p.Errs, e)
}

// Str reads any non-null scalar as text: a label written 1 or true is the text
// "1" or "true", as contracts compare values.
func (p *Problems) Str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.At(n, path, "expected a text value, found %s", KindName(n))
		return "", false
	}
	return n.Value, true
}

// Bool reads true or false.
func (p *Problems) Bool(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.At(n, path, "expected true or false, found %s", KindName(n))
	return false, false
}

// Number reads a finite number.
func (p *Problems) Number(n *yaml.Node, path string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	p.At(n, path, "expected a finite number, found %s", KindName(n))
	return 0, false
}

// Integer reads a whole number. Values beyond ±2^53 are refused here, before
// they could wrap around in a conversion; the real bounds are the caller's.
func (p *Problems) Integer(n *yaml.Node, path string) (int64, bool) {
	f, ok := p.Number(n, path)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		p.At(n, path, "expected a whole number, found %s", KindName(n))
		return 0, false
	}
	return int64(f), true
}

// Set reads the value of key in f, when the key was written, into dst with
// read (a Problems method: Str, Bool, Number, Integer), which reports a value
// of the wrong kind at parent.key and leaves dst as it is.
func Set[T any](f map[string]Entry, parent, key string, read func(*yaml.Node, string) (T, bool), dst *T) {
	if e, ok := f[key]; ok {
		if v, ok := read(e.Val, Path(parent, key)); ok {
			*dst = v
		}
	}
}

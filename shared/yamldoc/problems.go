package yamldoc

import (
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// Problems collects the located problems of one document, and reads scalar
// values by the platform's rules, reporting a value of the wrong kind at its
// line. A document parser embeds it.
type Problems struct {
	File string
	Errs []*Error
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

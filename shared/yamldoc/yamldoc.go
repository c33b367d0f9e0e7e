// Package yamldoc holds what the platform's hand-written YAML documents (dataset
// contracts, model specs, promotion policies) share: reading one document
// safely (Decode: size, empty and multi-document checks, no anchors or
// aliases, no panics), errors located at file:line:col with the field's path,
// "did you mean" hints, reading fields and the header, and placing problems
// found later on the author's line (Source).
package yamldoc

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a document. Problems found in stored canonical JSON,
// which has no YAML to point into, leave Line at 0.
type Error struct {
	File  string
	Line  int
	Col   int
	Field string // the field's path, e.g. schema[0].properties[2].logicalType
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, "%d:", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Join joins problems into one error (nil for none), each still an *Error for
// errors.As.
func Join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// Path is a field's path below parent.
func Path(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Closest returns the candidate within edit distance 2 of s (case-insensitive),
// for "did you mean" hints, or "".
func Closest(s string, cands []string) string {
	best, bestD := "", 3
	for _, c := range cands {
		if n := len(s) - len(c); n > 2 || n < -2 {
			continue // at least three edits apart
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// KindName says what a node is, for "expected X, found Y" messages.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("the value %q", Clip(n.Value))
	}
	return "something else"
}

// Clip shortens a value quoted in a message, on a rune boundary.
func Clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	r := []rune(s)
	return string(r[:40]) + "…"
}

// FindAlias returns the first anchor or alias in the tree, or nil. The
// platform's documents have no use for them, and expanding them while walking a
// tree is how small files become huge.
func FindAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n
	}
	for _, c := range n.Content {
		if a := FindAlias(c); a != nil {
			return a
		}
	}
	return nil
}

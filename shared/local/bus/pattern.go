package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Pattern is a compiled EventBridge event pattern.
//
// Matching follows EventBridge's content filtering (the aws/event-ruler
// semantics): every field named in the pattern must match (AND), and a field
// matches when any of the values listed for it matches (OR). An array in the
// event matches when any of its elements does. Fields inside objects that are
// elements of the same event array must match within one element
// ("array-consistent" matching), while {"exists": false} means the field is
// absent everywhere in the event, as in EventBridge, which flattens the event
// into leaf paths before checking absence.
type Pattern struct {
	root *objectPattern
}

type objectPattern struct {
	fields []fieldPattern
	// or holds the alternatives of a "$or" key; at most one per object because a
	// JSON object has each key once.
	or []*objectPattern
}

type fieldPattern struct {
	key    string
	nested *objectPattern // set for {"key": {...}}
	values []matcher      // set for {"key": [...]}
}

// matcher is one entry of a field's value list.
type matcher struct {
	kind matchKind
	// exact, anything-but lists
	literals []any // string, json.Number, bool or nil
	str      string
	fold     bool // equals-ignore-case variant of prefix/suffix/anything-but
	strs     []string
	globs    []glob
	exists   bool
	num      numericRange
	cidr     netip.Prefix
	negate   bool // anything-but
}

type matchKind int

const (
	kindExact matchKind = iota
	kindPrefix
	kindSuffix
	kindEqualsIgnoreCase
	kindWildcard
	kindNumeric
	kindExists
	kindCIDR
	kindAnythingBut // literals (strings or numbers)
)

// isOperator reports whether k is a keyword EventBridge reserves inside a
// value-list object.
func isOperator(k string) bool {
	switch k {
	case "prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case", "wildcard", "cidr":
		return true
	}
	return false
}

// ParsePattern compiles an EventBridge event pattern. The error names the
// offending field path and the rule it breaks, like EventBridge's
// "Event pattern is not valid" reasons.
func ParsePattern(src string) (*Pattern, error) {
	v, err := decodeJSON([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("event pattern is not valid JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("event pattern must be a JSON object")
	}
	root, err := compileObject(obj, "")
	if err != nil {
		return nil, fmt.Errorf("event pattern is not valid: %w", err)
	}
	return &Pattern{root: root}, nil
}

// decodeJSON decodes one JSON value, keeping numbers as json.Number so that
// exact numeric comparisons do not depend on float formatting, and rejecting
// trailing data.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compileObject(obj map[string]any, path string) (*objectPattern, error) {
	if len(obj) == 0 {
		if path == "" {
			return nil, errors.New("the pattern is empty")
		}
		return nil, fmt.Errorf("%s: empty objects are not allowed", path)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	// Sorted so that compilation, and therefore error messages, are deterministic.
	sort.Strings(keys)
	op := &objectPattern{}
	for _, k := range keys {
		fp := joinPath(path, k)
		switch v := obj[k].(type) {
		case map[string]any:
			nested, err := compileObject(v, fp)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, fieldPattern{key: k, nested: nested})
		case []any:
			if k == "$or" && isOrList(v) {
				if len(v) < 2 {
					return nil, fmt.Errorf("%s: $or needs at least two alternatives", fp)
				}
				for i, alt := range v {
					sub, err := compileObject(alt.(map[string]any), fmt.Sprintf("%s[%d]", fp, i))
					if err != nil {
						return nil, err
					}
					op.or = append(op.or, sub)
				}
				continue
			}
			ms, err := compileValues(v, fp)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, fieldPattern{key: k, values: ms})
		default:
			return nil, fmt.Errorf("%s: match value must be an array or an object, got %s", fp, jsonKind(v))
		}
	}
	return op, nil
}

// isOrList reports whether a "$or" array is the OR primitive: EventBridge only
// treats it so when every element is an object using no operator keyword;
// otherwise "$or" is an ordinary field name.
func isOrList(v []any) bool {
	if len(v) == 0 {
		return false
	}
	for _, e := range v {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		for k := range m {
			if isOperator(k) {
				return false
			}
		}
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func compileValues(list []any, path string) ([]matcher, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: empty arrays are not allowed", path)
	}
	ms := make([]matcher, 0, len(list))
	for i, e := range list {
		ep := fmt.Sprintf("%s[%d]", path, i)
		switch v := e.(type) {
		case nil, string, json.Number, bool:
			ms = append(ms, matcher{kind: kindExact, literals: []any{v}})
		case map[string]any:
			m, err := compileOperator(v, ep)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		default:
			return nil, fmt.Errorf("%s: match values must be strings, numbers, booleans, null or operator objects, got %s", ep, jsonKind(v))
		}
	}
	return ms, nil
}

func compileOperator(obj map[string]any, path string) (matcher, error) {
	if len(obj) != 1 {
		return matcher{}, fmt.Errorf("%s: an operator object must have exactly one key, got %d", path, len(obj))
	}
	var op string
	var arg any
	for k, v := range obj {
		op, arg = k, v
	}
	p := path + "." + op
	switch op {
	case "prefix", "suffix":
		kind := kindPrefix
		if op == "suffix" {
			kind = kindSuffix
		}
		s, fold, err := stringOrIgnoreCase(arg, p)
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: kind, str: s, fold: fold}, nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: must be a string, got %s", p, jsonKind(arg))
		}
		return matcher{kind: kindEqualsIgnoreCase, str: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: must be a string, got %s", p, jsonKind(arg))
		}
		g, err := parseGlob(s)
		if err != nil {
			return matcher{}, fmt.Errorf("%s: %w", p, err)
		}
		return matcher{kind: kindWildcard, globs: []glob{g}}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return matcher{}, fmt.Errorf("%s: must be true or false, got %s", p, jsonKind(arg))
		}
		return matcher{kind: kindExists, exists: b}, nil
	case "numeric":
		r, err := parseNumeric(arg, p)
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: kindNumeric, num: r}, nil
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return matcher{}, fmt.Errorf("%s: must be a string, got %s", p, jsonKind(arg))
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return matcher{}, fmt.Errorf("%s: %q is not a CIDR block: %w", p, s, err)
		}
		return matcher{kind: kindCIDR, cidr: pfx.Masked()}, nil
	case "anything-but":
		return compileAnythingBut(arg, p)
	}
	return matcher{}, fmt.Errorf("%s: unknown operator %q", path, op)
}

// stringOrIgnoreCase accepts "abc" or {"equals-ignore-case": "abc"}, the two
// forms prefix and suffix take.
func stringOrIgnoreCase(arg any, path string) (string, bool, error) {
	switch v := arg.(type) {
	case string:
		return v, false, nil
	case map[string]any:
		if s, ok := v["equals-ignore-case"].(string); ok && len(v) == 1 {
			return s, true, nil
		}
	}
	return "", false, fmt.Errorf(`%s: must be a string or {"equals-ignore-case": string}`, path)
}

func compileAnythingBut(arg any, path string) (matcher, error) {
	m := matcher{negate: true}
	switch v := arg.(type) {
	case string, json.Number:
		m.kind = kindAnythingBut
		m.literals = []any{v}
		return m, nil
	case []any:
		if len(v) == 0 {
			return matcher{}, fmt.Errorf("%s: the list must not be empty", path)
		}
		_, first := v[0].(string)
		for i, e := range v {
			_, isStr := e.(string)
			_, isNum := e.(json.Number)
			if (!isStr && !isNum) || isStr != first {
				return matcher{}, fmt.Errorf("%s[%d]: the list must hold only strings or only numbers", path, i)
			}
		}
		m.kind = kindAnythingBut
		m.literals = v
		return m, nil
	case map[string]any:
		if len(v) != 1 {
			return matcher{}, fmt.Errorf("%s: expects exactly one of prefix, suffix, equals-ignore-case, wildcard", path)
		}
		for op, a := range v {
			p := path + "." + op
			switch op {
			case "prefix", "suffix":
				s, ok := a.(string)
				if !ok {
					return matcher{}, fmt.Errorf("%s: must be a string, got %s", p, jsonKind(a))
				}
				if s == "" {
					// An empty prefix or suffix would exclude every string.
					return matcher{}, fmt.Errorf("%s: must not be empty", p)
				}
				m.kind = kindPrefix
				if op == "suffix" {
					m.kind = kindSuffix
				}
				m.str = s
				return m, nil
			case "equals-ignore-case":
				strs, err := stringOrStrings(a, p)
				if err != nil {
					return matcher{}, err
				}
				m.kind = kindEqualsIgnoreCase
				m.strs = strs
				return m, nil
			case "wildcard":
				strs, err := stringOrStrings(a, p)
				if err != nil {
					return matcher{}, err
				}
				for _, s := range strs {
					g, err := parseGlob(s)
					if err != nil {
						return matcher{}, fmt.Errorf("%s: %w", p, err)
					}
					m.globs = append(m.globs, g)
				}
				m.kind = kindWildcard
				return m, nil
			}
			return matcher{}, fmt.Errorf("%s: unknown anything-but operator %q", path, op)
		}
	}
	return matcher{}, fmt.Errorf("%s: must be a string, a number, a list of either, or an object, got %s", path, jsonKind(arg))
}

func stringOrStrings(a any, path string) ([]string, error) {
	switch v := a.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("%s: the list must not be empty", path)
		}
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: must be a string, got %s", path, i, jsonKind(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: must be a string or a list of strings, got %s", path, jsonKind(a))
}

// numericRange is a closed or open interval; ±Inf stands for an open side.
type numericRange struct {
	lo, hi         float64
	loIncl, hiIncl bool
}

func (r numericRange) contains(x float64) bool {
	if x < r.lo || (x == r.lo && !r.loIncl) {
		return false
	}
	if x > r.hi || (x == r.hi && !r.hiIncl) {
		return false
	}
	return true
}

func parseNumeric(arg any, path string) (numericRange, error) {
	list, ok := arg.([]any)
	if !ok || (len(list) != 2 && len(list) != 4) {
		return numericRange{}, fmt.Errorf(`%s: must be [op, number] or [">"|">=", number, "<"|"<=", number]`, path)
	}
	r := numericRange{lo: math.Inf(-1), hi: math.Inf(1), loIncl: true, hiIncl: true}
	seenLo, seenHi := false, false
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok {
			return numericRange{}, fmt.Errorf("%s[%d]: operator must be a string, got %s", path, i, jsonKind(list[i]))
		}
		n, ok := list[i+1].(json.Number)
		if !ok {
			return numericRange{}, fmt.Errorf("%s[%d]: must be a number, got %s", path, i+1, jsonKind(list[i+1]))
		}
		x, err := n.Float64()
		if err != nil || math.IsInf(x, 0) {
			return numericRange{}, fmt.Errorf("%s[%d]: %s is not a finite number", path, i+1, n)
		}
		switch op {
		case "=":
			if len(list) != 2 {
				return numericRange{}, fmt.Errorf(`%s: "=" cannot be combined with another operator`, path)
			}
			r.lo, r.hi = x, x
			seenLo, seenHi = true, true
		case ">", ">=":
			if seenLo {
				return numericRange{}, fmt.Errorf("%s: two lower bounds", path)
			}
			if i != 0 {
				return numericRange{}, fmt.Errorf("%s: the lower bound must come first", path)
			}
			r.lo, r.loIncl, seenLo = x, op == ">=", true
		case "<", "<=":
			if seenHi {
				return numericRange{}, fmt.Errorf("%s: two upper bounds", path)
			}
			r.hi, r.hiIncl, seenHi = x, op == "<=", true
		default:
			return numericRange{}, fmt.Errorf("%s[%d]: unknown numeric operator %q", path, i, op)
		}
	}
	if len(list) == 4 && !(seenLo && seenHi) {
		return numericRange{}, fmt.Errorf("%s: a range needs a lower and an upper bound", path)
	}
	if r.lo > r.hi || (r.lo == r.hi && !(r.loIncl && r.hiIncl)) {
		return numericRange{}, fmt.Errorf("%s: the range is empty", path)
	}
	return r, nil
}

// glob is a wildcard pattern split at its unescaped '*'s: the value must start
// with the first part, end with the last, and contain the others in order.
type glob struct {
	parts []string
}

func parseGlob(s string) (glob, error) {
	var parts []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '*':
			if prevStar {
				return glob{}, fmt.Errorf("wildcard %q has consecutive '*' characters", s)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			prevStar = true
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return glob{}, fmt.Errorf(`wildcard %q: a backslash may only escape '*' or '\'`, s)
			}
			i++
			c = s[i]
		}
		cur.WriteByte(c)
		prevStar = false
	}
	parts = append(parts, cur.String())
	return glob{parts: parts}, nil
}

func (g glob) match(s string) bool {
	if len(g.parts) == 1 {
		return s == g.parts[0]
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	// Leftmost placement of each middle part is optimal for a '*'-only glob.
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

// Match reports whether an event, given as JSON, matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	v, err := decodeJSON(event)
	if err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	return p.matchValue(v), nil
}

// matchValue matches an event decoded by decodeJSON.
func (p *Pattern) matchValue(event any) bool {
	obj, _ := event.(map[string]any)
	return p.root.match(obj, event, nil)
}

// match matches the object obj (nil when the event has no object here) found
// at path in the event root.
func (op *objectPattern) match(obj map[string]any, root any, path []string) bool {
	for _, f := range op.fields {
		fp := append(path[:len(path):len(path)], f.key)
		v, present := obj[f.key]
		if f.nested != nil {
			if !matchNested(f.nested, v, root, fp) {
				return false
			}
			continue
		}
		var leaves []any
		if present {
			leaves = leafValues(v, nil)
		}
		if !matchField(f.values, leaves, root, fp) {
			return false
		}
	}
	if len(op.or) > 0 {
		for _, alt := range op.or {
			if alt.match(obj, root, path) {
				return true
			}
		}
		return false
	}
	return true
}

// matchNested matches a nested pattern against the event value v: an object
// directly, an array element by element (array-consistent), anything else as
// an absent object, so only absence tests can pass.
func matchNested(p *objectPattern, v any, root any, path []string) bool {
	objs := objectValues(v, nil)
	if len(objs) == 0 {
		return p.match(nil, root, path)
	}
	for _, o := range objs {
		if p.match(o, root, path) {
			return true
		}
	}
	return false
}

func objectValues(v any, out []map[string]any) []map[string]any {
	switch t := v.(type) {
	case map[string]any:
		out = append(out, t)
	case []any:
		for _, e := range t {
			out = objectValues(e, out)
		}
	}
	return out
}

// leafValues flattens arrays (at any depth) and drops objects: only scalars
// and null are leaves in EventBridge's flattened view of an event.
func leafValues(v any, out []any) []any {
	switch t := v.(type) {
	case map[string]any:
	case []any:
		for _, e := range t {
			out = leafValues(e, out)
		}
	default:
		out = append(out, t)
	}
	return out
}

// hasLeafAt reports whether the event has any leaf at path, looking through
// every array on the way.
func hasLeafAt(v any, path []string) bool {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if hasLeafAt(e, path) {
				return true
			}
		}
		return false
	case map[string]any:
		if len(path) == 0 {
			return false
		}
		c, ok := t[path[0]]
		return ok && hasLeafAt(c, path[1:])
	default:
		return len(path) == 0
	}
}

func matchField(ms []matcher, leaves []any, root any, path []string) bool {
	for i := range ms {
		m := &ms[i]
		if m.kind == kindExists {
			if m.exists == (len(leaves) > 0) && (m.exists || !hasLeafAt(root, path)) {
				return true
			}
			continue
		}
		for _, v := range leaves {
			if m.matchLeaf(v) {
				return true
			}
		}
	}
	return false
}

func (m *matcher) matchLeaf(v any) bool {
	if m.negate {
		return !m.excludes(v)
	}
	switch m.kind {
	case kindExact:
		return literalEqual(m.literals[0], v)
	case kindNumeric:
		x, ok := number(v)
		return ok && m.num.contains(x)
	case kindCIDR:
		s, ok := v.(string)
		if !ok {
			return false
		}
		a, err := netip.ParseAddr(s)
		return err == nil && m.cidr.Contains(a.Unmap())
	}
	s, ok := v.(string)
	return ok && m.matchString(s)
}

// matchString applies the string operators; anything-but reuses it to decide
// what it excludes.
func (m *matcher) matchString(s string) bool {
	switch m.kind {
	case kindPrefix:
		if m.fold {
			return strings.HasPrefix(strings.ToLower(s), strings.ToLower(m.str))
		}
		return strings.HasPrefix(s, m.str)
	case kindSuffix:
		if m.fold {
			return strings.HasSuffix(strings.ToLower(s), strings.ToLower(m.str))
		}
		return strings.HasSuffix(s, m.str)
	case kindEqualsIgnoreCase:
		if m.strs == nil {
			return strings.EqualFold(s, m.str)
		}
		for _, x := range m.strs {
			if strings.EqualFold(s, x) {
				return true
			}
		}
	case kindWildcard:
		for _, g := range m.globs {
			if g.match(s) {
				return true
			}
		}
	}
	return false
}

// excludes reports whether anything-but rules out v. Values of another type
// than the excluded ones are not excluded, as in EventBridge, which compares
// JSON representations.
func (m *matcher) excludes(v any) bool {
	if m.kind == kindAnythingBut {
		for _, l := range m.literals {
			if literalEqual(l, v) {
				return true
			}
		}
		return false
	}
	s, ok := v.(string)
	return ok && m.matchString(s)
}

// literalEqual compares a pattern literal with an event value: strings and
// booleans exactly, numbers by value (so 300 matches 3.0e2), null with null.
func literalEqual(lit, v any) bool {
	switch l := lit.(type) {
	case nil:
		return v == nil
	case string:
		s, ok := v.(string)
		return ok && s == l
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	case json.Number:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if n == l {
			return true
		}
		x, err1 := strconv.ParseFloat(string(l), 64)
		y, err2 := strconv.ParseFloat(string(n), 64)
		return err1 == nil && err2 == nil && x == y
	}
	return false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(n), 64)
	return x, err == nil
}

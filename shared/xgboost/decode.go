package xgboost

// The decoder reads a model's JSON in one pass, by recursive descent over the
// model's schema (parse.go), without reflection: the long arrays of a tree go
// straight into typed scratch slices, and each tree goes to the builder as soon
// as its object closes. It checks the JSON as strictly as encoding/json (whose
// decoder into the same schema is the reference in reference_test.go): members
// it does not read are still checked to be JSON, nesting is limited to the same
// depth, and a type encoding/json would refuse is refused.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNesting is encoding/json's limit on nesting.
const maxNesting = 10000

type decoder struct {
	data  []byte
	pos   int
	depth int // containers open at pos
	b     *builder
	tree  jsonTree // scratch for the tree being read
	tp    jsonTreeParam
	id    int64
	stack []byte // skip's open containers
	key   []byte // scratch for a folded key
}

// decodeError is a JSON error: where it is (the byte offset, and the path to
// the value, built as the error returns through the members and elements) and
// what was wrong.
type decodeError struct {
	off  int
	path []string // innermost first
	msg  string
	err  error // what it wraps, if anything
}

func (e *decodeError) Unwrap() error { return e.err }

func (e *decodeError) Error() string {
	if len(e.path) == 0 {
		return fmt.Sprintf("at byte %d: %s", e.off, e.msg)
	}
	var p strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		if s := e.path[i]; p.Len() != 0 && !strings.HasPrefix(s, "[") {
			p.WriteByte('.')
		}
		p.WriteString(e.path[i])
	}
	return fmt.Sprintf("at byte %d, %s: %s", e.off, p.String(), e.msg)
}

func (d *decoder) errorf(format string, args ...any) error {
	return &decodeError{off: d.pos, msg: fmt.Sprintf(format, args...)}
}

// in adds a member's name to the path of err, if it is the decoder's: as it
// is when it is a plain name, else quoted.
func in(err error, name string) error {
	if e, ok := err.(*decodeError); ok {
		plain := name != ""
		for _, c := range []byte(name) {
			plain = plain && (c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z')
		}
		if !plain {
			name = strconv.Quote(name)
		}
		e.path = append(e.path, name)
	}
	return err
}

// at adds an element's index to the path of err.
func at(err error, i int) error {
	if e, ok := err.(*decodeError); ok {
		e.path = append(e.path, "["+strconv.Itoa(i)+"]")
	}
	return err
}

// decode reads data into doc, giving the trees of gradient_booster.model to b.
func decode(data []byte, doc *jsonModel, b *builder) error {
	d := &decoder{data: data, b: b}
	d.ws()
	if d.pos == len(data) {
		return d.errorf("no JSON value")
	}
	if d.null() {
		// encoding/json leaves the model empty; build says what is missing.
	} else if err := d.object(modelKeys, func(i int) error {
		switch i {
		case 0:
			return readPtr(d, &doc.Learner, d.learner)
		default:
			var err error
			doc.Version, err = d.ints()
			return err
		}
	}); err != nil {
		return err
	}
	d.ws()
	if d.pos != len(data) {
		return d.errorf("trailing data after the model")
	}
	return nil
}

var (
	modelKeys     = []string{"learner", "version"}
	learnerKeys   = []string{"feature_names", "feature_types", "gradient_booster", "learner_model_param", "objective"}
	boosterKeys   = []string{"name", "model", "gbtree"}
	paramKeys     = []string{"base_score", "num_class", "num_feature", "num_target", "multi_strategy"}
	objectiveKeys = []string{"name"}
	dartKeys      = []string{"model"}
	gbtreeKeys    = []string{"gbtree_model_param", "tree_info", "trees"}
	gbParamKeys   = []string{"num_trees", "num_parallel_tree"}
	treeKeys      = []string{"id", "left_children", "right_children", "split_indices", "split_conditions",
		"default_left", "split_type", "base_weights", "sum_hessian", "categories", "categories_nodes", "tree_param"}
	treeParamKeys = []string{"num_nodes", "num_feature", "size_leaf_vector"}
)

func (d *decoder) learner(l *jsonLearner) error {
	return d.object(learnerKeys, func(i int) error {
		var err error
		switch i {
		case 0:
			l.FeatureNames, err = d.stringArray()
		case 1:
			l.FeatureTypes, err = d.stringArray()
		case 2:
			err = readPtr(d, &l.GradientBooster, d.booster)
		case 3:
			err = readPtr(d, &l.LearnerModelParam, func(p *jsonLearnerParam) error {
				return d.object(paramKeys, func(i int) error {
					return d.param([]**jsonString{&p.BaseScore, &p.NumClass, &p.NumFeature, &p.NumTarget, &p.MultiStrategy}[i])
				})
			})
		default:
			err = readPtr(d, &l.Objective, func(o *jsonObjective) error {
				return d.object(objectiveKeys, func(int) error { return d.stringField(&o.Name) })
			})
		}
		return err
	})
}

func (d *decoder) booster(g *jsonGradientBooster) error {
	return d.object(boosterKeys, func(i int) error {
		switch i {
		case 0:
			return d.stringField(&g.Name)
		case 1:
			return readPtr(d, &g.Model, func(m *jsonGBTree) error { return d.gbtree(m, true) })
		default:
			// The inner booster of a dart model: read (so that its errors are
			// found), not used.
			return readPtr(d, &g.Dart, func(m *jsonDartInner) error {
				return d.object(dartKeys, func(int) error {
					return readPtr(d, &m.Model, func(m *jsonGBTree) error { return d.gbtree(m, false) })
				})
			})
		}
	})
}

// gbtree reads a gbtree model, its trees going to the builder if build is set.
func (d *decoder) gbtree(m *jsonGBTree, build bool) error {
	return d.object(gbtreeKeys, func(i int) error {
		switch i {
		case 0:
			return readPtr(d, &m.Param, func(p *jsonGBTreeParam) error {
				return d.object(gbParamKeys, func(i int) error {
					return d.param([]**jsonString{&p.NumTrees, &p.NumParallelTree}[i])
				})
			})
		case 1:
			var err error
			m.TreeInfo, err = d.int64s(m.TreeInfo)
			return err
		default:
			return d.trees(build)
		}
	})
}

// trees reads the array of trees.
func (d *decoder) trees(build bool) error {
	if d.null() {
		return nil
	}
	first := 0
	return d.array("an array of trees", func(i int) error {
		if i == 0 {
			first = d.pos
		}
		if err := d.treeObject(); err != nil {
			return err
		}
		if !build {
			return nil
		}
		if err := d.b.addTree(&d.tree); err != nil {
			return err
		}
		if i == 0 {
			// Trees take about as many bytes each: size the builder for
			// as many trees as the rest of the JSON would hold.
			d.b.reserve(len(d.data)-first, d.pos-first)
		}
		return nil
	})
}

// treeObject reads one tree into d.tree. A null tree is an empty one, as
// encoding/json leaves it.
func (d *decoder) treeObject() error {
	t := &d.tree
	t.ID, t.TreeParam = nil, nil
	t.LeftChildren, t.RightChildren, t.SplitIndices = t.LeftChildren[:0], t.RightChildren[:0], t.SplitIndices[:0]
	t.SplitConditions, t.DefaultLeft, t.SplitType = t.SplitConditions[:0], t.DefaultLeft[:0], t.SplitType[:0]
	t.BaseWeights, t.SumHessian = t.BaseWeights[:0], t.SumHessian[:0]
	t.Categories, t.CategoriesNodes = t.Categories[:0], t.CategoriesNodes[:0]
	if d.null() {
		return nil
	}
	return d.object(treeKeys, func(i int) error {
		var err error
		switch i {
		case 0:
			if d.null() {
				return nil
			}
			t.ID = &d.id
			d.id, err = d.int64()
		case 1:
			t.LeftChildren, err = d.int64s(t.LeftChildren)
		case 2:
			t.RightChildren, err = d.int64s(t.RightChildren)
		case 3:
			t.SplitIndices, err = d.int64s(t.SplitIndices)
		case 4:
			t.SplitConditions, err = d.floats(t.SplitConditions)
		case 5:
			t.DefaultLeft, err = d.bools(t.DefaultLeft)
		case 6:
			t.SplitType, err = d.int64s(t.SplitType)
		case 7:
			t.BaseWeights, err = d.floatsChecked(t.BaseWeights)
		case 8:
			t.SumHessian, err = d.floats(t.SumHessian)
		case 9:
			t.Categories, err = d.int64s(t.Categories)
		case 10:
			t.CategoriesNodes, err = d.int64s(t.CategoriesNodes)
		default:
			if d.null() {
				return nil
			}
			d.tp = jsonTreeParam{}
			t.TreeParam = &d.tp
			err = d.object(treeParamKeys, func(i int) error {
				return d.param([]**jsonString{&d.tp.NumNodes, &d.tp.NumFeature, &d.tp.SizeLeafVector}[i])
			})
		}
		return err
	})
}

// readPtr reads an object into a new *p with read, or null (nil).
func readPtr[T any](d *decoder, p **T, read func(*T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	*p = new(T)
	return read(*p)
}

// ws skips whitespace.
func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// null reads a null, if there is one at pos.
func (d *decoder) null() bool {
	if d.pos+4 <= len(d.data) && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// nonFinite reads one of xgboost's literals for non-finite numbers (NaN,
// Infinity, -Infinity), if there is one at pos, and returns it.
func (d *decoder) nonFinite() (string, bool) {
	rest := d.data[d.pos:]
	for _, lit := range [...]string{"NaN", "Infinity", "-Infinity"} {
		if len(rest) >= len(lit) && string(rest[:len(lit)]) == lit {
			d.pos += len(lit)
			return lit, true
		}
	}
	return "", false
}

// unexpected describes what is at pos, for an error saying what was wanted
// instead.
func (d *decoder) unexpected(want string) error {
	if d.pos >= len(d.data) {
		return d.errorf("unexpected end of JSON, want %s", want)
	}
	var got string
	switch c := d.data[d.pos]; {
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == '"':
		got = "a string"
	case d.literal("true") || d.literal("false"):
		got = "a boolean"
	case d.literal("null"):
		got = "null"
	case d.literal("NaN") || d.literal("Infinity") || d.literal("-Infinity"):
		got = "a non-finite number"
	case c == '-' || c >= '0' && c <= '9':
		end := d.pos + 1
		for end < len(d.data) && end-d.pos < 24 && isNumberByte(d.data[end]) {
			end++
		}
		got = "the number " + string(d.data[d.pos:end])
	default:
		got = fmt.Sprintf("invalid character %q", c)
	}
	return d.errorf("want %s, got %s", want, got)
}

// literal reports whether lit is at pos.
func (d *decoder) literal(lit string) bool {
	return len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// open enters the container (c is '{' or '[') at pos.
func (d *decoder) open(c byte, want string) error {
	if d.pos >= len(d.data) || d.data[d.pos] != c {
		return d.unexpected(want)
	}
	if d.depth++; d.depth > maxNesting {
		return d.errorf("JSON nested more than %d deep", maxNesting)
	}
	d.pos++
	d.ws()
	return nil
}

// openArray moves past an array's '[', and past its ']' too where it is
// empty (true).
func (d *decoder) openArray(want string) (bool, error) {
	if err := d.open('[', want); err != nil {
		return false, err
	}
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// next moves past the ',' after an element or member (true), or the closing
// c that ends the container (false).
func (d *decoder) next(c byte) (bool, error) {
	d.ws()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.ws()
			return true, nil
		case c:
			d.pos++
			d.depth--
			return false, nil
		}
	}
	return false, d.unexpected(fmt.Sprintf("',' or '%c'", c))
}

// errDuplicateMember is wrapped by the error for a member named twice.
var errDuplicateMember = errors.New("member named twice")

// object reads an object, calling member(i) with pos at the value of each
// member whose name is names[i] (matched as encoding/json matches names to
// fields: exactly, else ignoring case), and skipping the others.
func (d *decoder) object(names []string, member func(i int) error) error {
	if err := d.open('{', "an object"); err != nil {
		return err
	}
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	var seen uint64
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.unexpected("a member name")
		}
		raw, plain, err := d.scanString()
		if err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.unexpected("':' after a member name")
		}
		d.pos++
		d.ws()
		if i := d.match(names, raw, plain); i < 0 {
			if err := d.skip(); err != nil {
				return in(err, d.unquote(raw, plain))
			}
		} else {
			if seen&(1<<i) != 0 {
				return &decodeError{off: d.pos, msg: fmt.Sprintf("member %q is named twice", names[i]), err: errDuplicateMember}
			}
			seen |= 1 << i
			if err := member(i); err != nil {
				return in(err, names[i])
			}
		}
		if more, err := d.next('}'); !more {
			return err
		}
	}
}

// array reads an array, calling element(i) with pos at each element.
func (d *decoder) array(want string, element func(i int) error) error {
	if err := d.open('[', want); err != nil {
		return err
	}
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for i := 0; ; i++ {
		if err := element(i); err != nil {
			return at(err, i)
		}
		if more, err := d.next(']'); !more {
			return err
		}
	}
}

// match returns the index of the name the key raw (a string's contents, plain
// when without escapes or non-ASCII bytes) matches, or -1. As in encoding/json,
// an exact match comes first, then one of the names Unicode case-folded.
func (d *decoder) match(names []string, raw []byte, plain bool) int {
	key := raw
	if !plain {
		key = []byte(d.unquote(raw, false))
	}
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	d.key = appendFolded(d.key[:0], key)
	for i, n := range names {
		if foldedIs(d.key, n) {
			return i
		}
	}
	return -1
}

// foldedIs reports whether folded is name (lower-case ASCII) folded.
func foldedIs(folded []byte, name string) bool {
	if len(folded) != len(name) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if folded[i] != c {
			return false
		}
	}
	return true
}

// appendFolded is encoding/json's appendFoldedName: each rune replaced by the
// smallest rune of its case-folding orbit (for ASCII, the upper case).
func appendFolded(out, name []byte) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// scanString moves past the string at pos, checking it, and returns its
// contents between the quotes; plain when they are the string itself (no
// escapes, only ASCII).
func (d *decoder) scanString() (raw []byte, plain bool, err error) {
	data := d.data
	start := d.pos + 1
	plain = true
	for i := start; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(data) {
				i++
				continue
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					d.pos = len(data)
					return nil, false, d.errorf("unexpected end of JSON in a string")
				}
				for _, h := range data[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						d.pos = i
						return nil, false, d.errorf("bad \\u escape in a string")
					}
				}
				i += 6
			default:
				d.pos = i
				return nil, false, d.errorf("bad escape \\%c in a string", data[i+1])
			}
		case c < ' ':
			d.pos = i
			return nil, false, d.errorf("control character %q in a string", c)
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			i++
		}
	}
	d.pos = len(data)
	return nil, false, d.errorf("unexpected end of JSON in a string")
}

// unquote returns the string whose contents scanString returned. Strings with
// escapes or non-ASCII bytes are rare in a model: encoding/json decodes those,
// so that escapes and invalid UTF-8 are read exactly as it reads them.
func (d *decoder) unquote(raw []byte, plain bool) string {
	if plain {
		return string(raw)
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		// Not reached: scanString checks what encoding/json checks.
		return string(raw)
	}
	return s
}

// str reads a string, or one of xgboost's non-finite literals as if it were
// quoted; ok is false, with pos unmoved, for anything else.
func (d *decoder) str() (s string, ok bool, err error) {
	if d.pos < len(d.data) && d.data[d.pos] == '"' {
		raw, plain, err := d.scanString()
		if err != nil {
			return "", false, err
		}
		return d.unquote(raw, plain), true, nil
	}
	s, ok = d.nonFinite()
	return s, ok, nil
}

// stringField reads a string member; null leaves it as it is.
func (d *decoder) stringField(dst *string) error {
	if d.null() {
		return nil
	}
	s, ok, err := d.str()
	if err != nil {
		return err
	}
	if !ok {
		return d.unexpected("a string")
	}
	*dst = s
	return nil
}

// stringArray reads an array of strings (null elements are empty).
func (d *decoder) stringArray() ([]string, error) {
	if d.null() {
		return nil, nil
	}
	out := []string{}
	err := d.array("an array of strings", func(int) error {
		var s string
		err := d.stringField(&s)
		out = append(out, s)
		return err
	})
	return out, err
}

// param reads a parameter: a string or a number (its literal is kept), or
// null.
func (d *decoder) param(dst **jsonString) error {
	if d.null() {
		*dst = nil
		return nil
	}
	s, ok, err := d.str()
	if err != nil {
		return err
	}
	if !ok {
		lit, err := d.number("a string or a number")
		if err != nil {
			return err
		}
		s = string(lit)
	}
	v := jsonString(s)
	*dst = &v
	return nil
}

// number moves past the number at pos, checking its syntax, and returns its
// literal.
func (d *decoder) number(want string) ([]byte, error) {
	start := d.pos
	end, bad := numberEnd(d.data, start)
	if end < 0 {
		d.pos = bad
		switch {
		case bad == start:
			return nil, d.unexpected(want)
		case d.data[bad-1] == '-':
			return nil, d.unexpected("a digit after '-'")
		case d.data[bad-1] == '.':
			return nil, d.unexpected("a digit after '.'")
		default:
			return nil, d.unexpected("a digit in the exponent")
		}
	}
	d.pos = end
	return d.data[start:end], nil
}

// numberEnd returns where the JSON number at data[i:] ends, or -1 and where
// it stops being one.
func numberEnd(data []byte, i int) (end, bad int) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else {
		j := i
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
		if i == j {
			return -1, i
		}
	}
	if i < len(data) && data[i] == '.' {
		i++
		j := i
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
		if i == j {
			return -1, i
		}
	}
	if i < len(data) && data[i]|0x20 == 'e' {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := i
		for i < len(data) && data[i]-'0' < 10 {
			i++
		}
		if i == j {
			return -1, i
		}
	}
	return i, 0
}

// int64 reads an integer as encoding/json reads one into an int64: a number
// without fraction or exponent, within range.
func (d *decoder) int64() (int64, error) {
	data := d.data
	i := d.pos
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	// The usual case: a few digits, then a delimiter.
	if j := i; j < len(data) && data[j] == '0' {
		if j+1 == len(data) || !isNumberByte(data[j+1]) {
			d.pos = j + 1
			return 0, nil
		}
	} else if j < len(data) && data[j]-'1' < 9 {
		var v int64
		for j < len(data) && data[j]-'0' < 10 && j-i < 18 {
			v = v*10 + int64(data[j]-'0')
			j++
		}
		if j == len(data) || !isNumberByte(data[j]) {
			d.pos = j
			if neg {
				v = -v
			}
			return v, nil
		}
	}
	start := d.pos
	lit, err := d.number("an integer")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		d.pos = start
		if errors.Is(err, strconv.ErrRange) {
			return 0, d.errorf("want an integer within 64 bits, got %s", lit)
		}
		return 0, d.errorf("want an integer, got the number %s", lit)
	}
	return v, nil
}

// int64s reads an array of integers into dst's storage (null elements are 0).
func (d *decoder) int64s(dst []int64) ([]int64, error) {
	if d.null() {
		return nil, nil
	}
	out := dst[:0]
	if empty, err := d.openArray("an array of integers"); err != nil {
		return out, err
	} else if empty {
		return out, nil
	}
	data, i := d.data, d.pos
	for {
		// The usual case, inline: -1 or a few digits, then ','.
		var v int64
		j := i
		if j+1 < len(data) && data[j] == '-' && data[j+1] == '1' {
			v, j = -1, j+2
		} else {
			for j < len(data) && data[j]-'0' < 10 && j-i < 18 {
				v = v*10 + int64(data[j]-'0')
				j++
			}
		}
		if j == i || j >= len(data) || data[j] != ',' || data[i] == '0' && j-i > 1 {
			d.pos = i
			var err error
			if v, err = d.int64OrNull(); err != nil {
				return out, at(err, len(out))
			}
			j = d.pos
		}
		out = append(out, v)
		i = j
		if i+1 < len(data) && data[i] == ',' && data[i+1] > ' ' {
			i++
			continue
		}
		d.pos = i
		more, err := d.next(']')
		if !more {
			return out, err
		}
		i = d.pos
	}
}

// int64OrNull reads an int64, or null as 0 (as encoding/json leaves an
// element it decodes null into).
func (d *decoder) int64OrNull() (int64, error) {
	if d.null() {
		return 0, nil
	}
	return d.int64()
}

// ints reads the version, an array of integers ([] is an empty slice, null
// a nil one, as encoding/json makes them).
func (d *decoder) ints() ([]int, error) {
	if d.null() {
		return nil, nil
	}
	v, err := d.int64s(nil)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// floats reads an array of jsonFloat into dst's storage.
func (d *decoder) floats(dst []jsonFloat) ([]jsonFloat, error) {
	if d.null() {
		return nil, nil
	}
	out := dst[:0]
	if empty, err := d.openArray("an array of numbers"); err != nil {
		return out, err
	} else if empty {
		return out, nil
	}
	data, i := d.data, d.pos
	for {
		v, j, ok := scanFloat(data, i)
		if ok {
			i = j
		} else {
			d.pos = i
			var err error
			if v, err = d.float(); err != nil {
				return out, at(err, len(out))
			}
			i = d.pos
		}
		out = append(out, jsonFloat(v))
		// xgboost writes no spaces: ',' follows at once.
		if i < len(data) && data[i] == ',' && i+1 < len(data) && data[i+1] > ' ' {
			i++
			continue
		}
		d.pos = i
		more, err := d.next(']')
		if !more {
			return out, err
		}
		i = d.pos
	}
}

// floatsChecked reads an array of jsonFloat whose values are not used
// (base_weights): it checks them as floats does, and returns dst's storage
// resliced to their number, with whatever values it held.
func (d *decoder) floatsChecked(dst []jsonFloat) ([]jsonFloat, error) {
	if d.null() {
		return nil, nil
	}
	if empty, err := d.openArray("an array of numbers"); err != nil {
		return dst[:0], err
	} else if empty {
		return dst[:0], nil
	}
	data, i, n := d.data, d.pos, 0
	for {
		// The usual case, inline: a number, then ',' or ']'.
		if end, _ := numberEnd(data, i); end > i && end+1 < len(data) && data[end] == ',' && data[end+1] > ' ' {
			n++
			i = end + 1
			continue
		} else if end > i {
			d.pos = end
		} else {
			d.pos = i
			if _, err := d.float(); err != nil {
				return dst[:0], at(err, n)
			}
		}
		n++
		more, err := d.next(']')
		if !more {
			return slices.Grow(dst[:0], n)[:n], err
		}
		i = d.pos
	}
}

// float reads a jsonFloat: a number, or a string strconv reads as a float
// ("NaN", "1.5E0"), or xgboost's non-finite literals.
func (d *decoder) float() (float32, error) {
	start := d.pos
	s, ok, err := d.str()
	if err != nil {
		return 0, err
	}
	if !ok {
		lit, err := d.number("a number")
		if err != nil {
			return 0, err
		}
		s = string(lit)
	}
	v, err := parseFloat32(s)
	if err != nil {
		d.pos = start
		return 0, d.errorf("want a number, got %q", s)
	}
	return v, nil
}

// pow10[22+k] is 10^k, rounded to float64 for negative k.
var pow10 = [...]float64{1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12,
	1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1,
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// digitRun returns how many of the 8 bytes of w (loaded little-endian: the
// first byte lowest) are ASCII digits before the first that is not, and their
// decimal value. It works on all eight bytes at once (SWAR).
func digitRun(w uint64) (int, uint64) {
	const lo, hi = 0x0F0F0F0F0F0F0F0F, 0xF0F0F0F0F0F0F0F0
	// A byte is a digit when its high nibble is 3 and its low nibble plus
	// 6 does not reach 16; neither sum carries into the next byte.
	bad := (w&hi ^ 0x3030303030303030) | ((w&lo + 0x0606060606060606) & 0x1010101010101010)
	// The high bit of each byte that is not zero.
	bad = ((bad&0x7F7F7F7F7F7F7F7F + 0x7F7F7F7F7F7F7F7F) | bad) & 0x8080808080808080
	n := bits.TrailingZeros64(bad) / 8 // 8 when all are digits
	// The n digits, moved up so that the bytes below them read as zeros:
	// the first byte is then the most significant digit of eight.
	v := (w & lo) << (8 * (8 - n))
	v = (v * 10) + (v >> 8)
	v = ((v&0x000000FF000000FF)*(100+(1000000<<32)) + ((v>>16)&0x000000FF000000FF)*(1+(10000<<32))) >> 32
	return n, v
}

// scanFloat reads the number at data[i:] as a float32 when that is quick and
// certain to round as strconv.ParseFloat(s, 32) does, returning it and the
// position after it; ok is false otherwise.
//
// A decimal of at most 15 digits (so exact in a float64) times a power of ten
// up to 22 either way is computed with one float64 multiplication (as in
// Clinger's fast path, but by 10^-k rounded instead of dividing by 10^k: a
// division costs several multiplications). The product is within 2 units in
// its last place of the decimal, so rounding it to float32 gives the float32
// nearest the decimal unless the product lies that close to halfway between
// two float32s (the decimal may then be on the other side): those, and results
// outside float32's normal range, go the slow way (strconv).
func scanFloat(data []byte, i int) (float32, int, bool) {
	if i+24 > len(data) {
		return 0, 0, false // near the end: the slow way, which checks bounds
	}
	neg := data[i] == '-'
	if neg {
		i++
	}
	// The integer part: digits, without a leading zero unless alone.
	// xgboost writes one digit, then a fraction (of up to eight digits) and
	// an exponent of one or two.
	var mant uint64
	n := 1
	if c := data[i] - '0'; c < 10 && data[i+1] == '.' {
		mant = uint64(c)
	} else {
		n, mant = digitRun(binary.LittleEndian.Uint64(data[i:]))
		if n == 0 || n > 7 || data[i] == '0' && n > 1 {
			return 0, 0, false
		}
	}
	i += n
	nd, exp := n, 0
	if data[i] == '.' {
		i++
		k, frac := digitRun(binary.LittleEndian.Uint64(data[i:]))
		if k == 0 || k+nd > 15 {
			return 0, 0, false
		}
		mant = mant*uint64(pow10i[k]) + frac
		i += k
		exp = -k
	}
	if data[i]|0x20 == 'e' {
		i++
		eneg := data[i] == '-'
		if eneg || data[i] == '+' {
			i++
		}
		e := int(data[i] - '0')
		if e > 9 {
			return 0, 0, false
		}
		i++
		if c := int(data[i] - '0'); c <= 9 {
			e = e*10 + c
			i++
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if isNumberByte(data[i]) {
		return 0, 0, false // more digits than handled here
	}
	if mant == 0 {
		if neg {
			return float32(math.Copysign(0, -1)), i, true
		}
		return 0, i, true
	}
	if exp < -22 || exp > 22 {
		return 0, 0, false
	}
	// mant times 10^exp, rounded to float64 twice at most (a power of ten
	// below one is inexact): within 2 units in the last place of the
	// decimal. Rounding it to float32 is then right unless that float64 is
	// that close to halfway between two float32s.
	f := float64(mant) * pow10[22+exp]
	b := math.Float64bits(f)
	if e := int(b>>52) - 1023; e < -126 || e > 126 {
		return 0, 0, false
	}
	if r := int64(b&(1<<29-1)) - 1<<28; r > -4 && r < 4 {
		return 0, 0, false
	}
	if neg {
		f = -f
	}
	return float32(f), i, true
}

var pow10i = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// bools reads default_left: 0, 1, true or false each.
func (d *decoder) bools(dst []jsonBool) ([]jsonBool, error) {
	if d.null() {
		return nil, nil
	}
	out := dst[:0]
	if empty, err := d.openArray("an array of 0 and 1"); err != nil {
		return out, err
	} else if empty {
		return out, nil
	}
	data := d.data
	for {
		var v, ok bool
		if i := d.pos; i < len(data) && (data[i] == '0' || data[i] == '1') && (i+1 == len(data) || !isNumberByte(data[i+1])) {
			v, ok = data[i] == '1', true
			d.pos++
		} else if i+4 <= len(data) && string(data[i:i+4]) == "true" {
			v, ok = true, true
			d.pos += 4
		} else if i+5 <= len(data) && string(data[i:i+5]) == "false" {
			ok = true
			d.pos += 5
		}
		if !ok {
			return out, at(d.unexpected("0, 1, true or false"), len(out))
		}
		out = append(out, jsonBool(v))
		if d.pos < len(data) && data[d.pos] == ',' {
			d.pos++
			d.ws()
			continue
		}
		if more, err := d.next(']'); !more {
			return out, err
		}
	}
}

// skip moves past the value at pos, checking that it is JSON (or one of
// xgboost's non-finite literals).
func (d *decoder) skip() error {
	base := d.depth
	stack := d.stack[:0]
	defer func() { d.stack = stack[:0] }()
	for {
		// A value.
		if d.pos >= len(d.data) {
			return d.unexpected("a value")
		}
		switch c := d.data[d.pos]; {
		case c == '{' || c == '[':
			if err := d.open(c, ""); err != nil {
				return err
			}
			stack = append(stack, c)
			if d.pos < len(d.data) && d.data[d.pos] == c+2 { // '}' or ']'
				d.pos++
				d.depth--
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				if err := d.memberName(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, _, err := d.scanString(); err != nil {
				return err
			}
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !(d.pos+len(lit) <= len(d.data) && string(d.data[d.pos:d.pos+len(lit)]) == lit) {
				return d.errorf("invalid literal, want %s", lit)
			}
			d.pos += len(lit)
		case c == '-' && !(d.pos+1 < len(d.data) && d.data[d.pos+1] == 'I') || c >= '0' && c <= '9':
			// Arrays of numbers (loss_changes, parents) are most of what
			// is skipped: their elements are read here in a loop.
			data, i := d.data, d.pos
			inArray := len(stack) != 0 && stack[len(stack)-1] == '['
			for inArray {
				end, _ := numberEnd(data, i)
				if end < 0 || end+1 >= len(data) || data[end] != ',' || !(data[end+1] == '-' || data[end+1]-'0' < 10) {
					break
				}
				i = end + 1
			}
			d.pos = i
			if _, err := d.number("a value"); err != nil {
				return err
			}
		default:
			if _, ok := d.nonFinite(); !ok {
				return d.unexpected("a value")
			}
		}
		// After a value: the next one, or the end of containers.
		for {
			if d.depth == base {
				return nil
			}
			top := stack[len(stack)-1]
			more, err := d.next(top + 2)
			if err != nil {
				return err
			}
			if more {
				if top == '{' {
					if err := d.memberName(); err != nil {
						return err
					}
				}
				break
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// memberName moves past a member's name and its ':'.
func (d *decoder) memberName() error {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return d.unexpected("a member name")
	}
	if _, _, err := d.scanString(); err != nil {
		return err
	}
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return d.unexpected("':' after a member name")
	}
	d.pos++
	d.ws()
	return nil
}

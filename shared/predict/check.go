package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/jsonappend"
	"github.com/openmlops/mlops/shared/reuse"
	"github.com/openmlops/mlops/shared/validate"
)

// CheckOptions configure a Checker.
type CheckOptions struct {
	// UnknownFields is what happens to a field that is no column of the
	// contract: Reject (the default) or Ignore. A column of the contract that
	// is no feature of the model (the target, an id) is always ignored.
	UnknownFields string
	// OutOfRange is what happens to a value outside its column's declared
	// domain (below min, above max, not an allowed value): Reject (the
	// default), or Flag: scored as it is (an unallowed category as unseen:
	// missing), and named in the prediction's flags.
	OutOfRange string
}

// The settings of CheckOptions.
const (
	Reject = "reject"
	Ignore = "ignore"
	Flag   = "flag"
)

// RuleUnknownField is the rule a field that is no column of the contract
// breaks; the other rules are the ingest gate's (shared/validate's Rule...).
const RuleUnknownField = "unknown_field"

// maxProblems bounds the problems one refusal lists.
const maxProblems = 100

// Checker checks instances against the dataset contract a model was trained
// under, and turns them into the values the model's encoder reads, exactly as
// the trainer read the dataset's canonical CSV. It is immutable and safe for
// concurrent use.
type Checker struct {
	dataset  string
	opt      CheckOptions
	features []*column // the model's features, in order
	byName   map[string]*column
	nulls    []string // the dialect's null tokens: a few, compared faster than hashed
	names    string   // the features, for messages
	// featureNames are the features' names, in order.
	featureNames []string
	nameOrder    []int // indices of featureNames in name order
}

// column is a contract column with its rules ready to apply.
type column struct {
	c       *contract.Column
	feature int // index in the model's features, -1 for a column the model does not use
	allowed map[string]bool
	pattern *regexp.Regexp
	layout  string
	// boxed are the allowed values, each as the log's value and its JSON
	// text: boxed and written once
	// rather than once an instance.
	boxed map[string]boxedValue
}

// NewChecker returns the checker of the model whose input features, in
// order, are features (bundle.Encoder.Features), trained under c. Every
// feature must be a column of c.
func NewChecker(c *contract.Contract, features []string, opt CheckOptions) (*Checker, error) {
	if c == nil {
		return nil, errors.New("predict: no contract")
	}
	var err error
	if opt.UnknownFields, err = setting("unknown fields", opt.UnknownFields, Reject, Ignore); err != nil {
		return nil, err
	}
	if opt.OutOfRange, err = setting("out of range", opt.OutOfRange, Reject, Flag); err != nil {
		return nil, err
	}
	if len(features) == 0 {
		return nil, errors.New("predict: the model has no features")
	}
	k := &Checker{dataset: c.Dataset, opt: opt, byName: make(map[string]*column, len(c.Columns)),
		nulls: slices.Clone(c.Dialect.NullTokens), features: make([]*column, len(features))}
	for i := range c.Columns {
		col := &column{c: &c.Columns[i], feature: -1}
		if col.c.Pattern != "" {
			// Anchored as the ingest gate anchors it: the whole value matches.
			re, err := regexp.Compile(`^(?:` + col.c.Pattern + `)$`)
			if err != nil {
				return nil, fmt.Errorf("predict: contract %s: column %s: pattern: %w", c.Dataset, col.c.Name, err)
			}
			col.pattern = re
		}
		if len(col.c.Allowed) > 0 {
			col.allowed = make(map[string]bool, len(col.c.Allowed))
			col.boxed = make(map[string]boxedValue, len(col.c.Allowed))
			for _, a := range col.c.Allowed {
				col.allowed[a] = true
				col.boxed[a] = boxedValue{v: a, json: string(jsonappend.String(nil, a))}
			}
		}
		if col.c.Type == contract.Timestamp {
			col.layout = col.c.Format
			if col.layout == "" {
				col.layout = time.RFC3339Nano
			}
		}
		k.byName[col.c.Name] = col
	}
	for i, f := range features {
		col := k.byName[f]
		if col == nil {
			return nil, fmt.Errorf("predict: the model's feature %q is no column of the contract %s", f, c.Dataset)
		}
		if col.feature >= 0 {
			return nil, fmt.Errorf("predict: the model's feature %q is listed twice", f)
		}
		col.feature = i
		k.features[i] = col
	}
	k.names = clip.Bytes(strings.Join(features, ", "), 300)
	k.featureNames = slices.Clone(features)
	k.nameOrder = make([]int, len(features))
	for i := range k.nameOrder {
		k.nameOrder[i] = i
	}
	slices.SortFunc(k.nameOrder, func(a, b int) int { return strings.Compare(features[a], features[b]) })
	return k, nil
}

// setting is a CheckOptions field: its value, or the first of allowed (the
// default) where it is empty.
func setting(what, v string, allowed ...string) (string, error) {
	switch {
	case v == "":
		return allowed[0], nil
	case slices.Contains(allowed, v):
		return v, nil
	}
	return "", fmt.Errorf("predict: %s %q: expected %s", what, v, strings.Join(allowed, " or "))
}

// Names are the model's features, in order: the order of a Row's Values and
// Logged. The slice is the checker's own: not to be modified.
func (k *Checker) Names() []string { return k.featureNames }

// NameOrder are the indices of Names in name order (byte-wise, as a JSON
// encoder sorts a map's names): the order of the prediction log's features.
// The slice is the checker's own: not to be modified.
func (k *Checker) NameOrder() []int { return k.nameOrder }

// Options are the checker's settings, defaults filled in.
func (k *Checker) Options() CheckOptions { return k.opt }

// Row is one checked instance.
type Row struct {
	// Values are the canonical CSV values of the model's features, in order,
	// "" for a missing value: what the encoder (bundle.Encoder.Encode) reads,
	// and what the trainer read for such a value in the dataset.
	Values []string
	// Logged is each feature's value as the request gave it (float64, string
	// or bool), in the model's feature order (Checker.Names), nil where it is
	// missing (absent, null, "" or a null token of the contract's dialect),
	// for the prediction log. It holds personal data as received: the log
	// applies the PII rule. A slice beside Values rather than a map by name:
	// a map per instance was most of the check's cost (docs/benchmarks.md).
	Logged []any
	// LoggedJSON is each Logged value's JSON text where the check has it
	// without more work (a whole number of up to 15 digits, an allowed
	// value, true or false), "" for any other: the log writes it as it is
	// rather than format the value again (predlog.Member.JSON).
	LoggedJSON []string
	// Numbers are the features' values the check read as numbers the way
	// the encoder reads them (float32 of the float64: a whole number of up
	// to 15 digits, written as Values has it), NaN for any other: the
	// scorer takes them rather than read Values again
	// (bundle.Scorer.ScoreParsed).
	Numbers []float32
	// Flags name the rules broken by values scored anyway (OutOfRange Flag).
	Flags []string
}

// problem is one rule broken by one value.
type problem struct {
	rule, msg  string
	outOfRange bool // a value outside its column's domain: flagged rather than refused under Flag
}

// problems gathers a request's problems, the first maxProblems in full.
type problems struct {
	list []apierror.Detail
	n    int
}

func (p *problems) add(field at, rule, msg string) {
	p.n++
	if len(p.list) < maxProblems {
		p.list = append(p.list, apierror.Detail{Field: field.String(), Rule: rule, Message: msg})
	}
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	var b strings.Builder
	if p.n > 1 {
		fmt.Fprintf(&b, "%d problems in the instances: ", p.n)
	}
	for i, d := range p.list {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Field + ": " + d.Message)
	}
	if more := p.n - len(p.list); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return &apierror.Error{Status: apierror.CodeBadRequest.Status(), Code: apierror.CodeBadRequest, Message: b.String(), Details: p.list}
}

// Check checks every instance and returns their rows, or every problem of
// every instance at once (the first 100 listed in full, with a count of the
// rest) as an *apierror.Error, bad_request, with a detail per problem.
func (k *Checker) Check(instances []Instance) ([]Row, error) {
	return k.check(instances, &rowsBuf{})
}

// Rows are a request's checked instances, as Check returns them, in memory
// that Release gives back for another request's check to reuse.
type Rows struct {
	List []Row
	buf  *rowsBuf
}

// CheckRows is Check, into memory reused from requests released before.
func (k *Checker) CheckRows(instances []Instance) (Rows, error) {
	buf := rowsBufs.Get().(*rowsBuf)
	rows, err := k.check(instances, buf)
	if err != nil {
		buf.put()
		return Rows{}, err
	}
	return Rows{List: rows, buf: buf}, nil
}

// Release gives the rows' memory back: neither they nor their Values,
// Logged, LoggedJSON and Numbers slices are to be read afterwards (their Flags, and the values
// Logged holds, are the caller's to keep). Release them once, from one copy
// of the Rows: two copies released would give the memory twice.
func (r *Rows) Release() {
	if r.buf != nil {
		r.buf.put()
	}
	r.List, r.buf = nil, nil
}

// rowsBuf is the memory of one request's check.
type rowsBuf struct {
	rows   []Row
	values []string
	logs   []any
	json   []string
	nums   []float32
	seen   []bool
}

var rowsBufs = sync.Pool{New: func() any { return new(rowsBuf) }}

// maxPooledValues bounds the values a pooled rowsBuf keeps room for.
const maxPooledValues = 1 << 16

// put clears b, so that the pool keeps nothing it pointed to alive, and
// gives it back.
func (b *rowsBuf) put() {
	if cap(b.values) > maxPooledValues || cap(b.logs) > maxPooledValues || cap(b.json) > maxPooledValues ||
		cap(b.nums) > maxPooledValues || cap(b.rows) > maxPooledInstances {
		return
	}
	b.rows, b.values, b.logs, b.json = reuse.Clear(b.rows), reuse.Clear(b.values), reuse.Clear(b.logs),
		reuse.Clear(b.json)
	rowsBufs.Put(b)
}

func (k *Checker) check(instances []Instance, buf *rowsBuf) ([]Row, error) {
	nf := len(k.features)
	buf.rows = reuse.Slice(buf.rows, len(instances))
	buf.seen = reuse.Slice(buf.seen, nf) // cleared for each instance
	// One backing array each for the request's values and logged values,
	// rather than two allocations per instance.
	buf.values = reuse.Slice(buf.values, len(instances)*nf)
	buf.logs = reuse.Slice(buf.logs, len(instances)*nf)
	buf.json = reuse.Slice(buf.json, len(instances)*nf)
	buf.nums = reuse.Slice(buf.nums, len(instances)*nf)
	rows, seen, values, logs, texts, nums := buf.rows, buf.seen, buf.values, buf.logs, buf.json, buf.nums
	// The text of every feature's value goes into one string, of which each
	// value is a substring: one allocation for the request rather than one
	// a value, and none of it the pooled body's. A Builder never changes
	// the bytes it has handed out (String is a prefix of the next String,
	// or of the array it grew from), so a substring stays valid as it
	// grows. Only the features' values are written, and it is grown for at
	// most valueRoom bytes a feature: the rest (ignored unknown fields, the
	// target) is neither copied nor kept alive by what the log holds.
	total := 0
	for _, in := range instances {
		for j := range in.Fields {
			total += len(in.Fields[j].Value)
		}
	}
	var all strings.Builder
	all.Grow(min(total, len(instances)*nf*valueRoom))
	// Instances mostly name the same fields in the same order, and the
	// decoder then gives them the same strings: such a name is the
	// previous instance's column, compared without a lookup. On the stack
	// for the usual few dozen fields.
	var namesBuf [64]string
	var colsBuf [64]*column
	prevNames, prevCols := namesBuf[:0], colsBuf[:0]
	var probs problems
	for i, in := range instances {
		path := at{top: "instances", index: i} // made into text only for a problem
		row := Row{Values: values[i*nf : (i+1)*nf : (i+1)*nf], Logged: logs[i*nf : (i+1)*nf : (i+1)*nf],
			LoggedJSON: texts[i*nf : (i+1)*nf : (i+1)*nf], Numbers: nums[i*nf : (i+1)*nf : (i+1)*nf]}
		for k := range row.Numbers {
			row.Numbers[k] = nan32
		}
		clear(seen)
		fields := in.Fields // indexed, not ranged over: a Field is not copied
		for j := range fields {
			f := &fields[j]
			var col *column
			switch {
			case j >= len(prevNames):
				col = k.byName[f.Name]
				prevNames, prevCols = append(prevNames, f.Name), append(prevCols, col)
			case prevNames[j] == f.Name:
				col = prevCols[j]
			default:
				col = k.byName[f.Name]
				prevNames[j], prevCols[j] = f.Name, col
			}
			if col == nil {
				if k.opt.UnknownFields == Reject {
					probs.add(path.with(f.Name), RuleUnknownField,
						fmt.Sprintf("no such column in the contract %s (the model's features: %s)", k.dataset, k.names))
				}
				continue
			}
			if col.feature < 0 {
				continue // the target, an id: a column the model does not read
			}
			if seen[col.feature] {
				probs.add(path.with(f.Name), "duplicate", "given twice in one instance")
				continue
			}
			seen[col.feature] = true
			from := all.Len()
			all.Write(f.Value)
			text := all.String()[from:]
			var js string
			num := nan32
			v, logged, p := k.value(col, text, &js, &num)
			row.Logged[col.feature] = logged
			row.LoggedJSON[col.feature] = js
			switch {
			case p == nil:
				row.Values[col.feature], row.Numbers[col.feature] = v, num
			case p.outOfRange && k.opt.OutOfRange == Flag:
				row.Values[col.feature], row.Numbers[col.feature] = v, num
				row.Flags = append(row.Flags, f.Name+": "+p.msg)
			default:
				probs.add(path.with(f.Name), p.rule, p.msg)
			}
		}
		for fi, col := range k.features {
			if !seen[fi] {
				if col.c.Required {
					probs.add(path.with(col.c.Name), validate.RuleRequired, "required, and missing")
				}
			}
		}
		rows[i] = row
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// boxedValue is an allowed value as the log's value (boxed once) and its
// JSON text.
type boxedValue struct {
	v    any
	json string
}

// smallWhole are the whole numbers 0 ≤ n < 256 as the log's values (float64),
// boxed once: many numbers a request carries (ages, counts, months) are such,
// and boxing each would cost an allocation. No more: a table that stays in
// the cache measured faster than one four thousand long that did not, its
// misses costing more than the allocations it saved (docs/benchmarks.md).
var smallWhole = func() (v [256]any) {
	for i := range v {
		v[i] = float64(i)
	}
	return v
}()

// logNumber is a number as the log's value.
func logNumber(f float64) any {
	if f >= 0 && f < float64(len(smallWhole)) {
		if i := int(f); float64(i) == f && !math.Signbit(f) {
			return smallWhole[i]
		}
	}
	return f
}

// value checks one value of col, whose JSON text is text: its canonical CSV
// form, its value for the log, or the rule it breaks; and, where it knows it
// without more work, the log's value's JSON text into js (Row.LoggedJSON),
// and its value as the encoder would read the canonical value into num
// (Row.Numbers).
func (k *Checker) value(col *column, text string, js *string, num32 *float32) (string, any, *problem) {
	c := col.c
	var s string    // a string's value, or a number's text
	var num float64 // a number's value
	whole := false  // s is a whole number bundle.ShortWhole read: no integer parse again
	var logged any
	allowed := false // s is one of col's allowed values
	kind := kindNone
	if text != "" {
		kind = kindOf(text[0])
	}
	switch kind {
	case kindNull:
		return k.missing(col, "null")
	case kindBool:
		logged = text[0] == 't'
		*js = "false"
		if text[0] == 't' {
			*js = "true"
		}
	case kindString:
		var ok bool
		if s, ok = unquote(text); !ok {
			return "", nil, &problem{rule: validate.RuleType, msg: "not a JSON string"}
		}
		if s == "" || slices.Contains(k.nulls, s) {
			return k.missing(col, strconv.Quote(s)+", a missing value")
		}
		if b, ok := col.boxed[s]; ok {
			logged, allowed = b.v, true
			*js = b.json
		} else {
			logged = s
		}
	case kindNumber:
		s = text
		if f, ok := bundle.ShortWhole(s); ok {
			num, logged, whole = f, logNumber(f), true
			// Its digits are its JSON (jsonappend.Float's for a whole number
			// below 2^53) where no sign or leading zero makes them another's.
			if s[0] != '+' && (s[0] != '0' || len(s) == 1) && (s[0] != '-' || s[1] != '0' || len(s) == 2) {
				*js = s
			}
			break
		}
		f, ok := float32Number(s)
		if !ok {
			return "", nil, &problem{rule: validate.RuleType, msg: fmt.Sprintf("%s is beyond the float32 range (±3.4028235e38)", col.show(s, false))}
		}
		num, logged = f, logNumber(f)
	default:
		return "", nil, &problem{rule: validate.RuleType, msg: "expected a number, string, boolean or null"}
	}
	quoted := kind == kindString
	typeErr := func(want string) (string, any, *problem) {
		got := kind.String()
		if !c.PII {
			got = col.show(s, quoted)
			if kind == kindBool {
				got = text
			}
		}
		return "", logged, &problem{rule: validate.RuleType, msg: "expected " + want + ", got " + got}
	}
	var v string
	var x float64 // the value min and max bound
	switch c.Type {
	case contract.Integer:
		switch kind {
		case kindString, kindNumber:
			if whole {
				v, x, *num32 = s, num, float32(num)
				break
			}
			n, ok := validate.ParseInt([]byte(s))
			if ok {
				v = s
				x = float64(n)
				break
			}
			f, err := strconv.ParseFloat(s, 64)
			if kind == kindString || err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
				return typeErr("an integer")
			}
			// 35.0 or 3.5e1: the integer the dataset would have written as 35.
			v = strconv.FormatInt(int64(f), 10)
			x = f
		default:
			return typeErr("an integer")
		}
	case contract.Number:
		switch kind {
		case kindNumber:
			f := num // parsed above
			v, x = s, f
			if len(s) > 15 || !whole && !isInt(s) {
				// 7.30e1 → 73: the shortest text of the value (a whole number
				// of up to 15 digits is its own).
				v = string(jsonappend.Float(nil, f, 64))
			} else if whole {
				*num32 = float32(f) // what the encoder makes of v, which is s
			}
		case kindString:
			if !bundle.PlainDecimal(s) {
				switch strings.ToLower(strings.TrimLeft(s, "+-")) {
				case "nan", "inf", "infinity":
					return "", logged, &problem{rule: validate.RuleNotFinite, msg: col.show(s, quoted) + " is not a finite number"}
				}
				return typeErr("a number")
			}
			f, ok := float32Number(s)
			if !ok {
				return "", logged, &problem{rule: validate.RuleType, msg: col.show(s, quoted) + " is beyond the float32 range (±3.4028235e38)"}
			}
			v, x = s, f
		default:
			return typeErr("a number")
		}
	case contract.Boolean:
		switch kind {
		case kindBool:
			v = text
		case kindString, kindNumber:
			if _, ok := validate.ParseBool([]byte(s)); !ok || kind == kindNumber && s != "0" && s != "1" {
				return typeErr("a boolean (true/false, 1/0, yes/no)")
			}
			v = s
		}
		return v, logged, nil
	case contract.Timestamp:
		if kind != kindString {
			return typeErr(col.timestampWant())
		}
		t, err := time.Parse(col.layout, s)
		if err != nil {
			return typeErr(col.timestampWant())
		}
		v, x = s, float64(t.Unix())+float64(t.Nanosecond())/1e9
	default: // category, string
		if kind != kindString {
			return typeErr("a string")
		}
		if col.pattern != nil && !col.pattern.MatchString(s) {
			return "", logged, &problem{rule: validate.RulePattern, msg: col.show(s, quoted) + " does not match the pattern " + c.Pattern}
		}
		if validate.IsFormula([]byte(s)) {
			return "", logged, &problem{rule: validate.RuleFormula, msg: col.show(s, quoted) +
				" would run as a spreadsheet formula (it starts with =, +, -, @, a tab or a carriage return): the dataset refuses such values too"}
		}
		if allowed {
			return s, logged, nil
		}
		return s, logged, col.checkAllowed(s, true)
	}
	if c.Min != nil && x < *c.Min {
		return v, logged, &problem{rule: validate.RuleMin, outOfRange: true, msg: col.show(s, quoted) + " is below the minimum " + col.bound(*c.Min)}
	}
	if c.Max != nil && x > *c.Max {
		return v, logged, &problem{rule: validate.RuleMax, outOfRange: true, msg: col.show(s, quoted) + " is above the maximum " + col.bound(*c.Max)}
	}
	return v, logged, col.checkAllowed(v, quoted)
}

// valueRoom is the room the check makes for a feature's value before it
// knows which fields are features: more than the usual value's, and little
// beside what a request can carry in fields it ignores.
const valueRoom = 64

// nan32 is a value the check did not read as a number (Row.Numbers).
var nan32 = float32(math.NaN())

// isInt reports whether s is an integer's text (validate.ParseInt's).
func isInt(s string) bool {
	_, ok := validate.ParseInt([]byte(s))
	return ok
}

// missing is a missing value of col: refused where the column is required.
func (k *Checker) missing(col *column, got string) (string, any, *problem) {
	if col.c.Required {
		return "", nil, &problem{rule: validate.RuleRequired, msg: "required, got " + got}
	}
	return "", nil, nil
}

// checkAllowed applies the allowed values, compared as text (the contract
// allows them on category, string and integer columns).
func (col *column) checkAllowed(v string, quoted bool) *problem {
	if col.allowed == nil || col.allowed[v] {
		return nil
	}
	list := col.c.Allowed
	more := ""
	if len(list) > 20 {
		list, more = list[:20], fmt.Sprintf(", … (%d in all)", len(col.c.Allowed))
	}
	return &problem{rule: validate.RuleAllowed, outOfRange: true,
		msg: col.show(v, quoted) + " is not an allowed value: expected one of " + strings.Join(list, ", ") + more}
}

// show writes a value for a message: quoted if a string, clipped, never the
// value of a column of personal data.
func (col *column) show(s string, quoted bool) string {
	switch {
	case col.c.PII:
		return "the value (personal data, not repeated)"
	case quoted:
		return strconv.Quote(clip.Bytes(s, 80))
	}
	return clip.Bytes(s, 80)
}

func (col *column) bound(b float64) string {
	if col.c.Type == contract.Timestamp {
		return time.Unix(int64(b), 0).UTC().Format(time.RFC3339) + " (" + string(jsonappend.Float(nil, b, 64)) + " Unix seconds)"
	}
	return string(jsonappend.Float(nil, b, 64))
}

func (col *column) timestampWant() string {
	if col.c.Format == "" {
		return "an RFC 3339 timestamp string (e.g. 2024-01-31T09:30:00Z)"
	}
	return fmt.Sprintf("a timestamp string in the layout %q", col.c.Format)
}

// Features describes the model's features with their contract's rules, for
// Metadata.
func (k *Checker) Features() []Feature {
	out := make([]Feature, len(k.features))
	for i, col := range k.features {
		c := col.c
		out[i] = Feature{Name: c.Name, Type: string(c.Type), Required: c.Required, Min: c.Min, Max: c.Max,
			Allowed: c.Allowed, Pattern: c.Pattern, Format: c.Format, PII: c.PII, Description: c.Description}
	}
	return out
}

// plainString reports whether a JSON string's contents have no escape or
// quote: a loop, where strings.ContainsAny's general search cost more than
// the few bytes of a category.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '"' {
			return false
		}
	}
	return true
}

// unquote is a JSON string's value (most have no escapes: no decoding, and
// the value is a substring of text).
func unquote(text string) (string, bool) {
	if n := len(text); n >= 2 && text[n-1] == '"' && plainString(text[1:n-1]) {
		return text[1 : n-1], true
	}
	var s string
	return s, json.Unmarshal([]byte(text), &s) == nil
}

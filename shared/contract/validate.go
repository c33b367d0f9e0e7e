package contract

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/yamldoc"
)

// Error is one problem with a contract. Parse fills File, Line, Col and a YAML
// path in Field (schema[0].properties[3].logicalTypeOptions.minimum); Validate
// and ParseCanonical, which have no YAML to point into, leave Line at 0 and put
// the canonical JSON path in Field (columns[3].min).
type Error = yamldoc.Error

// Defaults for the dialect and mode. They are filled in before hashing so that
// a contract that spells out a default and one that leaves it out are the same
// version.
const (
	DefaultDelimiter   = ","
	DefaultQuote       = "\""
	DefaultCompression = "auto"
	DefaultMode        = Replace
)

// Types lists the column types in the order error messages name them.
var Types = []Type{Integer, Number, Boolean, Category, String, Timestamp}

func knownType(t Type) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

func typeList() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// normalize fills the defaults and drops repeated null tokens in place. It is
// what makes two spellings of the same rules hash alike.
func (c *Contract) normalize() {
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.Dialect.Delimiter == "" {
		c.Dialect.Delimiter = DefaultDelimiter
	}
	if c.Dialect.Quote == "" {
		c.Dialect.Quote = DefaultQuote
	}
	if c.Dialect.Compression == "" {
		c.Dialect.Compression = DefaultCompression
	}
	c.Dialect.NullTokens = dedupe(c.Dialect.NullTokens)
	if c.Columns == nil {
		c.Columns = []Column{}
	}
}

// dedupe keeps the first occurrence of each value, in the author's order: the
// order is meaningful to a reader and costs nothing to keep.
func dedupe(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// clone returns a deep copy, so that Canonical can normalise without changing
// the caller's value.
func (c *Contract) clone() *Contract {
	d := *c
	d.Dialect.NullTokens = append([]string(nil), c.Dialect.NullTokens...)
	d.Features = append([]string(nil), c.Features...)
	d.Sensitive = append([]string(nil), c.Sensitive...)
	d.UniqueKey = append([]string(nil), c.UniqueKey...)
	d.Columns = make([]Column, len(c.Columns))
	for i, col := range c.Columns {
		col.Allowed = append([]string(nil), col.Allowed...)
		col.MaxNullRate = copyFloat(col.MaxNullRate)
		col.Min = copyFloat(col.Min)
		col.Max = copyFloat(col.Max)
		d.Columns[i] = col
	}
	return &d
}

func copyFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Canonical returns the contract's canonical JSON: defaults filled, null tokens
// deduplicated, encoding/json's fixed field order, no insignificant whitespace.
// It is the stored and hashed form. It returns nil only for a contract that
// would not pass Validate (a NaN or infinite bound cannot be written as JSON).
func (c *Contract) Canonical() []byte {
	d := c.clone()
	d.normalize()
	return yamldoc.Canonical(d)
}

// Hash is the hex SHA-256 of Canonical(): the contract's version identity.
func (c *Contract) Hash() string { return hashid.Of(c.Canonical()) }

// ParseCanonical reads a contract stored by the platform. Unknown fields are
// errors, because a field this code does not know is a rule it would silently
// not enforce.
func ParseCanonical(data []byte) (*Contract, error) {
	c, err := yamldoc.ParseCanonical[Contract](data, "contract")
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

// Validate checks the contract itself (not any data). Every problem is reported,
// each as an *Error whose Field is the canonical JSON path, joined with
// errors.Join in field order.
func (c *Contract) Validate() error {
	return yamldoc.Join(c.problems())
}

func finite(p *float64) bool { return p == nil || (!math.IsNaN(*p) && !math.IsInf(*p, 0)) }

// problems is Validate's worker; Parse calls it too and moves each problem onto
// the YAML line its field came from.
func (c *Contract) problems() []*Error {
	var errs []*Error
	add := func(field, format string, args ...any) {
		errs = append(errs, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	if !naming.Valid(c.Dataset) {
		add("dataset", "dataset name %q is not valid: expected %s", c.Dataset, naming.Rule)
	}
	switch c.Mode {
	case "", Replace, Append:
	default:
		add("mode", "mode %q is not valid: expected replace or append", c.Mode)
	}

	d := c.Dialect
	delim, quote := orDefault(d.Delimiter, DefaultDelimiter), orDefault(d.Quote, DefaultQuote)
	checkChar := func(field, what, v string) bool {
		if len(v) != 1 {
			add(field, "%s %q is not valid: expected exactly one byte", what, v)
			return false
		}
		if v == "\r" || v == "\n" {
			add(field, "%s may not be a carriage return or line feed", what)
			return false
		}
		return true
	}
	okD := checkChar("dialect.delimiter", "delimiter", delim)
	okQ := checkChar("dialect.quote", "quote", quote)
	if okD && okQ && delim == quote {
		add("dialect.quote", "quote %q is the same as the delimiter: expected two different characters", quote)
	}
	switch d.Compression {
	case "", "none", "gzip", "auto":
	default:
		add("dialect.compression", "compression %q is not valid: expected none, gzip or auto", d.Compression)
	}

	if c.Rows.Min < 0 {
		add("rows.min", "rows.min %d is negative", c.Rows.Min)
	}
	if c.Rows.Max < 0 {
		add("rows.max", "rows.max %d is negative", c.Rows.Max)
	}
	if c.Rows.Min > 0 && c.Rows.Max > 0 && c.Rows.Min > c.Rows.Max {
		add("rows.min", "rows.min %d is greater than rows.max %d", c.Rows.Min, c.Rows.Max)
	}

	if len(c.Columns) == 0 {
		add("columns", "no columns: expected at least one")
	}
	seen := map[string]int{}
	for i := range c.Columns {
		col := &c.Columns[i]
		p := fmt.Sprintf("columns[%d]", i)
		if col.Name == "" {
			add(p+".name", "column name is empty")
		} else if j, dup := seen[col.Name]; dup {
			add(p+".name", "duplicate column name %q (also columns[%d])", col.Name, j)
		} else {
			seen[col.Name] = i
		}
		if !knownType(col.Type) {
			add(p+".type", "unknown type %q: expected one of %s", col.Type, typeList())
		}
		if !finite(col.Min) {
			add(p+".min", "min must be a finite number")
		}
		if !finite(col.Max) {
			add(p+".max", "max must be a finite number")
		}
		if col.Min != nil || col.Max != nil {
			switch col.Type {
			case Integer, Number, Timestamp:
				if col.Min != nil && col.Max != nil && finite(col.Min) && finite(col.Max) && *col.Min > *col.Max {
					add(p+".min", "min %v is greater than max %v", *col.Min, *col.Max)
				}
			default:
				f := p + ".min"
				if col.Min == nil {
					f = p + ".max"
				}
				add(f, "min/max apply only to integer, number and timestamp columns, not %s", col.Type)
			}
		}
		if len(col.Allowed) > 0 {
			switch col.Type {
			case Category, String, Integer:
			default:
				add(p+".allowed", "allowed values apply only to category, string and integer columns, not %s", col.Type)
			}
		}
		if col.Pattern != "" {
			if _, err := regexp.Compile(col.Pattern); err != nil {
				add(p+".pattern", "pattern %q is not a valid Go (RE2) regular expression: %v", col.Pattern, err)
			}
		}
		if col.MaxNullRate != nil {
			r := *col.MaxNullRate
			switch {
			case math.IsNaN(r) || r < 0 || r > 1:
				add(p+".maxNullRate", "maxNullRate %v is out of range: expected a fraction from 0 to 1", r)
			case col.Required && r > 0:
				add(p+".maxNullRate", "column is required (no missing values) but maxNullRate %v allows some: drop one of the two", r)
			}
		}
		if col.Format != "" && col.Type != Timestamp {
			add(p+".format", "format applies only to timestamp columns, not %s", col.Type)
		}
	}

	known := func(field, name string) bool {
		if _, ok := seen[name]; !ok {
			add(field, "%q is not a column of this contract", name)
			return false
		}
		return true
	}
	if c.Target != "" {
		known("target", c.Target)
	}
	list := func(field string, names []string) {
		dup := map[string]bool{}
		for j, n := range names {
			f := fmt.Sprintf("%s[%d]", field, j)
			if !known(f, n) {
				continue
			}
			if dup[n] {
				add(f, "%q is listed twice", n)
			}
			dup[n] = true
			if field == "features" && n == c.Target {
				add(f, "the target %q may not also be a feature", n)
			}
		}
	}
	list("features", c.Features)
	list("sensitive", c.Sensitive)
	list("uniqueKey", c.UniqueKey)

	sort.SliceStable(errs, func(i, j int) bool { return fieldLess(errs[i].Field, errs[j].Field) })
	return errs
}

// fieldLess orders JSON paths the way the contract reads: dataset-level fields
// first in struct order, then columns by index.
func fieldLess(a, b string) bool {
	ra, rb := fieldRank(a), fieldRank(b)
	if ra != rb {
		return ra < rb
	}
	ia, ib := indexOf(a), indexOf(b)
	if ia != ib {
		return ia < ib
	}
	return false
}

var fieldOrder = []string{"dataset", "mode", "dialect", "columns", "target", "features", "sensitive", "uniqueKey", "rows"}

func fieldRank(f string) int {
	for i, p := range fieldOrder {
		if strings.HasPrefix(f, p) {
			return i
		}
	}
	return len(fieldOrder)
}

func indexOf(f string) int {
	i := strings.IndexByte(f, '[')
	if i < 0 {
		return -1
	}
	n := 0
	for _, r := range f[i+1:] {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
		if n > 1<<30 {
			break
		}
	}
	return n
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

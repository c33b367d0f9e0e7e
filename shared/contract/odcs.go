package contract

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/yamldoc"

	"go.yaml.in/yaml/v3"
)

// The ODCS keys this package reads, by level. Keys that ODCS defines but that
// carry no rule we enforce (owners, servers, SLAs, tags, ...) are accepted and
// ignored, so a contract written for other ODCS tools still parses; a key ODCS
// does not define is an error, because it is almost always a typo of one that
// would then be silently ignored.
var (
	topUsed    = []string{"apiVersion", "kind", "id", "name", "version", "status", "description", "schema", "customProperties"}
	topIgnored = []string{"tenant", "tags", "servers", "dataProduct", "domain", "support", "price", "team", "roles",
		"slaDefaultElement", "slaProperties", "authoritativeDefinitions", "contractCreatedTs"}

	objectUsed    = []string{"name", "logicalType", "physicalType", "description", "properties", "quality", "customProperties"}
	objectIgnored = []string{"id", "physicalName", "businessName", "authoritativeDefinitions", "tags",
		"dataGranularityDescription", "relationships"}

	propUsed = []string{"name", "logicalType", "logicalTypeOptions", "description", "required", "unique",
		"primaryKey", "primaryKeyPosition", "quality", "customProperties"}
	propIgnored = []string{"id", "physicalType", "physicalName", "businessName", "classification", "partitioned",
		"partitionKeyPosition", "encryptedName", "transformSourceObjects", "transformLogic", "transformDescription",
		"examples", "criticalDataElement", "relationships", "authoritativeDefinitions", "tags"}

	optionsUsed = []string{"minimum", "maximum", "pattern", "format"}
	// Rules ODCS can state that the ingest gate cannot enforce: refusing them is
	// better than accepting a contract that promises checks nobody runs.
	optionsRefused = []string{"minLength", "maxLength", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
		"timezone", "defaultTimezone", "maxProperties", "minProperties", "required", "maxItems", "minItems", "uniqueItems"}

	qualityUsed = []string{"type", "metric", "rule", "arguments", "unit", "mustBe", "mustNotBe", "mustBeGreaterThan",
		"mustBeGreaterOrEqualTo", "mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween"}
	qualityIgnored = []string{"id", "name", "description", "dimension", "severity", "businessImpact", "method",
		"schedule", "scheduler", "tags", "authoritativeDefinitions", "customProperties", "query", "engine", "implementation"}

	customUsed = []string{"property", "value", "description"}
)

// Our customProperties, by level. Unknown custom property names are allowed
// (customProperties is every tool's extension point) unless they look like a
// typo of one of ours.
var (
	customTop      = []string{"mode", "target", "features", "sensitive"}
	customObject   = []string{"delimiter", "quote", "header", "nullTokens", "compression"}
	customProperty = []string{"type", "pii", "timeLayout", "pattern"}
)

// APIVersion is the ODCS version MarshalODCS writes.
const APIVersion = "v3.1.0"

type location struct {
	line, col int
	path      string
}

type parser struct {
	file string
	errs []*Error
	// loc maps a canonical JSON path (columns[3].min) to where it came from, so
	// that Validate's problems can be reported on the author's line.
	loc map[string]location
	// pk and uniq note primaryKey positions and unique flags by column index
	// until the whole object is read and they can become the unique key.
	pk   map[int]int64
	uniq []int
}

func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: p.file, Field: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

func (p *parser) mark(canon string, n *yaml.Node, path string) {
	if n != nil {
		p.loc[canon] = location{n.Line, n.Column, path}
	}
}

// odcs is what Parse expects, for the messages about a file that is not a
// contract. The header is checked with the rest: ODCS has versions of its own.
var odcs = yamldoc.Kind{Name: "ODCS data contract", Plural: "contracts"}

// Parse reads an ODCS v3.1 YAML contract and validates it. file names the
// source in error messages. Every problem found is returned, as *Error values
// joined with errors.Join, in line order.
func Parse(file string, data []byte) (c *Contract, err error) {
	doc, err := yamldoc.Decode(file, data, odcs)
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, loc: map[string]location{}, pk: map[int]int64{}}
	c = &Contract{}
	p.top(doc, c)
	// Validate after the structure: a field that failed to parse is left at its
	// zero value, and any follow-on complaint about it lands on the same line and
	// column as the first, where result() drops it.
	for _, e := range c.problems() {
		l := p.locate(e.Field, doc)
		e.File, e.Line, e.Col, e.Field = file, l.line, l.col, l.path
		p.errs = append(p.errs, e)
	}
	if err := p.result(); err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

func (p *parser) locate(canon string, doc *yaml.Node) location {
	if l, ok := yamldoc.Nearest(p.loc, canon); ok {
		return l
	}
	return location{doc.Line, doc.Column, canon}
}

func (p *parser) result() error {
	yamldoc.SortByPosition(p.errs)
	var out []*Error
	for i, e := range p.errs {
		if i > 0 && e.Line > 0 && e.Line == p.errs[i-1].Line && e.Col == p.errs[i-1].Col {
			continue
		}
		out = append(out, e)
	}
	return yamldoc.Join(out)
}

type entry struct{ key, val *yaml.Node }

// fields reads a mapping, reporting duplicate and unknown keys. It returns the
// used keys' entries.
func (p *parser) fields(n *yaml.Node, path string, used, ignored, refused []string, refusedWhy string) map[string]entry {
	out := map[string]entry{}
	if n.Kind != yaml.MappingNode {
		p.errAt(n, path, "expected a mapping (key: value lines), found %s", yamldoc.KindName(n))
		return out
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := yamldoc.Path(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, path, "expected a plain key, found %s", yamldoc.KindName(k))
			continue
		}
		if seen[k.Value] {
			p.errAt(k, kp, "key %q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		switch {
		case slices.Contains(used, k.Value):
			out[k.Value] = entry{k, v}
		case slices.Contains(ignored, k.Value):
		case slices.Contains(refused, k.Value):
			p.errAt(k, kp, "%q is not supported: %s", k.Value, refusedWhy)
		default:
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := yamldoc.Closest(k.Value, append(append([]string{}, used...), ignored...)); s != "" {
				msg += fmt.Sprintf(": did you mean %q?", s)
			} else {
				msg += ": expected one of " + strings.Join(used, ", ")
			}
			p.errAt(k, kp, "%s", msg)
		}
	}
	return out
}

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errAt(n, path, "expected a text value, found %s", yamldoc.KindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errAt(n, path, "expected true or false, found %s", yamldoc.KindName(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errAt(n, path, "expected true or false, found %s", yamldoc.KindName(n))
		return false, false
	}
	return b, true
}

func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	p.errAt(n, path, "expected a finite number, found %s", yamldoc.KindName(n))
	return 0, false
}

func (p *parser) count(n *yaml.Node, path string) (int64, bool) {
	f, ok := p.number(n, path)
	if !ok {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		p.errAt(n, path, "expected a whole number of rows from 0 to 2^53, found %s", yamldoc.KindName(n))
		return 0, false
	}
	return int64(f), true
}

func (p *parser) strList(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, path, "expected a list, found %s", yamldoc.KindName(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for i, v := range n.Content {
		if s, ok := p.str(v, fmt.Sprintf("%s[%d]", path, i)); ok {
			out = append(out, s)
			nodes = append(nodes, v)
		}
	}
	return out, nodes
}

// customs reads a customProperties list into name → value node. Names that
// look like a typo of ours are errors; others belong to some other tool.
type custom struct {
	val  *yaml.Node
	path string
}

func (p *parser) customs(n *yaml.Node, path string, ours []string) map[string]custom {
	out := map[string]custom{}
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, path, "expected a list of {property, value}, found %s", yamldoc.KindName(n))
		return out
	}
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		f := p.fields(item, ip, customUsed, nil, nil, "")
		kp, ok1 := f["property"]
		v, ok2 := f["value"]
		if item.Kind != yaml.MappingNode {
			continue
		}
		if !ok1 || !ok2 {
			p.errAt(item, ip, "a custom property needs both property and value")
			continue
		}
		name, ok := p.str(kp.val, ip+".property")
		if !ok {
			continue
		}
		if _, dup := out[name]; dup {
			p.errAt(kp.val, ip+".property", "custom property %q appears twice", name)
			continue
		}
		if !slices.Contains(ours, name) {
			if s := yamldoc.Closest(name, ours); s != "" {
				p.errAt(kp.val, ip+".property", "unknown custom property %q: did you mean %q?", name, s)
			}
			continue
		}
		out[name] = custom{v.val, ip + ".value"}
	}
	return out
}

func (p *parser) top(doc *yaml.Node, c *Contract) {
	f := p.fields(doc, "", topUsed, topIgnored, nil, "")
	p.mark("dataset", doc, "")
	if e, ok := f["apiVersion"]; ok {
		if v, ok := p.str(e.val, "apiVersion"); ok && !strings.HasPrefix(v, "v3.") {
			p.errAt(e.val, "apiVersion", "apiVersion %q is not supported: expected an ODCS v3 version such as %s", v, APIVersion)
		}
	}
	if e, ok := f["kind"]; ok {
		if v, ok := p.str(e.val, "kind"); ok && v != "DataContract" {
			p.errAt(e.val, "kind", "kind %q is not valid: expected DataContract", v)
		}
	}
	for _, k := range []string{"id", "name", "status"} {
		if e, ok := f[k]; ok {
			p.str(e.val, k)
		}
	}
	if e, ok := f["version"]; ok {
		c.Version, _ = p.str(e.val, "version")
	}
	if e, ok := f["description"]; ok && e.val.Kind != yaml.MappingNode {
		// ODCS's top-level description is an object (usage, purpose,
		// limitations); a plain string is a common slip worth naming.
		p.errAt(e.val, "description", "expected a mapping with usage, purpose or limitations (the dataset's own description goes on schema[0].description), found %s", yamldoc.KindName(e.val))
	}
	if e, ok := f["customProperties"]; ok {
		cp := p.customs(e.val, "customProperties", customTop)
		if v, ok := cp["mode"]; ok {
			path := cp["mode"].path
			s, _ := p.str(v.val, path)
			c.Mode = Mode(s)
			p.mark("mode", v.val, path)
		}
		if v, ok := cp["target"]; ok {
			path := cp["target"].path
			c.Target, _ = p.str(v.val, path)
			p.mark("target", v.val, path)
		}
		for _, k := range []string{"features", "sensitive"} {
			if v, ok := cp[k]; ok {
				path := cp[k].path
				list, nodes := p.strList(v.val, path)
				p.mark(k, v.val, path)
				for j, nd := range nodes {
					p.mark(fmt.Sprintf("%s[%d]", k, j), nd, fmt.Sprintf("%s[%d]", path, j))
				}
				if k == "features" {
					c.Features = list
				} else {
					c.Sensitive = list
				}
			}
		}
	}
	e, ok := f["schema"]
	if !ok {
		p.errAt(doc, "schema", "missing schema: expected one schema object describing the dataset's columns")
		return
	}
	if e.val.Kind != yaml.SequenceNode || len(e.val.Content) != 1 {
		if e.val.Kind == yaml.SequenceNode {
			p.errAt(e.val, "schema", "expected exactly one schema object (one contract per dataset), found %d", len(e.val.Content))
		} else {
			p.errAt(e.val, "schema", "expected a list with one schema object, found %s", yamldoc.KindName(e.val))
		}
		return
	}
	p.object(e.val.Content[0], "schema[0]", c)
}

func (p *parser) object(n *yaml.Node, path string, c *Contract) {
	f := p.fields(n, path, objectUsed, objectIgnored, nil, "")
	p.mark("dataset", n, path)
	p.mark("columns", n, path)
	p.mark("rows", n, path)
	p.mark("uniqueKey", n, path)
	if e, ok := f["name"]; ok {
		c.Dataset, _ = p.str(e.val, path+".name")
		p.mark("dataset", e.val, path+".name")
	} else if n.Kind == yaml.MappingNode {
		p.errAt(n, path+".name", "missing name: expected the dataset's name (the <dataset> in incoming/<dataset>/)")
	}
	if e, ok := f["logicalType"]; ok {
		if v, ok := p.str(e.val, path+".logicalType"); ok && v != "object" {
			p.errAt(e.val, path+".logicalType", "a schema object's logicalType is %q: expected object", v)
		}
	}
	if e, ok := f["physicalType"]; ok {
		p.str(e.val, path+".physicalType")
	}
	if e, ok := f["description"]; ok {
		c.Description, _ = p.str(e.val, path+".description")
	}
	if e, ok := f["customProperties"]; ok {
		cp := p.customs(e.val, path+".customProperties", customObject)
		for _, k := range []string{"delimiter", "quote", "compression"} {
			if v, ok := cp[k]; ok {
				vp := cp[k].path
				s, _ := p.str(v.val, vp)
				switch k {
				case "delimiter":
					c.Dialect.Delimiter = s
				case "quote":
					c.Dialect.Quote = s
				default:
					c.Dialect.Compression = s
				}
				p.mark("dialect."+k, v.val, vp)
			}
		}
		c.Dialect.Header = true
		if v, ok := cp["header"]; ok {
			if b, ok := p.boolean(v.val, cp["header"].path); ok {
				c.Dialect.Header = b
			}
		}
		if v, ok := cp["nullTokens"]; ok {
			c.Dialect.NullTokens, _ = p.strList(v.val, cp["nullTokens"].path)
		}
	} else {
		c.Dialect.Header = true
	}
	if e, ok := f["properties"]; ok {
		p.mark("columns", e.key, path+".properties")
		if e.val.Kind != yaml.SequenceNode {
			p.errAt(e.val, path+".properties", "expected a list of properties (columns), found %s", yamldoc.KindName(e.val))
		} else {
			c.Columns = make([]Column, len(e.val.Content))
			for i, pn := range e.val.Content {
				p.property(pn, fmt.Sprintf("%s.properties[%d]", path, i), i, c)
			}
		}
	}
	keys := p.keyColumns(c, path)
	if e, ok := f["quality"]; ok {
		p.objectQuality(e.val, path+".quality", c, keys)
	}
	if len(keys) > 0 && c.UniqueKey == nil {
		c.UniqueKey = keys
	}
}

// keyColumns gathers primaryKey (ordered by primaryKeyPosition) or a single
// unique column into a unique key; the marks were set by property().
func (p *parser) keyColumns(c *Contract, path string) []string {
	type pk struct {
		name string
		pos  int64
		i    int
	}
	var pks []pk
	for i := range c.Columns {
		if pos, ok := p.pk[i]; ok {
			pks = append(pks, pk{c.Columns[i].Name, pos, i})
		}
	}
	uniq := p.uniq
	sort.SliceStable(pks, func(a, b int) bool { return pks[a].pos < pks[b].pos })
	var keys []string
	for _, k := range pks {
		keys = append(keys, k.name)
	}
	if len(uniq) > 0 {
		l := p.loc[fmt.Sprintf("columns[%d].unique", uniq[0])]
		switch {
		case len(uniq) > 1:
			p.errs = append(p.errs, &Error{File: p.file, Line: l.line, Col: l.col, Field: l.path,
				Msg: "unique is set on more than one property; a contract has one unique key: list its columns in a schema-level duplicateValues rule (arguments.properties)"})
		case len(keys) > 0:
			p.errs = append(p.errs, &Error{File: p.file, Line: l.line, Col: l.col, Field: l.path,
				Msg: "unique and primaryKey both set: a contract has one unique key"})
		default:
			keys = []string{c.Columns[uniq[0]].Name}
			p.mark("uniqueKey[0]", &yaml.Node{Line: l.line, Column: l.col}, l.path)
		}
	}
	return keys
}

func (p *parser) property(n *yaml.Node, path string, i int, c *Contract) {
	col := &c.Columns[i]
	cp := fmt.Sprintf("columns[%d]", i)
	p.mark(cp, n, path)
	f := p.fields(n, path, propUsed, propIgnored, nil, "")
	if e, ok := f["name"]; ok {
		col.Name, _ = p.str(e.val, path+".name")
		p.mark(cp+".name", e.val, path+".name")
	} else if n.Kind == yaml.MappingNode {
		p.errAt(n, path+".name", "missing name: expected the column's name as it appears in the CSV header")
	}
	var cust map[string]custom
	if e, ok := f["customProperties"]; ok {
		cust = p.customs(e.val, path+".customProperties", customProperty)
	}
	if e, ok := f["logicalType"]; ok {
		if v, ok := p.str(e.val, path+".logicalType"); ok {
			col.Type = Type(v)
			if col.Type == Category {
				// "category" is our type, not ODCS's: keep the file readable by
				// other tools by asking for the ODCS spelling.
				p.errAt(e.val, path+".logicalType", "logicalType category is not an ODCS type: write logicalType: string with customProperties [{property: type, value: category}]")
			}
		}
		p.mark(cp+".type", e.val, path+".logicalType")
	} else if n.Kind == yaml.MappingNode {
		p.errAt(n, path+".logicalType", "missing logicalType: expected one of string, integer, number, boolean, timestamp")
	}
	if v, ok := cust["type"]; ok {
		vp := cust["type"].path
		if s, ok := p.str(v.val, vp); ok {
			if s != string(Category) || (col.Type != String && col.Type != "") {
				p.errAt(v.val, vp, "custom type %q on logicalType %s: expected category, on a string property", s, col.Type)
			} else {
				col.Type = Category
			}
		}
		p.mark(cp+".type", v.val, vp)
	}
	if v, ok := cust["pii"]; ok {
		col.PII, _ = p.boolean(v.val, cust["pii"].path)
	}
	if v, ok := cust["timeLayout"]; ok {
		vp := cust["timeLayout"].path
		col.Format, _ = p.str(v.val, vp)
		p.mark(cp+".format", v.val, vp)
	}
	if v, ok := cust["pattern"]; ok {
		vp := cust["pattern"].path
		col.Pattern, _ = p.str(v.val, vp)
		p.mark(cp+".pattern", v.val, vp)
	}
	if e, ok := f["description"]; ok {
		col.Description, _ = p.str(e.val, path+".description")
	}
	if e, ok := f["required"]; ok {
		col.Required, _ = p.boolean(e.val, path+".required")
		p.mark(cp+".required", e.val, path+".required")
	}
	if e, ok := f["unique"]; ok {
		if b, _ := p.boolean(e.val, path+".unique"); b {
			p.uniq = append(p.uniq, i)
			p.mark(cp+".unique", e.key, path+".unique")
		}
	}
	if e, ok := f["primaryKey"]; ok {
		if b, _ := p.boolean(e.val, path+".primaryKey"); b {
			p.pk[i] = math.MaxInt32 + int64(i) // unpositioned keys keep file order, after positioned ones
			if e2, ok := f["primaryKeyPosition"]; ok {
				if n, ok := p.count(e2.val, path+".primaryKeyPosition"); ok && n > 0 {
					p.pk[i] = n
				}
			}
		}
	}
	if e, ok := f["logicalTypeOptions"]; ok {
		p.typeOptions(e.val, path+".logicalTypeOptions", cp, col)
	}
	if e, ok := f["quality"]; ok {
		p.propQuality(e.val, path+".quality", cp, col)
	}
}

func (p *parser) typeOptions(n *yaml.Node, path, cp string, col *Column) {
	f := p.fields(n, path, optionsUsed, nil, optionsRefused, "the ingest gate does not enforce it; remove it or express it as minimum, maximum or pattern")
	for _, k := range []string{"minimum", "maximum"} {
		e, ok := f[k]
		if !ok {
			continue
		}
		kp := path + "." + k
		var v float64
		if col.Type == Timestamp && e.val.Kind == yaml.ScalarNode && (e.val.Tag == "!!str" || e.val.Tag == "!!timestamp") {
			t, err := parseTime(e.val.Value)
			if err != nil {
				p.errAt(e.val, kp, "expected an RFC 3339 time (2006-01-02T15:04:05Z) or Unix seconds, found %s", yamldoc.KindName(e.val))
				continue
			}
			v = float64(t.Unix()) + float64(t.Nanosecond())/1e9
		} else {
			var ok bool
			if v, ok = p.number(e.val, kp); !ok {
				continue
			}
		}
		if k == "minimum" {
			col.Min = &v
			p.mark(cp+".min", e.val, kp)
		} else {
			col.Max = &v
			p.mark(cp+".max", e.val, kp)
		}
	}
	if e, ok := f["pattern"]; ok {
		col.Pattern, _ = p.str(e.val, path+".pattern")
		p.mark(cp+".pattern", e.val, path+".pattern")
	}
	if e, ok := f["format"]; ok {
		if s, ok := p.str(e.val, path+".format"); ok && col.Type == Timestamp {
			// ODCS's timestamp format is a JDK DateTimeFormatter pattern; ours is
			// a Go layout, so it lives in a custom property of its own.
			p.errAt(e.val, path+".format", "format %q: timestamp layouts go in customProperties timeLayout, as a Go layout such as 2006-01-02 15:04:05 (empty means RFC 3339)", s)
		}
	}
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse("2006-01-02", s)
	}
	return t, err
}

var comparators = []string{"mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
	"mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween"}

// rule is one library quality rule, read far enough to decide what it means.
type rule struct {
	node   *yaml.Node
	path   string
	metric string
	unit   string
	op     string     // the one comparator
	opVal  *yaml.Node // its value
	args   map[string]entry
	argsAt string
}

// qualityRules reads a quality list, skipping text rules (prose for people) and
// refusing sql and custom ones, which the ingest gate cannot run.
func (p *parser) qualityRules(n *yaml.Node, path string) []rule {
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, path, "expected a list of quality rules, found %s", yamldoc.KindName(n))
		return nil
	}
	var out []rule
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		f := p.fields(item, ip, qualityUsed, qualityIgnored, nil, "")
		if item.Kind != yaml.MappingNode {
			continue
		}
		typ := "library"
		if e, ok := f["type"]; ok {
			typ, _ = p.str(e.val, ip+".type")
		}
		switch typ {
		case "text":
			continue
		case "library":
		case "sql", "custom":
			p.errAt(f["type"].val, ip+".type", "quality rules of type %s are not supported: the ingest gate runs only library metrics (nullValues, invalidValues, duplicateValues, rowCount)", typ)
			continue
		default:
			p.errAt(f["type"].val, ip+".type", "unknown quality type %q: expected library, text, sql or custom", typ)
			continue
		}
		r := rule{node: item, path: ip}
		m, ok := f["metric"]
		if !ok {
			m, ok = f["rule"] // deprecated spelling of metric
		}
		if !ok {
			p.errAt(item, ip+".metric", "a library quality rule needs a metric")
			continue
		}
		r.metric, _ = p.str(m.val, ip+"."+m.key.Value)
		if e, ok := f["unit"]; ok {
			r.unit, _ = p.str(e.val, ip+".unit")
		}
		if e, ok := f["arguments"]; ok {
			r.argsAt = ip + ".arguments"
			r.args = p.fields(e.val, r.argsAt, []string{"validValues", "properties", "missingValues"}, nil, nil, "")
		}
		for _, op := range comparators {
			if e, ok := f[op]; ok {
				if r.op != "" {
					p.errAt(e.key, ip+"."+op, "a quality rule takes one comparator; %s is already given", r.op)
					continue
				}
				r.op, r.opVal = op, e.val
			}
		}
		if r.op == "" {
			p.errAt(item, ip, "a quality rule needs one comparator (mustBe, mustBeLessOrEqualTo, ...)")
			continue
		}
		out = append(out, r)
	}
	return out
}

func (r rule) unsupported(p *parser, why string) {
	p.errAt(r.opVal, r.path+"."+r.op, "%s %s is not supported for %s: %s", r.op, yamldoc.Clip(r.opVal.Value), r.metric, why)
}

func (p *parser) propQuality(n *yaml.Node, path, cp string, col *Column) {
	for _, r := range p.qualityRules(n, path) {
		vp := r.path + "." + r.op
		switch r.metric {
		case "nullValues":
			if r.op != "mustBe" && r.op != "mustBeLessOrEqualTo" {
				r.unsupported(p, "use mustBeLessOrEqualTo with unit: percent")
				continue
			}
			v, ok := p.number(r.opVal, vp)
			if !ok {
				continue
			}
			var rate float64
			switch {
			case v == 0:
				rate = 0
			case r.op == "mustBe":
				r.unsupported(p, "an exact share of missing values is not a rule; use mustBeLessOrEqualTo")
				continue
			case r.unit != "percent":
				p.errAt(r.opVal, vp, "a non-zero nullValues threshold needs unit: percent (a row count cannot be compared across uploads of different sizes)")
				continue
			default:
				rate = percentToRate(r.opVal.Value, v)
			}
			if col.MaxNullRate != nil {
				p.errAt(r.node, r.path, "a second nullValues rule: give one")
				continue
			}
			col.MaxNullRate = &rate
			p.mark(cp+".maxNullRate", r.opVal, vp)
		case "invalidValues":
			if !zeroRule(r) {
				r.unsupported(p, "expected mustBe: 0 (every value in the list)")
				continue
			}
			e, ok := r.args["validValues"]
			if !ok {
				p.errAt(r.node, r.path+".arguments.validValues", "invalidValues needs arguments.validValues: the allowed values")
				continue
			}
			ap := r.argsAt + ".validValues"
			if e.val.Kind != yaml.SequenceNode {
				p.errAt(e.val, ap, "expected a list of allowed values, found %s", yamldoc.KindName(e.val))
				continue
			}
			if col.Allowed != nil {
				p.errAt(r.node, r.path, "a second invalidValues rule: give one")
				continue
			}
			col.Allowed = []string{}
			for j, v := range e.val.Content {
				// Values are compared with the cell's text, so any scalar counts
				// by its text: 1 and "1" are the same allowed value.
				if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
					p.errAt(v, fmt.Sprintf("%s[%d]", ap, j), "expected a value, found %s", yamldoc.KindName(v))
					continue
				}
				col.Allowed = append(col.Allowed, v.Value)
			}
			p.mark(cp+".allowed", e.val, ap)
		default:
			p.errAt(r.node, r.path+".metric", "metric %q is not supported on a property: expected nullValues or invalidValues", r.metric)
		}
	}
}

func zeroRule(r rule) bool {
	return (r.op == "mustBe" || r.op == "mustBeLessOrEqualTo") && r.opVal.Kind == yaml.ScalarNode &&
		(r.opVal.Tag == "!!int" || r.opVal.Tag == "!!float") && isZero(r.opVal.Value)
}

func isZero(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0
}

func (p *parser) objectQuality(n *yaml.Node, path string, c *Contract, keys []string) {
	for _, r := range p.qualityRules(n, path) {
		vp := r.path + "." + r.op
		switch r.metric {
		case "rowCount":
			setMin := func(v int64, nd *yaml.Node, at string) {
				if c.Rows.Min != 0 {
					p.errAt(nd, at, "the minimum row count is given twice")
				}
				c.Rows.Min = v
				p.mark("rows.min", nd, at)
			}
			setMax := func(v int64, nd *yaml.Node, at string) {
				if v == 0 {
					p.errAt(nd, at, "a maximum of 0 rows would reject every upload: expected at least 1")
					return
				}
				if c.Rows.Max != 0 {
					p.errAt(nd, at, "the maximum row count is given twice")
				}
				c.Rows.Max = v
				p.mark("rows.max", nd, at)
			}
			switch r.op {
			case "mustBeGreaterOrEqualTo", "mustBeGreaterThan":
				if v, ok := p.count(r.opVal, vp); ok {
					if r.op == "mustBeGreaterThan" {
						v++
					}
					setMin(v, r.opVal, vp)
				}
			case "mustBeLessOrEqualTo":
				if v, ok := p.count(r.opVal, vp); ok {
					setMax(v, r.opVal, vp)
				}
			case "mustBeBetween":
				if r.opVal.Kind != yaml.SequenceNode || len(r.opVal.Content) != 2 {
					p.errAt(r.opVal, vp, "expected [minimum, maximum], found %s", yamldoc.KindName(r.opVal))
					continue
				}
				lo, ok1 := p.count(r.opVal.Content[0], vp+"[0]")
				hi, ok2 := p.count(r.opVal.Content[1], vp+"[1]")
				if ok1 && ok2 {
					setMin(lo, r.opVal.Content[0], vp+"[0]")
					setMax(hi, r.opVal.Content[1], vp+"[1]")
				}
			default:
				r.unsupported(p, "expected mustBeGreaterOrEqualTo, mustBeLessOrEqualTo or mustBeBetween")
			}
		case "duplicateValues":
			if !zeroRule(r) {
				r.unsupported(p, "expected mustBe: 0 (no repeats)")
				continue
			}
			e, ok := r.args["properties"]
			if !ok {
				p.errAt(r.node, r.path+".arguments.properties", "a schema-level duplicateValues rule needs arguments.properties: the key's columns")
				continue
			}
			ap := r.argsAt + ".properties"
			if len(keys) > 0 || c.UniqueKey != nil {
				p.errAt(e.val, ap, "a second unique key (primaryKey, unique or another duplicateValues rule): a contract has one")
				continue
			}
			list, nodes := p.strList(e.val, ap)
			c.UniqueKey = list
			if c.UniqueKey == nil {
				c.UniqueKey = []string{}
			}
			p.mark("uniqueKey", e.val, ap)
			for j, nd := range nodes {
				p.mark(fmt.Sprintf("uniqueKey[%d]", j), nd, fmt.Sprintf("%s[%d]", ap, j))
			}
		default:
			p.errAt(r.node, r.path+".metric", "metric %q is not supported on a schema object: expected rowCount or duplicateValues", r.metric)
		}
	}
}

// decimalRE matches the plain decimals that percentToRate can shift exactly.
var decimalRE = regexp.MustCompile(`^[+-]?(\d{1,40}(\.\d{0,40})?|\.\d{1,40})([eE][+-]?\d{1,3})?$`)

// percentToRate divides by 100 in decimal, not in binary floating point, so
// that the rate a reader sees as "8.5%" is exactly the float 0.085 and
// MarshalODCS → Parse gives back the very same float.
func percentToRate(text string, v float64) float64 {
	if decimalRE.MatchString(text) {
		if r, ok := new(big.Rat).SetString(text); ok {
			f, _ := r.Quo(r, big.NewRat(100, 1)).Float64()
			return f
		}
	}
	return v / 100
}

// rateToPercent is percentToRate's inverse: the shortest decimal for the rate,
// shifted two places, so percentToRate(rateToPercent(r)) == r.
func rateToPercent(r float64) string {
	x, ok := new(big.Rat).SetString(strconv.FormatFloat(r, 'g', -1, 64))
	if !ok {
		return strconv.FormatFloat(r*100, 'g', -1, 64)
	}
	x.Mul(x, big.NewRat(100, 1))
	for prec := 0; prec <= 400; prec++ {
		s := x.FloatString(prec)
		if y, ok := new(big.Rat).SetString(s); ok && y.Cmp(x) == 0 {
			return s
		}
	}
	return strconv.FormatFloat(r*100, 'g', -1, 64)
}

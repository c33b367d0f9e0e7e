package contract

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Small yaml.Node builders: writing the tree by hand (rather than encoding
// structs) controls the key order, the number spelling and where comments go.

func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Special[strings.ToLower(s)] {
		// YAML 1.1 readers (PyYAML, and so several ODCS tools) take a bare yes,
		// no, on or off as a boolean; quoting keeps "yes" a category value.
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

var yaml11Special = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "~": true, "": true}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// num spells a float so that YAML reads back the same float64: whole numbers
// as integers, others in Go's shortest round-trip form.
func num(f float64) *yaml.Node {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(f), 10)}
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
}

func integer(n int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}
}

func rawNum(text string) *yaml.Node {
	tag := "!!float"
	if _, err := strconv.ParseInt(text, 10, 64); err == nil {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: text}
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

func strSeq(list []string, flow bool) *yaml.Node {
	n := seq()
	if flow {
		n.Style = yaml.FlowStyle
	}
	for _, s := range list {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// mapping is an ordered mapping under construction.
type mapping struct{ n *yaml.Node }

func newMapping() mapping { return mapping{&yaml.Node{Kind: yaml.MappingNode}} }

// set appends key: value and returns the key node (for comments).
func (m mapping) set(key string, v *yaml.Node) *yaml.Node {
	k := str(key)
	m.n.Content = append(m.n.Content, k, v)
	return k
}

func customProp(name string, v *yaml.Node) *yaml.Node {
	m := newMapping()
	m.set("property", str(name))
	m.set("value", v)
	return m.n
}

// odcsTree is the ODCS document for a contract, with handles on the nodes that
// Inference.YAML annotates.
type odcsTree struct {
	doc    *yaml.Node
	props  []mapping // one per column
	types  []*yaml.Node
	object mapping
	top    mapping
}

func (c *Contract) odcsTree(status string) *odcsTree {
	c = c.clone()
	c.normalize()
	t := &odcsTree{}
	top := newMapping()
	t.top = top
	top.set("apiVersion", str(APIVersion))
	top.set("kind", str("DataContract"))
	top.set("id", str(c.Dataset))
	top.set("name", str(c.Dataset))
	if c.Version != "" {
		top.set("version", str(c.Version))
	}
	top.set("status", str(status))

	cp := seq(customProp("mode", str(string(c.Mode))))
	if c.Target != "" {
		cp.Content = append(cp.Content, customProp("target", str(c.Target)))
	}
	if len(c.Features) > 0 {
		cp.Content = append(cp.Content, customProp("features", strSeq(c.Features, true)))
	}
	if len(c.Sensitive) > 0 {
		cp.Content = append(cp.Content, customProp("sensitive", strSeq(c.Sensitive, true)))
	}
	top.set("customProperties", cp)

	obj := newMapping()
	t.object = obj
	obj.set("name", str(c.Dataset))
	obj.set("logicalType", str("object"))
	obj.set("physicalType", str("file"))
	if c.Description != "" {
		obj.set("description", str(c.Description))
	}
	d := c.Dialect
	dcp := seq(
		customProp("delimiter", str(d.Delimiter)),
		customProp("quote", str(d.Quote)),
		customProp("header", boolean(d.Header)),
	)
	if len(d.NullTokens) > 0 {
		dcp.Content = append(dcp.Content, customProp("nullTokens", strSeq(d.NullTokens, true)))
	}
	dcp.Content = append(dcp.Content, customProp("compression", str(d.Compression)))
	obj.set("customProperties", dcp)

	var quality []*yaml.Node
	if c.Rows.Min > 0 || c.Rows.Max > 0 {
		q := newMapping()
		q.set("metric", str("rowCount"))
		switch {
		case c.Rows.Min > 0 && c.Rows.Max > 0:
			b := seq(integer(c.Rows.Min), integer(c.Rows.Max))
			b.Style = yaml.FlowStyle
			q.set("mustBeBetween", b)
		case c.Rows.Min > 0:
			q.set("mustBeGreaterOrEqualTo", integer(c.Rows.Min))
		default:
			q.set("mustBeLessOrEqualTo", integer(c.Rows.Max))
		}
		quality = append(quality, q.n)
	}
	if c.UniqueKey != nil {
		q := newMapping()
		q.set("metric", str("duplicateValues"))
		a := newMapping()
		a.set("properties", strSeq(c.UniqueKey, true))
		q.set("arguments", a.n)
		q.set("mustBe", integer(0))
		quality = append(quality, q.n)
	}
	if len(quality) > 0 {
		obj.set("quality", seq(quality...))
	}

	props := seq()
	for i := range c.Columns {
		m, typ := column(&c.Columns[i])
		t.props = append(t.props, m)
		t.types = append(t.types, typ)
		props.Content = append(props.Content, m.n)
	}
	obj.set("properties", props)
	top.set("schema", seq(obj.n))
	t.doc = top.n
	return t
}

func column(col *Column) (mapping, *yaml.Node) {
	m := newMapping()
	m.set("name", str(col.Name))
	lt := string(col.Type)
	if col.Type == Category {
		lt = string(String)
	}
	typ := str(lt)
	m.set("logicalType", typ)
	if col.Description != "" {
		m.set("description", str(col.Description))
	}
	if col.Required {
		m.set("required", boolean(true))
	}
	stringish := col.Type == String || col.Type == Category
	opts := newMapping()
	if col.Min != nil {
		opts.set("minimum", bound(col.Type, *col.Min))
	}
	if col.Max != nil {
		opts.set("maximum", bound(col.Type, *col.Max))
	}
	if col.Pattern != "" && stringish {
		opts.set("pattern", str(col.Pattern))
	}
	if len(opts.n.Content) > 0 {
		m.set("logicalTypeOptions", opts.n)
	}
	cp := seq()
	if col.Type == Category {
		cp.Content = append(cp.Content, customProp("type", str(string(Category))))
	}
	if col.PII {
		cp.Content = append(cp.Content, customProp("pii", boolean(true)))
	}
	if col.Format != "" {
		cp.Content = append(cp.Content, customProp("timeLayout", str(col.Format)))
	}
	if col.Pattern != "" && !stringish {
		cp.Content = append(cp.Content, customProp("pattern", str(col.Pattern)))
	}
	if len(cp.Content) > 0 {
		m.set("customProperties", cp)
	}
	var quality []*yaml.Node
	if col.MaxNullRate != nil {
		q := newMapping()
		q.set("metric", str("nullValues"))
		q.set("unit", str("percent"))
		q.set("mustBeLessOrEqualTo", rawNum(rateToPercent(*col.MaxNullRate)))
		quality = append(quality, q.n)
	}
	if col.Allowed != nil {
		q := newMapping()
		q.set("metric", str("invalidValues"))
		a := newMapping()
		a.set("validValues", strSeq(col.Allowed, true))
		q.set("arguments", a.n)
		q.set("mustBe", integer(0))
		quality = append(quality, q.n)
	}
	if len(quality) > 0 {
		m.set("quality", seq(quality...))
	}
	return m, typ
}

// bound writes a timestamp bound as ODCS's date-time string when it is a whole
// second (the usual case), and as Unix seconds otherwise, so it reads back
// exactly.
func bound(t Type, v float64) *yaml.Node {
	if t == Timestamp && v == math.Trunc(v) && v >= -62135596800 && v < 253402300800 {
		return str(time.Unix(int64(v), 0).UTC().Format(time.RFC3339))
	}
	return num(v)
}

func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("contract: writing ODCS YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("contract: writing ODCS YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// MarshalODCS writes the contract as ODCS v3.1 YAML that Parse reads back to
// the same Canonical().
func (c *Contract) MarshalODCS() ([]byte, error) {
	return encode(c.odcsTree("active").doc)
}

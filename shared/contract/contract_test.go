package contract

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const creditContract = "../../examples/credit/credit.odcs.yaml"

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, file string, b []byte) *Contract {
	t.Helper()
	c, err := Parse(file, b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	return c
}

// contract builds a small valid ODCS document with extra property lines for
// column "amount" (a number) and extra schema-object lines.
func doc(amountExtra, objectExtra, topExtra string) string {
	return `apiVersion: v3.1.0
kind: DataContract
id: loans
status: active
` + topExtra + `schema:
  - name: loans
` + objectExtra + `    properties:
      - name: id
        logicalType: string
      - name: amount
        logicalType: number
` + amountExtra
}

func TestParseMinimalDefaults(t *testing.T) {
	c := mustParse(t, "minimal.odcs.yaml", mustRead(t, "testdata/minimal.odcs.yaml"))
	if c.Dataset != "loans" || c.Mode != Replace || c.Dialect.Delimiter != "," || c.Dialect.Quote != `"` ||
		!c.Dialect.Header || c.Dialect.Compression != "auto" {
		t.Errorf("defaults not filled: %+v", c)
	}
	if a := c.Column("amount"); a == nil || a.Min == nil || *a.Min != 0 || *a.Max != 1000 {
		t.Errorf("amount bounds: %+v", a)
	}
	if l := c.Column("label"); l == nil || l.Type != Category || strings.Join(l.Allowed, ",") != "good,bad" {
		t.Errorf("label: %+v", l)
	}
	if c.Target != "label" {
		t.Errorf("target = %q", c.Target)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"unknown logicalType", doc("", "", "") + "      - name: when\n        logicalType: datetime\n",
			13, "schema[0].properties[2].logicalType", `unknown type "datetime"`},
		{"min greater than max", doc("        logicalTypeOptions:\n          minimum: 10\n          maximum: 5\n", "", ""),
			13, "schema[0].properties[1].logicalTypeOptions.minimum", "min 10 is greater than max 5"},
		{"bad regex", doc("", "", "") + "      - name: code\n        logicalType: string\n        logicalTypeOptions:\n          pattern: \"[a-\"\n",
			15, "schema[0].properties[2].logicalTypeOptions.pattern", "not a valid Go (RE2) regular expression"},
		{"unknown target", doc("", "", "customProperties:\n  - property: target\n    value: outcome\n"),
			7, "customProperties[0].value", `"outcome" is not a column`},
		{"duplicate column", doc("", "", "") + "      - name: amount\n        logicalType: integer\n",
			12, "schema[0].properties[2].name", `duplicate column name "amount"`},
		{"bad maxNullRate", doc("        quality:\n          - metric: nullValues\n            unit: percent\n            mustBeLessOrEqualTo: 150\n", "", ""),
			15, "schema[0].properties[1].quality[0].mustBeLessOrEqualTo", "maxNullRate 1.5 is out of range"},
		{"required with nulls allowed", doc("        required: true\n        quality:\n          - metric: nullValues\n            unit: percent\n            mustBeLessOrEqualTo: 5\n", "", ""),
			16, "schema[0].properties[1].quality[0].mustBeLessOrEqualTo", "is required"},
		{"top-level typo", doc("", "", "custmProperties: []\n"),
			5, "custmProperties", `did you mean "customProperties"`},
		{"property key typo", doc("        requird: true\n", "", ""),
			12, "schema[0].properties[1].requird", `did you mean "required"`},
		{"yaml syntax error", "apiVersion: v3.1.0\nkind: DataContract\nid: a: b\n",
			3, "", "not valid YAML"},
		{"min on a string", doc("", "", "") + "      - name: code\n        logicalType: string\n        logicalTypeOptions:\n          minimum: 1\n",
			15, "schema[0].properties[2].logicalTypeOptions.minimum", "min/max apply only"},
		{"bad delimiter", doc("", "    customProperties:\n      - property: delimiter\n        value: \";;\"\n", ""),
			9, "schema[0].customProperties[0].value", "exactly one byte"},
		{"same delimiter and quote", doc("", "    customProperties:\n      - property: delimiter\n        value: \"'\"\n      - property: quote\n        value: \"'\"\n", ""),
			11, "schema[0].customProperties[1].value", "same as the delimiter"},
		{"bad compression", doc("", "    customProperties:\n      - property: compression\n        value: zip\n", ""),
			9, "schema[0].customProperties[0].value", "none, gzip or auto"},
		{"bad mode", doc("", "", "customProperties:\n  - property: mode\n    value: upsert\n"),
			7, "customProperties[0].value", "replace or append"},
		{"target in features", doc("", "", "customProperties:\n  - property: target\n    value: id\n  - property: features\n    value: [id, amount]\n"),
			9, "customProperties[1].value[0]", "may not also be a feature"},
		{"rows min greater than max", doc("", "    quality:\n      - metric: rowCount\n        mustBeBetween: [10, 5]\n", ""),
			9, "schema[0].quality[0].mustBeBetween[0]", "greater than rows.max"},
		{"bad dataset name", strings.Replace(doc("", "", ""), "  - name: loans", "  - name: Loans!", 1),
			6, "schema[0].name", "dataset name"},
		{"no columns", "apiVersion: v3.1.0\nkind: DataContract\nid: x\nstatus: active\nschema:\n  - name: x\n    properties: []\n",
			7, "schema[0].properties", "no columns"},
		{"custom property typo", doc("", "", "customProperties:\n  - property: traget\n    value: id\n"),
			6, "customProperties[0].property", `did you mean "target"`},
		{"sql quality refused", doc("        quality:\n          - type: sql\n            query: SELECT 1\n            mustBe: 1\n", "", ""),
			13, "schema[0].properties[1].quality[0].type", "not supported"},
		{"anchors refused", doc("", "", "tags: &t [a]\n"), 5, "", "anchors"},
		{"unique key unknown column", doc("", "    quality:\n      - metric: duplicateValues\n        arguments:\n          properties: [id, nope]\n        mustBe: 0\n", ""),
			10, "schema[0].quality[0].arguments.properties[1]", `"nope" is not a column`},
		{"allowed on number", doc("        quality:\n          - metric: invalidValues\n            arguments:\n              validValues: [1, 2]\n            mustBe: 0\n", "", ""),
			15, "schema[0].properties[1].quality[0].arguments.validValues", "allowed values apply only"},
		{"category logicalType", doc("", "", "") + "      - name: grade\n        logicalType: category\n",
			13, "schema[0].properties[2].logicalType", "not an ODCS type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.odcs.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.yaml)
			}
			var found bool
			for _, e := range unjoin(err) {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not an *Error", e)
				}
				if ce.File != "t.odcs.yaml" {
					t.Errorf("error %v does not name the file", ce)
				}
				if ce.Line == tt.line && ce.Field == tt.field && strings.Contains(ce.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want line %d field %q msg containing %q; got:\n%v", tt.line, tt.field, tt.msg, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseReportsAllInLineOrder(t *testing.T) {
	y := doc("        logicalTypeOptions:\n          minimum: 10\n          maximum: 5\n        colour: red\n", "", "custmProperties: []\n")
	_, err := Parse("t.yaml", []byte(y))
	errs := unjoin(err)
	if len(errs) != 3 {
		t.Fatalf("want 3 errors, got %d:\n%v", len(errs), err)
	}
	last := 0
	for _, e := range errs {
		l := e.(*Error).Line
		if l < last {
			t.Errorf("errors out of line order:\n%v", err)
		}
		last = l
	}
	if !strings.HasPrefix(errs[0].Error(), "t.yaml:5:1: custmProperties: unknown key") {
		t.Errorf("error text: %q", errs[0].Error())
	}
}

func TestHashStableAcrossFormatting(t *testing.T) {
	base := mustParse(t, "a", mustRead(t, "testdata/minimal.odcs.yaml"))
	reformatted := `# reordered keys, different quoting and indentation, new comments
status: draft   # status is not a rule
kind:   DataContract
schema:
- properties:
  - {name: id, required: true, logicalType: "string"}
  - name: amount # a comment
    logicalTypeOptions: {maximum: 1000.0, minimum: 0}
    logicalType: number
  - quality: [{metric: invalidValues, mustBe: 0, arguments: {validValues: ["good", 'bad']}}]
    customProperties: [{value: category, property: type}]
    name: label
    logicalType: string
  name: loans
  customProperties:       # spelling out the defaults changes nothing
    - {property: delimiter, value: ","}
    - {property: header, value: true}
    - {property: compression, value: auto}
customProperties: [{property: target, value: label}, {property: mode, value: replace}]
id: something-else
apiVersion: v3.1.0
`
	other := mustParse(t, "b", []byte(reformatted))
	if base.Hash() != other.Hash() {
		t.Errorf("hash changed by formatting:\n%s\n%s", base.Canonical(), other.Canonical())
	}
	changed := mustParse(t, "c", []byte(strings.Replace(string(mustRead(t, "testdata/minimal.odcs.yaml")), "maximum: 1000", "maximum: 1001", 1)))
	if changed.Hash() == base.Hash() {
		t.Error("hash not changed by a rule change")
	}
	if len(base.Hash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", base.Hash())
	}
}

func TestCanonicalDedupesNullTokensKeepingOrder(t *testing.T) {
	c := &Contract{Dataset: "d", Columns: []Column{{Name: "a", Type: String}},
		Dialect: Dialect{NullTokens: []string{"NA", "-", "NA", "null", "-"}, Header: true}}
	d := &Contract{Dataset: "d", Columns: []Column{{Name: "a", Type: String}},
		Dialect: Dialect{NullTokens: []string{"NA", "-", "null"}, Header: true, Delimiter: ",", Quote: `"`, Compression: "auto"}, Mode: Replace}
	if string(c.Canonical()) != string(d.Canonical()) {
		t.Errorf("%s\n%s", c.Canonical(), d.Canonical())
	}
	if len(c.Dialect.NullTokens) != 5 {
		t.Error("Canonical changed its receiver")
	}
	want := `{"dataset":"d","mode":"replace","dialect":{"delimiter":",","quote":"\"","header":true,"nullTokens":["NA","-","null"],"compression":"auto"},"columns":[{"name":"a","type":"string"}]}`
	if got := string(c.Canonical()); got != want {
		t.Errorf("canonical:\n got %s\nwant %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []string{creditContract, "testdata/minimal.odcs.yaml"} {
		c := mustParse(t, f, mustRead(t, f))
		y, err := c.MarshalODCS()
		if err != nil {
			t.Fatal(err)
		}
		back := mustParse(t, "marshalled", y)
		if string(back.Canonical()) != string(c.Canonical()) {
			t.Errorf("%s: round trip changed the contract:\n%s\n%s\n%s", f, c.Canonical(), back.Canonical(), y)
		}
		pc, err := ParseCanonical(c.Canonical())
		if err != nil {
			t.Fatal(err)
		}
		if pc.Hash() != c.Hash() {
			t.Errorf("%s: ParseCanonical changed the hash", f)
		}
	}
}

func TestRoundTripEdgeValues(t *testing.T) {
	rate := func(f float64) *float64 { return &f }
	c := &Contract{Dataset: "edge", Mode: Append, Version: "2",
		Dialect: Dialect{Delimiter: "\t", Quote: "'", Header: false, NullTokens: []string{"", "yes", "NULL"}, Compression: "gzip"},
		Columns: []Column{
			{Name: "when", Type: Timestamp, Min: rate(1.7e9), Max: rate(1.7e9 + 0.25), Format: "2006-01-02 15:04:05"},
			{Name: "n", Type: Number, Min: rate(-1e-300), Max: rate(1.5e300), MaxNullRate: rate(0.1 + 0.2), Pattern: `^\d`},
			{Name: "i", Type: Integer, Allowed: []string{"1", "2"}, MaxNullRate: rate(1e-7), PII: true},
			{Name: "s", Type: String, Pattern: "^(yes|no)$", Description: "a: b # c", Required: true},
			{Name: "on", Type: Boolean, MaxNullRate: rate(0)},
			{Name: "c", Type: Category, Allowed: []string{"on", "off", "", "~"}},
		},
		Target: "c", Features: []string{"n", "i"}, Sensitive: []string{"s"}, UniqueKey: []string{"when", "n"},
		Rows: RowBounds{Min: 1, Max: 1 << 40},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	y, err := c.MarshalODCS()
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, "edge", y)
	if string(back.Canonical()) != string(c.Canonical()) {
		t.Errorf("round trip:\n%s\n%s\n%s", c.Canonical(), back.Canonical(), y)
	}
}

func TestParseCanonicalStrict(t *testing.T) {
	c := mustParse(t, "m", mustRead(t, "testdata/minimal.odcs.yaml"))
	j := string(c.Canonical())
	if _, err := ParseCanonical([]byte(strings.Replace(j, `"dataset"`, `"extra":1,"dataset"`, 1))); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := ParseCanonical([]byte(j + "{}")); err == nil {
		t.Error("trailing data accepted")
	}
	if _, err := ParseCanonical([]byte(strings.Replace(j, `"maximum"`, `"maximum"`, 1) + "")); err != nil {
		t.Error(err)
	}
	bad := strings.Replace(j, `"max":1000`, `"max":-1`, 1)
	err := func() error { _, err := ParseCanonical([]byte(bad)); return err }()
	var ce *Error
	if !errors.As(err, &ce) || ce.Field != "columns[1].min" {
		t.Errorf("want an *Error on columns[1].min, got %v", err)
	}
}

func TestUniqueKeyForms(t *testing.T) {
	pk := doc("        primaryKey: true\n        primaryKeyPosition: 2\n", "", "")
	pk = strings.Replace(pk, "      - name: id\n        logicalType: string\n", "      - name: id\n        logicalType: string\n        primaryKey: true\n        primaryKeyPosition: 1\n", 1)
	if c := mustParse(t, "pk", []byte(pk)); strings.Join(c.UniqueKey, ",") != "id,amount" {
		t.Errorf("primaryKey: %v", c.UniqueKey)
	}
	if c := mustParse(t, "u", []byte(doc("        unique: true\n", "", ""))); strings.Join(c.UniqueKey, ",") != "amount" {
		t.Errorf("unique: %v", c.UniqueKey)
	}
	both := strings.Replace(doc("        unique: true\n", "", ""), "logicalType: string\n", "logicalType: string\n        unique: true\n", 1)
	if _, err := Parse("x", []byte(both)); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("unique on two columns: %v", err)
	}
}

func TestParseNeverPanicsOnOddShapes(t *testing.T) {
	for _, s := range []string{"", "---", "[]", "a", "schema: 1", "schema: [1]", "schema: [{properties: 1}]",
		"schema: [{name: x, properties: [1, {name: [1]}, {logicalTypeOptions: 3}]}]", "customProperties: [1, {property: 1}]",
		"schema: [{name: x, properties: [{name: a, logicalType: number, quality: [{metric: nullValues}, 7, {mustBe: 1, mustBeBetween: [1]}]}]}]",
		"? [a]\n: b", "{a: 1, a: 2}", "schema:\n  - name: x\n    quality: [{metric: rowCount, mustBeBetween: [a, 1e400]}]"} {
		if _, err := Parse("odd", []byte(s)); err == nil {
			t.Errorf("%q: parsed", s)
		}
	}
}

func TestParseRefusesASecondDocument(t *testing.T) {
	one := mustRead(t, "testdata/minimal.odcs.yaml")
	if _, err := Parse("t.odcs.yaml", append(append([]byte{}, one...), "---\n"...)); err != nil {
		t.Fatalf("a trailing --- refused: %v", err)
	}
	_, err := Parse("t.odcs.yaml", append(append([]byte{}, one...), "---\napiVersion: v3.1.0\n"...))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "more than one YAML document: expected one ODCS data contract per file") {
		t.Fatalf("second document: %v", err)
	}
}

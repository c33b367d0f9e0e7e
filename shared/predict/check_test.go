package predict_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/predict"
)

func creditContract(t testing.TB) *contract.Contract {
	t.Helper()
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// creditEncoder is the encoding the trainer gives the credit contract's
// features: numbers as they are, each category one-hot over its allowed values.
func creditEncoder(t testing.TB, c *contract.Contract) *bundle.Encoder {
	t.Helper()
	enc := bundle.Encoding{Target: bundle.Label{Column: c.Target, Kind: bundle.LabelBinary, Classes: []string{"good", "bad"}, PositiveClass: "bad"}}
	for _, name := range c.Features {
		col := c.Column(name)
		f := bundle.Feature{Name: name, Kind: bundle.KindNumeric}
		if col.Type == contract.Category {
			f.Kind, f.Categories = bundle.KindOneHot, col.Allowed
			for _, cat := range col.Allowed {
				enc.Columns = append(enc.Columns, name+"="+cat)
			}
		} else {
			enc.Columns = append(enc.Columns, name)
		}
		enc.Features = append(enc.Features, f)
	}
	e, err := bundle.NewEncoder(enc)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newChecker(t testing.TB, c *contract.Contract, features []string, opt predict.CheckOptions) *predict.Checker {
	t.Helper()
	k, err := predict.NewChecker(c, features, opt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sameBits compares feature vectors, a missing value (NaN) equal to itself.
func sameBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// Every row of the credit dataset, sent as typed JSON (numbers as numbers, NA
// as null) and as the CSV's own text (RequestFromCSV: every cell a string),
// becomes exactly the values the trainer read from the canonical CSV, and the
// encoder makes the same vectors of them.
func TestCheckerReadsInstancesAsTheTrainerReadTheCSV(t *testing.T) {
	c := creditContract(t)
	enc := creditEncoder(t, c)
	k := newChecker(t, c, enc.Features(), predict.CheckOptions{})
	records, err := csv.NewReader(bytes.NewReader(credit.CSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, records := records[0], records[1:]
	typed := &predict.Request{}
	for _, rec := range records {
		var in predict.Instance
		for i, cell := range rec {
			var v string
			switch col := c.Column(header[i]); {
			case cell == "NA":
				v = "null"
			case col.Type == contract.Integer || col.Type == contract.Number:
				v = cell
			default:
				b, _ := json.Marshal(cell)
				v = string(b)
			}
			in.Fields = append(in.Fields, predict.Field{Name: header[i], Value: json.RawMessage(v)})
		}
		typed.Instances = append(typed.Instances, in)
	}
	fromCSV, err := predict.RequestFromCSV(bytes.NewReader(credit.CSV()))
	if err != nil {
		t.Fatal(err)
	}
	pos := make([]int, len(enc.Features()))
	for i, f := range enc.Features() {
		for j, h := range header {
			if h == f {
				pos[i] = j
			}
		}
	}
	want, got := make([]float32, len(enc.Columns())), make([]float32, len(enc.Columns()))
	for _, req := range []*predict.Request{typed, fromCSV} {
		rows, err := k.Check(req.Instances)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(records) {
			t.Fatalf("%d rows of %d", len(rows), len(records))
		}
		for r, rec := range records {
			cells := make([]string, len(pos))
			for i, p := range pos {
				if cells[i] = rec[p]; cells[i] == "NA" { // the contract's null token: an empty canonical cell
					cells[i] = ""
				}
			}
			if !reflect.DeepEqual(rows[r].Values, cells) {
				t.Fatalf("row %d: values %q, the canonical CSV's %q", r+1, rows[r].Values, cells)
			}
			if err := enc.Encode(cells, want); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(rows[r].Values, got); err != nil || !sameBits(got, want) {
				t.Fatalf("row %d: encoded %v (%v), the CSV's %v", r+1, got, err, want)
			}
			if len(rows[r].Flags) != 0 || len(rows[r].Logged) != len(pos) {
				t.Fatalf("row %d: flags %q, logged %v", r+1, rows[r].Flags, rows[r].Logged)
			}
		}
	}
	// The log has the values as sent: numbers as numbers, strings as strings, missing as nil.
	rows, _ := k.Check(typed.Instances[29:30]) // "bad",0,NA,48,37,"single","no",NA,35,NA,NA,NA,1500,1850
	if l := loggedByName(k, rows[0]); l["Seniority"] != 0.0 || l["Home"] != nil || l["Marital"] != "single" || l["Price"] != 1850.0 || len(l) != 13 {
		t.Fatalf("logged %#v", l)
	}
	rows, _ = k.Check(fromCSV.Instances[29:30])
	if l := loggedByName(k, rows[0]); l["Seniority"] != "0" || l["Home"] != nil || l["Price"] != "1850" {
		t.Fatalf("logged from CSV %#v", l)
	}
}

// rulesContract is the credit contract with a column for each rule it lacks:
// a boolean, a timestamp with bounds, a pattern, personal data.
func rulesContract(t testing.TB) (*contract.Contract, []string) {
	t.Helper()
	c := creditContract(t)
	lo, hi := 1577836800.0, 1893456000.0 // 2020-01-01, 2030-01-01
	c.Columns = append(c.Columns,
		contract.Column{Name: "Owner", Type: contract.Boolean},
		contract.Column{Name: "Opened", Type: contract.Timestamp, Format: "2006-01-02", Min: &lo, Max: &hi},
		contract.Column{Name: "Branch", Type: contract.String, Pattern: `[A-Z]{2}[0-9]{3}`},
		contract.Column{Name: "Email", Type: contract.String, PII: true, Pattern: `[^@]+@[^@]+`},
		contract.Column{Name: "ApplicationID", Type: contract.String, Required: true}, // not a feature
	)
	c.Features = append(c.Features, "Owner", "Opened", "Branch", "Email")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c, c.Features
}

// applicant is a valid instance of rulesContract, changed by edits: a value
// replaces a field's (JSON text), "-" removes the field, a new name is added.
func applicant(edits ...string) predict.Instance {
	base := [][2]string{
		{"Seniority", "9"}, {"Home", `"rent"`}, {"Time", "60"}, {"Age", "30"}, {"Marital", `"married"`},
		{"Records", `"no"`}, {"Job", `"freelance"`}, {"Expenses", "73"}, {"Income", "129"}, {"Assets", "0"},
		{"Debt", "0"}, {"Amount", "800"}, {"Price", "846"}, {"Owner", "true"}, {"Opened", `"2024-01-31"`},
		{"Branch", `"AB123"`}, {"Email", `"a@b.example"`},
	}
	for i := 0; i < len(edits); i += 2 {
		found := false
		for j := range base {
			if base[j][0] == edits[i] {
				base[j][1], found = edits[i+1], true
			}
		}
		if !found {
			base = append(base, [2]string{edits[i], edits[i+1]})
		}
	}
	var in predict.Instance
	for _, f := range base {
		if f[1] != "-" {
			in.Fields = append(in.Fields, predict.Field{Name: f[0], Value: json.RawMessage(f[1])})
		}
	}
	return in
}

func details(t *testing.T, err error) []apierror.Detail {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != apierror.CodeBadRequest || e.Status != 400 {
		t.Fatalf("%v: want a bad_request *apierror.Error", err)
	}
	return e.Details
}

// Each rule of the contract, on one value of an otherwise valid instance: the
// value's canonical form where it passes, else the one problem, naming the
// field, the rule and what was expected.
func TestCheckerRules(t *testing.T) {
	c, features := rulesContract(t)
	k := newChecker(t, c, features, predict.CheckOptions{})
	valueOf := func(row predict.Row, name string) string {
		for i, f := range features {
			if f == name {
				return row.Values[i]
			}
		}
		t.Fatalf("no feature %s", name)
		return ""
	}
	for _, tc := range []struct {
		field, value string
		want         string // the canonical value where it passes
		rule, msg    string // the problem where it does not
	}{
		{"Age", "35", "35", "", ""},
		{"Age", "35.0", "35", "", ""},
		{"Age", "3.5e1", "35", "", ""},
		{"Age", `"35"`, "35", "", ""},
		{"Age", `"+35"`, "+35", "", ""},
		{"Age", "3.5", "", "type", "expected an integer, got 3.5"},
		{"Age", `"35.0"`, "", "type", `expected an integer, got "35.0"`},
		{"Age", `"abc"`, "", "type", `expected an integer, got "abc"`},
		{"Age", "true", "", "type", "expected an integer, got true"},
		{"Age", "1e30", "", "type", "expected an integer, got 1e30"},
		{"Age", "130", "", "max", "130 is above the maximum 120"},
		{"Age", "17", "", "min", "17 is below the minimum 18"},
		{"Age", "-", "", "required", "required, and missing"},
		{"Age", "null", "", "required", "required, got null"},
		{"Age", `"NA"`, "", "required", `required, got "NA", a missing value`},
		{"Age", `""`, "", "required", `required, got "", a missing value`},
		{"Expenses", "73.25", "73.25", "", ""},
		{"Expenses", "1e-7", "1e-7", "", ""},
		{"Expenses", "0.000001", "0.000001", "", ""},
		{"Expenses", "1E+2", "100", "", ""},
		{"Expenses", `"73.250"`, "73.250", "", ""},
		{"Expenses", `"-1"`, "", "min", `"-1" is below the minimum 0`},
		{"Expenses", "-0.5", "", "min", "-0.5 is below the minimum 0"},
		{"Expenses", `"NaN"`, "", "not_finite", `"NaN" is not a finite number`},
		{"Expenses", `"-Infinity"`, "", "not_finite", `"-Infinity" is not a finite number`},
		{"Expenses", `"1e39"`, "", "type", `"1e39" is beyond the float32 range`},
		{"Expenses", `"0x10"`, "", "type", `expected a number, got "0x10"`},
		{"Expenses", `" 73"`, "", "type", `expected a number, got " 73"`},
		{"Expenses", "false", "", "type", "expected a number, got false"},
		{"Income", "null", "", "", ""},
		{"Income", "-", "", "", ""},
		{"Income", `""`, "", "", ""},
		{"Income", `"NA"`, "", "", ""},
		{"Home", `"owner"`, "owner", "", ""},
		{"Home", `"castle"`, "", "allowed", `"castle" is not an allowed value: expected one of rent, owner, parents, priv, ignore, other`},
		{"Home", `"Rent"`, "", "allowed", `"Rent" is not an allowed value`},
		{"Home", "3", "", "type", "expected a string, got 3"},
		{"Job", `"=cmd|' /C calc'!A0"`, "", "formula", "would run as a spreadsheet formula"},
		{"Owner", "false", "false", "", ""},
		{"Owner", `"YES"`, "YES", "", ""},
		{"Owner", "1", "1", "", ""},
		{"Owner", `"maybe"`, "", "type", `expected a boolean (true/false, 1/0, yes/no), got "maybe"`},
		{"Owner", "2", "", "type", "expected a boolean (true/false, 1/0, yes/no), got 2"},
		{"Owner", "1.0", "", "type", "expected a boolean"},
		{"Opened", `"2020-01-01"`, "2020-01-01", "", ""},
		{"Opened", `"31/01/2024"`, "", "type", `expected a timestamp string in the layout "2006-01-02", got "31/01/2024"`},
		{"Opened", "20240131", "", "type", "expected a timestamp string"},
		{"Opened", `"2019-12-31"`, "", "min", `"2019-12-31" is below the minimum 2020-01-01T00:00:00Z (1577836800 Unix seconds)`},
		{"Opened", `"2031-01-01"`, "", "max", "above the maximum 2030-01-01T00:00:00Z"},
		{"Branch", `"XY999"`, "XY999", "", ""},
		{"Branch", `"xy999"`, "", "pattern", `"xy999" does not match the pattern [A-Z]{2}[0-9]{3}`},
		{"Branch", `"XY9999"`, "", "pattern", "does not match"}, // the whole value must match
		{"Email", `"jane.doe.example"`, "", "pattern", "the value (personal data, not repeated) does not match"},
		{"Email", "42", "", "type", "expected a string, got a number"},
		{"Status", `"bad"`, "", "", ""},      // the target: ignored
		{"ApplicationID", "-", "", "", ""},   // a required column the model does not read: ignored
		{"ApplicationID", "[1]", "", "", ""}, // whatever it holds
		{"Colour", `"red"`, "", "unknown_field", "no such column in the contract credit (the model's features: Seniority, Home, Time,"},
	} {
		name := tc.field + "=" + tc.value
		rows, err := k.Check([]predict.Instance{applicant(tc.field, tc.value)})
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if c.Column(tc.field) != nil && tc.field != "Status" && tc.field != "ApplicationID" {
				if got := valueOf(rows[0], tc.field); got != tc.want {
					t.Errorf("%s: value %q, want %q", name, got, tc.want)
				}
			}
			continue
		}
		d := details(t, err)
		want := "instances[0]." + tc.field
		if len(d) != 1 || d[0].Field != want || d[0].Rule != tc.rule || !strings.Contains(d[0].Message, tc.msg) ||
			!strings.Contains(err.Error(), want+": "+d[0].Message) {
			t.Errorf("%s: %v %+v, want %s %s %q", name, err, d, want, tc.rule, tc.msg)
		}
		if c.Column(tc.field) != nil && c.Column(tc.field).PII && strings.Contains(err.Error(), "jane") {
			t.Errorf("%s: personal data in the message: %v", name, err)
		}
	}
}

// Every problem of every instance at once, in order; the list is bounded.
func TestCheckerTellsEveryProblemAtOnce(t *testing.T) {
	c, features := rulesContract(t)
	k := newChecker(t, c, features, predict.CheckOptions{})
	_, err := k.Check([]predict.Instance{
		applicant(),
		applicant("Age", "130", "Home", `"castle"`, "Colour", `"red"`),
		applicant(),
		applicant("Seniority", "-", "Expenses", `"NaN"`, "Opened", `"x"`),
	})
	d := details(t, err)
	got := make([]string, len(d))
	for i, p := range d {
		got[i] = p.Field + " " + p.Rule
	}
	want := []string{"instances[1].Home allowed", "instances[1].Age max", "instances[1].Colour unknown_field",
		"instances[3].Expenses not_finite", "instances[3].Opened type", "instances[3].Seniority required"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems %q\nwant %q", got, want)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "6 problems in the instances: instances[1].Home: ") || !strings.Contains(msg, "; instances[3].Seniority: required, and missing") {
		t.Fatalf("%s", msg)
	}

	many := make([]predict.Instance, 1000)
	for i := range many {
		many[i] = applicant("Age", "200", "Time", "0")
	}
	_, err = k.Check(many)
	d = details(t, err)
	if len(d) != 100 || d[99].Field != "instances[49].Age" || !strings.HasSuffix(err.Error(), "; and 1900 more (HTTP 400)") {
		t.Fatalf("%d details, last %+v: ...%s", len(d), d[len(d)-1], err.Error()[len(err.Error())-60:])
	}
}

// Unknown fields can be ignored, and values out of range scored and flagged;
// what is not a range problem is refused still.
func TestCheckerOptions(t *testing.T) {
	c, features := rulesContract(t)
	k := newChecker(t, c, features, predict.CheckOptions{UnknownFields: predict.Ignore, OutOfRange: predict.Flag})
	if o := k.Options(); o.UnknownFields != predict.Ignore || o.OutOfRange != predict.Flag {
		t.Fatalf("%+v", o)
	}
	rows, err := k.Check([]predict.Instance{applicant("Age", "130", "Home", `"castle"`, "Colour", `"red"`, "Opened", `"2035-05-05"`)})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	if r.Values[3] != "130" || r.Values[1] != "castle" || !reflect.DeepEqual(r.Flags, []string{
		`Home: "castle" is not an allowed value: expected one of rent, owner, parents, priv, ignore, other`,
		"Age: 130 is above the maximum 120",
		`Opened: "2035-05-05" is above the maximum 2030-01-01T00:00:00Z (1893456000 Unix seconds)`,
	}) {
		t.Fatalf("%q %q", r.Values, r.Flags)
	}
	if l := loggedByName(k, r); len(r.Logged) != len(k.Names()) || l["Colour"] != nil || l["Age"] != 130.0 {
		t.Fatalf("logged %#v: an ignored field, or a feature, wrong", l)
	}
	_, err = k.Check([]predict.Instance{applicant("Age", "3.5", "Branch", `"x"`)})
	if d := details(t, err); len(d) != 2 || d[0].Rule != "type" || d[1].Rule != "pattern" {
		t.Fatalf("%+v", d)
	}
	// The defaults reject.
	if o := newChecker(t, c, features, predict.CheckOptions{}).Options(); o.UnknownFields != predict.Reject || o.OutOfRange != predict.Reject {
		t.Fatalf("defaults %+v", o)
	}
}

// A checker is made only for features the contract has, once each, under
// known settings.
func TestNewCheckerRefuses(t *testing.T) {
	c := creditContract(t)
	for _, tc := range []struct {
		features []string
		opt      predict.CheckOptions
		msg      string
	}{
		{[]string{"Age", "Shoe"}, predict.CheckOptions{}, `feature "Shoe" is no column of the contract credit`},
		{[]string{"Age", "Age"}, predict.CheckOptions{}, `"Age" is listed twice`},
		{nil, predict.CheckOptions{}, "no features"},
		{[]string{"Age"}, predict.CheckOptions{UnknownFields: "drop"}, `unknown fields "drop": expected reject or ignore`},
		{[]string{"Age"}, predict.CheckOptions{OutOfRange: "clip"}, `out of range "clip": expected reject or flag`},
	} {
		if _, err := predict.NewChecker(c, tc.features, tc.opt); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v %+v: %v, want %q", tc.features, tc.opt, err, tc.msg)
		}
	}
}

// Metadata describes the features with their rules, the target and outputs.
func TestNewMetadata(t *testing.T) {
	c := creditContract(t)
	k := newChecker(t, c, c.Features, predict.CheckOptions{OutOfRange: predict.Flag})
	enc := &bundle.Encoding{Target: bundle.Label{Column: "Status", Kind: bundle.LabelBinary, Classes: []string{"good", "bad"}, PositiveClass: "bad"},
		Threshold: 0.5}
	m := predict.NewMetadata("credit", 3, k, enc)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"modelSpec":{"name":"credit","version":3}`,
		`{"name":"Age","type":"integer","required":true,"min":18,"max":120,"description":"Applicant's age in years; a fairness slice (age bands)."}`,
		`{"name":"Home","type":"category","required":false,"allowed":["rent","owner","parents","priv","ignore","other"],"description":"Type of home ownership."}`,
		`"outputs":[{"name":"p_bad","type":"number","description":"the probability that Status is bad"},{"name":"label","type":"string","description":"the predicted Status: bad when p_bad is at least the threshold, else good"}]`,
		`"target":{"column":"Status","kind":"binary","classes":["good","bad"],"positiveClass":"bad","threshold":0.5}`,
		`"unknownFields":"reject","outOfRange":"flag"`, `"dataset":"credit"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metadata lacks %s:\n%s", want, b)
		}
	}
	var back predict.Metadata
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, m) {
		t.Fatalf("%v\n%+v\n%+v", err, back, m)
	}
	if len(m.Metadata.Features) != 13 || m.Metadata.Features[0].Name != "Seniority" {
		t.Fatalf("features %+v", m.Metadata.Features)
	}
	reg := predict.NewMetadata("r", 1, k, &bundle.Encoding{Target: bundle.Label{Column: "Amount", Kind: bundle.LabelRegression}})
	multi := predict.NewMetadata("m", 1, k, &bundle.Encoding{Target: bundle.Label{Column: "Home", Kind: bundle.LabelMulticlass, Classes: []string{"rent", "owner"}}})
	if fmt.Sprint(reg.Metadata.Outputs) != "[{prediction number the predicted Amount}]" || len(multi.Metadata.Outputs) != 3 ||
		multi.Metadata.Outputs[2].Description != "the predicted Home: the most probable class" || multi.Metadata.Target.Threshold != 0 {
		t.Fatalf("%+v %+v", reg.Metadata.Outputs, multi.Metadata)
	}
}

// loggedByName is a row's logged values by feature name.
func loggedByName(k *predict.Checker, r predict.Row) map[string]any {
	m := make(map[string]any, len(r.Logged))
	for i, name := range k.Names() {
		m[name] = r.Logged[i]
	}
	return m
}

// Checking a request's instances together (one string for all their values,
// columns found through the previous instance's) gives each the row, or the
// problems, that checking it alone gives: with unknown fields, the target,
// duplicates, escaped strings and missing fields among the features, in
// orders that change from one instance to the next.
func TestCheckTogetherAsAlone(t *testing.T) {
	c, features := rulesContract(t)
	body := `{"instances": [
		{"Seniority": 9, "Home": "rent", "Extra": "x", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846},
		{"Seniority": 9, "Home": "r\u0065nt", "Extra": "a much longer unknown value", "Time": 60, "Age": 3.0e1, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 73, "Income": null, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846},
		{"ApplicationID": "A-1", "Home": "owner", "Seniority": 1, "Time": 12, "Age": 130, "Marital": "single", "Records": "yes", "Job": "fixed", "Expenses": 35, "Assets": 5000, "Debt": 0, "Amount": 1000, "Price": 1200, "Branch": "AB123"},
		{},
		{"Seniority": 2, "Home": "\"quoted\"", "Time": "60", "Age": 40, "Marital": "married", "Records": "no", "Job": "partime", "Expenses": 50, "Income": 90, "Assets": 0, "Debt": 0, "Amount": 500, "Price": 600, "Email": "a\u0040b.example", "Owner": "yes", "Opened": "2024-01-31"},
		{"Seniority": 9, "Home": "rent", "Extra": "x", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}
	]}`
	req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []predict.CheckOptions{{}, {UnknownFields: predict.Ignore, OutOfRange: predict.Flag}} {
		k := newChecker(t, c, features, opt)
		var details []apierror.Detail
		var passing []predict.Instance
		var alone []predict.Row
		for i, in := range req.Instances {
			r, err := k.Check([]predict.Instance{in})
			var e *apierror.Error
			switch {
			case errors.As(err, &e):
				for _, d := range e.Details {
					d.Field = strings.Replace(d.Field, "instances[0]", fmt.Sprintf("instances[%d]", i), 1)
					details = append(details, d)
				}
			case err != nil:
				t.Fatal(err)
			default:
				passing, alone = append(passing, in), append(alone, r...)
			}
		}
		_, err := k.Check(req.Instances)
		var e *apierror.Error
		if !errors.As(err, &e) || !reflect.DeepEqual(e.Details, details) {
			t.Errorf("%+v: together %v; alone %+v", opt, err, details)
		}
		if opt.UnknownFields == predict.Ignore && len(passing) < 4 {
			t.Fatalf("%+v: %d instances pass alone, want at least 4 to compare", opt, len(passing))
		}
		if len(passing) > 0 {
			rows, err := k.Check(passing)
			if err != nil || !sameRows(rows, alone) {
				t.Errorf("%+v: together %+v (%v); alone %+v", opt, rows, err, alone)
			}
		}
	}
}

// CheckRows reuses the memory of rows released before: its rows are exactly
// Check's, whatever the reused memory held (a feature missing now and given
// in the last request is missing, not the last value), and a refusal leaves
// the next check unharmed.
func TestCheckRowsReleaseReuse(t *testing.T) {
	c := creditContract(t)
	k := newChecker(t, c, c.Features, predict.CheckOptions{OutOfRange: predict.Flag})
	bodies := []string{
		creditBody(32),
		`{"instances": [{"Seniority": 3, "Age": 30}, {"Home": "own", "Amount": 500}]}`,
		`{"instances": [{"Seniority": "x"}]}`, // refused
		creditBody(1),
		`{"instances": [{"Age": 130, "Home": "castle"}, {}]}`, // flagged
	}
	for round := range 10 {
		for i, body := range bodies {
			req := mustRequest(t, body)
			want, wantErr := k.Check(req.Instances)
			got, err := k.CheckRows(req.Instances)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("round %d, body %d: CheckRows %v, Check %v", round, i, err, wantErr)
			}
			if !sameRows(got.List, want) {
				t.Fatalf("round %d, body %d: rows in reused memory\n%+v\nwant\n%+v", round, i, got.List, want)
			}
			got.Release()
			if got.List != nil {
				t.Fatal("released rows still listed")
			}
		}
	}
}

// checkRows fails t unless each row's LoggedJSON, where set, is exactly
// what encoding/json writes of its Logged value without HTML escaping (the
// log writes it in place of the value's own text), and its Numbers, where
// not NaN, are what the encoder reads of its Values (float32 of
// strconv.ParseFloat's value: the scorer takes them in its stead).
func checkRows(t *testing.T, rows []predict.Row) {
	t.Helper()
	for i, r := range rows {
		if len(r.LoggedJSON) != len(r.Logged) || len(r.Numbers) != len(r.Values) {
			t.Fatalf("row %d: %d texts for %d logged values, %d numbers for %d values", i,
				len(r.LoggedJSON), len(r.Logged), len(r.Numbers), len(r.Values))
		}
		for f, text := range r.LoggedJSON {
			if text == "" {
				continue
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(r.Logged[f]); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(b.String(), "\n"); text != want {
				t.Fatalf("row %d feature %d: logged text %q, encoding/json writes %q of %#v", i, f, text, want, r.Logged[f])
			}
		}
		for f, n := range r.Numbers {
			if math.IsNaN(float64(n)) {
				continue
			}
			x, err := strconv.ParseFloat(r.Values[f], 64)
			if err != nil || math.Float32bits(float32(x)) != math.Float32bits(n) {
				t.Fatalf("row %d feature %d: number %v for the value %q, which reads as %v (%v)", i, f, n, r.Values[f], float32(x), err)
			}
		}
	}
}

// The log's text of a value is given where the check knows it without more
// work, and is then exactly the value's JSON: whole numbers as written (not
// -07, 3e1 or 16 digits), allowed values however the request escaped them,
// literals; none for anything else.
func TestLoggedJSON(t *testing.T) {
	c := creditContract(t)
	k := newChecker(t, c, c.Features, predict.CheckOptions{UnknownFields: predict.Ignore, OutOfRange: predict.Flag})
	req := mustRequest(t, `{"instances": [`+
		`{"Seniority": 9, "Home": "rent", "Time": -0, "Age": 30.0, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 7.3e1, "Income": 1.5, "Assets": 0, "Debt": null, "Amount": "800", "Price": 846},`+
		`{"Seniority": 123456789012345, "Home": "r\u0065nt", "Time": 12, "Age": 3e1, "Marital": "<b>&", "Records": "yes", "Job": "caf\u00e9", "Expenses": 1, "Amount": 5, "Price": 1234567890123456}]}`)
	rows, err := k.Check(req.Instances)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows)
	names := k.Names()
	// The usual number is read once, by the check: the scorer takes it.
	if f := slices.Index(names, "Seniority"); rows[0].Numbers[f] != 9 || rows[1].Numbers[f] != 123456789012345 {
		t.Fatalf("Seniority's numbers %v, %v: want 9 and 123456789012345", rows[0].Numbers[f], rows[1].Numbers[f])
	}
	got := map[string]string{}
	for f, text := range rows[0].LoggedJSON {
		got[names[f]] = text
	}
	for name, want := range map[string]string{"Seniority": "9", "Home": `"rent"`, "Time": "-0", "Age": "", "Expenses": "",
		"Income": "", "Assets": "0", "Debt": "", "Amount": "", "Price": "846", "Records": `"no"`, "Marital": `"married"`} {
		if got[name] != want {
			t.Errorf("%s: logged text %q, want %q", name, got[name], want)
		}
	}
	for f, text := range rows[1].LoggedJSON {
		want := map[string]string{"Home": `"rent"`, "Age": "", "Price": "", "Marital": "", "Seniority": "123456789012345"}
		if w, ok := want[names[f]]; ok && text != w {
			t.Errorf("%s: logged text %q, want %q", names[f], text, w)
		}
	}
}

// sameRows reports whether a and b are the same rows: their Numbers
// compared by their bits (NaN, a value not read as a number, is equal to
// itself), the rest deeply.
func sameRows(a, b []predict.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if len(x.Numbers) != len(y.Numbers) {
			return false
		}
		for j := range x.Numbers {
			if math.Float32bits(x.Numbers[j]) != math.Float32bits(y.Numbers[j]) {
				return false
			}
		}
		x.Numbers, y.Numbers = nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// The check copies only the features' values: fields it ignores, however
// large, are neither copied nor kept alive by the rows (which the log holds).
func TestCheckCopiesOnlyFeatures(t *testing.T) {
	c := creditContract(t)
	k := newChecker(t, c, c.Features, predict.CheckOptions{UnknownFields: predict.Ignore})
	var b strings.Builder
	b.WriteString(`{"instances": [{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no",` +
		` "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846`)
	big := strings.Repeat("x", predict.MaxStringBytes)
	for i := range 1000 {
		fmt.Fprintf(&b, `, "u%d": "%s"`, i, big)
	}
	b.WriteString(`}]}`)
	req := mustRequest(t, b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows, err := k.Check(req.Instances)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("checking an instance with 1 MB of ignored fields allocated %d bytes", got)
	}
	if rows[0].Values[0] != "9" {
		t.Fatalf("values %q", rows[0].Values)
	}
}

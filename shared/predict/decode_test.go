package predict_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/predict"
)

// badBodies are bodies DecodeRequest refuses, with the code and a part of the
// message that names the place and what was expected.
var badBodies = []struct {
	name, body string
	code       apierror.Code
	msg        string
}{
	{"empty", "", apierror.CodeBadRequest, `body: empty: expected a JSON object {"instances": [{...}, ...]}`},
	{"invalid JSON", `{"instances": [{"a": 1}`, apierror.CodeBadRequest, "instances: not JSON: the body ends where ',' or ']' was expected"},
	{"garbage", `hello`, apierror.CodeBadRequest, "body: expected a JSON object {\"instances\": [{...}, ...]}, got something that is not JSON ('h')"},
	{"not an object", `"instances"`, apierror.CodeBadRequest, "got a string"},
	{"a bare array", `[{"a": 1}]`, apierror.CodeBadRequest, `got an array (send an array of instances as {"instances": [...]})`},
	{"instances missing", `{}`, apierror.CodeBadRequest, `body: instances is required`},
	{"instances missing, explain given", `{"explain": true}`, apierror.CodeBadRequest, `body: instances is required`},
	{"instances empty", `{"instances": []}`, apierror.CodeBadRequest, "instances: empty: expected at least one instance"},
	{"instances not an array", `{"instances": {"a": 1}}`, apierror.CodeBadRequest, "instances: expected an array of objects, got an object"},
	{"instances null", `{"instances": null}`, apierror.CodeBadRequest, "instances: expected an array of objects, got null"},
	{"an instance not an object", `{"instances": [{"a": 1}, 7]}`, apierror.CodeBadRequest, "instances[1]: expected an object of fields, got a number"},
	{"unknown field", `{"instances": [{"a": 1}], "explian": true}`, apierror.CodeBadRequest, `body: unknown field "explian": a request has instances and explain`},
	{"explain not a boolean", `{"instances": [{"a": 1}], "explain": "yes"}`, apierror.CodeBadRequest, "explain: expected true or false, got a string"},
	{"instances twice", `{"instances": [{"a": 1}], "instances": [{"a": 2}]}`, apierror.CodeBadRequest, "body: instances is given twice"},
	{"two objects", `{"instances": [{"a": 1}]} {}`, apierror.CodeBadRequest, "body: one JSON object expected, found more after it (at byte 26)"},
	{"an array value", `{"instances": [{"a": 1}, {"age": [1]}]}`, apierror.CodeBadRequest, "instances[1].age: expected a number, string, boolean or null, got an array"},
	{"an object value", `{"instances": [{"age": {"v": 1}}]}`, apierror.CodeBadRequest, "instances[0].age: expected a number, string, boolean or null, got an object"},
	{"NaN", `{"instances": [{"age": NaN}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON: NaN and Infinity are not numbers in JSON (a missing value is null)"},
	{"Infinity", `{"instances": [{"age": Infinity}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON: NaN and Infinity"},
	{"-Infinity", `{"instances": [{"age": -Infinity}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON: NaN and Infinity"},
	{"a plus sign", `{"instances": [{"age": +1}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON at byte 23: a number may not start with '+'"},
	{"a leading zero", `{"instances": [{"age": 01}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON at byte 23: a number may not start with 0"},
	{"a bare point", `{"instances": [{"age": 1.}]}`, apierror.CodeBadRequest, "instances[0].age: not JSON at byte 25: expected a digit after the decimal point, got '}'"},
	{"beyond float32", `{"instances": [{"age": 3.5e38}]}`, apierror.CodeBadRequest, "instances[0].age: 3.5e38 is beyond the float32 range (±3.4028235e38)"},
	{"beyond float64", `{"instances": [{"age": -1e400}]}`, apierror.CodeBadRequest, "instances[0].age: -1e400 is beyond the float32 range"},
	{"a name twice", `{"instances": [{"age": 1, "income": 2, "age": 3}]}`, apierror.CodeBadRequest, "instances[0].age: given twice in one instance"},
	{"a name twice, escaped", `{"instances": [{"age": 1, "\u0061ge": 3}]}`, apierror.CodeBadRequest, "instances[0].age: given twice"},
	{"an odd name", `{"instances": [{"a b": true, "a b": 1}]}`, apierror.CodeBadRequest, `instances[0]["a b"]: given twice`},
	{"a control character", "{\"instances\": [{\"a\": \"x\ty\"}]}", apierror.CodeBadRequest, "instances[0].a: not JSON at byte 23: a control character (U+0009) in a string: escape it"},
	{"not UTF-8", "{\"instances\": [{\"a\": \"\xff\"}]}", apierror.CodeBadRequest, "instances[0].a: a string that is not UTF-8 (at byte 22)"},
	{"a bad escape", `{"instances": [{"a": "\x"}]}`, apierror.CodeBadRequest, `instances[0].a: not JSON at byte 22: an unknown escape \x`},
	{"a short \\u", `{"instances": [{"a": "\u12"}]}`, apierror.CodeBadRequest, `\u takes four hex digits`},
	{"single quotes", `{"instances": [{'a': 1}]}`, apierror.CodeBadRequest, "instances[0]: not JSON at byte 16: expected a field name in double quotes, got '\\''"},
	{"a missing colon", `{"instances": [{"a" 1}]}`, apierror.CodeBadRequest, "instances[0].a: not JSON at byte 20: expected ':' after a name, got '1'"},
	{"a trailing comma", `{"instances": [{"a": 1},]}`, apierror.CodeBadRequest, "instances[1]: expected an object of fields, got something that is not JSON (']')"},
	{"a bad literal", `{"instances": [{"a": tru}]}`, apierror.CodeBadRequest, "instances[0].a: not JSON at byte 21: expected true, got 't'"},
	{"a string that never ends", `{"instances": [{"a": "xyz`, apierror.CodeBadRequest, "instances[0].a: not JSON: a string that never ends"},
	{"a megabyte string", `{"instances": [{"a": 1}, {"name": "` + strings.Repeat("x", 1<<20) + `"}]}`, apierror.CodeBadRequest,
		"instances[1].name: a string of 1048576 bytes: at most 1024"},
	{"a long escaped string", `{"instances": [{"name": "` + strings.Repeat(`\u00e9`, 513) + `"}]}`, apierror.CodeBadRequest,
		"instances[0].name: a string of 1026 bytes: at most 1024"},
	{"a long name", `{"instances": [{"` + strings.Repeat("n", 2000) + `": 1}]}`, apierror.CodeBadRequest, "instances[0]: a field name of 2000 bytes: at most 1024"},
	{"a long number", `{"instances": [{"a": 1` + strings.Repeat("0", 2000) + `}]}`, apierror.CodeBadRequest, "instances[0].a: a number of 2001 characters: at most 1024"},
	{"deep nesting in a value", `{"instances": [{"a": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}]}`, apierror.CodeBadRequest,
		"instances[0].a: expected a number, string, boolean or null, got an array"},
	{"deep nesting in instances", `{"instances": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, apierror.CodeBadRequest,
		"instances[0]: expected an object of fields, got an array"},
	{"deep nesting in explain", `{"explain": ` + strings.Repeat("{\"a\":", 50000) + `}`, apierror.CodeBadRequest, "explain: expected true or false, got an object"},
	{"too many instances", `{"instances": [` + strings.Repeat(`{"a": 1},`, 1000) + `{"a": 1}]}`, apierror.CodeTooLarge,
		"instances: more than 1000 in one request: send at most 1000 a request"},
	{"a body over the limit", `{"instances": [{"a": "` + strings.Repeat("x", 1000) + `"}` + strings.Repeat(`, {"a": "`+strings.Repeat("x", 1000)+`"}`, 5300) + `]}`,
		apierror.CodeTooLarge, "body: over 5242880 bytes: send fewer instances a request"},
}

func wantAPIError(t *testing.T, what string, err error, code apierror.Code, msg string) {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != code || e.Status != code.Status() || !strings.Contains(e.Message, msg) {
		t.Errorf("%s: %v, want %s %q", what, err, code, msg)
	}
}

func TestDecodeRequestRefuses(t *testing.T) {
	for _, tc := range badBodies {
		_, err := predict.DecodeRequest(strings.NewReader(tc.body), predict.Limits{})
		wantAPIError(t, tc.name, err, tc.code, tc.msg)
	}
}

// A request's instances keep their fields in order and each value's text.
func TestDecodeRequestKeepsTheText(t *testing.T) {
	body := ` { "explain" : true , "instances" : [ {"b": 1.50, "a": "x\u00e9\"", "c": null, "d": false, "e": -0, "f": 1E-7},
		{}, {"\u00e9": "\ud83d\ude00", "lone": "\ud800"} ] } `
	req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range req.Instances {
		var fields []string
		for _, f := range in.Fields {
			fields = append(fields, f.Name+"="+string(f.Value))
		}
		got = append(got, strings.Join(fields, " "))
	}
	want := []string{`b=1.50 a="x\u00e9\"" c=null d=false e=-0 f=1E-7`, ``, `é="\ud83d\ude00" lone="\ud800"`}
	if !req.Explain || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%v %q", req.Explain, got)
	}
	// It writes back as it came, its fields in order.
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"instances":[{"b":1.50,"a":"x\u00e9\"","c":null,"d":false,"e":-0,"f":1E-7},{},{"é":"\ud83d\ude00","lone":"\ud800"}],"explain":true}`
	if string(b) != wantJSON {
		t.Fatalf("%s\nwant %s", b, wantJSON)
	}
	var back predict.Request
	if err := json.Unmarshal(b, &back); err != nil || len(back.Instances) != 3 || !back.Explain {
		t.Fatalf("%v %+v", err, back)
	}
	// The limits are the caller's: 2 instances here.
	_, err = predict.DecodeRequest(strings.NewReader(`{"instances": [{}, {}, {}]}`), predict.Limits{MaxInstances: 2})
	wantAPIError(t, "3 instances over a limit of 2", err, apierror.CodeTooLarge, "more than 2 in one request")
	_, err = predict.DecodeRequest(strings.NewReader(`{"instances": [{}, {}, {}]}`), predict.Limits{MaxBodyBytes: 20})
	wantAPIError(t, "a body over 20 bytes", err, apierror.CodeTooLarge, "over 20 bytes")
	// An instance decodes on its own under the same rules.
	var in predict.Instance
	if err := json.Unmarshal([]byte(`{"a": 1, "b": "x"}`), &in); err != nil || len(in.Fields) != 2 || string(in.Fields[1].Value) != `"x"` {
		t.Fatalf("%v %+v", err, in)
	}
	if err := json.Unmarshal([]byte(`{"a": [1]}`), &in); err == nil || !strings.Contains(err.Error(), "instance.a: expected a number, string, boolean or null, got an array") {
		t.Fatalf("%v", err)
	}
}

// A deeply nested value is refused where it starts: refusing it costs what
// reading its body costs, however deep it goes.
func TestDeepNestingIsRefusedCheaply(t *testing.T) {
	body := []byte(`{"instances": [{"a": ` + strings.Repeat("[", 1<<20) + `]}]}`)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := predict.DecodeRequest(bytes.NewReader(body), predict.Limits{MaxBodyBytes: 2 << 20}); err == nil {
			t.Fatal("accepted")
		}
	})
	// io.ReadAll's growing buffer and the error: no allocation per level.
	if allocs > 60 {
		t.Fatalf("%v allocations to refuse a nested value", allocs)
	}
}

// The request decoder on any body: never a panic; a refusal is a 400 or a 413
// *apierror.Error; an accepted request is JSON encoding/json reads too, and
// survives a round trip through its type unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"instances": [{"Age": 35, "Home": "rent", "Income": null, "Owner": true}], "explain": true}`,
		`{"instances": [{}, {"a": "\u00e9\ud83d\ude00", "b": -0.5e-3}]}`,
		`[{"a": 1}]`, `{"instances": [{"a": [[[[1]]]]}]}`, `{"instances": [{"a": NaN}]}`, `{"instances": [{"a": 1e39}]}`,
		`{"instances": [{"a": 1, "a": 2}]}`, `{"instances": []}`, `{"instances": [{"a": 1}]}{}`, "{\"instances\": [{\"a\": \"\xff\"}]}",
		`{"instances": [{"a": "\ud800"}]}`, `{"instances": [{"a": 01}]}`, "", `{"explain": false, "instances": [{"a": -0}]}`,
		`{"instances": [{"Age": "35", "Expenses": "1e3", "Owner": "YES", "Opened": "2024-02-30", "Branch": "AB123", "Home": "NA"}]}`,
		`{"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "a": 3}]}`,
		`{"instances": [{"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3, "b": 4}]}`,
	} {
		f.Add([]byte(seed))
	}
	lim := predict.Limits{MaxBodyBytes: 4096, MaxInstances: 8}
	c, features := rulesContract(f)
	checker := newChecker(f, c, features, predict.CheckOptions{})
	lenient := newChecker(f, c, features, predict.CheckOptions{UnknownFields: predict.Ignore, OutOfRange: predict.Flag})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := predict.DecodeRequest(bytes.NewReader(body), lim)
		if err != nil {
			var e *apierror.Error
			if !errors.As(err, &e) || (e.Status != 400 || e.Code != apierror.CodeBadRequest) && (e.Status != 413 || e.Code != apierror.CodeTooLarge) ||
				e.Message == "" {
				t.Fatalf("body %q: %#v", body, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		if len(req.Instances) == 0 || len(req.Instances) > lim.MaxInstances {
			t.Fatalf("accepted %d instances", len(req.Instances))
		}
		for _, in := range req.Instances {
			names := map[string]bool{}
			for _, fl := range in.Fields {
				if names[fl.Name] {
					t.Fatalf("body %q: accepted %q twice in one instance", body, fl.Name)
				}
				names[fl.Name] = true
				var v any
				if err := json.Unmarshal(fl.Value, &v); err != nil {
					t.Fatalf("field %q: value %q: %v", fl.Name, fl.Value, err)
				}
				switch v.(type) {
				case nil, bool, float64, string:
				default:
					t.Fatalf("field %q: value %q is no scalar", fl.Name, fl.Value)
				}
			}
		}
		// The contract's check takes whatever the decoder accepts: rows, or a 400.
		if rows, err := checker.Check(req.Instances); err == nil && len(rows) != len(req.Instances) ||
			err != nil && !apierror.IsCode(err, apierror.CodeBadRequest) {
			t.Fatalf("body %q: check: %d rows, %v", body, len(rows), err)
		}
		if rows, err := lenient.Check(req.Instances); err == nil {
			checkRows(t, rows)
		}
		again, err := req.MarshalJSON()
		if err != nil {
			t.Fatalf("body %q: re-encode: %v", body, err)
		}
		back, err := predict.DecodeRequest(bytes.NewReader(again), predict.Limits{MaxBodyBytes: 1 << 20, MaxInstances: lim.MaxInstances})
		if err != nil || !reflect.DeepEqual(back, req) {
			t.Fatalf("body %q: re-encoded as %s, decoded %+v (%v), want %+v", body, again, back, err, req)
		}
	})
}

// The size a caller expects (an HTTP request's Content-Length) only sizes
// the first buffer: a body shorter or longer than it, or far beyond its
// 16 KiB start, reads the same; one over the limit is refused the same.
func TestDecodeRequestSized(t *testing.T) {
	one := `{"Age": 35, "Home": "rent", "Note": "` + strings.Repeat("x", 900) + `"}`
	body := `{"instances": [` + strings.TrimSuffix(strings.Repeat(one+",", 200), ",") + `]}` // about 190 KB
	want, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(body))
	for _, size := range []int64{-1, 0, 1, n / 2, n - 1, n, n + 1, 2 * n, 1 << 40} {
		got, err := predict.DecodeRequestSized(strings.NewReader(body), size, predict.Limits{})
		if err != nil || !reflect.DeepEqual(got.Instances, want.Instances) || got.Explain != want.Explain {
			t.Fatalf("size %d: %v", size, err)
		}
		got.Release() // the next size's decoding reuses its memory
		_, err = predict.DecodeRequestSized(strings.NewReader(body), size, predict.Limits{MaxBodyBytes: n - 1})
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != apierror.CodeTooLarge {
			t.Fatalf("size %d, a body over the limit: %v", size, err)
		}
	}
}

// A name given twice is refused wherever it comes: in an instance whose
// names so far are the previous instance's in the same places (the decoder
// skips its search for duplicates there, as they were distinct there), after
// them, and among many fields.
func TestDecodeRequestDuplicateAfterSharedNames(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		for i := range 20 {
			fmt.Fprintf(&b, `"f%d": %d, `, i, i)
		}
		return "{" + b.String() + extra + "}"
	}
	for _, body := range []string{
		`{"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "a": 3}]}`,
		`{"instances": [{"a": 1, "b": 2}, {"a": 1, "b": 2, "b": 3}]}`,
		`{"instances": [{"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3, "a": 4}]}`,
		`{"instances": [{"a": 1, "b": 2}, {"b": 1, "a": 2, "b": 3}]}`,
		`{"instances": [` + many(`"x": 1`) + `, ` + many(`"f3": 1`) + `]}`,
		`{"instances": [` + many(`"x": 1`) + `, ` + many(`"x": 1, "x": 2`) + `]}`,
	} {
		_, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
		if err == nil || !strings.Contains(err.Error(), "given twice in one instance") || !strings.Contains(err.Error(), "instances[1]") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// A server's requests reuse the memory of those released before them: a
// request decoded into reused memory is exactly what a fresh decoding gives,
// whatever was there before, and a kept request is never overwritten.
func TestDecodeRequestReleaseReuse(t *testing.T) {
	bodies := []string{
		`{"instances": [{"Age": 35, "Home": "rent", "Job": "fixed", "Note": "` + strings.Repeat("x", 300) + `"}, {"Age": 40, "Home": "own"}]}`,
		`{"instances": [{"Age": 1}]}`,
		`{"explain": true, "instances": [` + strings.TrimSuffix(strings.Repeat(`{"b": 2, "a": "y", "c": null},`, 300), ",") + `]}`,
		`{"instances": [{"Z": false}, {"Y": "\u00e9"}, {}]}`,
	}
	fresh := func(body string) *predict.Request {
		req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	var kept []*predict.Request
	var keptWant []*predict.Request
	for round := range 20 {
		for k, body := range bodies {
			req, err := predict.DecodeRequestSized(strings.NewReader(body), int64(len(body)), predict.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := fresh(body)
			if !reflect.DeepEqual(req.Instances, want.Instances) || req.Explain != want.Explain {
				t.Fatalf("round %d, body %d: decoded into reused memory as %+v, want %+v", round, k, req, want)
			}
			if (round+k)%7 == 0 {
				req.Keep()
				kept, keptWant = append(kept, req), append(keptWant, want)
			}
			req.Release()
			if req.Instances != nil && (round+k)%7 != 0 {
				t.Fatalf("round %d, body %d: released, and still has its instances", round, k)
			}
		}
	}
	for i, req := range kept {
		if !reflect.DeepEqual(req.Instances, keptWant[i].Instances) {
			t.Fatalf("kept request %d was overwritten: %+v, want %+v", i, req.Instances, keptWant[i].Instances)
		}
	}
}

// A request decoded into the memory of one released before it (its body,
// fields and first instance's names) is decoded, or refused, exactly as on
// its own.
func FuzzDecodeRequestReuse(f *testing.F) {
	f.Add(`{"instances": [{"a": 1, "b": "x"}]}`, `{"instances": [{"a": 2, "b": "y"}, {"b": 3, "a": 4}]}`)
	f.Add(`{"instances": [{"a": 1, "b": "x"}]}`, `{"instances": [{"a": 2, "a": 3}]}`)
	f.Add(`{"instances": [{"a\u0022": 1}]}`, `{"instances": [{"a"": 1}]}`)
	f.Add(`{"instances": [{"é": 1, "\u00e9": 2}]}`, `{"instances": [{"é": 1}]}`)
	f.Add(`{"instances": [{"a": 1}, {"a": "`+strings.Repeat("z", 200)+`"}]}`, `{"instances": [{"a": 1, "b": 2, "c": 3}]}`)
	f.Fuzz(func(t *testing.T, first, second string) {
		lim := predict.Limits{MaxBodyBytes: 1 << 16, MaxInstances: 64}
		if req, err := predict.DecodeRequestSized(strings.NewReader(first), int64(len(first)), lim); err == nil {
			req.Release()
		}
		want, wantErr := predict.DecodeRequest(strings.NewReader(second), lim)
		got, err := predict.DecodeRequestSized(strings.NewReader(second), int64(len(second)), lim)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("after %q, %q: %v, alone %v", first, second, err, wantErr)
		}
		if err == nil {
			if !reflect.DeepEqual(got.Instances, want.Instances) || got.Explain != want.Explain {
				t.Fatalf("after %q, %q: %+v, alone %+v", first, second, got, want)
			}
			got.Release()
		}
	})
}

// A name the previous instance wrote with escapes is never read from raw
// bytes that would spell it only unescaped: such bytes are not JSON.
func TestDecodeRequestEscapedNameNotSharedRaw(t *testing.T) {
	for _, body := range []string{
		`{"instances": [{"a\"b": 1}, {"a"b": 2}]}`,
		"{\"instances\": [{\"a\\u0001\": 1}, {\"a\x01\": 2}]}",
	} {
		if req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{}); err == nil {
			t.Errorf("%q: decoded as %+v, want a refusal", body, req.Instances)
		}
		if _, err := predict.DecodeRequestSized(strings.NewReader(body), int64(len(body)), predict.Limits{}); err == nil {
			t.Errorf("%q: decoded into pooled memory, want a refusal", body)
		}
	}
	for body, want := range map[string]string{
		`{"instances": [{"a\"b": 1, "c": 2}, {"a\"b": 3, "c": 4}]}`: `a"b`,
		`{"instances": [{"a\\b": 1, "c": 2}, {"a\b": 3, "c": 4}]}`:  "a\b", // the second: a, backspace
	} {
		req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
		if err != nil || req.Instances[1].Fields[0].Name != want || req.Instances[1].Fields[1].Name != "c" {
			t.Fatalf("%q: %+v %v", body, req, err)
		}
	}
}

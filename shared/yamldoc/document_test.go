package yamldoc

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var thing = Kind{APIVersion: "test/v1", Kind: "Thing", Name: "test thing", Plural: "test things", Short: "thing",
	MaxBytes: 256, SizeHint: "; split it"}

func TestDecode(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "t.yaml:1: empty document: expected a test thing (apiVersion: test/v1, kind: Thing)"},
		{"comment only", "# nothing\n", "t.yaml:1: empty document: expected a test thing (apiVersion: test/v1, kind: Thing)"},
		{"too large", strings.Repeat("#", 257), "t.yaml: the thing is 257 bytes: expected at most 256; split it"},
		{"two documents", "a: 1\n---\nb: 2\n", "t.yaml:3:1: more than one YAML document: expected one test thing per file"},
		{"alias", "a: &x 1\nb: *x\n", "t.yaml:1:4: YAML anchors and aliases are not supported in test things: write the value out"},
		// The parser's 0-based line (of the '{'), made the editor's.
		{"unclosed", "a: 1\nb: {c: 1\n", "t.yaml:2: not valid YAML: line 2: did not find expected ',' or '}'"},
		{"scanner", "a: 1\nb: a: b\n", "t.yaml:2: not valid YAML: line 2: mapping values are not allowed in this context"},
	} {
		_, err := Decode("t.yaml", []byte(c.in), thing)
		var e *Error
		if !errors.As(err, &e) || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	for _, in := range []string{"a: 1\n", "a: 1\n---\n", "---\na: 1\n"} {
		doc, err := Decode("t.yaml", []byte(in), thing)
		if err != nil || doc.Kind != yaml.MappingNode {
			t.Errorf("%q: %v %v", in, doc, err)
		}
	}
	if _, err := Decode("t", []byte(strings.Repeat("#", 300)+"\na: 1\n"), Kind{Name: "ODCS contract"}); err != nil {
		t.Errorf("no MaxBytes, no bound: %v", err)
	}
	if _, err := Decode("t", nil, Kind{Name: "ODCS contract"}); err == nil || err.Error() != "t:1: empty document: expected an ODCS contract" {
		t.Errorf("no header: %v", err)
	}
}

func decodeDoc(t *testing.T, in string) *yaml.Node {
	t.Helper()
	doc, err := Decode("t.yaml", []byte(in), thing)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestFieldsHeaderAndSource(t *testing.T) {
	doc := decodeDoc(t, "apiVersion: test/v1\nkind: Thing\nsize: 3\nsise: 4\ncolour: red\nsize: 5\nparts: {weird: 1}\n")
	p := &Problems{File: "t.yaml"}
	f := p.Fields(doc, "", []string{"apiVersion", "kind", "size", "parts"}, func(path, key string) string {
		if key == "colour" {
			return "colours go under parts"
		}
		return ""
	})
	if !p.Header(doc, f, thing) {
		t.Fatal("header refused")
	}
	p.Fields(f["parts"].Val, "parts", []string{"b"}, nil)
	if !p.Written("size") || p.Written("sise") || p.Written("parts.weird") {
		t.Error("written")
	}
	p.Mark("parts.a.deep", f["parts"].Val.Content[1])
	src := p.Source(doc)
	errs := []*Error{{Field: "size.x"}, {Field: "parts.a.deep[2]"}, {Field: "nowhere"}, {Field: "kind", Line: 9}}
	src.Position(errs)
	for i, want := range []Pos{{3, 7}, {7, 16}, {1, 1}, {9, 0}} {
		if got := (Pos{errs[i].Line, errs[i].Col}); got != want {
			t.Errorf("%s at %v, want %v", errs[i].Field, got, want)
		}
	}
	(*Source)(nil).Position(errs) // a document from canonical JSON
	want := strings.Join([]string{
		`t.yaml:4:1: sise: unknown key "sise": did you mean "size"?`,
		`t.yaml:5:1: colour: unknown key "colour": colours go under parts`,
		`t.yaml:6:1: size: key "size" appears twice`,
		`t.yaml:7:9: parts.weird: unknown key "weird": expected one of b`,
	}, "\n")
	if err := p.Err(); err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}

	for _, c := range []struct{ in, want string }{
		{"apiVersion: test/v2\nkind: Thing\n", `t.yaml:1:13: apiVersion: apiVersion "test/v2" is not supported: expected test/v1`},
		{"apiVersion: test/v1\nkind: DataContract\n", `t.yaml:2:7: kind: kind "DataContract" is not a test thing: expected Thing (this is a dataset contract: apply it with mlops contract apply)`},
	} {
		p := &Problems{File: "t.yaml"}
		doc := decodeDoc(t, c.in)
		if p.Header(doc, p.Fields(doc, "", []string{"apiVersion", "kind"}, nil), thing) {
			t.Errorf("%q: accepted", c.in)
		}
		if err := p.Err(); err == nil || err.Error() != c.want {
			t.Errorf("%q: %v", c.in, err)
		}
	}
	p = &Problems{File: "t.yaml"}
	doc = decodeDoc(t, "x: 1\n")
	if !p.Header(doc, nil, thing) || p.Err().Error() != "t.yaml:1:1: apiVersion: missing apiVersion: expected apiVersion: test/v1\nt.yaml:1:1: kind: missing kind: expected kind: Thing" {
		t.Errorf("missing header: %v", p.Err())
	}
}

func TestErrDropsFollowOnsAndCaps(t *testing.T) {
	p := &Problems{File: "t.yaml"}
	p.Errs = []*Error{
		{Line: 2, Col: 1, Field: "a.b", Msg: "inside, same spot"},
		{Line: 2, Col: 1, Field: "a", Msg: "first"},
		{Line: 1, Col: 1, Field: "z", Msg: "earlier line"},
		{Line: 2, Col: 1, Field: "ab", Msg: "another field, same spot"},
		{Line: 2, Col: 1, Field: "a[0]", Msg: "inside again"},
	}
	// Sorted stably by position; at 2:1 a problem inside one kept before it
	// is dropped, whatever comes between.
	want := "1:1: z: earlier line\n2:1: a.b: inside, same spot\n2:1: a: first\n2:1: ab: another field, same spot"
	if err := p.Err(); err == nil || err.Error() != want {
		t.Errorf("got\n%v", err)
	}
	p = &Problems{File: "t.yaml"}
	p.Errs = []*Error{{Line: 2, Col: 1, Field: "a", Msg: "first"}, {Line: 2, Col: 1, Field: "a.b", Msg: "follow-on"}, {Line: 2, Col: 1, Field: "a", Msg: "again"}}
	if err := p.Err(); err == nil || err.Error() != "2:1: a: first" {
		t.Errorf("follow-ons kept: %v", err)
	}
	p = &Problems{File: "t.yaml"}
	for i := range MaxErrors + 3 {
		p.Errs = append(p.Errs, &Error{Line: i + 1, Msg: "x"})
	}
	errs := p.Err().(interface{ Unwrap() []error }).Unwrap()
	if len(errs) != MaxErrors+1 || errs[MaxErrors].Error() != "t.yaml: and 3 more problems" {
		t.Errorf("cap: %d, last %v", len(errs), errs[len(errs)-1])
	}
}

func TestNearestAndFinish(t *testing.T) {
	m := map[string]int{"a": 1, "a.b[2]": 2}
	for path, want := range map[string]int{"a.b[2].c": 2, "a.b[1]": 1, "a": 1, "b.a": 0, "": 0} {
		if got, ok := Nearest(m, path); got != want || ok != (want != 0) {
			t.Errorf("Nearest(%q) = %d, %v", path, got, ok)
		}
	}
	doc := decodeDoc(t, "apiVersion: test/v1\nkind: Thing\nsize: 3\n")
	p := &Problems{File: "t.yaml"}
	p.Header(doc, p.Fields(doc, "", []string{"apiVersion", "kind", "size"}, nil), thing)
	src, err := p.Finish(doc, []*Error{{Field: "size", Msg: "too small"}})
	if err == nil || err.Error() != "t.yaml:3:7: size: too small" || src.Locate("size") != (Pos{3, 7}) {
		t.Fatalf("Finish: %v", err)
	}
}

func TestSet(t *testing.T) {
	doc := decodeDoc(t, "n: 3\ns: x\nbad: [1]\n")
	p := &Problems{File: "t.yaml"}
	f := p.Fields(doc, "top", []string{"n", "s", "bad", "absent"}, nil)
	n, s, bad, absent := 0.0, "", 7.0, "kept"
	Set(f, "top", "n", p.Number, &n)
	Set(f, "top", "s", p.Str, &s)
	Set(f, "top", "bad", p.Number, &bad)
	Set(f, "top", "absent", p.Str, &absent)
	if n != 3 || s != "x" || bad != 7 || absent != "kept" {
		t.Errorf("Set: %v %q %v %q", n, s, bad, absent)
	}
	if err := p.Err(); err == nil || err.Error() != "t.yaml:3:6: top.bad: expected a finite number, found a list" {
		t.Errorf("Set's report: %v", err)
	}
}

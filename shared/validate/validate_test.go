package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/shared/contract"
)

func small() *contract.Contract {
	rate := 0.5
	return &contract.Contract{
		Dataset: "t", Mode: contract.Replace,
		Dialect: contract.Dialect{Header: true, NullTokens: []string{"NA"}, Compression: "auto"},
		Columns: []contract.Column{
			{Name: "id", Type: contract.Integer, Required: true},
			{Name: "Age", Type: contract.Integer, Min: ptr(0), Max: ptr(120)},
			{Name: "score", Type: contract.Number, MaxNullRate: &rate},
			{Name: "home", Type: contract.Category, Allowed: []string{"rent", "owner"}},
			{Name: "note", Type: contract.String},
			{Name: "ok", Type: contract.Boolean},
			{Name: "at", Type: contract.Timestamp},
		},
	}
}

const hdr = "id,Age,score,home,note,ok,at\n"

func scan(t *testing.T, in string, c *contract.Contract, opt Options) *Result {
	t.Helper()
	res, err := Scan(context.Background(), strings.NewReader(in), c, opt)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

type want struct {
	rule, column string
	row, line    int64
}

func find(res *Result, w want) *Violation {
	for i := range res.Violations {
		v := &res.Violations[i]
		if v.Rule == w.rule && v.Column == w.column {
			return v
		}
	}
	return nil
}

func TestRules(t *testing.T) {
	good := "1,30,1.5,rent,hello,true,2024-01-02T03:04:05Z\n"
	cases := []struct {
		name string
		in   string
		want []want
	}{
		{"valid", hdr + good, nil},
		{"empty file", "", []want{{RuleEmptyFile, "", 0, 0}}},
		{"header only", hdr, []want{{RuleNoRows, "", 0, 0}}},
		{"only a BOM", "\xef\xbb\xbf", []want{{RuleEmptyFile, "", 0, 0}}},
		{"missing column", "id,Age,score,home,note,ok\n1,30,1.5,rent,x,true\n", []want{{RuleMissingColumn, "at", 0, 1}}},
		{"extra column", "id,Age,score,home,note,ok,at,zz\n1,30,1.5,rent,x,true,2024-01-02T03:04:05Z,9\n", []want{{RuleUnexpectedColumn, "", 0, 1}}},
		{"duplicate column", "id,Age,score,home,note,ok,at,id\n1,30,1.5,rent,x,true,2024-01-02T03:04:05Z,1\n", []want{{RuleDuplicateColumn, "id", 0, 1}}},
		{"reordered", "Age,id,score,home,note,ok,at\n30,1,1.5,rent,x,true,2024-01-02T03:04:05Z\n", []want{{RuleColumnOrder, "", 0, 1}}},
		{"wrong integer", hdr + good + "2,4x,1,rent,x,true,2024-01-02T03:04:05Z\n", []want{{RuleType, "Age", 2, 3}}},
		{"wrong number", hdr + "2,4,abc,rent,x,true,2024-01-02T03:04:05Z\n", []want{{RuleType, "score", 1, 2}}},
		{"wrong boolean", hdr + "2,4,1,rent,x,maybe,2024-01-02T03:04:05Z\n", []want{{RuleType, "ok", 1, 2}}},
		{"wrong timestamp", hdr + "2,4,1,rent,x,YES,2024-13-02\n", []want{{RuleType, "at", 1, 2}}},
		{"NA is null", hdr + "1,NA,NA,NA,NA,NA,NA\n1,2,3,rent,x,no,2024-01-02T03:04:05Z\n", nil},
		{"required", hdr + good + "NA,30,1,rent,x,1,\n", []want{{RuleRequired, "id", 2, 3}}},
		{"crlf", strings.ReplaceAll(hdr+good+"2,x,1,rent,x,1,\n", "\n", "\r\n"), []want{{RuleType, "Age", 2, 3}}},
		{"bom", "\xef\xbb\xbf" + hdr + good, nil},
		{"quoted commas and newlines", hdr + "1,30,1,rent,\"a,b\nc\nd\",1,\n2,-1,1,rent,x,1,\n", []want{{RuleMin, "Age", 2, 5}}},
		{"ragged", hdr + good + "1,2\n" + good, []want{{RuleRaggedRow, "", 2, 3}}},
		{"invalid utf8", hdr + good + "1,30,1,rent,\xff\xfe,1,\n", []want{{RuleInvalidUTF8, "note", 2, 3}}},
		{"bare quote", hdr + "1,30,1,rent,ab\"c\",1,\n", []want{{RuleBareQuote, "note", 1, 2}}},
		{"unterminated", hdr + good + "1,30,1,rent,\"abc,1,\n" + good, []want{{RuleUnterminatedQuote, "note", 2, 3}}},
		{"formula", hdr + good + "1,30,1,rent,=cmd(),1,\n", []want{{RuleFormula, "note", 2, 3}}},
		{"1e309", hdr + "1,30,1e309,rent,x,1,\n", []want{{RuleNotFinite, "score", 1, 2}}},
		{"NaN", hdr + "1,30,NaN,rent,x,1,\n", []want{{RuleNotFinite, "score", 1, 2}}},
		{"inf", hdr + "1,30,-inf,rent,x,1,\n", []want{{RuleNotFinite, "score", 1, 2}}},
		{"too many nulls", hdr + "1,30,NA,rent,x,1,\n2,30,,rent,x,1,\n3,30,1,rent,x,1,\n", []want{{RuleNullRate, "score", 0, 0}}},
		{"out of range", hdr + "1,121,1,rent,x,1,\n", []want{{RuleMax, "Age", 1, 2}}},
		{"unknown category", hdr + good + good + "1,1,1,castle,x,1,\n", []want{{RuleAllowed, "home", 3, 4}}},
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", []want{{RuleInvalidUTF8, "", 0, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := scan(t, tc.in, small(), Options{Name: "t.csv"})
			if len(tc.want) == 0 && !res.Valid() {
				t.Fatalf("want valid, got:\n%s", res.Text())
			}
			if len(tc.want) > 0 && len(res.Violations) != len(tc.want) {
				t.Errorf("want %d violation(s), got:\n%s", len(tc.want), res.Text())
			}
			for _, w := range tc.want {
				v := find(res, w)
				if v == nil {
					t.Fatalf("no %s/%s violation in:\n%s", w.rule, w.column, res.Text())
				}
				if w.row > 0 || w.line > 0 {
					if len(v.Examples) == 0 || v.Examples[0].Row != w.row || v.Examples[0].Line != w.line {
						t.Fatalf("%s: examples %+v, want row %d line %d", w.rule, v.Examples, w.row, w.line)
					}
					if w.row > 0 && !strings.Contains(v.Message, fmt.Sprintf("row %d, line %d", w.row, w.line)) {
						t.Errorf("message %q lacks the position", v.Message)
					}
				}
				if v.Message == "" {
					t.Errorf("%s: empty message", w.rule)
				}
			}
		})
	}
}

func TestMessageSaysWhatWasExpected(t *testing.T) {
	res := scan(t, hdr+"1,4x,1,rent,x,1,\n", small(), Options{})
	if v := find(res, want{RuleType, "Age", 0, 0}); v == nil || v.Message != `column "Age": expected an integer, got "4x" (row 1, line 2)` {
		t.Fatalf("%+v", res.Violations)
	}
	res = scan(t, hdr+"1,4,1e309,rent,x,1,\n", small(), Options{})
	if v := find(res, want{RuleNotFinite, "score", 0, 0}); v == nil || !strings.Contains(v.Message, "finite number") {
		t.Fatalf("%+v", res.Violations)
	}
}

func TestBigField(t *testing.T) {
	in := hdr + "1,30,1,rent," + strings.Repeat("x", 10<<20) + ",1,\n"
	res := scan(t, in, small(), Options{})
	v := find(res, want{RuleFieldTooLarge, "note", 0, 0})
	if v == nil || v.Examples[0].Row != 1 || v.Examples[0].Line != 2 {
		t.Fatalf("%s", res.Text())
	}
}

func TestGzipSameAsPlain(t *testing.T) {
	in := hdr + "1,30,1,rent,x,1,\n2,4x,1,castle,y,0,\n"
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(in))
	zw.Close()
	plain := scan(t, in, small(), Options{})
	gz, err := Scan(context.Background(), &z, small(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !gz.Compressed || plain.Compressed {
		t.Fatal("compression not detected")
	}
	gz.Compressed = false
	if !reflect.DeepEqual(plain.Violations, gz.Violations) || plain.Rows != gz.Rows || plain.Bytes != gz.Bytes {
		t.Fatalf("plain:\n%s\ngzip:\n%s", plain.Text(), gz.Text())
	}
}

func TestUniqueKey(t *testing.T) {
	c := small()
	c.UniqueKey = []string{"id"}
	var b strings.Builder
	b.WriteString(hdr)
	for i := 1; i <= 3000; i++ {
		id := i
		if i%1000 == 0 {
			id = 7 // rows 1000, 2000, 3000 repeat row 7
		}
		fmt.Fprintf(&b, "%d,30,1,rent,x,1,\n", id)
	}
	for _, mem := range []int{0, 10} {
		res := scan(t, b.String(), c, Options{keyMemRows: mem, TempDir: t.TempDir(), chunkBytes: 4096})
		v := find(res, want{RuleUniqueKey, "", 0, 0})
		if v == nil || v.Count != 3 || len(v.Examples) != 3 || v.Examples[0].Row != 1000 || v.Examples[0].Line != 1001 ||
			!strings.Contains(v.Examples[0].Value, "row 7 (line 8)") {
			t.Fatalf("mem %d:\n%s", mem, res.Text())
		}
	}
}

func TestCanonical(t *testing.T) {
	in := "\xef\xbb\xbfid;Age;score;home;note;ok;at\r\n" +
		"1;30;NA;rent;'a,b';TRUE;\r\n" +
		"2;;2.50;owner;'say \"\"hi\"\"\nthere';no;2024-01-02T03:04:05Z\r\n" +
		"3;NA;1;rent;'it''s';1;\r\n"
	c := small()
	c.Dialect.Delimiter, c.Dialect.Quote = ";", "'"
	var out bytes.Buffer
	res := scan(t, in, c, Options{Canonical: &out})
	if !res.Valid() {
		t.Fatal(res.Text())
	}
	want := "id,Age,score,home,note,ok,at\n" +
		"1,30,,rent,\"a,b\",TRUE,\n" +
		"2,,2.50,owner,\"say \"\"\"\"hi\"\"\"\"\nthere\",no,2024-01-02T03:04:05Z\n" +
		"3,,1,rent,it's,1,\n"
	if out.String() != want {
		t.Fatalf("canonical:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestWorkersIdentical(t *testing.T) {
	// Sprinkle problems through the file.
	data := sprinkled(997, replace(`"good"`, `"great"`), replace(",0,", ",-3,"))
	c := creditContract()
	var outs []string
	var res []*Result
	for _, w := range []int{1, 4} {
		var out bytes.Buffer
		r := scan(t, data, c, Options{Workers: w, Canonical: &out, chunkBytes: 16 << 10})
		outs = append(outs, out.String())
		res = append(res, r)
	}
	if outs[0] != outs[1] {
		t.Fatal("canonical output differs")
	}
	j0, _ := json.Marshal(res[0])
	j1, _ := json.Marshal(res[1])
	if string(j0) != string(j1) {
		t.Fatalf("results differ:\n%s\n%s", res[0].Text(), res[1].Text())
	}
	if res[0].Valid() || res[0].Rows != 20_000 {
		t.Fatalf("rows %d:\n%s", res[0].Rows, res[0].Text())
	}
}

func TestPIIMasked(t *testing.T) {
	c := small()
	c.Columns[4].PII = true
	c.Columns[4].Pattern = `[a-z]+`
	res := scan(t, hdr+"1,30,1,rent,Secret99,1,\n2,30,1,rent,=Hidden,1,\n", c, Options{})
	js, _ := json.Marshal(res)
	txt := res.Text()
	for _, s := range []string{"Secret99", "Hidden"} {
		if strings.Contains(txt, s) || strings.Contains(string(js), s) {
			t.Fatalf("PII value %q leaked:\n%s", s, txt)
		}
	}
	if v := find(res, want{RulePattern, "note", 0, 0}); v == nil || v.Examples[0].Value != "***" {
		t.Fatalf("%s", txt)
	}
}

func TestTooLarge(t *testing.T) {
	res := scan(t, hdr+strings.Repeat("1,30,1,rent,x,1,\n", 1000), small(), Options{MaxBytes: 100})
	if find(res, want{RuleTooLarge, "", 0, 0}) == nil {
		t.Fatal(res.Text())
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{hdr + "1,30,1,rent,x,1,\n", hdr + "\"1\n\",x,,,\n", "", "a\n\"", hdr + "1,2,3\r\n,,,,,,\n=1,NA,-inf,rent,@x,yes,2024-01-02T03:04:05Z\n",
		hdr + "1,2,3,\"rent\",a\rb,1,\n4,NA,,owner,\"c,d\",0,\n5,6,7,rent,e,1,\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := small()
		c.UniqueKey = []string{"id"}
		var r []string
		for _, w := range []int{1, 3} {
			var out bytes.Buffer
			res, err := Scan(context.Background(), strings.NewReader(in), c, Options{Workers: w, Canonical: &out, chunkBytes: 64, MaxFieldBytes: 4096})
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Text()
			js, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			r = append(r, string(js)+out.String())
		}
		if r[0] != r[1] {
			t.Fatalf("Workers 1 and 3 differ:\n%s\n%s", r[0], r[1])
		}
		// Without a unique key, simple rows take the columnar path: its canonical
		// CSV and Result must be the row path's.
		c.UniqueKey = nil
		scanPaths(t, in, c, 64)
	})
}

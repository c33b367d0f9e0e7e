package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/contract"
)

// TestParseDigits checks the fast digit parser against strconv on short strings of
// every length, with and without spare capacity after them.
func TestParseDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("0123456789012345678901234567890123456789/:.-+e ,\\x00\\xff")
	check := func(v []byte) {
		got, ok := parseDigits(v)
		want, err := strconv.ParseFloat(string(v), 64)
		digits := len(v) > 0
		for _, c := range v {
			digits = digits && c >= '0' && c <= '9'
		}
		if ok != (digits && len(v) <= 15) || ok && (err != nil || got != want) {
			t.Fatalf("parseDigits(%q) = %v, %v; strconv %v, %v", v, got, ok, want, err)
		}
	}
	for range 300000 {
		n := r.IntN(18)
		buf := make([]byte, n+r.IntN(10))
		for i := range buf {
			buf[i] = alphabet[r.IntN(len(alphabet))]
		}
		if len(buf) > 0 && r.IntN(4) == 0 {
			buf[len(buf)-1] = byte(r.IntN(256))
		}
		check(buf[:n])
		check(buf[:n:n])
	}
	for _, s := range []string{"0", "00000000", "99999999", "12345678", "100000000", "999999999999999", "1000000000000000", "0001", "9"} {
		check([]byte(s))
		check(append([]byte(s), "xxxxxxxx"...)[:len(s)])
	}
}

func TestCatIndex(t *testing.T) {
	allowed := [][]byte{[]byte("rent"), []byte("owner"), []byte("parents"), []byte("priv"), []byte("ignore"), []byte("other"),
		[]byte("a-rather-long-value-1"), []byte("x"), []byte("rent")}
	c := newCatIndex(allowed)
	if c == nil {
		t.Fatal("no index")
	}
	for i, a := range allowed {
		k := c.find(append(a, "tail"...)[:len(a)])
		if k < 0 || string(c.vals[k]) != string(a) {
			t.Fatalf("%d %q: got %d", i, a, k)
		}
	}
	for _, s := range []string{"", "ren", "rents", "Rent", "a-rather-long-value-3", "a-rather-long-value-", "y", "owner\x00"} {
		if k := c.find([]byte(s)); k >= 0 {
			t.Fatalf("%q found as %q", s, c.vals[k])
		}
	}
	if newCatIndex([][]byte{[]byte("abcdefgh1"), []byte("abcdefgh2")}) != nil {
		t.Fatal("values sharing length and prefix must fall back to the map")
	}
}

// TestWorkersIdenticalNoRows covers the path without canonical output or unique key
// (workers keep no row values), with odd rows that leave the simple parser.
func TestWorkersIdenticalNoRows(t *testing.T) {
	data := sprinkled(991, oddLines[:7]...)
	c := creditContract()
	var js []string
	for _, w := range []int{1, 2, 3} {
		r := scan(t, data, c, Options{Workers: w, chunkBytes: 16 << 10})
		j, _ := json.Marshal(r)
		js = append(js, string(j))
		if r.Valid() || r.Rows != 20_000 {
			t.Fatalf("rows %d:\n%s", r.Rows, r.Text())
		}
	}
	if js[0] != js[1] || js[0] != js[2] {
		t.Fatal("results differ between worker counts")
	}
	var out bytes.Buffer
	r := scan(t, data, c, Options{Workers: 2, chunkBytes: 16 << 10, Canonical: &out})
	if j, _ := json.Marshal(r); string(j) != js[0] {
		t.Fatal("the result depends on canonical output")
	}
}

// scanPaths scans in with canonical output on the row-by-row path (one worker) and on
// the columnar path (one and three workers) and fails unless the Result JSON and the
// canonical CSV are identical.
// replace is an edit of one line: its first old made new.
func replace(old, new string) func(string) string {
	return func(l string) string { return strings.Replace(l, old, new, 1) }
}

// oddLines are the odd rows the fast-path tests sprinkle through credit-shaped
// data, one edit a line: quotes, CR, CRLF, embedded newlines and separators,
// bad numbers, nulls and invalid UTF-8.
var oddLines = []func(string) string{
	replace(`"good"`, `"great"`),
	replace(",0,", ",-3.5e0,"),
	replace(`"married"`, `"mar""ried"`),
	func(l string) string { return l + "\r" },
	replace(`"no"`, `no`),
	replace(`,"fixed",`, `,"fix`+"\n"+`ed",`),
	replace(`,0,`, `,x,`),
	replace(`"rent"`, `"re,nt"`),
	replace(`"no"`, "n\ro"),
	replace(`,0,`, `,NA,`),
	replace(`,0,`, `,,`),
	replace(`"no"`, "\"n\xffo\""),
}

// sprinkled is creditLike(20_000) with edits applied from line 5 on, every
// `every` lines: edit k to the k-th line of each group.
func sprinkled(every int, edits ...func(string) string) string {
	lines := strings.Split(string(creditLike(20_000)), "\n")
	for i := 5; i < len(lines)-1; i += every {
		for k, edit := range edits {
			lines[i+k] = edit(lines[i+k])
		}
	}
	return strings.Join(lines, "\n")
}

func scanPaths(t *testing.T, in string, c *contract.Contract, chunk int) string {
	t.Helper()
	var got []string
	for _, o := range []Options{{Workers: 1, rowPath: true}, {Workers: 1}, {Workers: 3}} {
		var out bytes.Buffer
		o.Canonical, o.chunkBytes, o.MaxFieldBytes = &out, chunk, 4096
		res, err := Scan(context.Background(), strings.NewReader(in), c, o)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(js)+"\n"+out.String())
	}
	if got[0] != got[1] || got[0] != got[2] {
		t.Fatalf("the columnar path differs from the row path on %q:\nrow:      %q\ncolumnar: %q\n3 workers: %q", in, got[0], got[1], got[2])
	}
	return got[0]
}

// TestCanonicalFastMatchesRowPath checks the columnar path's canonical CSV and Result
// against the row path's, on credit-shaped data with odd rows and on small tricky
// inputs (quotes, CRLF, null tokens, a BOM, reordered and extra columns).
func TestCanonicalFastMatchesRowPath(t *testing.T) {
	data := sprinkled(991, oddLines...)
	scanPaths(t, data, creditContract(), 16<<10)
	// Unquoted: most rows are copied as they are.
	scanPaths(t, strings.ReplaceAll(data, `"`, ""), creditContract(), 16<<10)
	scanPaths(t, "\ufeff"+strings.ReplaceAll(data, "\n", "\r\n"), creditContract(), 16<<10)

	c := small()
	for _, in := range []string{
		hdr + "1,30,1.5,rent,x,yes,2024-01-02T03:04:05Z\n2,NA,,owner,\"a,b\",no,\n3,,NA,NA,NA,NA,NA\n",
		"\ufeffid,Age,score,home,note,ok,at\r\n1,2,3,rent,\"q\"\"q\",1,\r\n2,3,4,owner,\"\",0,\r\n",
		hdr + "1,2,3,rent,a\rb,1,\n4,5,6,owner,\"c\rd\",0,\n7,8,9,rent,e,1,\r\n",
		hdr + "1,2,3,rent,=cmd(),1,\n1,2,3\n1,2,3,rent,x,1,,extra\n\n\n5,6,7,owner,y,0,\n",
		"at,ok,note,home,score,Age,id\n,1,x,rent,1,2,3\nNA,0,\"y,z\",owner,,,4\n",
		"id,Age,extra,score,home,note,ok,at\n1,2,q,3,rent,x,1,\n4,5,\"r,s\",6,owner,y,0,\n",
		"id,Age,score\n1,2,3\n4,NA,\n",
		hdr + "1,2,3,rent,\"unterminated,1,\n",
	} {
		scanPaths(t, in, c, 64)
		scanPaths(t, in, c, 1<<20)
	}
	one := &contract.Contract{Dataset: "one", Mode: contract.Replace,
		Dialect: contract.Dialect{Header: true, NullTokens: []string{"NA", "-"}, Compression: "none"},
		Columns: []contract.Column{{Name: "v", Type: contract.String}}}
	scanPaths(t, "v\na\nNA\n\"\"\n-\n\"x,y\"\nb\r\nc\n", one, 64)
	semi := small()
	semi.Dialect.Delimiter, semi.Dialect.Quote = ";", "'"
	scanPaths(t, "id;Age;score;home;note;ok;at\n1;2;3;rent;'a;b';1;\n2;3;4;owner;a,\"b;0;\n3;NA;;rent;x;1;\n", semi, 64)
}

package table

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

type rec struct {
	fields []string
	row    int64
	err    *ParseError
}

func readAll(t testing.TB, in string, d Dialect, header bool) ([]rec, error) {
	r := NewReader(strings.NewReader(in), d, header)
	var out []rec
	for {
		f, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			return out, err
		}
		var ss []string
		for _, b := range f {
			ss = append(ss, string(b))
		}
		out = append(out, rec{ss, r.Row(), pe})
		if pe != nil && pe.Kind.Fatal() {
			return out, nil
		}
	}
}

func TestReader(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		want   [][]string
		errRow int64
		errLn  int64
		kind   Kind
	}{
		{"simple", "a,b\n1,2\n", [][]string{{"a", "b"}, {"1", "2"}}, 0, 0, 0},
		{"no final newline", "a,b\n1,2", [][]string{{"a", "b"}, {"1", "2"}}, 0, 0, 0},
		{"bom", "\xef\xbb\xbfa,b\n1,2\n", [][]string{{"a", "b"}, {"1", "2"}}, 0, 0, 0},
		{"crlf", "a,b\r\n1,2\r\n", [][]string{{"a", "b"}, {"1", "2"}}, 0, 0, 0},
		{"quoted", "a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n", [][]string{{"a", "b"}, {"x,y", `he said "hi"`}}, 0, 0, 0},
		{"newline in quotes", "a,b\n\"1\n2\",3\n4,5\n", [][]string{{"a", "b"}, {"1\n2", "3"}, {"4", "5"}}, 0, 0, 0},
		{"lone cr kept", "a\n\"x\ry\"\n", [][]string{{"a"}, {"x\ry"}}, 0, 0, 0},
		{"empty fields", "a,b,c\n,,\n", [][]string{{"a", "b", "c"}, {"", "", ""}}, 0, 0, 0},
		{"blank line skipped", "a\n\n1\n", [][]string{{"a"}, {"1"}}, 0, 0, 0},
		{"ragged is fine", "a,b\n1\n1,2,3\n", [][]string{{"a", "b"}, {"1"}, {"1", "2", "3"}}, 0, 0, 0},
		{"unterminated", "a\n1\n\"2\n3\n", nil, 2, 3, UnterminatedQuote},
		{"bare quote", "a,b\n1,x\"y\"z\n2,3\n", nil, 1, 2, BareQuote},
		{"text after quote", "a,b\n\"x\"y,1\n2,3\n", nil, 1, 2, BareQuote},
		{"invalid utf8", "a,b\n1,2\n3,\xff\n", nil, 2, 3, InvalidUTF8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in, Dialect{}, true)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind != 0 {
				for _, g := range got {
					if g.err != nil {
						if g.err.Kind != tc.kind || g.err.Row != tc.errRow || g.err.Line != tc.errLn {
							t.Fatalf("got %v %+v, want %v row %d line %d", g.err.Kind, g.err, tc.kind, tc.errRow, tc.errLn)
						}
						return
					}
				}
				t.Fatalf("no error, want %v", tc.kind)
			}
			var fs [][]string
			for _, g := range got {
				if g.err != nil {
					t.Fatalf("unexpected %v", g.err)
				}
				fs = append(fs, g.fields)
			}
			if !reflect.DeepEqual(fs, tc.want) {
				t.Fatalf("got %q want %q", fs, tc.want)
			}
		})
	}
}

func TestRowLineAfterQuotedNewlines(t *testing.T) {
	in := "h\n\"a\nb\nc\"\nx\n\"y\"\"\n\"\nz\"\n"
	got, _ := readAll(t, in, Dialect{}, true)
	var lines []int64
	r := NewReader(strings.NewReader(in), Dialect{}, true)
	for {
		line := r.Line()
		if _, err := r.Read(); err != nil {
			break
		}
		lines = append(lines, line)
	}
	if want := []int64{1, 2, 5, 6}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("lines %v want %v", lines, want)
	}
	last := got[len(got)-1]
	if last.row != 4 || last.err == nil || last.err.Kind != UnterminatedQuote || last.err.Line != 8 {
		t.Fatalf("last %+v %+v", last, last.err)
	}
}

func TestDelimiterAndQuote(t *testing.T) {
	got, _ := readAll(t, "a;b\n'x;y';'it''s'\n", Dialect{Delimiter: ';', Quote: '\''}, false)
	if !reflect.DeepEqual(got[1].fields, []string{"x;y", "it's"}) {
		t.Fatalf("%q", got[1].fields)
	}
}

func TestFieldTooLarge(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		big := strings.Repeat("x", 10<<20)
		if quoted {
			big = `"` + big + `"`
		}
		got, err := readAll(t, "a,b\n1,"+big+"\n2,3\n", Dialect{}, true)
		if err != nil {
			t.Fatal(err)
		}
		last := got[len(got)-1]
		if last.err == nil || last.err.Kind != FieldTooLarge || last.err.Row != 1 || last.err.Column != 2 {
			t.Fatalf("quoted=%v: %+v", quoted, last.err)
		}
	}
}

func TestChunkBoundaries(t *testing.T) {
	// Many rows with quoted newlines, split into tiny chunks: same rows as one chunk.
	var b strings.Builder
	b.WriteString("id,text\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("1,\"multi\nline, \"\"quoted\"\"\"\r\n2,plain\n")
	}
	in := b.String()
	want, _ := readAll(t, in, Dialect{}, true)
	sp := NewSplitter(strings.NewReader(in), Dialect{}, 64)
	p := NewParser(Dialect{})
	var got []rec
	var buf []byte
	for {
		ch, err := sp.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for pos := 0; pos < len(ch.Data); {
			row, next := p.Next(ch.Data, pos, ch.Last, 0, 0)
			pos = next
			if row.Blank {
				continue
			}
			var ss []string
			for _, f := range row.Fields {
				ss = append(ss, string(f))
			}
			got = append(got, rec{fields: ss})
		}
		buf = ch.Data
	}
	if len(got) != len(want) {
		t.Fatalf("rows %d want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].fields, want[i].fields) {
			t.Fatalf("row %d: %q want %q", i, got[i].fields, want[i].fields)
		}
	}
}

func TestDecompress(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("a,b\n1,2\n"))
	zw.Close()
	r, gz, err := Decompress(&z)
	if err != nil || !gz {
		t.Fatal(err, gz)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "a,b\n1,2\n" {
		t.Fatalf("%q", b)
	}
	r, gz, err = Decompress(strings.NewReader("x"))
	if err != nil || gz {
		t.Fatal(err, gz)
	}
	if b, _ := io.ReadAll(r); string(b) != "x" {
		t.Fatalf("%q", b)
	}
}

func TestReadAllocs(t *testing.T) {
	in := strings.Repeat("\"good\",9,\"rent\",60,30,\"married\",\"no\",\"freelance\",73,129,0,0,800,846\n", 20000)
	allocs := testing.AllocsPerRun(3, func() {
		r := NewReader(strings.NewReader(in), Dialect{}, false)
		for {
			if _, err := r.Read(); err != nil {
				break
			}
		}
	})
	if allocs > 50 {
		t.Fatalf("%v allocations for 20000 rows", allocs)
	}
}

// FuzzReader: never panics, and agrees with encoding/csv wherever encoding/csv
// accepts the input, modulo the documented differences (CRLF inside quotes kept;
// invalid UTF-8 rejected).
func FuzzReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\"a\n\",b\r\n\"\"\"\",\n", "x\"y\n", "\"a\"b,c", "\n\n1\r\n", "a,\"b\rc\"\r\n", "\xef\xbb\xbfa\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAll(t, in, Dialect{MaxFieldBytes: 1 << 16}, false)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(in, "\xef\xbb\xbf")))
		cr.FieldsPerRecord = -1
		want, cerr := cr.ReadAll()
		if cerr != nil || !utf8.ValidString(in) {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d rows, encoding/csv %d", in, len(got), len(want))
		}
		for i := range got {
			if got[i].err != nil {
				t.Fatalf("%q: row %d: %v (encoding/csv accepts)", in, i, got[i].err)
			}
			g := make([]string, len(got[i].fields))
			for j, s := range got[i].fields {
				g[j] = strings.ReplaceAll(s, "\r\n", "\n")
			}
			if !reflect.DeepEqual(g, want[i]) {
				t.Fatalf("%q: row %d: %q, encoding/csv %q", in, i, g, want[i])
			}
		}
	})
}

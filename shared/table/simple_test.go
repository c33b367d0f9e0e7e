package table

import (
	"bytes"
	"testing"
)

// checkSimple walks buf row by row with Next and checks that wherever Simple accepts
// a row it agrees with Next exactly.
func checkSimple(t *testing.T, buf []byte, d Dialect, width int, atEOF bool) (accepted int) {
	t.Helper()
	p, q := NewParser(d), NewParser(d)
	fields := make([][]byte, width)
	for pos := 0; pos < len(buf); {
		next, ok := q.Simple(buf, pos, fields)
		r, rnext := p.Next(buf, pos, atEOF, 1, 1)
		if ok {
			accepted++
			if r.Err != nil || r.Blank || r.Lines != 1 || len(r.Fields) != width || next != rnext {
				t.Fatalf("%q at %d: Simple accepted (next %d), Next says err %v blank %v lines %d fields %q next %d",
					buf, pos, next, r.Err, r.Blank, r.Lines, r.Fields, rnext)
			}
			for i := range fields {
				if !bytes.Equal(fields[i], r.Fields[i]) {
					t.Fatalf("%q at %d: field %d: Simple %q, Next %q", buf, pos, i, fields[i], r.Fields[i])
				}
			}
		} else if next != pos {
			t.Fatalf("Simple refused but moved from %d to %d", pos, next)
		}
		if rnext <= pos {
			break
		}
		pos = rnext
	}
	return accepted
}

func TestSimple(t *testing.T) {
	in := []byte("\"good\",8,\"owner\",48,52\n\"bad\",,\"\",1,NA\r\n\n\"a\"\"b\",1,2,3,4\nx,y\n1,2,3,4,5\n1,2,\"3\n\",4,5\n1,2,3,4,5")
	if n := checkSimple(t, in, Dialect{}, 5, true); n != 3 {
		t.Fatalf("accepted %d rows, want 3", n)
	}
	checkSimple(t, in, Dialect{MaxFieldBytes: 3}, 5, true)
	checkSimple(t, in, Dialect{}, 5, false)
	checkSimple(t, []byte("a;'b;c';\n"), Dialect{Delimiter: ';', Quote: '\''}, 3, true)
}

func FuzzSimple(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\"a\",b\r\n\"\"\"\",\n", "x\"y\n", "\"a\"b,c\n", "\n\n1\r\n", "a,\"b\rc\"\r\n", "\"good\",8,\"owner\",48\n"} {
		f.Add(s, uint8(2), false, uint8(0))
	}
	f.Fuzz(func(t *testing.T, in string, width uint8, atEOF bool, maxField uint8) {
		w := int(width%6) + 1
		checkSimple(t, []byte(in), Dialect{MaxFieldBytes: int(maxField)}, w, atEOF)
		checkSimple(t, []byte(in), Dialect{Delimiter: ';', Quote: '\'', MaxFieldBytes: int(maxField)}, w, atEOF)
	})
}

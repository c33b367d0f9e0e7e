package validate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
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
	data := string(creditLike(20_000))
	lines := strings.Split(data, "\n")
	for i := 5; i < len(lines)-1; i += 991 {
		lines[i] = strings.Replace(lines[i], `"good"`, `"great"`, 1)
		lines[i+1] = strings.Replace(lines[i+1], ",0,", ",-3.5e0,", 1)
		lines[i+2] = strings.Replace(lines[i+2], `"married"`, `"mar""ried"`, 1)
		lines[i+3] += "\r"
		lines[i+4] = strings.Replace(lines[i+4], `"no"`, `no`, 1)
		lines[i+5] = strings.Replace(lines[i+5], `,"fixed",`, `,"fix`+"\n"+`ed",`, 1)
		lines[i+6] = strings.Replace(lines[i+6], `,0,`, `,x,`, 1)
	}
	data = strings.Join(lines, "\n")
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

package clip

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	// in, bound, want: short texts are kept, long ones cut on a rune boundary.
	cases := [][3]string{
		{"short", "10", "short"},
		{"exactly10!", "10", "exactly10!"},
		{"abcdefghijk", "10", "abcdefg…"},
		{"ééééé", "8", "éé…"}, // é is 2 bytes: no rune is cut in half
		{"abc", "0", "…"},
	}
	for _, c := range cases {
		n, _ := strconv.Atoi(c[1])
		if got := Bytes(c[0], n); got != c[2] {
			t.Errorf("Bytes(%q, %d) = %q, want %q", c[0], n, got, c[2])
		}
	}
}

func FuzzBytes(f *testing.F) {
	f.Add("hello, world", 5)
	f.Add(strings.Repeat("好", 100), 17)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 3 || n > 1<<20 {
			return
		}
		got := Bytes(s, n)
		if len(got) > n {
			t.Fatalf("%d bytes, bound %d", len(got), n)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("cut a rune: %q", got)
		}
		if len(s) <= n && got != s {
			t.Fatalf("changed a short text")
		}
	})
}

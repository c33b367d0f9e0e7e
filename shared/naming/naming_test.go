package naming

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidIsPattern(t *testing.T) {
	re := regexp.MustCompile(`^` + Pattern + `$`)
	for _, s := range []string{"", "a", "credit", "credit_v2-b", "0abc", "9", "-a", "_a", "a-", "a_", "A", "credit Model",
		"café", "a.b", "a/b", strings.Repeat("a", 63), strings.Repeat("a", 64), "a\n", "a\x00"} {
		if got, want := Valid(s), re.MatchString(s); got != want {
			t.Errorf("Valid(%q) = %v, Pattern says %v", s, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	re := regexp.MustCompile(`^` + Pattern + `$`)
	f.Add("credit")
	f.Add("-x")
	f.Fuzz(func(t *testing.T, s string) {
		if Valid(s) != re.MatchString(s) {
			t.Fatalf("Valid(%q) disagrees with Pattern", s)
		}
	})
}

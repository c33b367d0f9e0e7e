package bundle

import (
	"math"
	"testing"
)

// FuzzParseNumber (seeds: testdata/fuzz/FuzzParseNumber) holds parseNumber's fast path to the general one: the same
// verdict and the same bits (-0 included) for every text.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "+0", "35", "-35", "+7", "123456789012345", "1234567890123456",
		"-999999999999999", "16777217", "", "-", "+", "1.5", "1e3", "0x10", "1_000", "٣", " 1", "00012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotOK := parseNumber(s)
		want, wantOK := parseDecimal(s)
		if gotOK != wantOK || math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("parseNumber(%q) = %v, %v; the general path gives %v, %v", s, got, gotOK, want, wantOK)
		}
	})
}

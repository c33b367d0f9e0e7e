// Package clip cuts text that is quoted into bounded places (audit records,
// run reasons, events) to a size, on a rune boundary, marking the cut.
package clip

import "unicode/utf8"

// Mark ends a clipped text.
const Mark = "…"

// Bytes returns s if it is at most n bytes, else its first bytes (whole
// runes) followed by Mark, n bytes at most in all.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(Mark)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Mark
}

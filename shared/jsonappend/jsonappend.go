// Package jsonappend writes JSON scalars into a byte slice, allocation-free,
// exactly as encoding/json writes them (with SetEscapeHTML(false)): the hot
// paths that write JSON by hand (the prediction API's bodies, the prediction
// log's records) write the same bytes that encoding/json would, so a reader
// never sees two spellings of one value.
package jsonappend

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe marks the ASCII bytes a JSON string carries as they are.
var safe = func() (s [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
	}
	return
}()

// String appends s as a JSON string, as encoding/json writes it without HTML
// escaping: `"` and `\` escaped, control characters as \b \f \n \r \t or
// \u00XX, U+2028 and U+2029 as \u2028 and \u2029 (JavaScript's line
// terminators), invalid UTF-8 as \ufffd, everything else as it is.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Float appends a finite f, a float64 (bits 64) or the float64 of a float32
// (bits 32), as encoding/json writes that type: the shortest text that reads
// back as f at that precision, in plain notation from 1e-6 to 1e21 and in
// exponent notation (e-7, not e-07) outside. The caller refuses NaN and the
// infinities first: JSON has no text for them (Finite).
func Float(b []byte, f float64, bits int) []byte {
	// Integers, which most features are, need not the shortest-digits
	// search: below 2^53 (2^24 for a float32) their digits are the shortest
	// text. -0 keeps its sign, as encoding/json writes it.
	if i := int64(f); float64(i) == f && (i != 0 || !math.Signbit(f)) &&
		(bits == 64 && -1<<53 < i && i < 1<<53 || -1<<24 < i && i < 1<<24) {
		return strconv.AppendInt(b, i, 10)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-07 → e-7, as encoding/json and JavaScript write it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// Finite reports whether f has a JSON text.
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Number reports whether s is a JSON number, as encoding/json requires of a
// json.Number it writes: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func Number(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i++; i < len(s) && isDigit(s[i]); i++ {
		}
	default:
		return false
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		for i += 2; i < len(s) && isDigit(s[i]); i++ {
		}
	}
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if s[j] == '+' || s[j] == '-' {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for i = j + 1; i < len(s) && isDigit(s[i]); i++ {
			}
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Indent appends src, compact JSON (valid, with no white space outside its
// strings, as the appenders of this package and encoding/json's Compact
// write it), indented as encoding/json's Encoder with SetIndent("", indent)
// writes it: one member or element a line, "key": value, empty objects and
// arrays kept as {} and []. With escapeHTML, <, > and & in strings become
// \u003c, \u003e and \u0026 (and U+2028 and U+2029 \u2028 and \u2029), as
// an Encoder writes them unless told not to.
// It validates nothing: src must be what it says.
func Indent(dst, src []byte, indent string, escapeHTML bool) []byte {
	depth := 0
	newline := func(dst []byte) []byte {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, indent...)
		}
		return dst
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// Copy the string to its closing quote, escapes and all.
			start := i
			for i++; i < len(src) && src[i] != '"'; i++ {
				switch src[i] {
				case '\\':
					i++
				case '<', '>', '&', 0xe2:
					if esc, n := htmlEscape(src, i); escapeHTML && n > 0 {
						dst = append(append(dst, src[start:i]...), esc[:]...)
						i += n - 1
						start = i + 1
					}
				}
			}
			dst = append(dst, src[start:min(i+1, len(src))]...)
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, c, src[i+1])
				i++
				continue
			}
			dst = append(dst, c)
			depth++
			dst = newline(dst)
		case '}', ']':
			depth--
			dst = append(newline(dst), c)
		case ',':
			dst = newline(append(dst, c))
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// EscapeHTML escapes, in b[from:] (compact JSON, or a run of it), <, > and &
// as \u003c, \u003e and \u0026, and U+2028 and U+2029 as \u2028 and
// \u2029, as encoding/json's Encoder writes them unless told not to. Such
// bytes stand only in strings, so a pass over the bytes finds them all. b is
// returned as it is where it holds none, the usual case.
func EscapeHTML(b []byte, from int) []byte {
	i := from
	for i < len(b) && !htmlUnsafe[b[i]] {
		i++
	}
	if i == len(b) {
		return b
	}
	rest := bytes.Clone(b[i:])
	b = b[:i]
	for j := 0; j < len(rest); j++ {
		if esc, n := htmlEscape(rest, j); n > 0 {
			b = append(b, esc[:]...)
			j += n - 1
			continue
		}
		b = append(b, rest[j])
	}
	return b
}

// htmlUnsafe are the bytes that may start what HTML escaping escapes: one
// load a byte.
var htmlUnsafe = [256]bool{'<': true, '>': true, '&': true, 0xe2: true}

// htmlEscape is the escape of what starts at src[i] where HTML escaping
// escapes it (<, > and &, and U+2028 and U+2029), and how many bytes it
// stands for: 0 for anything else.
func htmlEscape(src []byte, i int) ([6]byte, int) {
	switch c := src[i]; {
	case c == '<' || c == '>' || c == '&':
		return [6]byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&0xf]}, 1
	case c == 0xe2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xa8:
		return [6]byte{'\\', 'u', '2', '0', '2', hex[src[i+2]&0xf]}, 3
	}
	return [6]byte{}, 0
}

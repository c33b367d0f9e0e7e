package table

import (
	"encoding/binary"
	"math/bits"
)

const (
	swarLow7 = 0x7f7f7f7f7f7f7f7f
	swarHi   = 0x8080808080808080
	swarLo   = 0x0101010101010101
)

// nonZero has the high bit of each byte of x that is not zero set (exactly: no carry
// crosses bytes); the other bits are noise that callers mask off.
func nonZero(x uint64) uint64 { return (x&swarLow7 + swarLow7) | x }

// Simple parses the row at buf[pos] into fields when the row is simple: exactly
// len(fields) fields, each unquoted or quoted without escapes or line breaks, with
// nothing between a closing quote and the delimiter or LF, and the row ends with LF
// (or CRLF after an unquoted last field) before the end of buf, within MaxFieldBytes.
// Such a row gets exactly the fields that Next gives it, with no error and one line.
// For anything else Simple returns ok false and the caller uses Next from the same
// position.
//
// It finds the delimiters, quotes and line feeds eight bytes at a time (SWAR) and
// walks them in order, so a field costs a few operations, not a loop over its bytes.
func (p *Parser) Simple(buf []byte, pos int, fields [][]byte) (next int, ok bool) {
	if pos >= len(buf) || len(fields) == 0 {
		return pos, false
	}
	if c := buf[pos]; c == '\n' || c == '\r' {
		return pos, false
	}
	delim, quote := p.d.Delimiter, p.d.Quote
	f := 0
	start := pos // the current field's first byte
	// qs is the current field's quote state: unquoted, inside quotes, or the
	// position of its closing quote.
	qs := noQuote
	for base := pos; base < len(buf); base += 8 {
		var m uint64
		if base+8 <= len(buf) {
			w := binary.LittleEndian.Uint64(buf[base:])
			m = ^(nonZero(w^(uint64(delim)*swarLo)) & nonZero(w^(uint64(quote)*swarLo)) & nonZero(w^('\n'*swarLo))) & swarHi
		} else {
			for k := base; k < len(buf); k++ {
				if c := buf[k]; c == delim || c == quote || c == '\n' {
					m |= 0x80 << (8 * (k - base))
				}
			}
		}
		for ; m != 0; m &= m - 1 {
			k := base + bits.TrailingZeros64(m)>>3
			c := buf[k]
			if qs == inQuotes {
				if c == quote {
					qs = k
				} else if c == '\n' {
					return pos, false // a line break inside quotes
				}
				continue
			}
			if c == quote {
				if k != start {
					return pos, false // a bare quote, an escape, or text after the close
				}
				qs = inQuotes
				continue
			}
			// A delimiter or LF ends field f.
			v := buf[start:k]
			if qs >= 0 {
				if qs != k-1 {
					return pos, false // text after the closing quote
				}
				v = buf[start+1 : k-1]
			}
			if c == delim {
				if f == len(fields)-1 || k+1 >= len(buf) {
					return pos, false
				}
				fields[f] = v
				f++
				start, qs = k+1, noQuote
				continue
			}
			if f != len(fields)-1 || k+1-pos > p.d.MaxFieldBytes {
				return pos, false
			}
			if qs < 0 && k > start && buf[k-1] == '\r' {
				v = buf[start : k-1]
			}
			fields[f] = v
			return k + 1, true
		}
	}
	return pos, false
}

const (
	noQuote  = -1
	inQuotes = -2
)

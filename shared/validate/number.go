package validate

import (
	"encoding/binary"
	"math"
	"strconv"
)

// Parsing the cells of numeric, integer and boolean columns: the hot path of
// validation, exact to strconv (every result is what strconv would return).

type numStatus int

const (
	numOK numStatus = iota
	numBad
	numNotFinite
)

// pow10 holds the powers of ten that float64 represents exactly.
func pow10(e int) float64 {
	return [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
		1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}[e]
}

// parseNumber parses a decimal number. The fast path (Clinger's: a mantissa below
// 2^53 and a power of ten below 10^23, both exact in float64, give a correctly rounded
// product or quotient) covers ordinary data; anything else goes to strconv, so every
// result is exactly what strconv.ParseFloat returns.
func parseNumber(v []byte) (float64, numStatus) {
	i := 0
	neg := false
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	sawDot := false
	exp := 0
	fast := true
	for ; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			if mant == 0 && c == '0' {
				if sawDot {
					frac++
				}
				digits++
				continue
			}
			if mant >= 1<<53/10 {
				fast = false
				break
			}
			mant = mant*10 + uint64(c-'0')
			digits++
			if sawDot {
				frac++
			}
			continue
		}
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		break
	}
	if fast && i < len(v) && (v[i] == 'e' || v[i] == 'E') && digits > 0 {
		j := i + 1
		eneg := false
		if j < len(v) && (v[j] == '+' || v[j] == '-') {
			eneg = v[j] == '-'
			j++
		}
		ed := 0
		for ; j < len(v) && v[j] >= '0' && v[j] <= '9' && ed < 4; j++ {
			exp = exp*10 + int(v[j]-'0')
			ed++
		}
		if ed == 0 || j != len(v) {
			fast = false
		}
		if eneg {
			exp = -exp
		}
		i = j
	}
	if fast && i == len(v) && digits > 0 {
		e := exp - frac
		f := float64(mant)
		switch {
		case mant == 0:
			f = 0
		case e >= 0 && e <= 22:
			f *= pow10(e)
		case e < 0 && e >= -22:
			f /= pow10(-e)
		default:
			return slowNumber(v)
		}
		if neg {
			f = -f
		}
		return f, numOK
	}
	return slowNumber(v)
}

func slowNumber(v []byte) (float64, numStatus) {
	// strconv also reads hex floats, underscores and "Infinity"; only plain decimal
	// notation and the spellings of NaN and infinity are allowed through.
	letters := false
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9', c == '.', c == '+', c == '-', c == 'e', c == 'E':
		default:
			letters = true
		}
	}
	if letters {
		s := string(v)
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		switch toLower(s) {
		case "nan", "inf", "infinity":
			return 0, numNotFinite
		}
		return 0, numBad
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && math.IsInf(f, 0) {
			return 0, numNotFinite
		}
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, numBad
		}
	}
	return f, numOK
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parseDigits parses a plain run of at most 15 decimal digits: below 2^53, so the
// float64 conversion is exact and equals strconv.ParseFloat's result.
func parseDigits(v []byte) (float64, bool) {
	n := len(v)
	if n == 0 || n > 15 {
		return 0, false
	}
	if n <= 8 && cap(v) >= 8 {
		// Eight bytes at once (reading past len within cap is allowed): the digits go
		// to the high bytes with '0's before them, then a SWAR check and conversion.
		w := binary.LittleEndian.Uint64(v[:8:8])<<(uint(8-n)*8) | 0x3030303030303030>>(uint(n)*8)
		if w&0xF0F0F0F0F0F0F0F0|(w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0>>4 != 0x3333333333333333 {
			return 0, false
		}
		w -= 0x3030303030303030
		w = w*10 + w>>8
		w = ((w&0x000000FF000000FF)*0x000F424000000064 + (w>>16&0x000000FF000000FF)*0x0000271000000001) >> 32
		return float64(uint32(w)), true
	}
	var x uint64
	for _, c := range v {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		x = x*10 + uint64(d)
	}
	return float64(x), true
}

// ParseInt parses a decimal integer (optional sign); strconv decides the rare
// 19-digit cases so that overflow is exact. It is the rule of an integer
// column's cells, which the prediction API's input checks apply too.
func ParseInt(v []byte) (int64, bool) {
	i := 0
	neg := false
	if len(v) > 0 && (v[0] == '+' || v[0] == '-') {
		neg = v[0] == '-'
		i = 1
	}
	if i == len(v) {
		return 0, false
	}
	if len(v)-i > 18 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	var n int64
	for ; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// ParseBool parses a boolean cell: true/1/yes or false/0/no, in any case.
// The second result is false for anything else.
func ParseBool(v []byte) (bool, bool) {
	if len(v) > 5 {
		return false, false
	}
	var buf [5]byte
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(v)]) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

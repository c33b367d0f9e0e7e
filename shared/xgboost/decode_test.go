package xgboost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// xgboostFloat formats v as xgboost writes floats: the shortest decimal,
// "1.06997385E1".
func xgboostFloat(v float32) string {
	s := strconv.FormatFloat(float64(v), 'E', -1, 32)
	mant, exp, _ := strings.Cut(s, "E")
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// floatPadding follows a number in the tests below, so that scanFloat, which
// needs room after the number, is tried on it.
const floatPadding = ",                        "

// checkFloat checks that the decoder reads the number s as strconv does, and
// reports whether the fast path read it.
func checkFloat(t *testing.T, s string) bool {
	t.Helper()
	want, err := parseFloat32(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	data := []byte(s + floatPadding)
	fast, end, ok := scanFloat(data, 0)
	if ok && (end != len(s) || math.Float32bits(fast) != math.Float32bits(want)) {
		t.Fatalf("scanFloat(%q) = %v (%#x), ending at %d; strconv: %v (%#x)", s, fast, math.Float32bits(fast), end, want, math.Float32bits(want))
	}
	d := &decoder{data: data}
	got, err := d.float()
	if err != nil || d.pos != len(s) || math.Float32bits(got) != math.Float32bits(want) {
		t.Fatalf("float(%q) = %v, %v, ending at %d; strconv: %v", s, got, err, d.pos, want)
	}
	return ok
}

// TestFloatMatchesStrconv checks the decoder's float32 conversion, fast path
// and slow, against strconv.ParseFloat(s, 32): on floats as xgboost writes
// them, in other formats, on random decimals, and on decimals close to
// halfway between two float32s, where rounding through float64 can go wrong.
func TestFloatMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	randomFloat := func() float32 {
		for {
			v := math.Float32frombits(rng.Uint32())
			if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
				return v
			}
		}
	}
	fast, n := 0, 0
	for range 200000 {
		// Values of the size xgboost's thresholds, leaves and covers have.
		v := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-6)))
		if checkFloat(t, xgboostFloat(v)) {
			fast++
		}
		n++
	}
	if fast < n*99/100 {
		t.Errorf("the fast path read %d of %d floats as xgboost writes them", fast, n)
	}
	for range 100000 {
		v := randomFloat()
		checkFloat(t, xgboostFloat(v))
		checkFloat(t, strconv.FormatFloat(float64(v), 'e', -1, 32))
		checkFloat(t, strconv.FormatFloat(float64(v), 'f', -1, 32))
		checkFloat(t, strconv.FormatFloat(float64(v), 'e', rng.IntN(20), 64))
	}
	for range 200000 {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + rng.IntN(9)))
		for range rng.IntN(8) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(3) != 0 {
			b.WriteByte('.')
			for range 1 + rng.IntN(12) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		if rng.IntN(3) != 0 {
			fmt.Fprintf(&b, "E%d", rng.IntN(80)-40)
		}
		checkFloat(t, b.String())
	}
	// Decimals near the midpoint of two neighbouring float32s, with as
	// many digits as the fast path takes.
	for range 100000 {
		v := float32(math.Abs(float64(randomFloat())))
		if v == 0 || math.IsInf(float64(math.Nextafter32(v, float32(math.Inf(1)))), 0) {
			continue
		}
		mid := (float64(v) + float64(math.Nextafter32(v, float32(math.Inf(1))))) / 2
		for _, digits := range []int{8, 9, 12, 15, 16, 17, 25} {
			checkFloat(t, strconv.FormatFloat(mid, 'e', digits-1, 64))
		}
	}
	for _, s := range []string{"0", "-0", "0E0", "-0E0", "0.0", "1", "1E0", "1E38", "3.4028235E38", "3.4028236E38", "1E39",
		"1.1754944E-38", "1.1754942E-38", "1.4E-45", "7E-46", "1E-46", "123456789012345", "1234567890123456", "9.999999E22",
		"1E22", "1E23", "1E-22", "1E-23", "0.000000000000000000000000000001"} {
		checkFloat(t, s)
	}
}

func TestDigitRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		var b [8]byte
		for i := range b {
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(rng.Uint32())
			default:
				b[i] = byte('0' + rng.IntN(10))
			}
		}
		n, v := digitRun(binary.LittleEndian.Uint64(b[:]))
		wantN, wantV := 0, uint64(0)
		for wantN < 8 && b[wantN] >= '0' && b[wantN] <= '9' {
			wantV = wantV*10 + uint64(b[wantN]-'0')
			wantN++
		}
		if n != wantN || v != wantV {
			t.Fatalf("digitRun(%q) = %d, %d; want %d, %d", b, n, v, wantN, wantV)
		}
	}
}

// FuzzFloat checks the decoder's floats against strconv on any number.
func FuzzFloat(f *testing.F) {
	for _, s := range []string{"1.06997385E1", "-5E-1", "0E0", "1e999", "1.00000005960464477539062500000001", "123456789012345678901234567890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if end, _ := numberEnd([]byte(s), 0); end != len(s) || len(s) == 0 {
			return // not one JSON number
		}
		checkFloat(t, s)
	})
}

// TestDecodeErrors checks that an error names where it is (byte offset and
// path) and what was wrong.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{`"left_children":[1,3`, `"left_children":[1,3.5`,
			"at byte 575, learner.gradient_booster.model.trees[0].left_children[1]: want an integer, got the number 3.5"},
		{`"default_left":[1,1`, `"default_left":[1,2`,
			"learner.gradient_booster.model.trees[0].default_left[1]: want 0, 1, true or false, got the number 2"},
		{`"split_conditions":[-2.1859577E1`, `"split_conditions":["x"`,
			`learner.gradient_booster.model.trees[0].split_conditions[0]: want a number, got "x"`},
		{`"attributes":{`, `"attributes":{"a":[1,}`,
			"learner.attributes: want a value, got invalid character '}'"},
		{`"name":"gbtree"`, `"name":7`, `learner.gradient_booster.name: want a string, got the number 7`},
		{`"version":[1,7,4]}`, `"version":[1,7,4]}x`, "trailing data after the model"},
		{`"id":0,`, `"id":0,"Id":1,`, `learner.gradient_booster.model.trees[0]: member "id" is named twice`},
	} {
		_, err := Parse(referenceDoc(t, tc.old, tc.new))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "xgboost: decoding model JSON: ") {
			t.Errorf("%s: got %v, want an error with %q", tc.new, err, tc.want)
		}
	}
	_, err := Parse(referenceDoc(t, `"id":0,`, `"id":0,"ID":0,`))
	if !errors.Is(err, errDuplicateMember) {
		t.Errorf("a member named twice: %v", err)
	}
}

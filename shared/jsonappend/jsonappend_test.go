package jsonappend_test

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/openmlops/mlops/shared/jsonappend"
)

// reference is encoding/json's text of v, HTML left unescaped, no newline.
func reference(t testing.TB, v any) ([]byte, error) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func TestString(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\there\nnew\rline\b\f\x00\x1f\x7f",
		"<a href='x'>&amp;</a>", "ünïcödé €", "bad \xff\xfe utf8 \xe2\x82", "line\u2028sep\u2029para", "😀 surrogates"} {
		want, err := reference(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonappend.String([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
}

func TestFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125,
		math.MaxFloat64, math.SmallestNonzeroFloat64, float64(float32(0.1)), 3.4028234663852886e38, 1.401298464324817e-45} {
		checkFloat(t, f)
	}
}

func checkFloat(t *testing.T, f float64) {
	t.Helper()
	want, err := reference(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonappend.Float(nil, f, 64); !bytes.Equal(got, want) {
		t.Errorf("Float(%v, 64) = %s, encoding/json writes %s", f, got, want)
	}
	f32 := float32(f)
	if math.IsInf(float64(f32), 0) {
		return
	}
	want, err = reference(t, f32)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonappend.Float(nil, float64(f32), 32); !bytes.Equal(got, want) {
		t.Errorf("Float(float32 %v, 32) = %s, encoding/json writes %s", f32, got, want)
	}
}

func TestNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-12", "1.5", "0.25e10", "1E+2", "1e-2", "", "-", "01", "1.", ".5", "1e", "1e+",
		"1ea", "+1", "1.5.5", "0x10", "NaN", "1 "} {
		_, err := reference(t, json.Number(s))
		if s == "" {
			err = nil // encoding/json writes an empty json.Number as 0; Number refuses it
		}
		if got, want := jsonappend.Number(s), err == nil && s != ""; got != want {
			t.Errorf("Number(%q) = %v, encoding/json accepts it: %v", s, got, want)
		}
	}
}

// FuzzString holds String to encoding/json's bytes for any string
// (testdata/fuzz/FuzzString: escapes, invalid UTF-8, line separators).
func FuzzString(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		want, err := reference(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonappend.String(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

// FuzzFloat holds Float to encoding/json's bytes for any finite float64 and
// float32 (testdata/fuzz/FuzzFloat), and Number to its validation of
// json.Number.
func FuzzFloat(f *testing.F) {
	f.Fuzz(func(t *testing.T, bits uint64, s string) {
		if x := math.Float64frombits(bits); jsonappend.Finite(x) {
			checkFloat(t, x)
		}
		if x := math.Float32frombits(uint32(bits)); jsonappend.Finite(float64(x)) {
			want, err := reference(t, x)
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonappend.Float(nil, float64(x), 32); !bytes.Equal(got, want) {
				t.Fatalf("Float(float32 %v, 32) = %s, encoding/json writes %s", x, got, want)
			}
		}
		if s != "" {
			_, err := reference(t, json.Number(s))
			if got := jsonappend.Number(s); got != (err == nil) {
				t.Fatalf("Number(%q) = %v, encoding/json: %v", s, got, err)
			}
		}
	})
}

// FuzzIndent holds Indent to encoding/json's indentation of the same
// document, with and without HTML escaping, and EscapeHTML to
// json.HTMLEscape (testdata/fuzz/FuzzIndent).
func FuzzIndent(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			t.Fatal(err)
		}
		// After bytes of its own (an answer's start), which it leaves.
		prefix := []byte(`<&>` + "\u2028")
		var esc bytes.Buffer
		json.HTMLEscape(&esc, compact.Bytes())
		in, want := slices.Concat(prefix, compact.Bytes()), slices.Concat(prefix, esc.Bytes())
		if got := jsonappend.EscapeHTML(in, len(prefix)); !bytes.Equal(got, want) {
			t.Fatalf("EscapeHTML(%s) =\n%s\nencoding/json:\n%s", compact.Bytes(), got[len(prefix):], esc.Bytes())
		}
		for _, html := range []bool{false, true} {
			src := compact.Bytes()
			if html {
				var esc bytes.Buffer
				json.HTMLEscape(&esc, src)
				src = esc.Bytes()
			}
			var want bytes.Buffer
			if err := json.Indent(&want, src, "", "  "); err != nil {
				t.Fatal(err)
			}
			if got := jsonappend.Indent(nil, compact.Bytes(), "  ", html); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("Indent(%s, html %v) =\n%s\nencoding/json:\n%s", compact.Bytes(), html, got, want.Bytes())
			}
		}
	})
}

package bundle_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
)

// allKinds has one feature of each kind.
var allKinds = bundle.Encoding{
	Features: []bundle.Feature{
		{Name: "n", Kind: bundle.KindNumeric},
		{Name: "b", Kind: bundle.KindBoolean},
		{Name: "d", Kind: bundle.KindTimestamp, Format: "2006-01-02"},
		{Name: "t", Kind: bundle.KindTimestamp},
		{Name: "c", Kind: bundle.KindOneHot, Categories: []string{"x", "y", "z"}, Unseen: bundle.UnseenMissing},
	},
	Columns: []string{"n", "b", "d", "t", "c=x", "c=y", "c=z"},
}

func newEncoder(t testing.TB, enc bundle.Encoding) *bundle.Encoder {
	t.Helper()
	e, err := bundle.NewEncoder(enc)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var nan = float32(math.NaN())

// same compares float32 vectors bit for bit, except that any NaN equals any NaN.
func same(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.IsNaN(float64(a[i])) != math.IsNaN(float64(b[i])) ||
			!math.IsNaN(float64(a[i])) && math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestEncodeRows(t *testing.T) {
	e := newEncoder(t, allKinds)
	if got := e.Columns(); strings.Join(got, ",") != "n,b,d,t,c=x,c=y,c=z" {
		t.Fatalf("Columns = %q", got)
	}
	for _, c := range []struct {
		values []string
		want   []float32
	}{
		{[]string{"1.5", "yes", "2024-01-31", "2024-01-31T09:30:00Z", "y"}, []float32{1.5, 1, 1706659200, 1706693400, 0, 1, 0}},
		{[]string{"", "", "", "", ""}, []float32{nan, nan, nan, nan, nan, nan, nan}},
		{[]string{"-0", "FALSE", "1970-01-01", "1970-01-01T02:00:00+02:00", "z"}, []float32{float32(math.Copysign(0, -1)), 0, 0, 0, 0, 0, 1}},
		// An unseen category leaves all of its columns missing.
		{[]string{"0.1", "No", "", "2024-06-30T23:59:59.5Z", "w"}, []float32{float32(0.1), 0, nan, float32(1719791999.5), nan, nan, nan}},
		// A category is matched exactly.
		{[]string{"1e3", "1", "", "", "X"}, []float32{1000, 1, nan, nan, nan, nan, nan}},
	} {
		out := make([]float32, 7)
		if err := e.Encode(c.values, out); err != nil {
			t.Fatalf("%q: %v", c.values, err)
		}
		if !same(out, c.want) {
			t.Errorf("%q: got %v, want %v", c.values, out, c.want)
		}
	}
	if err := e.Encode([]string{"1"}, make([]float32, 7)); err == nil {
		t.Error("too few values: no error")
	}
	if err := e.Encode(make([]string, 5), make([]float32, 6)); err == nil {
		t.Error("short output: no error")
	}
}

// Numbers are read as the contract validator lets them into the canonical CSV
// (plain decimals), as float64, then rounded to float32 the way numpy casts.
func TestEncodeNumbers(t *testing.T) {
	e := newEncoder(t, bundle.Encoding{Features: []bundle.Feature{{Name: "n", Kind: bundle.KindNumeric}}, Columns: []string{"n"}})
	out := make([]float32, 1)
	for s, want := range map[string]float32{
		"1": 1, "-1.5": -1.5, "+2": 2, ".5": 0.5, "5.": 5, "1e3": 1000, "1E-3": float32(0.001), "007": 7,
		"0.1":      float32(0.1),
		"16777217": 16777216, // 2^24 + 1: the tie rounds to even
		"16777219": 16777220,
		// Just above a float32 midpoint, but within half a float64 ULP of it: read
		// as float32 in one step it rounds up (to 0.10000002), through float64 it
		// is the midpoint and rounds to even. numpy casts the float64, so must we.
		"0.1000000126659870147705078126": float32(0.10000000894069672),
		"3.4028235e38":                   math.MaxFloat32,
		"1e-400":                         0, // underflow is zero, in Python too
		"1e-46":                          0,
		"-1e-45":                         -float32(math.SmallestNonzeroFloat32),
	} {
		if err := e.Encode([]string{s}, out); err != nil {
			t.Errorf("%q: %v", s, err)
		} else if math.Float32bits(out[0]) != math.Float32bits(want) {
			t.Errorf("%q: got %v, want %v", s, out[0], want)
		}
	}
	// What strconv or Python would read but the canonical CSV never holds, and
	// what xgboost cannot take.
	for _, s := range []string{"1_000", " 1", "1 ", "Inf", "-inf", "infinity", "NaN", "0x10", "0x1p3", "1e", "e5", ".",
		"+", "-", "1e400", "3.5e38", "-3.5e38", "1,5", "--1", "1.2.3", "1e+", "１", "one"} {
		err := e.Encode([]string{s}, out)
		var ve *bundle.ValueError
		if !errors.As(err, &ve) || ve.Column != "n" || ve.Value != s || ve.Feature != 0 {
			t.Errorf("%q: got %v, want a ValueError", s, err)
			continue
		}
		if want := `column "n": expected a finite decimal number within float32 range, got ` + `"`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: message %q", s, err)
		}
	}
}

func TestEncodeBooleansAndTimestamps(t *testing.T) {
	e := newEncoder(t, allKinds)
	out := make([]float32, 7)
	for _, v := range []string{"true", "TRUE", "True", "1", "yes", "YES"} {
		if err := e.Encode([]string{"", v, "", "", ""}, out); err != nil || out[1] != 1 {
			t.Errorf("%q: %v, %v", v, out[1], err)
		}
	}
	for _, v := range []string{"false", "False", "0", "no", "nO"} {
		if err := e.Encode([]string{"", v, "", "", ""}, out); err != nil || out[1] != 0 {
			t.Errorf("%q: %v, %v", v, out[1], err)
		}
	}
	for _, v := range []string{"t", "y", "2", "on", " true", "truee"} {
		err := e.Encode([]string{"", v, "", "", ""}, out)
		if err == nil || err.Error() != `column "b": expected a boolean (true/false, 1/0, yes/no), got "`+v+`"` {
			t.Errorf("%q: %v", v, err)
		}
	}
	err := e.Encode([]string{"", "", "31/01/2024", "", ""}, out)
	if err == nil || err.Error() != `column "d": expected a timestamp in the layout "2006-01-02", got "31/01/2024"` {
		t.Errorf("layout: %v", err)
	}
	err = e.Encode([]string{"", "", "", "2024-01-31 09:30", ""}, out)
	if err == nil || !strings.Contains(err.Error(), `column "t": expected an RFC 3339 timestamp`) {
		t.Errorf("RFC 3339: %v", err)
	}
}

func TestNewEncoderErrors(t *testing.T) {
	num := func(name string) bundle.Feature { return bundle.Feature{Name: name, Kind: bundle.KindNumeric} }
	for _, c := range []struct {
		enc  bundle.Encoding
		want string
	}{
		{bundle.Encoding{}, "no features"},
		{bundle.Encoding{Features: []bundle.Feature{num("")}, Columns: []string{""}}, "features[0]: empty name"},
		{bundle.Encoding{Features: []bundle.Feature{num("a"), num("a")}, Columns: []string{"a", "a"}}, `features[1] ("a"): the name of features[0] too`},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: "text"}}, Columns: []string{"a"}}, `unknown kind "text"`},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindOneHot}}}, "a one-hot feature needs categories"},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindOneHot, Categories: []string{"x", "x"}}},
			Columns: []string{"a=x", "a=x"}}, `category "x" is listed twice`},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindOneHot, Categories: []string{"x", ""}}},
			Columns: []string{"a=x", "a="}}, "categories[1] is empty"},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindOneHot, Categories: []string{"x"}, Unseen: "zero"}},
			Columns: []string{"a=x"}}, `unseen "zero", want "missing"`},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindNumeric, Format: "2006"}}, Columns: []string{"a"}},
			"format is for timestamps, not numeric"},
		{bundle.Encoding{Features: []bundle.Feature{{Name: "a", Kind: bundle.KindBoolean, Categories: []string{"x"}}}, Columns: []string{"a"}},
			"categories and unseen are for one-hot features, not boolean"},
		{bundle.Encoding{Features: []bundle.Feature{num("a")}, Columns: []string{"a", "b"}}, `2 columns, but the features make 1: ["a"]`},
		{bundle.Encoding{Features: []bundle.Feature{num("a")}, Columns: []string{"A"}}, `columns[0] is "A", but the features make "a" there`},
		{bundle.Encoding{Features: []bundle.Feature{num("a=x"), {Name: "a", Kind: bundle.KindOneHot, Categories: []string{"x"}}},
			Columns: []string{"a=x", "a=x"}}, `columns[1] "a=x" appears twice`},
	} {
		_, err := bundle.NewEncoder(c.enc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.enc, err, c.want)
		}
	}
}

func TestForHeader(t *testing.T) {
	e := newEncoder(t, allKinds)
	// Any order, extra columns (even repeated ones) ignored.
	header := []string{"id", "c", "t", "extra", "n", "d", "b", "extra"}
	h, err := e.ForHeader(header)
	if err != nil {
		t.Fatal(err)
	}
	if h.Position(0) != 4 || h.Position(4) != 1 {
		t.Fatalf("positions: n at %d, c at %d", h.Position(0), h.Position(4))
	}
	out := make([]float32, 7)
	if err := h.Encode([]string{"r1", "y", "", "?", "2.5", "2024-01-31", "no", "?"}, out); err != nil {
		t.Fatal(err)
	}
	if want := []float32{2.5, 0, 1706659200, nan, 0, 1, 0}; !same(out, want) {
		t.Fatalf("got %v, want %v", out, want)
	}
	err = h.Encode([]string{"r2", "y", "", "?", "2,5", "", "", ""}, out)
	var ve *bundle.ValueError
	if !errors.As(err, &ve) || ve.Feature != 0 || h.Position(ve.Feature) != 4 {
		t.Fatalf("bad value: %v", err)
	}
	if err := h.Encode([]string{"short"}, out); err == nil {
		t.Fatal("a short record: no error")
	}

	_, err = e.ForHeader([]string{"n", "c", "x"})
	if err == nil || !strings.Contains(err.Error(), `the input has no column for feature "b", "d", "t" (the model's features: "n", "b", "d", "t", "c")`) {
		t.Fatalf("missing: %v", err)
	}
	_, err = e.ForHeader([]string{"n", "b", "d", "t", "c", "b"})
	if err == nil || !strings.Contains(err.Error(), `the feature column "b" twice`) {
		t.Fatalf("twice: %v", err)
	}
}

// EncodeParsed takes a numeric feature's value from parsed where it is not
// NaN, and reads every other value as Encode does: given each number as
// Encode reads it, it encodes what Encode does.
func TestEncodeParsed(t *testing.T) {
	e := newEncoder(t, allKinds)
	h, err := e.ForHeader([]string{"id", "c", "t", "n", "d", "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range [][]string{
		{"r1", "y", "", "2.5", "2024-01-31", "no"},
		{"r2", "z", "2024-01-31T09:30:00Z", "-0", "", "1"},
		{"r3", "", "", "", "", ""},
		{"r4", "x", "", "123456789012345", "", "yes"},
	} {
		want := make([]float32, 7)
		if err := h.Encode(rec, want); err != nil {
			t.Fatal(err)
		}
		// Every field "parsed", the numeric one as a number reads: only
		// that one is taken.
		parsed := []float32{1, 1, 1, nan, 1, 1}
		if rec[3] != "" {
			x, err := strconv.ParseFloat(rec[3], 64)
			if err != nil {
				t.Fatal(err)
			}
			parsed[3] = float32(x)
		}
		got := make([]float32, 7)
		if err := h.EncodeParsed(rec, parsed, got); err != nil || !same(got, want) {
			t.Fatalf("%q: EncodeParsed %v (%v), Encode %v", rec, got, err, want)
		}
		// None parsed, or nil: read as Encode reads them.
		if err := h.EncodeParsed(rec, []float32{nan, nan, nan, nan, nan, nan}, got); err != nil || !same(got, want) {
			t.Fatalf("%q: EncodeParsed of none %v (%v), Encode %v", rec, got, err, want)
		}
	}
	// The taken value is the one used: 7 for the text "2.5".
	out := make([]float32, 7)
	if err := h.EncodeParsed([]string{"r", "x", "", "2.5", "", ""}, []float32{nan, nan, nan, 7, nan, nan}, out); err != nil || out[0] != 7 {
		t.Fatalf("parsed value not taken: %v (%v)", out, err)
	}
	if err := h.EncodeParsed([]string{"r", "x", "", "2.5", "", ""}, []float32{nan}, out); err == nil {
		t.Fatal("parsed of another length: no error")
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	e := newEncoder(t, allKinds)
	out := make([]float32, 7)
	rows := [][]string{
		{"123.25", "Yes", "2024-01-31", "2024-01-31T09:30:00Z", "z"},
		{"", "", "", "", ""},
		{"-1e-3", "0", "", "", "unseen"},
	}
	for _, r := range rows {
		if n := testing.AllocsPerRun(100, func() {
			if err := e.Encode(r, out); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Encode(%q) allocates %v times", r, n)
		}
	}
	h, err := e.ForHeader([]string{"c", "t", "d", "b", "n"})
	if err != nil {
		t.Fatal(err)
	}
	rec := []string{"x", "2024-01-31T09:30:00Z", "2024-01-31", "TRUE", "7"}
	if n := testing.AllocsPerRun(100, func() { _ = h.Encode(rec, out) }); n != 0 {
		t.Errorf("HeaderEncoder.Encode allocates %v times", n)
	}
}

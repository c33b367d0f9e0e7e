package yamldoc

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestCanonical(t *testing.T) {
	type doc struct {
		Name  string         `json:"name"`
		Score float64        `json:"score,omitempty"`
		Extra map[string]any `json:"extra,omitempty"`
	}
	if got := string(Canonical(doc{Name: "a <b> & c", Extra: map[string]any{"z": 1, "a": 2}})); got != `{"name":"a <b> & c","extra":{"a":2,"z":1}}` {
		t.Errorf("Canonical: %s", got)
	}
	if Canonical(doc{Score: math.NaN()}) != nil {
		t.Error("a NaN written")
	}
	d, err := ParseCanonical[doc]([]byte(`{"name":"x","extra":{"big":1e400}}`), "thing")
	if err != nil || d.Name != "x" || d.Extra["big"] != json.Number("1e400") {
		t.Errorf("ParseCanonical: %v %#v", err, d)
	}
	for in, want := range map[string]string{
		`{"name":"x","colour":1}`: `canonical thing JSON: json: unknown field "colour"`,
		`{"name":"x"} {}`:         "canonical thing JSON: unexpected data after the thing object",
		`[1]`:                     "canonical thing JSON: json: cannot unmarshal array into Go value of type yamldoc.doc",
	} {
		d, err := ParseCanonical[doc]([]byte(in), "thing")
		var e *Error
		if d != nil || !errors.As(err, &e) || err.Error() != want {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestPresent(t *testing.T) {
	has := Present([]byte(`{"a":0,"s":{"b":null,"c":{"d":1}},"n":null,"x":5}`))
	for path, want := range map[string]bool{"a": true, "s.b": true, "s.c.d": true, "s.c": true, "n": true,
		"b": false, "s.e": false, "n.b": false, "x.b": false, "a.b.c": false} {
		if has(path) != want {
			t.Errorf("Present(%q) = %v", path, !want)
		}
	}
}

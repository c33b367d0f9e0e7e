package yamldoc

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestError(t *testing.T) {
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Col: 5, Field: "x.y", Msg: "bad"}, "a.yaml:3:5: x.y: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{Field: "columns[2].min", Msg: "bad"}, "columns[2].min: bad"},
		{Error{Msg: "bad"}, "bad"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
	err := Join([]*Error{{Msg: "one"}, {Msg: "two"}})
	var e *Error
	if !errors.As(err, &e) || e.Msg != "one" || !strings.Contains(err.Error(), "two") {
		t.Fatalf("Join: %v", err)
	}
	if Join(nil) != nil {
		t.Fatal("Join(nil) is not nil")
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"objective", "params", "numBoostRound", "threshold"}
	for s, want := range map[string]string{"objectiv": "objective", "Params": "params", "treshold": "threshold",
		"numboostround": "numBoostRound", "seed": "", "": "", strings.Repeat("x", 100): ""} {
		if got := Closest(s, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestFindAliasAndKindName(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &x [1, 2]\nb: *x\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if a := FindAlias(&doc); a == nil || a.Line != 1 {
		t.Fatalf("FindAlias: %+v", a)
	}
	var plain yaml.Node
	if err := yaml.Unmarshal([]byte("a: [1, 2]\nb: ~\n"), &plain); err != nil {
		t.Fatal(err)
	}
	if FindAlias(&plain) != nil {
		t.Fatal("an alias in a document without one")
	}
	m := plain.Content[0]
	if got := KindName(m.Content[1]); got != "a list" {
		t.Errorf("KindName(list) = %q", got)
	}
	if got := KindName(m.Content[3]); got != "nothing (null)" {
		t.Errorf("KindName(null) = %q", got)
	}
	if got := Clip(strings.Repeat("é", 50)); got != strings.Repeat("é", 40)+"…" {
		t.Errorf("Clip cut inside a rune: %q", got)
	}
}

package hashid

import (
	"strings"
	"testing"
)

func TestOfValidShort(t *testing.T) {
	h := Of([]byte("abc"))
	if h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Of: %s", h)
	}
	if !Valid(h) {
		t.Error("Of's output is not Valid")
	}
	for _, s := range []string{"", h[:63], h + "0", strings.ToUpper(h), h[:63] + "g", h[:63] + "/"} {
		if Valid(s) {
			t.Errorf("Valid(%q)", s)
		}
	}
	if got := Short(h); got != "ba7816bf8f01" {
		t.Errorf("Short: %s", got)
	}
	if got := Short("abc"); got != "abc" {
		t.Errorf("Short of a short string: %s", got)
	}
}

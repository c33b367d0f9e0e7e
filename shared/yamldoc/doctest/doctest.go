// Package doctest holds the checks that the tests of every document package
// (spec, policy, contract) make of a parsed document.
package doctest

import (
	"bytes"
	"testing"
)

// Document is a parsed document with a canonical form.
type Document interface {
	Canonical() []byte
	Hash() string
}

// Stable checks that d's canonical form reads back, with parse, to the same
// bytes and the same hash: the stored form is the identity, so reading it
// must not change it.
func Stable[D Document](t testing.TB, d D, parse func([]byte) (D, error)) {
	t.Helper()
	j := d.Canonical()
	if j == nil {
		t.Fatal("Canonical of a valid document is nil")
	}
	again, err := parse(j)
	if err != nil {
		t.Fatalf("canonical JSON does not parse back: %v\n%s", err, j)
	}
	if !bytes.Equal(again.Canonical(), j) || again.Hash() != d.Hash() {
		t.Fatalf("canonical form not stable:\n%s\n%s", j, again.Canonical())
	}
}

// Validated is a document that can check itself.
type Validated interface {
	Document
	Validate() error
}

// FuzzParse fuzzes a YAML parser from the seeds: whatever it accepts must
// pass Validate and be Stable under parseCanonical, and then pass check, if
// any (say, that evaluating it does not panic).
func FuzzParse[D Validated](f *testing.F, seeds [][]byte, parse, parseCanonical func([]byte) (D, error), check func(*testing.T, D)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parse(data)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("Parse accepted a document that Validate refuses: %v\n%s", err, data)
		}
		Stable(t, d, parseCanonical)
		if check != nil {
			check(t, d)
		}
	})
}

// FuzzParseCanonical fuzzes a canonical JSON reader from seed's canonical
// form: whatever it accepts must be Stable.
func FuzzParseCanonical[D Document](f *testing.F, seed D, parseCanonical func([]byte) (D, error)) {
	f.Add(seed.Canonical())
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseCanonical(data)
		if err != nil {
			return
		}
		Stable(t, d, parseCanonical)
	})
}

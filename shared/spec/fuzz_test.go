package spec_test

import (
	"bytes"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/spec"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (the credit spec, a
// minimal one, flow style, explicit zeroes, a spec with errors), so `go test`
// replays them on every run.

func FuzzParse(f *testing.F) {
	f.Add(credit.SpecYAML())
	f.Add([]byte(head))
	card := credit.Card()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz/m.yaml", data, func(string) ([]byte, error) { return card, nil })
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a spec that Validate refuses: %v\n%s", err, data)
		}
		checkStable(t, s)
	})
}

func FuzzParseCanonical(f *testing.F) {
	s, err := credit.Spec()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Canonical())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.ParseCanonical(data)
		if err != nil {
			return
		}
		checkStable(t, s)
	})
}

// checkStable: the canonical form reads back to itself, and so does its hash.
func checkStable(t *testing.T, s *spec.Spec) {
	t.Helper()
	j := s.Canonical()
	if j == nil {
		t.Fatal("Canonical of a valid spec is nil")
	}
	again, err := spec.ParseCanonical(j)
	if err != nil {
		t.Fatalf("canonical JSON does not parse back: %v\n%s", err, j)
	}
	if !bytes.Equal(again.Canonical(), j) || again.Hash() != s.Hash() {
		t.Fatalf("canonical form not stable:\n%s\n%s", j, again.Canonical())
	}
}

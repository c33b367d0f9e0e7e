package spec_test

import (
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/yamldoc/doctest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (the credit spec, a
// minimal one, flow style, explicit zeroes, a spec with errors), so `go test`
// replays them on every run.

func FuzzParse(f *testing.F) {
	card := credit.Card()
	parse := func(data []byte) (*spec.Spec, error) {
		return spec.Parse("fuzz/m.yaml", data, func(string) ([]byte, error) { return card, nil })
	}
	doctest.FuzzParse(f, [][]byte{credit.SpecYAML(), []byte(head)}, parse, spec.ParseCanonical, nil)
}

func FuzzParseCanonical(f *testing.F) {
	s, err := credit.Spec()
	if err != nil {
		f.Fatal(err)
	}
	doctest.FuzzParseCanonical(f, s, spec.ParseCanonical)
}

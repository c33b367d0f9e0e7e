package policy_test

import (
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/yamldoc/doctest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (the credit policy, a
// minimal one, flow style, zeroes, one with errors, an alias), so `go test`
// replays them on every run.

func FuzzParse(f *testing.F) {
	parse := func(data []byte) (*policy.Policy, error) { return policy.Parse("fuzz/p.yaml", data) }
	doctest.FuzzParse(f, [][]byte{credit.PolicyYAML(), []byte(head)}, parse, policy.ParseCanonical,
		func(_ *testing.T, p *policy.Policy) {
			// Evaluate never panics on what Parse accepts.
			_ = policy.Evaluate(p, policy.Candidate{}, &policy.Champion{Version: 1})
		})
}

func FuzzParseCanonical(f *testing.F) {
	doctest.FuzzParseCanonical(f, creditPolicy(f), policy.ParseCanonical)
}

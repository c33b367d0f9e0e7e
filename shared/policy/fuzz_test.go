package policy_test

import (
	"bytes"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/policy"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (the credit policy, a
// minimal one, flow style, zeroes, one with errors, an alias), so `go test`
// replays them on every run.

func FuzzParse(f *testing.F) {
	f.Add(credit.PolicyYAML())
	f.Add([]byte(head))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse("fuzz/p.yaml", data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy that Validate refuses: %v\n%s", err, data)
		}
		checkStable(t, p)
		// Evaluate never panics on what Parse accepts.
		_ = policy.Evaluate(p, policy.Candidate{}, &policy.Champion{Version: 1})
	})
}

func FuzzParseCanonical(f *testing.F) {
	f.Add(creditPolicy(f).Canonical())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.ParseCanonical(data)
		if err != nil {
			return
		}
		checkStable(t, p)
	})
}

// checkStable: the canonical form reads back to itself, and so does its hash.
func checkStable(t *testing.T, p *policy.Policy) {
	t.Helper()
	j := p.Canonical()
	if j == nil {
		t.Fatal("Canonical of a valid policy is nil")
	}
	again, err := policy.ParseCanonical(j)
	if err != nil {
		t.Fatalf("canonical JSON does not parse back: %v\n%s", err, j)
	}
	if !bytes.Equal(again.Canonical(), j) || again.Hash() != p.Hash() {
		t.Fatalf("canonical form not stable:\n%s\n%s", j, again.Canonical())
	}
}

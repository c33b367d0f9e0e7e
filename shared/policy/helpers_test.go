package policy_test

import (
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/policy"
)

// creditPolicy is the example's policy (what the fuzz corpus seeds from).
func creditPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	return mustParse(t, string(credit.PolicyYAML()))
}

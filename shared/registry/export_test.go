package registry

import "context"

// VerifyOnce is one pass of Verify, for the tests that hold an operation
// where a crash could stop it.
func (r *Registry) VerifyOnce(ctx context.Context, model string) (*VerifyReport, error) {
	return r.verify(ctx, model)
}

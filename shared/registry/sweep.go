package registry

import (
	"context"
	"errors"
)

// ReconcileAll runs Reconcile for every model: the reconcile function's sweep,
// which finishes decisions whose version record or champion pointer never moved.
// It returns how many things it finished.
func (r *Registry) ReconcileAll(ctx context.Context) (int, error) {
	models, err := r.Models(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, m := range models {
		rep, err := r.Reconcile(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done += len(rep.Done)
	}
	return done, errors.Join(errs...)
}

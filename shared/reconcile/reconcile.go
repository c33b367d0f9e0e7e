// Package reconcile runs the platform's repair sweeps: each owner of state
// (ingest, training, the registry) contributes sweeps that finish whatever a
// crash left half done, listed once in Sweeps for the reconcile function and
// the local platform alike. Sweeps are idempotent, so running them often is safe.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Sweep is one repair pass. Run returns how many things it fixed.
type Sweep struct {
	Name string
	Run  func(ctx context.Context) (int, error)
}

// Result is the outcome of one pass over every sweep.
type Result struct {
	Fixed  map[string]int    `json:"fixed"`
	Errors map[string]string `json:"errors,omitempty"`
}

// RunAll runs every sweep, even after one fails, and reports each.
func RunAll(ctx context.Context, log *slog.Logger, sweeps []Sweep) (Result, error) {
	res := Result{Fixed: map[string]int{}}
	var errs []error
	for _, sw := range sweeps {
		n, err := runOne(ctx, sw)
		res.Fixed[sw.Name] = n
		if err != nil {
			if res.Errors == nil {
				res.Errors = map[string]string{}
			}
			res.Errors[sw.Name] = err.Error()
			errs = append(errs, fmt.Errorf("sweep %s: %w", sw.Name, err))
		}
		if n > 0 || err != nil {
			log.Info("reconcile sweep", "sweep", sw.Name, "fixed", n, "error", err)
		}
	}
	return res, errors.Join(errs...)
}

func runOne(ctx context.Context, sw Sweep) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v\n%s", r, debug.Stack())
		}
	}()
	return sw.Run(ctx)
}

// Handler is the reconcile function's entry point: any payload (a scheduled event
// in AWS, a timer tick locally) starts one pass.
func Handler(log *slog.Logger, sweeps []Sweep) func(context.Context, json.RawMessage) error {
	return func(ctx context.Context, _ json.RawMessage) error {
		_, err := RunAll(ctx, log, sweeps)
		return err
	}
}

// Command reconcile is the scheduled repair Lambda: wiring only. Each owner of
// state contributes sweeps; shared/reconcile lists them.
package main

import (
	"log/slog"
	"os"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/reconcile"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the reconcile function's: the sweeps of every owner of state.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	sweeps, err := setup(s, c, log)
	if err != nil {
		return nil, err
	}
	return reconcile.Handler(log, sweeps), nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"}, handler)
}

func setup(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) ([]reconcile.Sweep, error) {
	r, err := lambdaenv.ReadReconcile(os.Getenv)
	if err != nil {
		return nil, err
	}
	// The run sweep needs the Batch settings; a stack without training (none
	// set) still reconciles datasets and the registry.
	t, err := lambdaenv.ReadOptionalTraining(os.Getenv)
	if err != nil {
		return nil, err
	}
	return wire.Sweeps(s, r, t, c, log)
}

// Command reconcile is the scheduled repair Lambda: wiring only. Each owner of
// state contributes sweeps; shared/reconcile lists them.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/reconcile"
	"github.com/openmlops/mlops/shared/wire"
)

func main() {
	log := lambdaenv.Logger()
	sweeps, err := setup(context.Background(), log)
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	lambda.Start(reconcile.Handler(log, sweeps))
}

func setup(ctx context.Context, log *slog.Logger) ([]reconcile.Sweep, error) {
	s, c, err := lambdaenv.Setup(ctx, os.Getenv, "UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	if err != nil {
		return nil, err
	}
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

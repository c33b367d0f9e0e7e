// Command reconcile is the scheduled repair Lambda: wiring only. Each owner of
// state contributes a sweep; see shared/reconcile.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/reconcile"
)

func main() {
	log := lambdaenv.Logger()
	s, err := lambdaenv.Read(os.Getenv)
	if err == nil {
		err = s.Require("UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	}
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(1)
	}
	c, err := lambdaenv.Connect(context.Background(), s)
	if err != nil {
		log.Error("connect", "error", err)
		os.Exit(1)
	}
	ing := ingest.New(c.Store, c.Publisher, ingest.Config{
		UploadsBucket: s.UploadsBucket, PlatformBucket: s.PlatformBucket,
		MaxUploadBytes: s.MaxUploadBytes, TempDir: os.TempDir(), Logger: log,
	})
	sweeps := []reconcile.Sweep{
		{Name: "dataset-events", Run: func(ctx context.Context) (int, error) { return ing.SweepPending(ctx, 2*time.Minute) }},
		{Name: "stray-uploads", Run: func(ctx context.Context) (int, error) { return ing.SweepIncoming(ctx, 20*time.Minute) }},
	}
	lambda.Start(reconcile.Handler(log, sweeps))
}

// Command reconcile is the scheduled repair Lambda: wiring only. Each owner of
// state contributes a sweep; see shared/reconcile.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/reconcile"
	"github.com/openmlops/mlops/shared/registry"
)

func main() {
	log := lambdaenv.Logger()
	s, c, err := lambdaenv.Setup(context.Background(), os.Getenv, "UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	// How old unfinished work must be before reconcile takes it over: longer than
	// an ingest can run (15 minutes) for uploads, a little for unannounced versions.
	var pendingGrace, incomingGrace, runGrace time.Duration
	if err == nil {
		pendingGrace, err = durationEnv("RECONCILE_PENDING_GRACE", 2*time.Minute)
	}
	if err == nil {
		runGrace, err = durationEnv("RECONCILE_RUN_GRACE", 5*time.Minute)
	}
	if err == nil {
		incomingGrace, err = durationEnv("RECONCILE_INCOMING_GRACE", 20*time.Minute)
	}
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	ing := ingest.New(c.Store, c.Publisher, ingest.Config{
		UploadsBucket: s.UploadsBucket, PlatformBucket: s.PlatformBucket,
		MaxUploadBytes: s.MaxUploadBytes, TempDir: os.TempDir(), Logger: log,
	})
	var runSweep func(context.Context) (int, error)
	// The run sweep needs the Batch settings; a stack without training (none
	// set) still reconciles datasets.
	if t, terr := lambdaenv.ReadTraining(os.Getenv); terr == nil {
		train, err := lambdaenv.NewTrainService(s, t, c, log)
		if err != nil {
			log.Error("cold start", "error", err)
			os.Exit(1)
		}
		runSweep = func(ctx context.Context) (int, error) { return train.Sweep(ctx, runGrace) }
	} else if os.Getenv("JOB_QUEUE") != "" {
		log.Error("cold start", "error", terr)
		os.Exit(1)
	}
	sweeps := []reconcile.Sweep{
		{Name: "dataset-events", Run: func(ctx context.Context) (int, error) { return ing.SweepPending(ctx, pendingGrace) }},
		{Name: "stray-uploads", Run: func(ctx context.Context) (int, error) { return ing.SweepIncoming(ctx, incomingGrace) }},
		{Name: "stale-staging", Run: func(ctx context.Context) (int, error) { return ing.SweepStaging(ctx, 24*time.Hour) }},
	}
	if runSweep != nil {
		sweeps = append(sweeps, reconcile.Sweep{Name: "runs", Run: runSweep})
	}
	reg := registry.New(c.Store, registry.Config{Bucket: s.PlatformBucket, Logger: log})
	sweeps = append(sweeps, reconcile.Sweep{Name: "registry", Run: reg.ReconcileAll})
	lambda.Start(reconcile.Handler(log, sweeps))
}

func durationEnv(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: expected a duration such as 20m", name, v)
	}
	return d, nil
}

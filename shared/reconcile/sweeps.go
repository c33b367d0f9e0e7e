package reconcile

import (
	"context"
	"time"
)

// The owners of state, as the sweeps use them (*ingest.Service,
// *training.Service and *registry.Registry).
type (
	// Datasets finishes ingests: versions not yet announced, uploads whose
	// event never came, and staging objects a crash left behind.
	Datasets interface {
		SweepPending(ctx context.Context, grace time.Duration) (int, error)
		SweepIncoming(ctx context.Context, grace time.Duration) (int, error)
		SweepStaging(ctx context.Context, maxAge time.Duration) (int, error)
	}
	// Runs finishes training runs whose claimant went quiet.
	Runs interface {
		Sweep(ctx context.Context, grace time.Duration) (int, error)
	}
	// Models finishes registry decisions a crash left half recorded.
	Models interface {
		ReconcileAll(ctx context.Context) (int, error)
	}
	// Decisions announces decisions that were recorded but whose events never
	// went out (*gate.Service).
	Decisions interface {
		SweepAnnouncements(ctx context.Context, grace time.Duration) (int, error)
	}
)

// Graces are how old unfinished work must be before a sweep takes it over.
type Graces struct {
	Pending  time.Duration // versions written but not announced
	Incoming time.Duration // uploads with no version: longer than an ingest can run
	Runs     time.Duration // claimed runs with no progress
}

// StagingMaxAge is how old a staging object is before it counts as left behind.
const StagingMaxAge = 24 * time.Hour

// Sweeps is the platform's list of sweeps, in the order they run: the reconcile
// function's and the local platform's. runs is nil where nothing trains (a
// stack without Batch), and its sweep is left out.
func Sweeps(datasets Datasets, runs Runs, models Models, decisions Decisions, g Graces) []Sweep {
	sweeps := []Sweep{
		{Name: "dataset-events", Run: func(ctx context.Context) (int, error) { return datasets.SweepPending(ctx, g.Pending) }},
		{Name: "stray-uploads", Run: func(ctx context.Context) (int, error) { return datasets.SweepIncoming(ctx, g.Incoming) }},
		{Name: "stale-staging", Run: func(ctx context.Context) (int, error) { return datasets.SweepStaging(ctx, StagingMaxAge) }},
	}
	if runs != nil {
		sweeps = append(sweeps, Sweep{Name: "runs", Run: func(ctx context.Context) (int, error) { return runs.Sweep(ctx, g.Runs) }})
	}
	return append(sweeps, Sweep{Name: "registry", Run: models.ReconcileAll},
		Sweep{Name: "decision-events", Run: func(ctx context.Context) (int, error) { return decisions.SweepAnnouncements(ctx, g.Pending) }})
}

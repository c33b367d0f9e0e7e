package local

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/bus"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
)

// startDrift registers the drift function on the bus, with the rules that
// route feedback uploads and drift requests to it. Locally the prediction log
// is batched in memory, so the function first writes out every record held:
// a run, or a feedback join, then sees all the traffic answered before it.
func (p *Platform) startDrift(st *store.Store, buckets Buckets, names rules.Names, b *bus.Bus, log *slog.Logger) error {
	svc, err := drift.New(st, p.Registry, ingest.NewDatasets(st, buckets.Platform, buckets.Uploads), b,
		drift.Config{PlatformBucket: buckets.Platform, MonitoringBucket: buckets.Monitoring, UploadsBucket: buckets.Uploads,
			Logger: log.With("function", FuncDrift)})
	if err != nil {
		return fmt.Errorf("local platform: %w", err)
	}
	p.Drift = svc
	b.Register(FuncDrift, func(ctx context.Context, payload json.RawMessage) error {
		if err := p.PredictionLog.Flush(ctx); err != nil {
			return fmt.Errorf("drift: write out the prediction log: %w", err)
		}
		return svc.Handle(ctx, payload)
	})
	return p.subscribe(names, FuncDrift)
}

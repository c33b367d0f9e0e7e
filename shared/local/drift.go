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
		if err := p.SettleLog(ctx); err != nil {
			return fmt.Errorf("drift: write out the prediction log: %w", err)
		}
		return svc.Handle(ctx, payload)
	})
	return p.subscribe(names, FuncDrift)
}

// SettleLog writes out every record of the answers already given: the
// records still on their way to the batcher, then the batcher's buffer.
func (p *Platform) SettleLog(ctx context.Context) error {
	if err := p.Serving.Settle(ctx); err != nil {
		return err
	}
	return p.PredictionLog.Flush(ctx)
}

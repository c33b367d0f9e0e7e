package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/bus"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/serving"
	"github.com/openmlops/mlops/shared/store"
)

// startServing builds the prediction endpoint: the serving use case over
// the registry, logging to the monitoring bucket through a batcher, and told
// of champion moves by the bus.
func (p *Platform) startServing(cfg Config, st *store.Store, buckets Buckets, b *bus.Bus, log *slog.Logger) error {
	sc := cfg.Serving
	if sc.ModelTTL <= 0 {
		sc.ModelTTL = 2 * time.Second
	}
	var key []byte
	if sc.PIIMode != string(predlog.ModeDrop) {
		var err error
		key, err = loadOrCreateKey(filepath.Join(cfg.Dir, "pii-key"), predlog.MinKeyBytes, "the personal-data hashing key",
			"the prediction log's pseudonyms cannot be matched with new ones")
		if err != nil {
			return fmt.Errorf("local platform: %w", err)
		}
	}
	batcher, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: buckets.Monitoring, Interval: sc.LogEvery,
		Logger: log.With("component", "prediction-log")})
	if err != nil {
		return fmt.Errorf("local platform: %w", err)
	}
	scfg := serving.Config{Bucket: buckets.Platform, TTL: sc.ModelTTL,
		Check:   predict.CheckOptions{UnknownFields: sc.UnknownFields, OutOfRange: sc.OutOfRange},
		PIIMode: predlog.Mode(sc.PIIMode), PIIKey: key, SampleRate: sc.SampleRate, Logger: log.With("component", "serving")}
	if sc.NoShadow {
		scfg.ShadowTTL = -1
	}
	svc, err := serving.New(st, p.Registry, ingest.NewDatasets(st, buckets.Platform, buckets.Uploads), b, batcher, scfg)
	if err != nil {
		_ = batcher.Close(context.Background())
		return fmt.Errorf("local platform: %w", err)
	}
	p.Serving, p.PredictionLog = svc, batcher
	b.Register(FuncServing, func(ctx context.Context, payload json.RawMessage) error {
		var env event.Envelope
		var d event.ModelDetail
		if err := json.Unmarshal(payload, &env); err != nil {
			return fmt.Errorf("serving: event: %w", err)
		}
		if err := json.Unmarshal(env.Detail, &d); err != nil || d.Model == "" {
			return fmt.Errorf("serving: event %s: detail.model is required", env.ID)
		}
		return svc.Refresh(ctx, d.Model)
	})
	if err := b.AddRule(FuncServing, ServingPattern, FuncServing); err != nil {
		return fmt.Errorf("local platform: %w", err)
	}
	return nil
}

// closeServing lets the answers in flight finish their records, then writes
// every record held to the store. It is safe to call twice.
func (p *Platform) closeServing(ctx context.Context) error {
	if p.Serving == nil {
		return nil
	}
	err := errors.Join(p.Serving.Close(ctx), p.PredictionLog.Close(ctx))
	p.Serving = nil
	return err
}

// Package drift is the nightly drift use case: for each champion it reads a
// window of the prediction log (shared/predlog), compares every feature with
// the profile of the data the model was trained on (shared/profile, the
// ingest profile of the training dataset version) and the model's outputs
// with the trainer's test-set baseline (bundle.Baseline), joins late labels
// (feedback) for live quality, writes the report under drift/<model>/ in the
// monitoring bucket, announces Drift Detected when the verdict says so, and
// asks for a retraining when the model's policy allows it, at most once per
// cooldown.
//
// The statistics are shared/driftstat's; this package decides which data
// they see. A report is a pure function of its inputs (the logs, the labels,
// the champion, the policy), so re-running a day writes the same bytes, and
// the store keeps one object per window, replaced only when its bytes change.
package drift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// Store is what the drift run reads and writes (*store.Store has it): the
// logs and reports in the monitoring bucket, bundles in the platform bucket,
// feedback files in the uploads bucket.
type Store interface {
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
}

// Registry is what drift reads of the model registry (*registry.Registry).
type Registry interface {
	Models(ctx context.Context) ([]string, error)
	Champion(ctx context.Context, model string) (*registry.Champion, error)
	Get(ctx context.Context, model string, version int) (*registry.Version, error)
}

// Datasets reads the baseline: the training version's manifest, its profile
// and the contract the model was trained under (*ingest.Datasets).
type Datasets interface {
	Manifest(ctx context.Context, dataset, id string) (*ingest.Manifest, error)
	Profile(ctx context.Context, m *ingest.Manifest) (*profile.Dataset, error)
	ContractAt(ctx context.Context, dataset, hash string) (*ingest.Contract, error)
}

// Config configures a Service.
type Config struct {
	// PlatformBucket holds bundles, MonitoringBucket the prediction log,
	// labels and reports, UploadsBucket the feedback files people upload.
	PlatformBucket, MonitoringBucket, UploadsBucket string
	// FeedbackLookback is how many days before a feedback file's arrival its
	// requests may have been logged (default 30).
	FeedbackLookback int
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs drift.
type Service struct {
	st       Store
	reg      Registry
	datasets Datasets
	pub      event.Publisher
	cfg      Config
	log      *slog.Logger
}

// New returns a Service.
func New(st Store, reg Registry, datasets Datasets, pub event.Publisher, cfg Config) (*Service, error) {
	if cfg.PlatformBucket == "" || cfg.MonitoringBucket == "" || cfg.UploadsBucket == "" {
		return nil, errors.New("drift: the platform, monitoring and uploads buckets are required")
	}
	if cfg.FeedbackLookback == 0 {
		cfg.FeedbackLookback = 30
	}
	if cfg.FeedbackLookback < 0 {
		return nil, fmt.Errorf("drift: feedback lookback %d days", cfg.FeedbackLookback)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, reg: reg, datasets: datasets, pub: pub, cfg: cfg, log: log}, nil
}

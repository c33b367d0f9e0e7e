// Package serving is the prediction endpoint's use case: it serves each
// model's champion with the Go evaluator, behind the routes of shared/predict.
//
// A model is resolved through the registry's champion pointer, re-read with a
// conditional GET once TTL has passed, off the request path (on it only when
// the pointer went unread for 2·TTL, so that the version that answers was
// champion within 2·TTL of the request: docs/serving.md); a new champion's
// bundle is fetched and verified (every file's hash, the manifest's against the
// registry's, the evaluator against the trainer's sample predictions, the
// contract it was trained under) before it is swapped in atomically. A request
// holds the model it started with, so every answer names the version that
// computed all of it. A bundle that fails its checks is refused: the previous
// champion keeps serving, and the refusal is logged and announced (Model Load
// Failed).
//
// Inputs are checked against the contract the model was trained under
// (predict.Checker); every scored instance is logged (shared/predlog), with
// personal data dropped or keyed-hashed; and while a version waits for a
// decision it is scored in the champion's shadow on the same instances, its
// outputs logged beside the champion's and never returned.
package serving

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
)

// Registry is what serving reads of the model registry (*registry.Registry
// has it).
type Registry interface {
	ChampionIfChanged(ctx context.Context, model, etag string) (*registry.Champion, string, error)
	Get(ctx context.Context, model string, version int) (*registry.Version, error)
	Candidate(ctx context.Context, model string) (*registry.Version, error)
}

// Contracts reads the contract a model was trained under (*ingest.Datasets
// has it).
type Contracts interface {
	ContractAt(ctx context.Context, dataset, hash string) (*ingest.Contract, error)
}

// Sink takes the prediction log's records (shared/predlog's sinks). ctx
// bounds only a wait: records a Write can take at once it takes even under
// an ended context, which Predict relies on to write without waiting. A sink
// keeps nothing of recs once Write returns (it encodes them first): their
// memory, features and outputs included, is the next request's.
type Sink interface {
	Write(ctx context.Context, recs []predlog.Record) error
}

// Config configures a Service.
type Config struct {
	// Bucket is the platform bucket, where the registry's bundles are.
	Bucket string
	// TTL is how stale the champion may be: the pointer is re-read (a
	// conditional GET) once this has passed since it was last read, and the
	// version that answers a request was champion at some moment within
	// 2·TTL before it. Default 5 s.
	TTL time.Duration
	// ShadowTTL is how often the version waiting for a decision is looked
	// for (a listing of the model's versions). Default 30 s; negative: no
	// shadow scoring.
	ShadowTTL time.Duration
	// RetryAfter is how long a bundle that failed to load is left alone
	// before it is tried again. Default 1 min.
	RetryAfter time.Duration
	// LoadTimeout bounds a background refresh. Default 1 min.
	LoadTimeout time.Duration
	// Check says what the contract check does with unknown fields and
	// out-of-range values.
	Check predict.CheckOptions
	// PIIMode and PIIKey say what becomes of personal data in the log
	// (predlog.NewRedactor): keyed-hashed with PIIKey, or dropped.
	PIIMode predlog.Mode
	PIIKey  []byte
	// SampleRate is the share of requests logged (0 < rate ≤ 1; 0 means 1).
	SampleRate float64
	// LogBeforeAnswer makes Predict return only once its records (with the
	// shadow's outputs) are written: in Lambda, where nothing may be left
	// waiting once the answer goes out. Otherwise records are completed in
	// the background, and Close waits for them.
	LogBeforeAnswer bool
	// ShadowWait bounds how long a logged record waits for the shadow's
	// outputs (default 1 s); a shadow that takes longer is logged as timed out.
	ShadowWait time.Duration
	// Reasons is how many reason codes an explanation carries (default 3).
	Reasons int
	Now     func() time.Time
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 5 * time.Second
	}
	if c.ShadowTTL == 0 {
		c.ShadowTTL = 30 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Minute
	}
	if c.LoadTimeout <= 0 {
		c.LoadTimeout = time.Minute
	}
	if c.SampleRate <= 0 || c.SampleRate > 1 {
		c.SampleRate = 1
	}
	if c.ShadowWait <= 0 {
		c.ShadowWait = time.Second
	}
	if c.Reasons <= 0 {
		c.Reasons = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Service serves predictions. It is safe for concurrent use.
type Service struct {
	src       bundlestore.Source
	reg       Registry
	contracts Contracts
	pub       event.Publisher
	sink      Sink
	cfg       Config
	log       *slog.Logger
	sampler   predlog.Sampler

	mu     sync.Mutex
	models map[string]*entry
	wg     sync.WaitGroup // background refreshes and log completions
	closed bool
	// logsInFlight counts answers whose records are not yet in the sink;
	// logsSettled is closed when it falls to 0 (Settle).
	logsInFlight int
	logsSettled  chan struct{}
}

// New returns a Service reading bundles from src, the champion from reg and
// contracts from contracts, announcing refused bundles on pub and logging
// predictions to sink.
func New(src bundlestore.Source, reg Registry, contracts Contracts, pub event.Publisher, sink Sink, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	sampler, err := predlog.NewSampler(cfg.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	if u := cfg.Check.UnknownFields; u != "" && u != predict.Reject && u != predict.Ignore {
		return nil, fmt.Errorf("serving: unknown fields %q: expected %s or %s", u, predict.Reject, predict.Ignore)
	}
	if o := cfg.Check.OutOfRange; o != "" && o != predict.Reject && o != predict.Flag {
		return nil, fmt.Errorf("serving: out of range %q: expected %s or %s", o, predict.Reject, predict.Flag)
	}
	// A key or mode the redactor refuses is refused now, not at the first load.
	if _, err := predlog.NewRedactor(&contract.Contract{}, cfg.PIIMode, cfg.PIIKey); err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	return &Service{src: src, reg: reg, contracts: contracts, pub: pub, sink: sink, cfg: cfg,
		log: cfg.Logger, sampler: sampler, models: map[string]*entry{}}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Close waits, until ctx ends, for the records still being completed in the
// background to reach the sink, and for background refreshes to stop. The
// caller closes the sink afterwards.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serving: close: %w", ctx.Err())
	}
}

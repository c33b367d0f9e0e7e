// Package local wires the platform for `mlops up`: the embedded S3 endpoint, the
// in-process event bus, and the same handler functions the Lambda mains call, with
// local adapters in place of AWS's.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/api"
	localbatch "github.com/openmlops/mlops/shared/local/batch"
	"github.com/openmlops/mlops/shared/local/bus"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/reconcile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/serving"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
	"github.com/openmlops/mlops/trainer"
)

// Config configures a local platform.
type Config struct {
	Dir    string // state directory; everything the platform keeps lives under it
	S3Addr string // default 127.0.0.1:9000
	// ReconcileEvery is the period of the reconcile timer (default 1 minute; <0 disables).
	ReconcileEvery time.Duration
	// DriftEvery is the period of the drift timer, which compares every
	// champion's traffic of the previous UTC day with its training data
	// (default 24 hours, at 01:30 UTC as in the stack; <0 disables; mlops
	// drift run asks at any time).
	DriftEvery time.Duration
	// PendingGrace and IncomingGrace are how old unfinished work must be before
	// reconcile takes it over (defaults 1 and 5 minutes); PendingGrace serves
	// for quiet training runs too (RECONCILE_RUN_GRACE in AWS).
	PendingGrace, IncomingGrace time.Duration
	MaxUploadBytes              int64
	// Retries and Backoff of the asynchronous invocations (Lambda's are 2, 1 and 2 minutes).
	Retries int
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger

	// Python runs the reference trainer (default /usr/bin/python3 when it
	// exists, else python3 from PATH); the platform installs the trainer into
	// <dir>/trainer at start and runs that folder. TrainerCommand replaces both (a
	// bring-your-own trainer); a spec's own trainer command wins over either.
	Python         string
	TrainerCommand []string
	// TrainConcurrency is how many training jobs run at once (default 1).
	TrainConcurrency int
	// RunLease is how long a run's claim is its claimant's (default 5 minutes).
	RunLease time.Duration
	// APIAddr is the HTTPS API's address (default 127.0.0.1:0: any free port).
	APIAddr string
	// Principal is who the API's callers act as (default local:<user>).
	Principal string

	// SiteAddr is where the governance site (the site bucket, which the
	// report function publishes) is served read-only over plain HTTP; empty:
	// not served. It must be a loopback address unless SiteRemote: the site
	// has no authentication.
	SiteAddr   string
	SiteRemote bool

	// Serving configures the prediction endpoint: how stale a champion may
	// be, the contract check's settings, the log's sampling and personal
	// data (keyed-hashed with <dir>/pii-key unless PIIMode is drop).
	Serving Serving
}

// Serving configures the local prediction endpoint (see serving.Config).
type Serving struct {
	ModelTTL      time.Duration // default 2s
	UnknownFields string        // reject (default) or ignore
	OutOfRange    string        // reject (default) or flag
	PIIMode       string        // hmac (default) or drop
	SampleRate    float64       // default 1
	LogEvery      time.Duration // the prediction log's flush interval (default 10s)
	NoShadow      bool          // no shadow scoring of the version awaiting a decision
}

// Platform is a running local platform.
type Platform struct {
	Endpoint Endpoint
	Store    *store.Store
	Bus      *bus.Bus
	Ingest   *ingest.Service
	Train    *training.Service
	Gate     *gate.Service
	Registry *registry.Registry
	Batch    *localbatch.Runner
	// API is the HTTPS API; later stages add their routes with API.Handle.
	API *api.Server
	// Serving is the prediction endpoint behind the API's prediction routes,
	// logging to PredictionLog (the monitoring bucket).
	Serving       *serving.Service
	PredictionLog *predlog.Batcher
	// Drift compares the champions' traffic with their training data.
	Drift *drift.Service
	// Report publishes the governance site into the site bucket.
	Report *report.Service
	// Trainer is the command that trains a spec that names none.
	Trainer []string
	// Rules are the event rules the bus routes by: shared/rules' (and the
	// console's, which is local only and not among them).
	Rules []rules.Rule

	s3     *s3srv.Server
	site   *siteServer
	cancel context.CancelFunc
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error
	log       *slog.Logger
	sweeps    []reconcile.Sweep
}

// Function names, as in the stack (shared/rules); the console, which logs
// every platform event, is the local platform's own.
const (
	FuncIngest    = rules.Ingest
	FuncReconcile = rules.Reconcile
	FuncConsole   = "console"
	FuncTrain     = rules.Train
	FuncGate      = rules.Gate
	FuncDrift     = rules.Drift
	FuncReport    = rules.Report
	// FuncServing takes the registry's champion events locally, so that the
	// endpoint serves a new champion at once rather than after its TTL (in
	// AWS the TTL alone bounds it: a Lambda cannot be told).
	FuncServing = "serving"
)

// ServingPattern routes the events that move a champion to FuncServing.
const ServingPattern = `{"source":["mlops"],"detail-type":["Model Promoted","Model Rolled Back","Model Retired","Promotion Pending","Model Rejected"]}`

// ConsolePattern routes every platform event to the console.
const ConsolePattern = `{"source":["mlops"]}`

// Start brings the platform up and writes dir/endpoint.json. When it fails,
// it closes whatever it had started (the S3 endpoint, the batch runner, the
// bus, the API), so that a caller can retry on the same directory and ports.
func Start(ctx context.Context, cfg Config) (_ *Platform, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("local platform: a state directory is required")
	}
	if cfg.S3Addr == "" {
		cfg.S3Addr = "127.0.0.1:9000"
	}
	if cfg.ReconcileEvery == 0 {
		cfg.ReconcileEvery = time.Minute
	}
	if cfg.PendingGrace == 0 {
		cfg.PendingGrace = time.Minute
	}
	if cfg.DriftEvery == 0 {
		cfg.DriftEvery = 24 * time.Hour
	}
	if cfg.IncomingGrace == 0 {
		cfg.IncomingGrace = 5 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "s3"), filepath.Join(cfg.Dir, "dead-letter"), filepath.Join(cfg.Dir, "tmp"),
		filepath.Join(cfg.Dir, "trainer"), filepath.Join(cfg.Dir, "batch")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("local platform: %w", err)
		}
	}
	creds, err := loadOrCreateCredentials(filepath.Join(cfg.Dir, "credentials.json"))
	if err != nil {
		return nil, err
	}
	buckets := DefaultBuckets()
	region := "us-east-1"

	// What Start has opened, closed in reverse order should a later step fail
	// (the bus holds nothing to close until S3 can send it events).
	var opened []func(context.Context) error
	defer func() {
		if err == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for i := len(opened) - 1; i >= 0; i-- {
			_ = opened[i](cctx)
		}
	}()

	b := bus.New(bus.Config{DeadLetterDir: filepath.Join(cfg.Dir, "dead-letter"), Retries: cfg.Retries, Backoff: cfg.Backoff,
		Region: region, Logger: log.With("component", "bus")})
	srv, err := s3srv.New(s3srv.Config{
		Dir: filepath.Join(cfg.Dir, "s3"), Addr: cfg.S3Addr, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		Region: region, Buckets: buckets.All(), Logger: log.With("component", "s3"),
		OnObjectCreated: func(ctx context.Context, ev event.Envelope) {
			if err := b.PutEvents(context.WithoutCancel(ctx), ev); err != nil {
				log.Error("route S3 event", "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("local platform: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("local platform: start S3 on %s: %w", cfg.S3Addr, err)
	}
	// Closed in Close's order: the bus drains while S3 is still up.
	opened = append(opened, srv.Close, b.Close)

	// One client for all: a function's requests (marked by the bus's Lambda
	// context or by heldTo) are held to its grants, the operator's are not.
	awsCfg := aws.Config{Region: region,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		APIOptions:  []func(*middleware.Stack) error{enforceGrants(buckets, log.With("component", "grants"), "")}}
	st := store.New(store.NewClient(awsCfg, srv.URL(), true), store.Options{})
	// The training jobs' own reads and writes, held to the job role's grants.
	jobCfg := awsCfg.Copy()
	jobCfg.APIOptions = []func(*middleware.Stack) error{enforceGrants(buckets, log.With("component", "grants"), rules.Trainer)}
	jobStore := store.New(store.NewClient(jobCfg, srv.URL(), true), store.Options{})
	ing := ingest.New(st, b, ingest.Config{UploadsBucket: buckets.Uploads, PlatformBucket: buckets.Platform,
		MaxUploadBytes: cfg.MaxUploadBytes, TempDir: filepath.Join(cfg.Dir, "tmp"), Logger: log.With("function", FuncIngest)})

	trainerCmd, err := localTrainer(cfg)
	if err != nil {
		return nil, err
	}

	p := &Platform{Store: st, Bus: b, Ingest: ing, Trainer: trainerCmd, s3: srv, done: make(chan struct{}), log: log}
	names := rules.Names{UploadsBucket: buckets.Uploads, PlatformBucket: buckets.Platform, MonitoringBucket: buckets.Monitoring}
	// The runner reports jobs a previous process left behind as soon as it
	// starts, so the train function is registered and subscribed (waiting for
	// the service) before the runner exists.
	trainReady := make(chan struct{})
	b.Register(FuncTrain, func(ctx context.Context, payload json.RawMessage) error {
		select {
		case <-trainReady:
		case <-ctx.Done():
			return ctx.Err()
		}
		return p.Train.Handle(ctx, payload)
	})
	if err := p.subscribe(names, FuncTrain); err != nil {
		return nil, err
	}
	runner, err := localbatch.New(ctx, localbatch.Config{Store: st, JobStore: jobStore, Events: b, Dir: filepath.Join(cfg.Dir, "batch"),
		LogBucket: buckets.Platform, MaxConcurrent: cfg.TrainConcurrency, Region: region, Logger: log.With("component", "batch")})
	if err != nil {
		return nil, fmt.Errorf("local platform: %w", err)
	}
	opened = append(opened, runner.Close)
	p.Batch = runner
	p.Train = training.New(st, b, runner, training.StoreSpecs{Store: st, Bucket: buckets.Platform},
		training.CommandTrainers{Default: trainerCmd}, training.BundleVerifier(st),
		training.Config{Bucket: buckets.Platform, Lease: cfg.RunLease, Logger: log.With("function", FuncTrain)})
	close(trainReady)

	auditKey, err := loadOrCreateAuditKey(filepath.Join(cfg.Dir, "audit-key"))
	if err != nil {
		return nil, fmt.Errorf("local platform: %w", err)
	}
	p.Registry = registry.New(st, registry.Config{Bucket: buckets.Platform, Signer: auditKey, Logger: log.With("component", "registry")})
	p.Gate = gate.New(st, b, p.Registry, gate.Config{Bucket: buckets.Platform, Logger: log.With("function", FuncGate)})
	b.Register(FuncGate, p.Gate.Handle)
	if err := p.subscribe(names, FuncGate); err != nil {
		return nil, err
	}

	p.sweeps = reconcile.Sweeps(ing, p.Train, p.Registry, p.Gate,
		reconcile.Graces{Pending: cfg.PendingGrace, Incoming: cfg.IncomingGrace, Runs: cfg.PendingGrace})
	b.Register(FuncIngest, ing.Handle)
	b.Register(FuncReconcile, reconcile.Handler(log.With("function", FuncReconcile), p.sweeps))
	b.Register(FuncConsole, func(_ context.Context, payload json.RawMessage) error {
		var env event.Envelope
		if json.Unmarshal(payload, &env) == nil {
			log.Info("event", "detail-type", env.DetailType, "detail", string(env.Detail))
		}
		return nil
	})
	if err := p.subscribe(names, FuncIngest); err != nil {
		return nil, err
	}
	if err := b.AddRule(FuncConsole, ConsolePattern, FuncConsole); err != nil {
		return nil, err
	}

	if err := p.startServing(cfg, st, buckets, b, log); err != nil {
		return nil, err
	}
	opened = append(opened, p.closeServing)
	if err := p.startDrift(st, buckets, names, b, log); err != nil {
		return nil, err
	}
	if err := p.startReport(st, buckets, names, b, log); err != nil {
		return nil, err
	}
	if cfg.SiteAddr != "" {
		if p.site, err = startSite(cfg.SiteAddr, cfg.SiteRemote, st, buckets.Site, log.With("component", "site")); err != nil {
			return nil, fmt.Errorf("local platform: %w", err)
		}
		opened = append(opened, p.site.Close)
	}

	principal := cfg.Principal
	if principal == "" {
		principal = LocalPrincipal()
	}
	apiSrv, err := api.New(api.Config{Addr: cfg.APIAddr, Dir: cfg.Dir, Principal: principal, Logger: log.With("component", "api")})
	if err != nil {
		return nil, fmt.Errorf("local platform: %w", err)
	}
	p.API = apiSrv
	// Human decisions go through the API as the local user, never straight to S3.
	principalOf := func(r *http.Request) string { return api.Principal(r.Context()) }
	for pattern, h := range p.Gate.Routes(principalOf) {
		apiSrv.Handle(pattern, heldTo(FuncGate, h))
	}
	// Locally the prediction routes share the one HTTPS server; in AWS they
	// are an API of their own, so that a caller who may predict cannot decide.
	for pattern, h := range predict.Routes(p.Serving, principalOf, log.With("component", "predict"), predict.Limits{}) {
		apiSrv.Handle(pattern, heldTo(rules.Predict, h))
	}
	// The OpenAPI document of both APIs, behind the token like every route but /healthz.
	apiSrv.Handle(apidoc.Route, apidoc.Handler(apidoc.JSON(), principalOf))
	apiSrv.Start()
	opened = append(opened, apiSrv.Close)

	p.Endpoint = Endpoint{
		S3:      S3Endpoint{URL: srv.URL(), Region: region, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
		API:     API{URL: apiSrv.URL(), Token: apiSrv.Token(), CACert: apiSrv.CACertFile()},
		Buckets: buckets, Dir: cfg.Dir, PID: os.Getpid(), StartedAt: time.Now().UTC(),
	}
	if p.site != nil {
		p.Endpoint.Site = p.site.URL()
	}
	if err := WriteEndpoint(cfg.Dir, p.Endpoint); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	go p.timer(runCtx, cfg.ReconcileEvery, cfg.DriftEvery)
	return p, nil
}

// subscribe adds the rules (shared/rules) that route to function, which is
// registered, to the bus.
func (p *Platform) subscribe(names rules.Names, function string) error {
	for _, r := range rules.All(names) {
		if r.Function != function {
			continue
		}
		if err := p.Bus.AddRule(r.Name, r.Pattern.JSON(), r.Function); err != nil {
			return fmt.Errorf("local platform: %w", err)
		}
		p.Rules = append(p.Rules, r)
	}
	return nil
}

// LocalPrincipal is who acts through the local API: the user running mlops up.
func LocalPrincipal() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return "local:" + n
	}
	return "local:unknown"
}

// localTrainer installs the reference trainer into the state directory (so
// that mlops up works from any directory) and returns the command that runs
// it, unless the configuration names another trainer. The command names the
// trainer's folder, which Python runs as a program (its __main__.py), so that
// the trainer's identity (training.CommandTrainers) is the whole tree's.
func localTrainer(cfg Config) ([]string, error) {
	if len(cfg.TrainerCommand) > 0 {
		return cfg.TrainerCommand, nil
	}
	dir := filepath.Join(cfg.Dir, "trainer")
	if err := trainer.Install(dir); err != nil {
		return nil, fmt.Errorf("local platform: %w", err)
	}
	python := cfg.Python
	if python == "" {
		python = "python3"
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			python = "/usr/bin/python3" // Debian's, where python3-xgboost lives
		}
	}
	return []string{python, dir}, nil
}

// Reconcile runs one reconcile pass now, synchronously, as the reconcile
// function (held to its grants).
func (p *Platform) Reconcile(ctx context.Context) (reconcile.Result, error) {
	return reconcile.RunAll(asFunction(ctx, FuncReconcile), p.log, p.sweeps)
}

func (p *Platform) timer(ctx context.Context, reconcileEvery, driftEvery time.Duration) {
	defer close(p.done)
	tick := func(every time.Duration) (<-chan time.Time, func()) {
		if every < 0 {
			return nil, func() {}
		}
		t := time.NewTicker(every)
		return t.C, t.Stop
	}
	rc, stopR := tick(reconcileEvery)
	defer stopR()
	// The drift timer fires as the stack's schedule does (rules.DriftSchedule,
	// 01:30 UTC) when its period is a day, so that a platform restarted every
	// day still runs it; other periods count from the start.
	var dc <-chan time.Time
	if driftEvery >= 0 {
		first := driftEvery
		if driftEvery == 24*time.Hour {
			first = time.Until(nextDriftTime(time.Now()))
		}
		t := time.NewTimer(first)
		defer t.Stop()
		dc = t.C
	}
	var dt *time.Ticker
	defer func() {
		if dt != nil {
			dt.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-rc:
			p.schedule(ctx, FuncReconcile, now)
		case now := <-dc:
			p.schedule(ctx, FuncDrift, now)
			if dt == nil {
				dt = time.NewTicker(driftEvery)
				dc = dt.C
			}
		}
	}
}

// nextDriftTime is the next 01:30 UTC after now: the nightly drift run's time.
func nextDriftTime(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	t := time.Date(y, m, d, 1, 30, 0, 0, time.UTC)
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// schedule invokes function with an EventBridge Scheduled Event, as the
// stack's schedules do.
func (p *Platform) schedule(ctx context.Context, function string, now time.Time) {
	payload, _ := json.Marshal(event.Envelope{Version: "0", ID: fmt.Sprintf("schedule-%d", now.UnixNano()),
		DetailType: event.ScheduledEventType, Source: event.ScheduledSource, Time: now.UTC(), Region: p.Endpoint.S3.Region,
		Resources: []string{"arn:aws:events:local:000000000000:rule/" + function}, Detail: json.RawMessage("{}")})
	if err := p.Bus.InvokeAsync(ctx, function, payload); err != nil {
		p.log.Error("schedule "+function, "error", err)
	}
}

// WaitIdle returns once no event is queued, running or waiting for a retry, and
// no training job is queued or running. Events start jobs and jobs raise events,
// so it waits for each in turn until a round finds both idle.
func (p *Platform) WaitIdle(ctx context.Context) error {
	for {
		// A job that ends between the two waits has put its last event on the
		// bus already: the runner's event count tells that round apart.
		n := p.Batch.EventsSent()
		if err := p.Bus.WaitIdle(ctx); err != nil {
			return err
		}
		if err := p.Batch.WaitIdle(ctx); err != nil {
			return err
		}
		if p.Batch.EventsSent() == n {
			return nil
		}
	}
}

// Close stops the platform: the timer, then the S3 endpoint (no new events), then
// the bus (draining what is queued), and removes endpoint.json. Only the first
// call does the work; later ones return its result.
func (p *Platform) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Platform) close(ctx context.Context) error {
	p.cancel()
	<-p.done
	// Jobs first (their last events still reach the train function), then the
	// bus drains while S3 is still up for the handlers, then S3.
	errAPI := p.API.Close(ctx)
	errSite := p.site.Close(ctx)
	// Every answered prediction's record reaches the store before S3 stops.
	errServing := p.closeServing(ctx)
	errBatch := p.Batch.Close(ctx)
	errBus := p.Bus.Close(ctx)
	errS3 := p.s3.Close(ctx)
	errEP := os.Remove(filepath.Join(p.Endpoint.Dir, EndpointFile))
	if errors.Is(errEP, os.ErrNotExist) {
		errEP = nil
	}
	return errors.Join(errAPI, errSite, errServing, errBatch, errS3, errBus, errEP)
}

type credentialsFile struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// loadOrCreateCredentials keeps one key pair per state directory, so clients
// configured against a platform keep working across restarts.
func loadOrCreateCredentials(path string) (credentialsFile, error) {
	var c credentialsFile
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return c, fmt.Errorf("credentials file %s is damaged; remove it to make new credentials", path)
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("read credentials: %w", err)
	}
	// rand.Text is 26 base32 characters (130 bits) and cannot fail.
	c = credentialsFile{AccessKeyID: "AKLOCAL" + rand.Text()[:13], SecretAccessKey: rand.Text() + rand.Text()}
	b, _ = json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return c, fmt.Errorf("write credentials: %w", err)
	}
	return c, nil
}

// loadOrCreateAuditKey keeps the key that signs the audit trail's checkpoints
// (docs/registry.md, "Trust model"): one per state directory, made at the
// first start, readable by its owner only, and never in the bucket.
func loadOrCreateAuditKey(path string) (*registry.HMACSigner, error) {
	key, err := loadOrCreateKey(path, registry.MinHMACKey, "the audit signing key", "the trail's checkpoints cannot be verified")
	if err != nil {
		return nil, err
	}
	return registry.NewHMACSigner(key)
}

// loadOrCreateKey keeps a secret of n random bytes, hex, in path: made at the
// first start, readable by its owner only, and never in a bucket. what names
// it in errors, and lost says what is lost without it.
func loadOrCreateKey(path string, n int, what, lost string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, n)
		rand.Read(key) // never fails (crypto/rand)
		b = []byte(hex.EncodeToString(key))
		if err = os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", what, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < n {
		return nil, fmt.Errorf("%s %s is damaged (without it %s): expected %d hex-encoded bytes", what, path, lost, n)
	}
	return key, nil
}

// Package lambdaenv turns a Lambda function's environment into the platform's
// settings and AWS clients, so every functions/<name>/main.go reads its
// configuration the same way, once, at cold start.
package lambdaenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	ebpub "github.com/openmlops/mlops/shared/aws/eventbridge"
	"github.com/openmlops/mlops/shared/store"
)

// DefaultMaxUploadBytes is the largest upload one ingest invocation accepts when
// MAX_UPLOAD_BYTES is not set: 20 GiB. Whole ingest (read through S3, SHA-256,
// validate, profile, gzip and upload the canonical form, copy, manifest) measured
// 49 MB/s end to end on 2 cores with the S3 endpoint's own work on the same cores
// (docs/benchmarks.md); at the stack's 4096 MB (about 2.3 vCPU) that is 44 GB in
// the 900 s Lambda limit, halved for S3 throughput variance and cold starts.
// Larger uploads are rejected unread with a message saying to split them.
const DefaultMaxUploadBytes = 20 << 30

// Settings are the environment variables the stack sets on every function.
type Settings struct {
	UploadsBucket    string // UPLOADS_BUCKET
	PlatformBucket   string // PLATFORM_BUCKET
	MonitoringBucket string // MONITORING_BUCKET
	SiteBucket       string // SITE_BUCKET
	EventBus         string // EVENT_BUS_NAME
	MaxUploadBytes   int64  // MAX_UPLOAD_BYTES (default DefaultMaxUploadBytes; 0 = no limit)
	// AuditKeyID is the KMS HMAC key that signs the audit trail's checkpoints
	// (AUDIT_KEY_ID: an ID, ARN or alias); empty: the trail is unanchored.
	AuditKeyID string
	// AuditLockMode (AUDIT_LOCK_MODE: GOVERNANCE or COMPLIANCE) and
	// AuditLockDays (AUDIT_LOCK_DAYS) are the S3 Object Lock retention the
	// registry sets on each audit record; empty: none.
	AuditLockMode string
	AuditLockDays int
	// DistributionID is the CloudFront distribution in front of the site
	// bucket, whose cache the report function invalidates
	// (DISTRIBUTION_ID); empty: none.
	DistributionID string
	// S3Endpoint and EventsEndpoint override AWS's endpoints (LocalStack, tests);
	// S3PathStyle forces path-style bucket addressing (needed for IP endpoints).
	S3Endpoint     string // MLOPS_S3_ENDPOINT
	S3PathStyle    bool   // MLOPS_S3_PATH_STYLE
	EventsEndpoint string // MLOPS_EVENTS_ENDPOINT
}

// Read reads the settings through getenv (os.Getenv in main).
func Read(getenv func(string) string) (Settings, error) {
	s := Settings{
		UploadsBucket: getenv("UPLOADS_BUCKET"), PlatformBucket: getenv("PLATFORM_BUCKET"),
		MonitoringBucket: getenv("MONITORING_BUCKET"), SiteBucket: getenv("SITE_BUCKET"),
		EventBus: getenv("EVENT_BUS_NAME"), S3Endpoint: getenv("MLOPS_S3_ENDPOINT"),
		EventsEndpoint: getenv("MLOPS_EVENTS_ENDPOINT"), MaxUploadBytes: DefaultMaxUploadBytes,
		AuditKeyID: getenv("AUDIT_KEY_ID"), DistributionID: getenv("DISTRIBUTION_ID"),
	}
	if mode, days := getenv("AUDIT_LOCK_MODE"), getenv("AUDIT_LOCK_DAYS"); mode != "" || days != "" {
		n, err := strconv.Atoi(days)
		switch {
		case mode != "GOVERNANCE" && mode != "COMPLIANCE":
			return s, fmt.Errorf("AUDIT_LOCK_MODE=%q: expected GOVERNANCE or COMPLIANCE (with AUDIT_LOCK_DAYS)", mode)
		case err != nil || n < 1:
			return s, fmt.Errorf("AUDIT_LOCK_DAYS=%q: expected a whole number of days, at least 1 (with AUDIT_LOCK_MODE)", days)
		}
		s.AuditLockMode, s.AuditLockDays = mode, n
	}
	if v := getenv("MAX_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s, fmt.Errorf("MAX_UPLOAD_BYTES=%q: expected a non-negative integer", v)
		}
		s.MaxUploadBytes = n
	}
	if v := getenv("MLOPS_S3_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("MLOPS_S3_PATH_STYLE=%q: expected true or false", v)
		}
		s.S3PathStyle = b
	}
	return s, nil
}

// Require reports the first of the named settings that is empty.
func (s Settings) Require(names ...string) error {
	vals := map[string]string{"UPLOADS_BUCKET": s.UploadsBucket, "PLATFORM_BUCKET": s.PlatformBucket,
		"MONITORING_BUCKET": s.MonitoringBucket, "SITE_BUCKET": s.SiteBucket, "EVENT_BUS_NAME": s.EventBus}
	for _, n := range names {
		if vals[n] == "" {
			return fmt.Errorf("environment variable %s is required", n)
		}
	}
	return nil
}

// Clients are the AWS clients a function builds once per cold start.
type Clients struct {
	AWS       aws.Config
	Store     *store.Store
	Publisher *ebpub.Publisher
}

// Connect loads the AWS configuration (the function's role) and builds the clients.
func Connect(ctx context.Context, s Settings) (*Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if s.EventsEndpoint != "" {
			o.BaseEndpoint = aws.String(s.EventsEndpoint)
		}
	})
	return &Clients{
		AWS:       cfg,
		Store:     store.New(store.NewClient(cfg, s.S3Endpoint, s.S3PathStyle), store.Options{}),
		Publisher: ebpub.New(eb, s.EventBus),
	}, nil
}

// Stdout is the function's standard output, one Write at a time: the logger
// and the prediction log's records share it, and a line written by two
// goroutines at once could be interleaved past the pipe's atomic size.
var Stdout io.Writer = &lockedWriter{w: os.Stdout}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Logger is the JSON logger Lambda's log stream gets.
func Logger() *slog.Logger { return slog.New(slog.NewJSONHandler(Stdout, nil)) }

// Setup reads the settings through getenv, checks the required ones, and connects:
// everything a function's main does once at cold start.
func Setup(ctx context.Context, getenv func(string) string, required ...string) (Settings, *Clients, error) {
	s, err := Read(getenv)
	if err != nil {
		return s, nil, err
	}
	if err := s.Require(required...); err != nil {
		return s, nil, err
	}
	c, err := Connect(ctx, s)
	return s, c, err
}

// Start is a function's main: once at cold start it reads the settings
// through getenv, checks the required ones, connects (Setup) and builds the
// handler with setup, then hands the handler to the Lambda runtime. A cold
// start that fails is logged ("cold start", with the error) and exits 1, before
// any event is asked for.
func Start(getenv func(string) string, required []string,
	setup func(s Settings, c *Clients, log *slog.Logger) (handler any, err error)) {
	log := Logger()
	s, c, err := Setup(context.Background(), getenv, required...)
	var h any
	if err == nil {
		h, err = setup(s, c, log)
	}
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// Package wire builds the platform's use cases for the Lambda functions, from
// the settings and AWS clients shared/aws/lambdaenv reads and makes at cold
// start: the composition each functions/<name>/main.go calls, so that two
// functions that run one use case build it one way.
//
// # Floors
//
// The module's packages stand on five floors. A package imports packages on
// its own floor or on floors below it, never above, but for the exceptions
// listed; the standard library and third-party libraries are on no floor (a
// format may use a YAML parser, an adapter an AWS SDK).
//
//  1. Entry points: cmd/..., functions/..., bench/..., examples/byo-trainer.
//     Mains: they read configuration and hand it to composition.
//  2. Composition: shared/wire (the Lambda functions; shared/wire/predictwire
//     the predict function's, apart so that it links no more than serving
//     needs) and shared/local (the platform of `mlops up`). The only packages that construct use cases over
//     adapters; only entry points import them.
//  3. Use cases: shared/ingest, shared/training, shared/gate, shared/registry,
//     shared/reconcile, shared/testset, shared/serving (the prediction
//     endpoint), shared/drift (the nightly drift run and the feedback
//     join), reportgen (the governance site: gathered through the owners'
//     readers, rendered from templates), shared/report (publishing
//     that site), and their APIs (shared/decisions: the
//     routes, types, error codes and client of the decisions API, over the
//     registry's types; shared/predict: those of the prediction API, with the
//     check of instances against the contract). The platform's work, over adapters taken as
//     interfaces declared where consumed (or as *store.Store). A use case
//     reads another's state only through that owner's reader (training, the
//     gate and testset read datasets through ingest.Datasets).
//  4. Adapters: shared/store, shared/pointer, shared/bundlestore,
//     shared/policystore, shared/specstore, shared/predlog (the prediction
//     log's record, sinks and reader), shared/aws/... (lambdaenv included: it reads settings,
//     builds AWS clients and starts the Lambda runtime, and builds no use case;
//     shared/aws/stackout reads a stack's outputs and shared/aws/sigv4http signs
//     API requests, for `mlops --stack`), and the local adapters
//     shared/local/{s3,bus,batch,api,runtimeapi}. All the I/O: S3,
//     EventBridge, Batch, HTTP, processes. An adapter never constructs a use
//     case; it imports one only for the port it implements (shared/aws/batch
//     and shared/local/batch implement training.Batch).
//  5. Formats: shared/bundle, shared/policy, shared/spec, shared/contract,
//     shared/profile, shared/table, shared/validate, shared/xgboost,
//     shared/metrics, shared/yamldoc, shared/hashid, shared/jsonappend (JSON
//     scalars written as encoding/json writes them), shared/naming, shared/clip,
//     shared/apierror (the APIs' error body, route guard and client side),
//     shared/apidoc (the APIs' OpenAPI document),
//     shared/event, shared/rules, shared/feedback (the ground-truth upload
//     format), shared/quality (live quality and its estimate from
//     probabilities), shared/driftstat (drift's statistics over profiles and
//     bundles), shared/parallel (bounded fan-out), shared/reuse (pooled
//     buffers taken and given back cleared), events, templates (the
//     site's embedded templates and assets),
//     examples/credit, trainer. Documents, their rules and their encodings.
//     They reach no store, bus or service: they read what they are handed (an
//     io.Reader, an fs.FS, a local path or scratch directory) and import no
//     adapter. They sit below the adapters because adapters carry them (an
//     event on a bus, a bundle in S3).
//
// Test helpers (shared/local/lambdatest, shared/local/localtest, shared/apidoc/apidoctest, shared/pythontest,
// reportgen/reportgentest, trainer/trainertest, shared/aws/awstest, shared/event/eventtest) are
// imported by tests only, and may import anything. TestFloors holds the
// module to this: a new package must be placed on a floor there.
package wire

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	awscloudfront "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/aws/batch"
	"github.com/openmlops/mlops/shared/aws/cloudfront"
	"github.com/openmlops/mlops/shared/aws/kmsmac"
	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/reconcile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
)

// Ingest builds the ingest use case.
func Ingest(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) *ingest.Service {
	return ingest.New(c.Store, c.Publisher, ingest.Config{
		UploadsBucket: s.UploadsBucket, PlatformBucket: s.PlatformBucket,
		MaxUploadBytes: s.MaxUploadBytes, TempDir: os.TempDir(), Logger: log,
	})
}

// Registry builds the model registry.
func Registry(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) *registry.Registry {
	cfg := registry.Config{Bucket: s.PlatformBucket, Logger: log, Lock: registry.Lock{Mode: s.AuditLockMode, Days: s.AuditLockDays}}
	if s.AuditKeyID != "" {
		// The trail's checkpoints are signed by a KMS key that never leaves KMS.
		cfg.Signer = kmsmac.New(kms.NewFromConfig(c.AWS), s.AuditKeyID)
	}
	return registry.New(c.Store, cfg)
}

// Gate builds the promotion gate over the registry.
func Gate(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) *gate.Service {
	return gate.New(c.Store, c.Publisher, Registry(s, c, log), gate.Config{Bucket: s.PlatformBucket, Logger: log})
}

// Training builds the train use case over AWS: Batch for jobs, S3 for state and
// bundles, EventBridge for events. The reference trainer's image must be pinned
// by digest, since the digest is the trainer's identity.
func Training(s lambdaenv.Settings, t lambdaenv.Training, c *lambdaenv.Clients, log *slog.Logger) (*training.Service, error) {
	trainers := training.ImageTrainers{Default: t.TrainerImage}
	if _, err := trainers.Resolve(&spec.Spec{Name: "(default)"}); err != nil {
		return nil, fmt.Errorf("TRAINER_IMAGE=%q: must be pinned by digest (<repo>@sha256:<64 hex>)", t.TrainerImage)
	}
	q, err := queue(t, c.AWS)
	if err != nil {
		return nil, err
	}
	return training.New(c.Store, c.Publisher, q, training.StoreSpecs{Store: c.Store, Bucket: s.PlatformBucket},
		trainers, training.BundleVerifier(c.Store),
		training.Config{Bucket: s.PlatformBucket, Lease: t.RunLease, Logger: log}), nil
}

// Sweeps builds the reconcile function's sweeps. t is nil where the stack
// trains nothing, and the run sweep is left out.
func Sweeps(s lambdaenv.Settings, r lambdaenv.Reconcile, t *lambdaenv.Training, c *lambdaenv.Clients, log *slog.Logger) ([]reconcile.Sweep, error) {
	var runs reconcile.Runs
	if t != nil {
		train, err := Training(s, *t, c, log)
		if err != nil {
			return nil, err
		}
		runs = train
	}
	return reconcile.Sweeps(Ingest(s, c, log), runs, Registry(s, c, log), Gate(s, c, log),
		reconcile.Graces{Pending: r.PendingGrace, Incoming: r.IncomingGrace, Runs: r.RunGrace}), nil
}

// queue builds the Batch adapter from the training settings (here, not in
// lambdaenv, so that the functions that train nothing, predict among them, do
// not link the Batch client).
func queue(t lambdaenv.Training, cfg aws.Config) (*batch.Queue, error) {
	client := awsbatch.NewFromConfig(cfg, func(o *awsbatch.Options) {
		if t.BatchEndpoint != "" {
			o.BaseEndpoint = aws.String(t.BatchEndpoint)
		}
	})
	tmpl := batch.DefinitionTemplate{JobRoleArn: t.JobRoleArn, ExecutionRoleArn: t.ExecutionRoleArn,
		Tags: map[string]string{"mlops:component": "trainer"}}
	if t.LogGroup != "" {
		tmpl.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
			Options: map[string]string{"awslogs-group": t.LogGroup, "awslogs-stream-prefix": "trainer"}}
	}
	return batch.New(client, batch.Config{JobQueue: t.JobQueue, JobDefinition: t.JobDefinition,
		DefaultImage: t.TrainerImage, Definitions: tmpl})
}

// Drift builds the drift use case: the nightly comparison of each champion's
// logged traffic with its training data, and the feedback files' join.
func Drift(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (*drift.Service, error) {
	return drift.New(c.Store, Registry(s, c, log), ingest.NewDatasets(c.Store, s.PlatformBucket, s.UploadsBucket), c.Publisher,
		drift.Config{PlatformBucket: s.PlatformBucket, MonitoringBucket: s.MonitoringBucket, UploadsBucket: s.UploadsBucket, Logger: log})
}

// Report builds the publisher of the governance site: it reads the platform
// through the owners' readers (the registry verifying the trail with the
// KMS key, where there is one) and publishes into the site bucket, then
// invalidates the CloudFront distribution when DISTRIBUTION_ID names one.
func Report(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (*report.Service, error) {
	src := reportgen.Sources{Store: c.Store, Registry: Registry(s, c, log),
		Datasets:       ingest.NewDatasets(c.Store, s.PlatformBucket, s.UploadsBucket),
		PlatformBucket: s.PlatformBucket, MonitoringBucket: s.MonitoringBucket}
	cfg := report.Config{PlatformBucket: s.PlatformBucket, MonitoringBucket: s.MonitoringBucket, SiteBucket: s.SiteBucket, Logger: log}
	if s.DistributionID != "" {
		cfg.Invalidator = cloudfront.New(awscloudfront.NewFromConfig(c.AWS), s.DistributionID)
	}
	return report.New(c.Store, src, cfg)
}

// Package predictwire builds the prediction endpoint for functions/predict.
// It is apart from package wire so that the predict function links only what
// serving needs: not the gate, reconcile, or the KMS client of the registry's
// signer (serving reads the registry and appends nothing to its trail), whose
// package initialisation would be part of every cold start
// (docs/benchmarks.md, "Cold start of the predict function").
package predictwire

import (
	"io"
	"log/slog"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/serving"
)

// Predict builds the prediction endpoint over the registry and the datasets'
// contracts, logging each scored instance as one JSON line to logs (stdout in
// Lambda) before the answer goes out. Its registry has no signer: serving
// only reads it. key is the deployment's secret for
// hashing personal data (nil: personal data is dropped from the log).
func Predict(s lambdaenv.Settings, p lambdaenv.Predict, key []byte, c *lambdaenv.Clients, logs io.Writer, log *slog.Logger) (*serving.Service, error) {
	cfg := serving.Config{Bucket: s.PlatformBucket, TTL: p.ModelTTL,
		Check:   predict.CheckOptions{UnknownFields: p.UnknownFields, OutOfRange: p.OutOfRange},
		PIIMode: predlog.Mode(p.PIIMode), PIIKey: key, SampleRate: p.SampleRate,
		// In Lambda nothing may wait once the answer is out: the records,
		// the shadow's outputs with them, are written first.
		LogBeforeAnswer: true, Logger: log}
	if !p.Shadow {
		cfg.ShadowTTL = -1
	}
	return serving.New(c.Store, registry.New(c.Store, registry.Config{Bucket: s.PlatformBucket, Logger: log}), ingest.NewDatasets(c.Store, s.PlatformBucket, s.UploadsBucket),
		c.Publisher, predlog.NewLines(logs), cfg)
}

package training

import (
	"context"
	"fmt"

	"github.com/openmlops/mlops/shared/bundlestore"
)

// BundleVerifier verifies bundles in S3 with the bundle package: every file
// against the manifest, the parts against each other, and the Go evaluator
// against the trainer's own sample predictions, so a run only succeeds with a
// bundle that serving will reproduce.
func BundleVerifier(src bundlestore.Source) VerifyBundle {
	return func(ctx context.Context, bucket, prefix string, run *Run) (Bundle, error) {
		b, err := bundlestore.Fetch(ctx, src, bucket, prefix)
		if err != nil {
			return Bundle{}, err
		}
		// A bundle of another run (a trainer writing to the wrong place, or a copy)
		// must not pass for this one: the gate trusts what the run names.
		l := b.Lineage
		for _, c := range []struct{ field, got, want string }{
			{"manifest runId", b.Manifest.RunID, run.RunID},
			{"manifest model", b.Manifest.Model, run.Model},
			{"lineage datasetVersion", l.DatasetVersion, run.DatasetVersion},
			{"lineage contractHash", l.ContractHash, run.ContractHash},
			{"lineage specHash", l.SpecHash, run.SpecHash},
		} {
			if c.got != c.want {
				return Bundle{}, fmt.Errorf("s3://%s/%s: %s is %q, but the run's is %q", bucket, prefix, c.field, c.got, c.want)
			}
		}
		if err := b.CheckSamples(); err != nil {
			return Bundle{}, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
		}
		h := b.Metrics.Headline
		return Bundle{Prefix: prefix, SHA256: b.SHA256, Headline: h.Name, HeadlineValue: h.Value,
			HeadlineLower: h.Lower, HeadlineUpper: h.Upper}, nil
	}
}

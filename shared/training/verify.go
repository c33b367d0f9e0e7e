package training

import (
	"context"
	"fmt"

	"github.com/openmlops/mlops/shared/bundle"
)

// BundleVerifier verifies bundles in S3 with the bundle package: every file
// against the manifest, the parts against each other, and the Go evaluator
// against the trainer's own sample predictions, so a run only succeeds with a
// bundle that serving will reproduce.
func BundleVerifier(src bundle.Source) VerifyBundle {
	return func(ctx context.Context, bucket, prefix string) (Bundle, error) {
		b, err := bundle.Fetch(ctx, src, bucket, prefix)
		if err != nil {
			return Bundle{}, err
		}
		if err := b.CheckSamples(); err != nil {
			return Bundle{}, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
		}
		h := b.Metrics.Headline
		return Bundle{Prefix: prefix, SHA256: b.SHA256, Headline: h.Name, HeadlineValue: h.Value,
			HeadlineLower: h.Lower, HeadlineUpper: h.Upper}, nil
	}
}

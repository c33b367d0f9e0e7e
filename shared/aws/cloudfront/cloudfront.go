// Package cloudfront drops changed paths of the governance site from the
// CloudFront cache (CreateInvalidation). It implements report.Invalidator.
package cloudfront

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// API is what the invalidator needs of CloudFront (*cloudfront.Client has it).
type API interface {
	CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, opts ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error)
}

// Invalidator invalidates paths of one distribution.
type Invalidator struct {
	api            API
	distributionID string
}

// New invalidates paths of distributionID.
func New(api API, distributionID string) *Invalidator {
	return &Invalidator{api: api, distributionID: distributionID}
}

// Invalidate asks CloudFront to drop paths ("/index.html", "/*"). ref
// becomes the CallerReference: CloudFront answers a request whose reference
// and paths it has seen with the invalidation it already made, so a retried
// publication does not queue a second one, while a later change of the same
// paths (a new ref) does. It returns once CloudFront has accepted the
// request, not once the invalidation has completed (minutes; the pages'
// no-cache makes browsers revalidate meanwhile).
func (v *Invalidator) Invalidate(ctx context.Context, ref string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	if ref == "" {
		return errors.New("cloudfront invalidation: an empty caller reference")
	}
	out, err := v.api.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(v.distributionID),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String(ref),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	if err != nil {
		return fmt.Errorf("cloudfront CreateInvalidation of %d paths on %s: %w", len(paths), v.distributionID, err)
	}
	if out.Invalidation == nil || aws.ToString(out.Invalidation.Id) == "" {
		return fmt.Errorf("cloudfront CreateInvalidation on %s: no invalidation in the answer", v.distributionID)
	}
	return nil
}

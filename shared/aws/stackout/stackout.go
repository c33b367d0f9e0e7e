// Package stackout reads a deployed platform stack's CloudFormation outputs:
// the bucket names, API URLs and site URL that the CLI needs to talk to the
// platform in AWS (mlops --stack NAME), where locally it reads endpoint.json.
package stackout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
)

// The output keys infra/platform's stack declares (its outputs()); a test
// holds the two to the same names.
const (
	KeyUploadsBucket    = "UploadsBucket"
	KeyPlatformBucket   = "PlatformBucket"
	KeyMonitoringBucket = "MonitoringBucket"
	KeySiteBucket       = "SiteBucket"
	KeyEventBusName     = "EventBusName"
	KeyPredictionAPIURL = "PredictionApiUrl"
	KeyDecisionsAPIURL  = "DecisionsApiUrl"
	KeySiteURL          = "SiteUrl"
)

// Outputs are the outputs of one stack that clients of the platform use.
type Outputs struct {
	Stack            string
	Region           string
	UploadsBucket    string
	PlatformBucket   string
	MonitoringBucket string
	SiteBucket       string
	EventBusName     string
	PredictionAPIURL string
	DecisionsAPIURL  string
	SiteURL          string
}

// fields maps each output key to the field it fills.
func (o *Outputs) fields() map[string]*string {
	return map[string]*string{
		KeyUploadsBucket: &o.UploadsBucket, KeyPlatformBucket: &o.PlatformBucket,
		KeyMonitoringBucket: &o.MonitoringBucket, KeySiteBucket: &o.SiteBucket, KeyEventBusName: &o.EventBusName,
		KeyPredictionAPIURL: &o.PredictionAPIURL, KeyDecisionsAPIURL: &o.DecisionsAPIURL, KeySiteURL: &o.SiteURL,
	}
}

// Keys are the output keys Read requires, in the order errors name them.
func Keys() []string {
	return []string{KeyUploadsBucket, KeyPlatformBucket, KeyMonitoringBucket, KeySiteBucket, KeyEventBusName,
		KeyPredictionAPIURL, KeyDecisionsAPIURL, KeySiteURL}
}

// Read describes the stack through CloudFormation with cfg (its credentials
// and region) and returns its outputs. endpoint overrides CloudFormation's
// (tests, LocalStack); empty is AWS's. A stack that does not exist, or that
// lacks any of Keys (not yet deployed, or rolled back), is an error naming
// the stack, its region and what is missing.
func Read(ctx context.Context, cfg aws.Config, endpoint, stack string) (Outputs, error) {
	out := Outputs{Stack: stack, Region: cfg.Region}
	if stack == "" {
		return out, errors.New("no stack name")
	}
	cf := cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	resp, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" {
			// CloudFormation's answer for a stack that does not exist.
			return out, fmt.Errorf("stack %s in region %s: %s (is it deployed there? check --region or AWS_REGION)",
				stack, cfg.Region, ae.ErrorMessage())
		}
		return out, fmt.Errorf("describe stack %s in region %s: %w", stack, cfg.Region, err)
	}
	if len(resp.Stacks) != 1 {
		return out, fmt.Errorf("describe stack %s in region %s: %d stacks in the answer, want 1", stack, cfg.Region, len(resp.Stacks))
	}
	s := resp.Stacks[0]
	fields := out.fields()
	for _, o := range s.Outputs {
		if f, ok := fields[aws.ToString(o.OutputKey)]; ok {
			*f = aws.ToString(o.OutputValue)
		}
	}
	var missing []string
	for _, k := range Keys() {
		if *fields[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("stack %s in region %s (status %s) lacks the outputs %s: is it the platform's stack, fully deployed?",
			stack, cfg.Region, s.StackStatus, strings.Join(missing, ", "))
	}
	return out, nil
}

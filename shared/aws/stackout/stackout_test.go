package stackout_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/aws/stackout"
)

func fullOutputs() map[string]string {
	return map[string]string{
		"UploadsBucket": "mlops-dev-uploads-1a2b", "PlatformBucket": "mlops-dev-platform-1a2b",
		"MonitoringBucket": "mlops-dev-monitoring-1a2b", "SiteBucket": "mlops-dev-site-1a2b",
		"EventBusName":     "mlops-dev-bus",
		"PredictionApiUrl": "https://p1.execute-api.us-east-1.amazonaws.com/", "DecisionsApiUrl": "https://d1.execute-api.us-east-1.amazonaws.com/",
		"SiteUrl": "https://d111.cloudfront.net/", "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
	}
}

func TestReadOutputs(t *testing.T) {
	partial := fullOutputs()
	delete(partial, "DecisionsApiUrl")
	delete(partial, "SiteBucket")
	cfg := awstest.Config(t, awstest.CloudFormation(t, map[string]map[string]string{
		"mlops-dev": fullOutputs(), "mlops-half": partial}), nil)
	ctx := context.Background()

	got, err := stackout.Read(ctx, cfg, "", "mlops-dev")
	if err != nil {
		t.Fatal(err)
	}
	want := stackout.Outputs{Stack: "mlops-dev", Region: awstest.Region,
		UploadsBucket: "mlops-dev-uploads-1a2b", PlatformBucket: "mlops-dev-platform-1a2b",
		MonitoringBucket: "mlops-dev-monitoring-1a2b", SiteBucket: "mlops-dev-site-1a2b", EventBusName: "mlops-dev-bus",
		PredictionAPIURL: "https://p1.execute-api.us-east-1.amazonaws.com/", DecisionsAPIURL: "https://d1.execute-api.us-east-1.amazonaws.com/",
		SiteURL: "https://d111.cloudfront.net/"}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	_, err = stackout.Read(ctx, cfg, "", "mlops-half")
	if err == nil || !strings.Contains(err.Error(), "stack mlops-half in region us-east-1 (status CREATE_COMPLETE) lacks the outputs SiteBucket, DecisionsApiUrl") {
		t.Errorf("missing outputs: got %v", err)
	}
	_, err = stackout.Read(ctx, cfg, "", "mlops-nope")
	if err == nil || !strings.Contains(err.Error(), "stack mlops-nope in region us-east-1: Stack with id mlops-nope does not exist") {
		t.Errorf("missing stack: got %v", err)
	}
	if _, err := stackout.Read(ctx, cfg, "", ""); err == nil {
		t.Error("no stack name: no error")
	}
}

// The endpoint argument overrides CloudFormation's (the configuration's
// own endpoint is AWS's here).
func TestReadEndpointOverride(t *testing.T) {
	cfg := awstest.Config(t, awstest.CloudFormation(t, map[string]map[string]string{"mlops-dev": fullOutputs()}), nil)
	endpoint := aws.ToString(cfg.BaseEndpoint)
	cfg.BaseEndpoint = nil
	got, err := stackout.Read(context.Background(), cfg, endpoint, "mlops-dev")
	if err != nil || got.DecisionsAPIURL != "https://d1.execute-api.us-east-1.amazonaws.com/" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// The keys Read wants are the outputs the stack declares.
func TestKeysAreTheStacksOutputs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "infra", "platform", "operations.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range stackout.Keys() {
		if !strings.Contains(string(src), `out("`+k+`", `) {
			t.Errorf("infra/platform/operations.go declares no output %s", k)
		}
	}
}

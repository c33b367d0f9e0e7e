package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/aws/sigv4http"
	"github.com/openmlops/mlops/shared/aws/stackout"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/store"
)

// The environment of --stack: the stack's name, and endpoints that replace
// AWS's (tests, LocalStack). The S3 ones are the names the Lambda functions
// read (shared/aws/lambdaenv).
const (
	envStack          = "MLOPS_STACK"
	envCFNEndpoint    = "MLOPS_CLOUDFORMATION_ENDPOINT"
	envS3Endpoint     = "MLOPS_S3_ENDPOINT"
	envS3PathStyle    = "MLOPS_S3_PATH_STYLE"
	envStackAPICACert = "MLOPS_STACK_CACERT" // a PEM certificate to trust for the APIs instead of the system's roots
)

// localOnly marks a command that runs a platform here and so refuses
// --stack; its value says why.
const localOnly = "localOnly"

// stack is a deployed platform: its outputs, and the AWS configuration
// (the default credential chain, the region) that reaches it.
type stack struct {
	out stackout.Outputs
	cfg aws.Config
}

// stackName is --stack, else $MLOPS_STACK; empty: a local platform.
func (g *globals) stackName() string {
	if g.stack != "" {
		return g.stack
	}
	return os.Getenv(envStack)
}

// checkTarget runs before every command: --stack (or MLOPS_STACK) and the
// options that name a local platform exclude each other, and a command
// that runs a platform here refuses a stack.
func (g *globals) checkTarget(cmd *cobra.Command) error {
	g.ctx = cmd.Context()
	name := g.stackName()
	if name == "" {
		return nil
	}
	from := "--stack"
	if g.stack == "" {
		from = envStack + "=" + name
	}
	if why, ok := cmd.Annotations[localOnly]; ok {
		return usageErr("%s: %s takes no stack (%s)", cmd.CommandPath(), from, why)
	}
	for _, o := range []struct {
		set  bool
		name string
	}{
		{g.dir != "", "--dir"}, {g.endpointFile != "", "--endpoint-file"}, {os.Getenv("MLOPS_DIR") != "", "MLOPS_DIR"},
	} {
		if o.set {
			return usageErr("%s and %s both name a platform: use one (a stack in AWS, or a local platform's directory)", from, o.name)
		}
	}
	return nil
}

// deployed reads the stack's outputs, once per command.
func (g *globals) deployed() (*stack, error) {
	if g.resolved != nil {
		return g.resolved, nil
	}
	ctx := g.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var opts []func(*config.LoadOptions) error
	if g.region != "" {
		opts = append(opts, config.WithRegion(g.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, &exitError{code: exitProblem, err: fmt.Errorf("load the AWS configuration: %w", err)}
	}
	if cfg.Region == "" {
		return nil, usageErr("stack %s: no AWS region: pass --region, set AWS_REGION, or set one in your AWS profile", g.stackName())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := stackout.Read(ctx, cfg, os.Getenv(envCFNEndpoint), g.stackName())
	if err != nil {
		return nil, &exitError{code: exitProblem, err: err}
	}
	g.resolved = &stack{out: out, cfg: cfg}
	return g.resolved, nil
}

// endpoint is the stack as the local platform's endpoint file would name
// it: the buckets and the site (S3 itself is AWS's, through the stack's
// configuration).
func (s *stack) endpoint() local.Endpoint {
	o := s.out
	return local.Endpoint{
		S3:      local.S3Endpoint{Region: s.cfg.Region, URL: os.Getenv(envS3Endpoint)},
		Buckets: local.Buckets{Uploads: o.UploadsBucket, Platform: o.PlatformBucket, Monitoring: o.MonitoringBucket, Site: o.SiteBucket},
		Site:    o.SiteURL,
	}
}

// connectStack is a connection to the stack's buckets: AWS's S3,
// virtual-hosted, unless MLOPS_S3_ENDPOINT names another.
func (g *globals) connectStack() (*client, error) {
	s, err := g.deployed()
	if err != nil {
		return nil, err
	}
	pathStyle := false
	if v := os.Getenv(envS3PathStyle); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, usageErr("%s=%q: expected true or false", envS3PathStyle, v)
		}
	}
	ep := s.endpoint()
	return &client{ep: ep, store: store.New(store.NewClient(s.cfg, ep.S3.URL, pathStyle), store.Options{})}, nil
}

// stackAPI is how to reach one of the stack's APIs (url picks which from its
// outputs): an HTTP client trusting the system's roots (or
// MLOPS_STACK_CACERT), and requests signed with SigV4 for execute-api with
// the credentials of the default chain.
func (g *globals) stackAPI(url func(stackout.Outputs) string) (string, *http.Client, func(*http.Request) error, error) {
	s, err := g.deployed()
	if err != nil {
		return "", nil, nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f := os.Getenv(envStackAPICACert); f != "" {
		var tlsCfg *tls.Config
		if tlsCfg, err = api.ClientTLS(f); err != nil {
			return "", nil, nil, &exitError{code: exitProblem, err: fmt.Errorf("%s: %w", envStackAPICACert, err)}
		}
		tr.TLSClientConfig = tlsCfg
	}
	if s.cfg.Credentials == nil {
		return "", nil, nil, &exitError{code: exitProblem, err: errors.New("no AWS credentials: configure a profile, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")}
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: tr}
	return url(s.out), hc, sigv4http.Authorizer(s.cfg.Credentials, s.cfg.Region, nil), nil
}

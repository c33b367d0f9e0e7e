package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
)

const testStack = "mlops-test"

// stackStandIns stands a local platform (dir) in for a deployed stack:
// a fake CloudFormation whose stack testStack names the platform's buckets
// and, as both APIs, a SigV4-verifying HTTPS server in front of the
// platform's API (as API Gateway's IAM authorization in front of the
// functions), and the environment of an operator whose default credential
// chain holds the embedded S3's keys. It returns how many requests passed
// the stand-in.
func stackStandIns(t *testing.T, dir string) *atomic.Int64 {
	t.Helper()
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	// Behind the stand-in, the platform's own API, reached as its
	// clients reach it: its certificate, its bearer token.
	backend, err := url.Parse(ep.API.URL)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := api.ClientTLS(ep.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	var passed atomic.Int64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Header.Set("Authorization", "Bearer "+ep.API.Token)
			passed.Add(1)
		},
		Transport: &http.Transport{TLSClientConfig: tlsCfg},
	}
	creds := aws.Credentials{AccessKeyID: ep.S3.AccessKeyID, SecretAccessKey: ep.S3.SecretAccessKey}
	signed := awstest.SigV4Verifier(creds, ep.S3.Region, "execute-api", proxy)
	// As in the stack, /healthz is the one route without authorization.
	gw := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
			proxy.ServeHTTP(w, r)
			return
		}
		signed.ServeHTTP(w, r)
	}))
	t.Cleanup(gw.Close)
	certFile := filepath.Join(t.TempDir(), "gateway.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gw.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfn := httptest.NewServer(awstest.CloudFormation(t, map[string]map[string]string{
		testStack: {
			"UploadsBucket": ep.Buckets.Uploads, "PlatformBucket": ep.Buckets.Platform,
			"MonitoringBucket": ep.Buckets.Monitoring, "SiteBucket": ep.Buckets.Site, "EventBusName": "mlops-test-bus",
			"PredictionApiUrl": gw.URL + "/", "DecisionsApiUrl": gw.URL + "/", "SiteUrl": "https://site.example/",
		},
		"mlops-half": {"UploadsBucket": ep.Buckets.Uploads},
	}))
	t.Cleanup(cfn.Close)

	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": ep.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY": ep.S3.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": ep.S3.Region, "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"), "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
		envCFNEndpoint: cfn.URL, envS3Endpoint: ep.S3.URL, envS3PathStyle: "true", envStackAPICACert: certFile,
		envStack: "", "MLOPS_DIR": "",
	} {
		t.Setenv(k, v)
	}
	return &passed
}

// mlops --stack runs commands against a deployed platform: S3 through the
// default credential chain, the APIs signed with SigV4. The answers are the
// ones the same commands give against the platform directly.
func TestStackCommandsAgainstStandIns(t *testing.T) {
	dir := startPlatform(t)
	passed := stackStandIns(t, dir)

	if r := mlops(t, "contract", "apply", creditContract, "--dataset", "credit", "--stack", testStack); r.code != 0 || !strings.Contains(r.stdout, "now current") {
		t.Fatalf("contract apply --stack: %+v", r)
	}
	r := mlops(t, "upload", creditCSV, "--dataset", "credit", "--stack", testStack, "--wait", "-q", "--timeout", "1m")
	if r.code != 0 || !strings.Contains(r.stdout, "accepted: credit@") || !strings.Contains(r.stdout, "4454 rows") {
		t.Fatalf("upload --stack: %+v", r)
	}
	for _, args := range [][]string{
		{"datasets", "list", "-o", "json"},
		{"contract", "show", "credit"},
		{"models", "list", "-o", "json"},
		{"models", "list"},
	} {
		viaStack := mlops(t, append(args, "--stack", testStack)...)
		direct := mlops(t, append(args, "--dir", dir)...)
		if viaStack.code != 0 || viaStack.stdout != direct.stdout || viaStack.stdout == "" {
			t.Errorf("%v: --stack %+v\n--dir %+v", args, viaStack, direct)
		}
	}
	if n := passed.Load(); n != 2 {
		t.Errorf("%d requests passed the SigV4 stand-in, want 2 (the models lists)", n)
	}
	if !strings.Contains(mlops(t, "models", "list", "--stack", testStack).stdout, "no registered models yet") {
		t.Error("models list: not the API's answer")
	}

	// MLOPS_STACK is --stack.
	t.Setenv(envStack, testStack)
	if r := mlops(t, "models", "list", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("MLOPS_STACK: %+v", r)
	}
	r = mlops(t, "env")
	if r.code != 0 || !strings.Contains(r.stdout, "export MLOPS_UPLOADS_BUCKET='mlops-uploads'") ||
		!strings.Contains(r.stdout, "export MLOPS_STACK='mlops-test'") || strings.Contains(r.stdout, "SECRET") {
		t.Errorf("env with a stack: %+v", r)
	}
	t.Setenv(envStack, "")

	// Another secret than the stack's: the stand-in refuses the request.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	r = mlops(t, "models", "list", "--stack", testStack)
	if r.code != exitFailed || !strings.Contains(r.stderr, "signature we calculated does not match") || !strings.Contains(r.stderr, "403") {
		t.Errorf("wrong secret: %+v", r)
	}
}

// What --stack refuses, and a stack that is not there or not the platform's.
func TestStackErrors(t *testing.T) {
	stackStandIns(t, startPlatform(t))
	for _, c := range []struct {
		args []string
		env  string // MLOPS_STACK
		code int
		want string
	}{
		{[]string{"datasets", "list", "--stack", "mlops-nope"}, "", exitProblem,
			"stack mlops-nope in region us-east-1: Stack with id mlops-nope does not exist"},
		{[]string{"models", "list", "--stack", "mlops-half"}, "", exitProblem,
			"stack mlops-half in region us-east-1 (status CREATE_COMPLETE) lacks the outputs PlatformBucket, MonitoringBucket, SiteBucket, EventBusName, PredictionApiUrl, DecisionsApiUrl, SiteUrl"},
		{[]string{"up", "--stack", testStack}, "", exitUsage, "mlops up: --stack takes no stack (it runs a platform on this machine"},
		{[]string{"up"}, testStack, exitUsage, "mlops up: MLOPS_STACK=mlops-test takes no stack"},
		{[]string{"datasets", "list", "--stack", testStack, "--dir", "x"}, "", exitUsage, "--stack and --dir both name a platform"},
		{[]string{"datasets", "list", "--endpoint-file", "x"}, testStack, exitUsage, "MLOPS_STACK=mlops-test and --endpoint-file both name a platform"},
	} {
		t.Setenv(envStack, c.env)
		if r := mlops(t, c.args...); r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v (MLOPS_STACK=%q): %+v, want exit %d and %q", c.args, c.env, r, c.code, c.want)
		}
	}
	t.Setenv(envStack, "")
	t.Setenv("AWS_REGION", "")
	if r := mlops(t, "datasets", "list", "--stack", testStack); r.code != exitUsage || !strings.Contains(r.stderr, "no AWS region") {
		t.Errorf("no region: %+v", r)
	}
	// --region is the stack's region.
	if r := mlops(t, "datasets", "list", "--stack", testStack, "--region", "us-east-1", "-o", "json"); r.code != 0 {
		t.Errorf("--region: %+v", r)
	}
}

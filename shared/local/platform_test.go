package local_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
)

func start(t *testing.T, dir string) *local.Platform {
	t.Helper()
	p, err := local.Start(context.Background(), local.Config{Dir: dir, S3Addr: "127.0.0.1:0", ReconcileEvery: -1,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	// A platform left running would go on writing into dir (its start
	// rebuilds the site) while the test's TempDir is being removed.
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func applyCredit(t *testing.T, p *local.Platform) {
	t.Helper()
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ingest.ApplyContract(context.Background(), p.Store, p.Endpoint.Buckets.Platform, c, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func waitIdle(t *testing.T, p *local.Platform) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func awsCLI(t *testing.T) string {
	t.Helper()
	path := "/usr/bin/aws"
	if _, err := os.Stat(path); err != nil {
		if testing.Short() {
			t.Skip("aws CLI not installed (CI installs Debian's awscli)")
		}
		t.Fatal("the aws CLI is required: apt-get install awscli")
	}
	return path
}

// The real aws CLI uploads to `mlops up`, and the upload becomes a version; the
// version and a rejection report survive a restart.
func TestAWSCLIUploadBecomesVersionAndSurvivesRestart(t *testing.T) {
	aws := awsCLI(t)
	dir := t.TempDir()
	p := start(t, dir)
	applyCredit(t, p)
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, local.EndpointFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("endpoint.json must be private: %v %v", fi.Mode(), err)
	}
	home := t.TempDir()
	run := func(args ...string) string { return runAWS(t, aws, p, home, args...) }
	run("s3", "cp", "../../examples/credit/credit_data.csv", "s3://"+ep.Buckets.Uploads+"/incoming/credit/credit_data.csv")
	run("s3", "cp", "../../examples/credit/credit_broken.csv", "s3://"+ep.Buckets.Uploads+"/incoming/credit/broken.csv")
	waitIdle(t, p)

	ctx := context.Background()
	var latest ingest.Latest
	b, _, err := p.Store.ReadAll(ctx, ep.Buckets.Platform, ingest.LatestKey("credit"))
	if err != nil {
		t.Fatalf("no version after the aws CLI upload: %v", err)
	}
	_ = json.Unmarshal(b, &latest)
	manifest := ingest.ManifestKey("credit", latest.VersionID)
	reports := run("s3", "ls", "--recursive", "s3://"+ep.Buckets.Uploads+"/quarantine/credit/")
	if !strings.Contains(reports, "report.txt") || !strings.Contains(reports, "broken.csv") {
		t.Fatalf("quarantine listing:\n%s", reports)
	}

	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, local.EndpointFile)); !os.IsNotExist(err) {
		t.Error("endpoint.json left behind after stop")
	}
	p2 := start(t, dir)
	defer p2.Close(ctx)
	if p2.Endpoint.S3.AccessKeyID != ep.S3.AccessKeyID {
		t.Error("credentials changed across restart")
	}
	if _, err := p2.Store.Head(ctx, ep.Buckets.Platform, manifest); err != nil {
		t.Fatalf("version lost across restart: %v", err)
	}
	if !strings.Contains(runAWS(t, aws, p2, home, "s3", "ls", "--recursive", "s3://"+ep.Buckets.Uploads+"/quarantine/credit/"), "report.json") {
		t.Fatal("rejection report lost across restart")
	}
}

func runAWS(t *testing.T, aws string, p *local.Platform, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(aws, append([]string{"--endpoint-url", p.Endpoint.S3.URL}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + p.Endpoint.S3.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + p.Endpoint.S3.SecretAccessKey, "AWS_DEFAULT_REGION=" + p.Endpoint.S3.Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// An event that keeps failing ends in the dead-letter folder with its payload,
// like Lambda's on-failure destination: nothing is lost.
func TestFailingIngestEndsInDeadLetter(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	defer p.Close(context.Background())
	// Not JSON an S3 event would ever be: ingest fails on every attempt.
	if err := p.Bus.InvokeAsync(context.Background(), local.FuncIngest, []byte(`{"detail-type":"Object Created","source":"aws.s3","detail":"broken"}`)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, p)
	files, _ := filepath.Glob(filepath.Join(dir, "dead-letter", local.FuncIngest, "*.json"))
	if len(files) != 1 {
		t.Fatalf("%d dead letters", len(files))
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "RetriesExhausted") || !strings.Contains(string(b), `"broken"`) {
		t.Fatalf("dead letter:\n%s", b)
	}
}

// The HTTPS API of mlops up: reachable with what endpoint.json says, the health
// check open, everything else behind the bearer token.
func TestAPIFromEndpointFile(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	defer p.Close(context.Background())
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.API.URL, "https://127.0.0.1:") || len(ep.API.Token) < 32 || ep.API.CACert == "" {
		t.Fatalf("endpoint API %+v", ep.API)
	}
	tc, err := api.ClientTLS(ep.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", ep.API.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(api.HealthPath, ""); code != http.StatusOK {
		t.Fatalf("health: %d", code)
	}
	if code := get("/v1/models", ""); code != http.StatusUnauthorized {
		t.Fatalf("without token: %d", code)
	}
	if code := get("/v1/models", ep.API.Token); code != http.StatusOK {
		t.Fatalf("with token: %d", code)
	}
	if code := get("/v1/nope", ep.API.Token); code != http.StatusNotFound {
		t.Fatalf("with token, a route that does not exist: %d", code)
	}
}

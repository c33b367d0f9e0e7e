package local_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/localtest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

func needXGBoost(t *testing.T) { localtest.NeedXGBoost(t) }

func applyCreditSpec(t *testing.T, p *local.Platform) {
	t.Helper()
	sp, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := specstore.Apply(context.Background(), p.Store, ingest.NewDatasets(p.Store, p.Endpoint.Buckets.Platform, ""), p.Endpoint.Buckets.Platform, sp, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func uploadCredit(t *testing.T, p *local.Platform, name string, data []byte) {
	t.Helper()
	if _, err := p.Store.Upload(context.Background(), p.Endpoint.Buckets.Uploads, "incoming/credit/"+name,
		bytes.NewReader(data), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitIdleFor(t *testing.T, p *local.Platform, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func runsOf(t *testing.T, p *local.Platform) []*training.Run {
	t.Helper()
	runs, err := training.ListRuns(context.Background(), p.Store, p.Endpoint.Buckets.Platform, "credit")
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// An upload becomes a dataset version, the version a run of the reference
// trainer under the local batch runner, and the run a verified bundle whose
// recorded predictions the Go evaluator reproduces; a replayed event starts
// nothing new.
func TestUploadTrainsAVerifiedBundle(t *testing.T) {
	needXGBoost(t)
	p, r := trainOnce(t, local.Config{}, 5*time.Minute)
	if r.State != training.StateSucceeded || r.Bundle == nil || r.Job.Status != training.StatusSucceeded {
		t.Fatalf("run %+v (log: %s)", r, r.Job.LogLocation)
	}
	ctx := context.Background()
	verifiedBundle(t, p, r)
	if _, err := p.Store.Head(ctx, p.Endpoint.Buckets.Platform, training.PublishedKey(r.RunID)); err != nil {
		t.Fatalf("training.succeeded was not published: %v", err)
	}
	if !strings.HasPrefix(r.Job.LogLocation, "s3://"+p.Endpoint.Buckets.Platform+"/") {
		t.Fatalf("log location %q", r.Job.LogLocation)
	}

	// The same upload again (a new object, the same bytes) is the same version:
	// no new run. Reconcile finds nothing to do.
	uploadCredit(t, p, "credit-again.csv", credit.CSV())
	waitIdleFor(t, p, time.Minute)
	if res, err := p.Reconcile(ctx); err != nil || res.Fixed["runs"] != 0 {
		t.Fatalf("reconcile: %+v %v", res, err)
	}
	if n := len(runsOf(t, p)); n != 1 {
		t.Fatalf("runs after a duplicate upload: %d", n)
	}
}

// creditPlatform starts a platform configured by cfg in a new state directory
// (it is closed when the test ends), with the credit contract and model spec
// applied.
func creditPlatform(t *testing.T, cfg local.Config) *local.Platform {
	t.Helper()
	cfg.Dir, cfg.S3Addr, cfg.ReconcileEvery = t.TempDir(), "127.0.0.1:0", -1
	cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	p, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	applyCredit(t, p)
	applyCreditSpec(t, p)
	return p
}

// trainOnce is a creditPlatform that has the credit data uploaded once and is
// idle again (waiting at most wait): it returns the platform and the one run
// that made.
func trainOnce(t *testing.T, cfg local.Config, wait time.Duration) (*local.Platform, *training.Run) {
	t.Helper()
	p := creditPlatform(t, cfg)
	uploadCredit(t, p, "credit.csv", credit.CSV())
	waitIdleFor(t, p, wait)
	runs := runsOf(t, p)
	if len(runs) != 1 {
		t.Fatalf("runs: %d, want 1", len(runs))
	}
	return p, runs[0]
}

// verifiedBundle fetches r's bundle and checks it as the platform does: the Go
// evaluator reproduces its sample predictions, and its hash, lineage and
// headline metric are the run's.
func verifiedBundle(t *testing.T, p *local.Platform, r *training.Run) *bundle.Bundle {
	t.Helper()
	b, err := bundlestore.Fetch(context.Background(), p.Store, p.Endpoint.Buckets.Platform, r.Bundle.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckSamples(); err != nil {
		t.Fatal(err)
	}
	if b.SHA256 != r.Bundle.SHA256 || b.Lineage.DatasetVersion != r.DatasetVersion || b.Lineage.SpecHash != r.SpecHash ||
		b.Lineage.ContractHash != r.ContractHash || b.Metrics.Headline.Name != "auc" || b.Metrics.Headline.Value < 0.75 {
		t.Fatalf("bundle %s: lineage %+v headline %+v", b.SHA256, b.Lineage, b.Metrics.Headline)
	}
	return b
}

// A trainer that exits non-zero fails the run with the exit code and its log,
// and a retry request starts the next attempt.
func TestFailingTrainerFailsTheRun(t *testing.T) {
	p, r := trainOnce(t, local.Config{
		// The contract's arguments follow the script; sh ignores them.
		TrainerCommand: []string{"/bin/sh", "-c", "echo 'cannot train: out of luck' >&2; exit 3"}}, time.Minute)
	if r.State != training.StateFailed || r.Job.ExitCode == nil || *r.Job.ExitCode != 3 || !strings.Contains(r.Reason, "exit code 3") {
		t.Fatalf("run %+v", r)
	}
	b, _, err := p.Store.ReadAll(context.Background(), p.Endpoint.Buckets.Platform,
		strings.TrimPrefix(r.Job.LogLocation, "s3://"+p.Endpoint.Buckets.Platform+"/"))
	if err != nil || !strings.Contains(string(b), "out of luck") {
		t.Fatalf("log %q: %v", b, err)
	}
}

// A trainer that refuses its input (exit 2, error.json) fails the run with its
// message: here a model whose target has one class only.
func TestTrainerBadInputReasonReachesTheRun(t *testing.T) {
	needXGBoost(t)
	p := creditPlatform(t, local.Config{})
	// Only "good" rows: the contract accepts them, the trainer cannot learn from them.
	lines := strings.SplitAfter(string(credit.CSV()), "\n")
	var one strings.Builder
	one.WriteString(lines[0])
	n := 0
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, `"good"`) || strings.HasPrefix(l, "good,") {
			one.WriteString(l)
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d good rows found: has the example's layout changed?", n)
	}
	uploadCredit(t, p, "good-only.csv", []byte(one.String()))
	waitIdleFor(t, p, 2*time.Minute)
	runs := runsOf(t, p)
	if len(runs) != 1 {
		t.Fatalf("runs: %d", len(runs))
	}
	r := runs[0]
	if r.State != training.StateFailed || r.Job.ExitCode == nil || *r.Job.ExitCode != 2 ||
		!strings.Contains(r.Reason, "bad input: ") || !strings.Contains(r.Reason, "Status") {
		t.Fatalf("run %+v", r)
	}
	t.Log(r.Reason)
}

// A trainer whose Python cannot import xgboost (here /usr/bin/python3 -S, which
// leaves out dist-packages) fails the run with a reason that says so and how
// to fix it, not only with its exit code.
func TestTrainerWithoutXGBoostSaysSoInTheReason(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("/usr/bin/python3: %v", err)
	}
	if exec.Command("/usr/bin/python3", "-S", "-c", "import xgboost").Run() == nil {
		t.Skip("/usr/bin/python3 -S still imports xgboost")
	}
	python := filepath.Join(t.TempDir(), "python-without-dist-packages")
	if err := os.WriteFile(python, []byte("#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, r := trainOnce(t, local.Config{Python: python}, time.Minute)
	if r.State != training.StateFailed || r.Job.ExitCode == nil || *r.Job.ExitCode != 1 {
		t.Fatalf("run %+v", r)
	}
	for _, want := range []string{"exit code 1", "/usr/bin/python3 cannot import", "xgboost", "python3-xgboost"} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q: want %q in it", r.Reason, want)
		}
	}
	t.Log(r.Reason)
}

// The reference trainer's identity is its whole tree as installed in the state
// directory: the same in every state directory, another when any module of its
// package changes, and the embedded one again once the platform reinstalls it.
func TestReferenceTrainerIdentityIsItsTree(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	id := func(cmd []string) string {
		t.Helper()
		tr, err := training.CommandTrainers{Default: cmd}.Resolve(&spec.Spec{Name: "credit"})
		if err != nil {
			t.Fatal(err)
		}
		return tr.ID
	}
	p1 := start(t, dir1)
	cmd1 := p1.Trainer
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p2 := start(t, dir2)
	cmd2 := p2.Trainer
	if err := p2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(cmd1) != 2 || cmd1[1] != filepath.Join(dir1, "trainer") {
		t.Fatalf("trainer command %q: want the python and the trainer's folder", cmd1)
	}
	a := id(cmd1)
	if b := id(cmd2); a != b {
		t.Fatalf("two state directories, two identities: %s, %s", a, b)
	}
	module := filepath.Join(dir1, "trainer", "mlops_trainer", "metrics.py")
	src, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(module, append(src, "\n# edited\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if id(cmd1) == a {
		t.Fatal("an edited module kept the trainer's identity")
	}
	p1 = start(t, dir1)
	defer p1.Close(context.Background())
	if id(p1.Trainer) != a {
		t.Fatal("a restart did not reinstall the embedded trainer")
	}
}

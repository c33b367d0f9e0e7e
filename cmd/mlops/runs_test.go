package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/training"
)

// startPlatformWith starts a local platform with cfg (its Dir, S3Addr and
// ReconcileEvery filled in) and returns its state directory.
func startPlatformWith(t *testing.T, cfg local.Config) string {
	t.Helper()
	cfg.Dir = t.TempDir()
	cfg.S3Addr = "127.0.0.1:0"
	cfg.ReconcileEvery = -1
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	p, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return cfg.Dir
}

// applyCreditAndUpload applies the credit contract and spec and uploads the
// credit data, through the CLI, waiting for the version.
func applyCreditAndUpload(t *testing.T, dir string) {
	t.Helper()
	if r := mlops(t, "contract", "apply", creditContract, "--dir", dir); r.code != 0 {
		t.Fatalf("contract apply: %+v", r)
	}
	if r := mlops(t, "models", "apply", creditSpec, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "now current") {
		t.Fatalf("models apply: %+v", r)
	}
	if r := mlops(t, "upload", creditCSV, "--dataset", "credit", "--dir", dir, "--wait", "-q", "--timeout", "1m"); r.code != 0 ||
		!strings.Contains(r.stdout, "accepted: credit@") {
		t.Fatalf("upload: %+v", r)
	}
}

// listRuns is `mlops runs list --model credit -o json`.
func listRuns(t *testing.T, dir string) []training.Run {
	t.Helper()
	r := mlops(t, "runs", "list", "--model", "credit", "--dir", dir, "-o", "json")
	var runs []training.Run
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &runs) != nil {
		t.Fatalf("runs list -o json: %+v", r)
	}
	return runs
}

var runLine = regexp.MustCompile(`(?m)^run +(credit-[0-9a-f]{16}-[0-9]+) \(attempt ([0-9]+)\)$`)

// shownRun is the run ID printRun printed first in out.
func shownRun(t *testing.T, out string) (id, attempt string) {
	t.Helper()
	m := runLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no run line in\n%s", out)
	}
	return m[1], m[2]
}

func needXGBoost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains with the reference trainer; skipped under -short")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import xgboost").Run(); err != nil {
		t.Skip("/usr/bin/python3 cannot import xgboost (apt-get install python3-xgboost)")
	}
}

// The flow a user follows with the reference trainer: an upload trains a run,
// which is listed, shown, its log read, its bundle scored from S3; a retry of
// it is refused, and a retrain is the next attempt of the same inputs.
func TestRunsWithReferenceTrainer(t *testing.T) {
	needXGBoost(t)
	dir := startPlatformWith(t, local.Config{})
	applyCreditAndUpload(t, dir)

	r := mlops(t, "runs", "wait", "--model", "credit", "--dir", dir, "--timeout", "5m")
	if r.code != 0 || !strings.Contains(r.stdout, "state      succeeded\n") || !strings.Contains(r.stdout, "result     auc ") {
		t.Fatalf("runs wait: %+v", r)
	}
	id, attempt := shownRun(t, r.stdout)
	if attempt != "1" {
		t.Fatalf("first run is attempt %s", attempt)
	}
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	bundleLoc := "s3://" + ep.Buckets.Platform + "/" + training.BundlePrefix(id)

	r = mlops(t, "runs", "list", "--dir", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "RUN ") || !strings.Contains(r.stdout, id+"  succeeded  SUCCEEDED") ||
		!strings.Contains(r.stdout, "dataset.versioned") || !strings.Contains(r.stdout, "auc 0.") {
		t.Fatalf("runs list: %+v", r)
	}
	runs := listRuns(t, dir)
	if len(runs) != 1 || runs[0].RunID != id || runs[0].State != training.StateSucceeded || runs[0].Bundle == nil ||
		runs[0].Bundle.Headline != "auc" || runs[0].Rows != 4454 || runs[0].Cause.Kind != training.CauseDatasetVersioned {
		t.Fatalf("runs list -o json: %+v", runs)
	}
	if r := mlops(t, "runs", "list", "--model", "other", "--dir", dir); r.code != 0 || r.stdout != "no runs\n" {
		t.Fatalf("runs list of another model: %+v", r)
	}
	if r := mlops(t, "runs", "list", "--model", "other", "--dir", dir, "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("runs list -o json of another model: %+v", r)
	}

	r = mlops(t, "runs", "show", id, "--dir", dir)
	for _, s := range []string{"run        " + id + " (attempt 1)\n", "state      succeeded\n", "dataset    credit@",
		"(4454 rows, contract ", "cause      dataset.versioned\n", "job        ", " SUCCEEDED (exit code 0)\n",
		"log        s3://" + ep.Buckets.Platform + "/", "bundle     " + bundleLoc + " (sha256 " + runs[0].Bundle.SHA256 + ")\n",
		"history\n", "  claimed  dataset.versioned\n", "  succeeded"} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Fatalf("runs show: no %q in %+v", s, r)
		}
	}
	r = mlops(t, "runs", "show", id, "--dir", dir, "-o", "json")
	var shown training.Run
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil || shown.RunID != id || len(shown.History) < 3 {
		t.Fatalf("runs show -o json: %+v", r)
	}

	if r := mlops(t, "runs", "logs", id, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "test auc") {
		t.Fatalf("runs logs: %+v", r)
	}

	// The run's bundle scores rows of its data, read from S3 (the data's
	// missing values, NA, as score's: empty cells).
	data, err := os.ReadFile(creditCSV)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, string(data))[:101]
	for _, row := range rows {
		for i, v := range row {
			if v == "NA" {
				row[i] = ""
			}
		}
	}
	in, out := filepath.Join(t.TempDir(), "in.csv"), filepath.Join(t.TempDir(), "out.csv")
	writeCSV(t, in, rows)
	if r := mlops(t, "score", "--dir", dir, "--bundle", bundleLoc, "--input", in, "--output", out); r.code != 0 ||
		!strings.Contains(r.stdout, runs[0].Bundle.SHA256[:12]) {
		t.Fatalf("score: %+v", r)
	}
	outData, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	scored := readCSV(t, string(outData))
	if len(scored) != len(rows) || !strings.Contains(strings.Join(scored[0], ","), "p_bad") {
		t.Fatalf("scored %d rows, header %v", len(scored), scored[0])
	}

	// Only failed runs are retried.
	if r := mlops(t, "runs", "retry", id, "--dir", dir, "--wait"); r.code != 1 || !strings.Contains(r.stderr, "only failed runs") {
		t.Fatalf("retry of a succeeded run: %+v", r)
	}

	// A retrain on the same data is the next attempt of the same run.
	r = mlops(t, "runs", "retrain", "credit", "--reason", "again", "--dir", dir, "--wait", "--timeout", "5m")
	if r.code != 0 || !strings.Contains(r.stderr, "requested: s3://"+ep.Buckets.Platform+"/requests/retrain/retrain-credit-") {
		t.Fatalf("retrain: %+v", r)
	}
	id2, attempt2 := shownRun(t, r.stdout)
	_, base, _, _ := training.ParseRunID(id)
	_, base2, _, _ := training.ParseRunID(id2)
	if attempt2 != "2" || base2 != base || !strings.Contains(r.stdout, "state      succeeded\n") ||
		!strings.Contains(r.stdout, "cause      retrain.requested by ") || !strings.Contains(r.stdout, ": again\n") {
		t.Fatalf("retrain ran %s (attempt %s), want attempt 2 of %s: %+v", id2, attempt2, base, r)
	}
	if runs := listRuns(t, dir); len(runs) != 2 || runs[0].RunID != id2 || runs[1].RunID != id {
		t.Fatalf("runs after the retrain: %+v", runs)
	}
}

// A failing trainer: the run fails with its reason and log, a retry is the next
// attempt (once, however often it is asked for), and the commands' usage errors.
func TestRunsWithFailingTrainer(t *testing.T) {
	dir := startPlatformWith(t, local.Config{TrainerCommand: []string{"/bin/sh", "-c", "echo boom >&2; exit 3"}})
	applyCreditAndUpload(t, dir)

	r := mlops(t, "runs", "wait", "--model", "credit", "--dir", dir, "--timeout", "1m")
	if r.code != 1 || !strings.Contains(r.stdout, "state      failed\n") || !strings.Contains(r.stdout, "reason     ") ||
		!strings.Contains(r.stderr, " failed: ") || !strings.Contains(r.stderr, "exit code 3") {
		t.Fatalf("runs wait: %+v", r)
	}
	id, attempt := shownRun(t, r.stdout)
	if attempt != "1" {
		t.Fatalf("first run is attempt %s", attempt)
	}
	if r := mlops(t, "runs", "wait", id, "--dir", dir, "-o", "json"); r.code != 1 || !strings.Contains(r.stdout, `"state": "failed"`) {
		t.Fatalf("runs wait RUN -o json: %+v", r)
	}
	if r := mlops(t, "runs", "list", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, id+"  failed  FAILED") ||
		!strings.Contains(r.stdout, "exit code 3") {
		t.Fatalf("runs list: %+v", r)
	}
	if r := mlops(t, "runs", "show", id, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, " FAILED (exit code 3)\n") ||
		strings.Contains(r.stdout, "bundle ") {
		t.Fatalf("runs show: %+v", r)
	}
	if r := mlops(t, "runs", "logs", id, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "boom") {
		t.Fatalf("runs logs: %+v", r)
	}

	// A retry is attempt 2 of the same run, which fails again.
	_, base, _, _ := training.ParseRunID(id)
	id2 := training.RunID("credit", base, 2)
	r = mlops(t, "runs", "retry", id, "--reason", "x", "--dir", dir, "--wait", "--timeout", "1m")
	if r.code != 1 || !strings.Contains(r.stderr, "requested: ") || !strings.Contains(r.stdout, "run        "+id2+" (attempt 2)\n") ||
		!strings.Contains(r.stdout, "cause      retry of "+id+" by ") || !strings.Contains(r.stdout, ": x\n") ||
		!strings.Contains(r.stderr, "run "+id2+" failed: ") {
		t.Fatalf("retry: %+v", r)
	}
	// The same retry again is the same request: no new attempt.
	r = mlops(t, "runs", "retry", id, "--reason", "x", "--dir", dir, "--wait", "--timeout", "1m")
	if r.code != 1 || !strings.Contains(r.stderr, "already requested") || !strings.Contains(r.stdout, "run        "+id2+" (attempt 2)\n") {
		t.Fatalf("retry again: %+v", r)
	}
	if r := mlops(t, "runs", "retry", id, "--dir", dir); r.code != 0 || !strings.Contains(r.stderr, "already requested") {
		t.Fatalf("retry again without --wait: %+v", r)
	}
	runs := listRuns(t, dir)
	if len(runs) != 2 || runs[0].RunID != id2 || runs[0].Cause.Kind != training.CauseRetry || runs[0].Cause.RetryOf != id ||
		runs[1].RunID != id {
		t.Fatalf("runs after two retries: %+v", runs)
	}

	// Usage errors (2) and runs that are not there (1).
	for _, args := range [][]string{
		{"runs", "show", "credit-0123456789abcdef-1"},
		{"runs", "logs", "credit-0123456789abcdef-1"},
		{"runs", "retry", "credit-0123456789abcdef-1"},
		{"runs", "wait", "credit-0123456789abcdef-1"},
	} {
		if r := mlops(t, append(args, "--dir", dir)...); r.code != 1 || !strings.Contains(r.stderr, "no run credit-0123456789abcdef-1") {
			t.Errorf("%v: %+v; want exit 1", args, r)
		}
	}
	for _, args := range [][]string{
		{"runs", "show", "credit-1"},
		{"runs", "show", "Credit-0123456789abcdef-1"},
		{"runs", "logs", "nope"},
		{"runs", "retry", "credit-0123456789abcdef"},
		{"runs", "wait", "credit-0123456789ABCDEF-1"},
		{"runs", "wait", id, "--model", "credit"},
		{"runs", "wait"},
		{"runs", "show"},
		{"runs", "show", id, id},
		{"runs", "list", "extra"},
		{"runs", "retrain", "Not A Name"},
		{"runs", "list", "-o", "yaml"},
		{"runs", "show", id, "--bogus"},
	} {
		if r := mlops(t, append(args, "--dir", dir)...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: %+v; want exit 2", args, r)
		}
	}
	if r := mlops(t, "runs", "list", "--dir", filepath.Join(t.TempDir(), "nowhere")); r.code != 3 {
		t.Errorf("no platform: %+v; want exit 3", r)
	}
}

// A retrain while a run of the same inputs is in flight is satisfied by that
// run, and --wait waits for it.
func TestRunsRetrainWaitsForTheRunInFlight(t *testing.T) {
	dir := startPlatformWith(t, local.Config{TrainerCommand: []string{"/bin/sh", "-c", "sleep 4; echo slow boom >&2; exit 3"}})
	applyCreditAndUpload(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	var runs []training.Run
	for runs = listRuns(t, dir); len(runs) == 0 || runs[0].Job.Status != training.StatusRunning; runs = listRuns(t, dir) {
		if time.Now().After(deadline) {
			t.Fatalf("no run started: %+v", runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // older than a request's own runs can be
	r := mlops(t, "runs", "retrain", "credit", "--dir", dir, "--wait", "--timeout", "30s")
	if r.code != 1 || !strings.Contains(r.stdout, "run        "+runs[0].RunID+" (attempt 1)\n") ||
		!strings.Contains(r.stderr, "run "+runs[0].RunID+" failed: ") {
		t.Fatalf("retrain while %s is in flight: %+v", runs[0].RunID, r)
	}
	if runs := listRuns(t, dir); len(runs) != 1 {
		t.Fatalf("the retrain started another run: %+v", runs)
	}
}

func TestRunsHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"", "list", "show", "logs", "retry", "retrain", "wait"} {
		args := append(strings.Fields("runs "+sub), "--help")
		r := mlops(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "  mlops runs "+sub) {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

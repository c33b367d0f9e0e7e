package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/lambdatest"
)

// A trainer's Python without xgboost is named at start, with the command that
// installs what the demo needs, rather than only in the first run's failure.
func TestUpWarnsWhenTheTrainerCannotImportXGBoost(t *testing.T) {
	dir := t.TempDir()
	python := filepath.Join(t.TempDir(), "python3")
	script := "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'xgboost'\" >&2\nexit 1\n"
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lambdatest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--dir", dir, "--s3-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--site-addr", "127.0.0.1:0",
			"--reconcile-every", "-1s", "--python", python}, &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("up exited %d: %s", code, errOut.String())
	}
	warn := errOut.String()
	for _, want := range []string{python + " cannot import xgboost", "No module named 'xgboost'", "scripts/setup.sh demo", "--python"} {
		if !strings.Contains(warn, want) {
			t.Errorf("warning lacks %q:\n%s", want, warn)
		}
	}
}

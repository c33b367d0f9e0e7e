package trainer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
	"github.com/openmlops/mlops/trainer"
	"github.com/openmlops/mlops/trainer/trainertest"
)

// In AWS the trainer reads its inputs from S3 and writes the bundle there itself,
// every file create-once (If-None-Match: *): a second job of the same run (Batch
// has no idempotency token) must fail rather than overwrite the bundle the
// manifest describes. This runs that path with boto3 against the embedded S3.
func TestS3InputsAndCreateOnceBundle(t *testing.T) {
	needPython(t)
	if out, err := exec.Command(python, "-c", "import boto3").CombinedOutput(); err != nil {
		if testing.Short() {
			t.Skipf("boto3 is not installed (%s); CI installs python3-boto3", bytes.TrimSpace(out))
		}
		t.Fatal("the trainer's S3 path needs boto3: apt-get install python3-boto3")
	}
	srv, st := lambdatest.S3(t, "platform")
	ctx := context.Background()
	c := creditContract(t)
	sp := creditSpec("binary:logistic", "bad")
	specJSON, err := json.Marshal(sp)
	must(t, err)
	put := func(key string, body []byte) string {
		if _, err := st.Put(ctx, "platform", key, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		return "s3://platform/" + key
	}
	params := map[string]string{
		training.ParamData:     put("datasets/credit/objects/p1.csv.gz", trainertest.GzipCSV(t, trainertest.CreditRows(t))),
		training.ParamContract: put("contracts/credit/c.json", c.Canonical()),
		training.ParamSpec:     put("specs/credit/s.json", specJSON),
		training.ParamOutput:   "s3://platform/runs/credit-0123456789abcdef-1/bundle/",
		training.ParamRunID:    "credit-0123456789abcdef-1", training.ParamDatasetVersion: "v1", training.ParamTrainer: "sha256:test",
	}
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	script := filepath.Join(dir, "train.py")
	args := trainertest.TrainArgs(script, params)
	home := t.TempDir()
	trainOnce := func() (int, string) {
		cmd := exec.Command(python, args...)
		cmd.Env = append(os.Environ(), "MLOPS_DEVICE=cpu", "OMP_NUM_THREADS=1", "HOME="+home,
			"AWS_ACCESS_KEY_ID="+lambdatest.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+lambdatest.SecretAccessKey,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_EC2_METADATA_DISABLED=true", "MLOPS_S3_ENDPOINT="+srv.URL())
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := trainOnce(); code != 0 {
		t.Fatalf("trainer exited %d:\n%s", code, out)
	}
	b, err := bundlestore.Fetch(ctx, st, "platform", "runs/credit-0123456789abcdef-1/bundle/")
	if err != nil {
		t.Fatal(err)
	}
	must(t, b.CheckSamples())

	// A duplicate job of the same run: its files differ (timings in the lineage),
	// so it must stop, and the first bundle must still verify as it was.
	code, out := trainOnce()
	if code == 0 || !strings.Contains(out, "another job of this run wrote the bundle first") {
		t.Fatalf("the duplicate job exited %d:\n%s", code, out)
	}
	again, err := bundlestore.Fetch(ctx, st, "platform", "runs/credit-0123456789abcdef-1/bundle/")
	if err != nil || again.SHA256 != b.SHA256 {
		t.Fatalf("the first bundle changed: %v (%s, was %s)", err, again.SHA256, b.SHA256)
	}
}

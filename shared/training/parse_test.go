package training_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// validRunJSON is a succeeded run as the service writes it.
const validRunJSON = `{
  "schemaVersion": "1",
  "runId": "credit-0123456789abcdef-2",
  "base": "0123456789abcdef",
  "attempt": 2,
  "model": "credit",
  "dataset": "credit",
  "datasetVersion": "0123456789abcdef01234567",
  "manifestKey": "datasets/credit/versions/0123456789abcdef01234567/manifest.json",
  "contractHash": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
  "specHash": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "specKey": "specs/credit/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json",
  "trainer": "local-1",
  "rows": 4454,
  "cause": {"kind": "retry", "requestId": "retry-credit-0123456789abcdef-1", "retryOf": "credit-0123456789abcdef-1"},
  "state": "succeeded",
  "owner": "o",
  "claimedAt": "2026-03-09T10:00:00Z",
  "job": {"name": "credit-0123456789abcdef-2", "id": "job-1", "status": "SUCCEEDED"},
  "bundle": {"prefix": "runs/credit-0123456789abcdef-2/bundle/", "sha256": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "headline": "auc", "headlineValue": 0.83},
  "createdAt": "2026-03-09T10:00:00Z",
  "updatedAt": "2026-03-09T10:10:00Z",
  "history": []
}`

func TestParseRun(t *testing.T) {
	r, err := training.ParseRun([]byte(validRunJSON))
	if err != nil || r.RunID != "credit-0123456789abcdef-2" || r.Bundle == nil {
		t.Fatalf("a valid record: %+v, %v", r, err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"succeeded without a bundle", `"bundle": {`, `"nobundle": {`, "without a bundle"},
		{"a bundle elsewhere", `"prefix": "runs/credit-0123456789abcdef-2/bundle/"`, `"prefix": "runs/other/bundle/"`, "bundle prefix"},
		{"a bundle hash that is none", `"sha256": "bbbb`, `"sha256": "xbbb`, "sha256"},
		{"an unknown state", `"state": "succeeded"`, `"state": "done"`, "unknown state"},
		{"a bad run ID", `"runId": "credit-0123456789abcdef-2"`, `"runId": "../credit"`, "run ID"},
		{"an attempt the ID does not name", `"attempt": 2`, `"attempt": 0`, "attempt"},
		{"a model the ID does not name", `"model": "credit"`, `"model": "other"`, "model"},
		{"a dataset version that is no version ID", `"datasetVersion": "0123456789abcdef01234567"`, `"datasetVersion": "../x"`, "datasetVersion"},
		{"a manifest key elsewhere", `"manifestKey": "datasets/`, `"manifestKey": "x/`, "manifestKey"},
		{"a retry of another model", `"retryOf": "credit-`, `"retryOf": "other-`, "retryOf"},
		{"a retry without a request", `"requestId": "retry-credit-0123456789abcdef-1", `, ``, "requestId"},
		{"an unknown cause", `"kind": "retry"`, `"kind": "whim"`, "unknown kind"},
		{"a job of another name", `"name": "credit-0123456789abcdef-2"`, `"name": "x"`, "job name"},
		{"a contract hash that is none", `"contractHash": "cccc`, `"contractHash": "Xccc`, "contractHash"},
		{"not JSON", `{`, `[`, "damaged"},
	} {
		b := strings.Replace(validRunJSON, c.from, c.to, 1)
		if b == validRunJSON {
			t.Fatalf("%s: the case changes nothing", c.name)
		}
		if _, err := training.ParseRun([]byte(b)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error naming %q", c.name, err, c.want)
		}
	}
	// A claimed run has no bundle yet.
	claimed := strings.Replace(strings.Replace(validRunJSON, `"state": "succeeded"`, `"state": "claimed"`, 1), `"bundle": {`, `"nobundle": {`, 1)
	if _, err := training.ParseRun([]byte(claimed)); err != nil {
		t.Fatalf("a claimed run: %v", err)
	}
}

// A record stored under another run's key is not that run.
func TestGetRunChecksTheKey(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	other := "credit-0123456789abcdef-3"
	if _, err := h.st.Put(ctx, bucket, training.RunKey(other), []byte(validRunJSON), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := training.GetRun(ctx, h.st, bucket, other); err == nil || !strings.Contains(err.Error(), "names run") {
		t.Fatalf("GetRun of a record naming another run: %v", err)
	}
	if _, err := training.ListRuns(ctx, h.st, bucket, ""); err == nil {
		t.Fatal("ListRuns read a damaged record without an error")
	}
}

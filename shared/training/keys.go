// Package training is the train use case: it turns a new dataset version (or a
// retrain request) into exactly one trainer job per model, follows the job through
// the batch system's state events, and announces the outcome.
//
// Exactly once comes from S3, not from Batch (SubmitJob has no idempotency token):
// a run is named by the hash of what it trains on (dataset version, spec, trainer)
// plus an attempt number, claimed with a create-once write of runs/<run-id>/run.json,
// and then moved by compare-and-swap: claimed → submitted (job ID) → succeeded |
// failed. Only the claimant submits; a claim whose owner vanished is taken over after
// a lease, and the taker first looks the job up by name, so a crash between
// SubmitJob and recording its ID does not make a second job. (Where one runs
// anyway, a claimant stalled past its lease or ListJobs lagging, the run follows
// one job and a complete bundle from either counts: docs/training.md.) A
// retrain or retry request records the run that answers it, create-once by
// request ID, before the claim, so the same request delivered again, however
// late, starts nothing new.
package training

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/naming"
)

// Layout of the platform bucket for runs (docs/design.md, "Where things live").

// RunsPrefix is the folder of every run.
const RunsPrefix = "runs/"

// RunPrefix is one run's folder.
func RunPrefix(runID string) string { return RunsPrefix + runID + "/" }

// RunKey is the run record: created once by the claim, then moved by CAS.
func RunKey(runID string) string { return RunPrefix(runID) + "run.json" }

// BundlePrefix is where the trainer writes the bundle, manifest last.
func BundlePrefix(runID string) string { return RunPrefix(runID) + "bundle/" }

// PublishedKey marks that the run's final event went out.
func PublishedKey(runID string) string { return RunPrefix(runID) + "published" }

// PendingPrefix indexes runs that are not final and published yet, so reconcile
// finds stranded runs without listing every run.
const PendingPrefix = "pending/runs/"

// PendingKey is one run's entry in the pending index.
func PendingKey(runID string) string { return PendingPrefix + runID }

// TriggerKey holds a model's last triggered run, for specs that train at most
// every N hours or after M new rows.
func TriggerKey(model string) string { return "triggers/" + model + ".json" }

// RequestsPrefix is where clients (the CLI) drop retrain and retry requests in the
// platform bucket; their Object Created events reach the train function.
const RequestsPrefix = "requests/retrain/"

// RequestKey is one retrain request; its ID makes a repeated request one request.
func RequestKey(requestID string) string { return RequestsPrefix + requestID + ".json" }

// RequestRecordKey records which run a retrain or retry request started (or was
// satisfied by): created once before the claim, so a redelivery of the request,
// however late, resumes that run instead of claiming another attempt. It lives
// under runs/, not under RequestsPrefix, whose objects are requests themselves.
func RequestRecordKey(model, requestID string) string {
	return RunsPrefix + "requests/" + model + "/" + requestID + ".json"
}

// A run ID is <model>-<16 hex of the run's base hash>-<attempt>: readable, unique
// per (dataset version, spec, trainer, attempt), and a valid Batch job name.
var runIDPattern = regexp.MustCompile(`^(` + naming.Pattern + `)-([0-9a-f]{16})-([1-9][0-9]{0,3})$`)

// RunID names attempt n of the run with the given base hash.
func RunID(model, base string, attempt int) string {
	return fmt.Sprintf("%s-%s-%d", model, base, attempt)
}

// ParseRunID splits a run ID into model, base and attempt.
func ParseRunID(id string) (model, base string, attempt int, err error) {
	m := runIDPattern.FindStringSubmatch(id)
	if m == nil {
		return "", "", 0, fmt.Errorf("run ID %q: expected <model>-<16 hex>-<attempt>", id)
	}
	n, _ := strconv.Atoi(m[3])
	return m[1], m[2], n, nil
}

func validRunID(id string) bool { return runIDPattern.MatchString(id) }

// attemptsPrefix lists every attempt of one run base.
func attemptsPrefix(model, base string) string {
	return RunsPrefix + model + "-" + base + "-"
}

// runIDOfKey returns the run ID of a key under runs/, or "".
func runIDOfKey(key string) string {
	rest, ok := strings.CutPrefix(key, RunsPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

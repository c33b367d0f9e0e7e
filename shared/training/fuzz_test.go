package training_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/training"
)

// FuzzParseRequest: a retrain request object is whatever a client wrote to the
// bucket; it must be refused with an error, never a panic, and an accepted one
// must be consistent with its key.
func FuzzParseRequest(f *testing.F) {
	f.Add("r1", []byte(`{"schemaVersion":"1","requestId":"r1","model":"credit","reason":"drift"}`))
	f.Add("retry-credit-0123456789abcdef-1", []byte(`{"requestId":"retry-credit-0123456789abcdef-1","retryOf":"credit-0123456789abcdef-1","model":"credit"}`))
	f.Add("x", []byte(`{"requestId":"y","model":"credit"}`))
	f.Add("x", []byte(`{"requestId":"x","unknown":1}`))
	f.Add("x", []byte(`[]`))
	f.Add("x", []byte(``))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		key := training.RequestKey(id)
		req, err := training.ParseRequest(key, body)
		if err != nil {
			return
		}
		if training.RequestKey(req.RequestID) != key || (req.Model == "" && req.RetryOf == "") {
			t.Fatalf("accepted an inconsistent request %+v for key %q", req, key)
		}
		// What becomes part of a key has its shape.
		if training.CheckRequestID(req.RequestID) != nil || (req.RetryOf != "" && training.CheckRetryOf(req.RetryOf, req.Model) != nil) ||
			(req.DatasetVersion != "" && training.CheckDatasetVersion(req.DatasetVersion) != nil) {
			t.Fatalf("accepted a request whose fields are no keys: %+v", req)
		}
	})
}

// FuzzJobState: Batch event details arrive from outside; mapping them and
// reading their run IDs must never panic, and a status never comes out final
// unless Batch said so.
func FuzzJobState(f *testing.F) {
	f.Add([]byte(`{"jobName":"credit-0123456789abcdef-1","jobId":"j","status":"SUCCEEDED","container":{"exitCode":0}}`))
	f.Add([]byte(`{"jobName":"x","jobId":"j","status":"FAILED","attempts":[{"container":{"exitCode":137,"reason":"OOM"}}]}`))
	f.Add([]byte(`{"status":"RUNNING","createdAt":-1,"startedAt":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		var d event.BatchJobDetail
		if json.Unmarshal(detail, &d) != nil {
			return
		}
		st := training.JobStatusFromDetail(d)
		if st.Final() != (d.Status == training.StatusSucceeded || d.Status == training.StatusFailed) {
			t.Fatalf("status %q mapped to final=%v", d.Status, st.Final())
		}
		if m, b, n, err := training.ParseRunID(st.Name); err == nil {
			if training.RunID(m, b, n) != st.Name || strings.Contains(st.Name, "/") {
				t.Fatalf("run ID %q does not round-trip", st.Name)
			}
		}
	})
}

// FuzzParseRun: a run record is read back by every delivery, the sweep and the
// CLI; whatever the bytes, ParseRun returns an error or a record the code can
// rely on, never a panic.
func FuzzParseRun(f *testing.F) {
	f.Add([]byte(validRunJSON))
	f.Add([]byte(strings.Replace(validRunJSON, `"state": "succeeded"`, `"state": "claimed"`, 1)))
	f.Add([]byte(`{"runId":"credit-0123456789abcdef-1","state":"succeeded"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := training.ParseRun(b)
		if err != nil {
			return
		}
		m, base, n, err := training.ParseRunID(r.RunID)
		if err != nil || m != r.Model || base != r.Base || n != r.Attempt || n < 1 {
			t.Fatalf("accepted a run whose ID does not name it: %+v", r)
		}
		if r.State == training.StateSucceeded && (r.Bundle == nil || r.Bundle.Prefix != training.BundlePrefix(r.RunID)) {
			t.Fatalf("accepted a succeeded run without its bundle: %+v", r)
		}
		if !r.Final() && r.State != training.StateClaimed && r.State != training.StateSubmitted {
			t.Fatalf("accepted state %q", r.State)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted run does not encode: %v", err)
		}
		if _, err := training.ParseRun(again); err != nil {
			t.Fatalf("an accepted run does not read back: %v", err)
		}
	})
}

package training_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/training"
)

// sampleDetail decodes an events/ sample the way the train handler does:
// envelope, then detail, without refusing the fields AWS sends that the
// platform does not keep.
func sampleDetail(t *testing.T, name string) event.BatchJobDetail {
	t.Helper()
	var env event.Envelope
	if err := json.Unmarshal(events.Sample(name), &env); err != nil {
		t.Fatal(err)
	}
	var d event.BatchJobDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func intp(v int) *int { return &v }

func TestJobStatusFromDetail(t *testing.T) {
	tags := func(run string) map[string]string {
		return map[string]string{"dataset": "credit", "model": "credit-xgb", "run": run}
	}
	const (
		okJob     = "0f6e2c8a-3b4d-4e1f-9a7c-5d8b2e6f1a30"
		okRun     = "credit-xgb-4f2a9c1e7b3d5a60-1"
		failedJob = "7a3c9e1b-5d2f-4b8a-8e6c-1f4a9b2d7c05"
		failedRun = "credit-xgb-9c1e7b3d5a604f2a-1"
	)
	for _, tc := range []struct {
		name   string
		detail event.BatchJobDetail
		want   training.JobStatus
		final  bool
	}{
		{
			name:   "sample running",
			detail: sampleDetail(t, "batch-job-state-change-running"),
			want: training.JobStatus{ID: okJob, Name: okRun, Status: training.StatusRunning,
				LogStream: "mlops-trainer/default/1b7e9d3c5a2f4e6b8d0c1a3e5f7b9d2c",
				CreatedAt: ms(1772446535512), StartedAt: ms(1772446624871), Tags: tags(okRun)},
		},
		{
			name:   "sample succeeded",
			detail: sampleDetail(t, "batch-job-state-change-succeeded"),
			want: training.JobStatus{ID: okJob, Name: okRun, Status: training.StatusSucceeded,
				StatusReason: "Essential container in task exited", ExitCode: intp(0),
				LogStream: "mlops-trainer/default/1b7e9d3c5a2f4e6b8d0c1a3e5f7b9d2c",
				CreatedAt: ms(1772446535512), StartedAt: ms(1772446624871), StoppedAt: ms(1772447387306), Tags: tags(okRun)},
			final: true,
		},
		{
			// Two attempts: a spot reclaim retried, then an out-of-memory kill. The
			// job-level container is the last attempt's, and its reason says why.
			name:   "sample failed",
			detail: sampleDetail(t, "batch-job-state-change-failed"),
			want: training.JobStatus{ID: failedJob, Name: failedRun, Status: training.StatusFailed,
				StatusReason: "Essential container in task exited (OutOfMemoryError: Container killed due to memory usage)",
				ExitCode:     intp(137), LogStream: "mlops-trainer/default/9e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f",
				CreatedAt: ms(1772446535512), StartedAt: ms(1772447462118), StoppedAt: ms(1772447599744), Tags: tags(failedRun)},
			final: true,
		},
		{
			name:   "runnable: no times but creation, no container",
			detail: event.BatchJobDetail{JobID: "j1", JobName: "n1", Status: "RUNNABLE", CreatedAt: 1000},
			want:   training.JobStatus{ID: "j1", Name: "n1", Status: training.StatusRunnable, CreatedAt: ms(1000)},
		},
		{
			name: "exit code, log stream, reason and times only in the last attempt",
			detail: event.BatchJobDetail{JobID: "j2", JobName: "n2", Status: "FAILED", Attempts: []event.BatchAttempt{
				{Container: event.BatchContainer{ExitCode: intp(1), LogStreamName: "first"}, StartedAt: 10, StoppedAt: 20,
					StatusReason: "Host EC2 (instance i-1) terminated."},
				{Container: event.BatchContainer{ExitCode: intp(2), LogStreamName: "second"}, StartedAt: 30, StoppedAt: 40,
					StatusReason: "Essential container in task exited"},
			}},
			want: training.JobStatus{ID: "j2", Name: "n2", Status: training.StatusFailed,
				StatusReason: "Essential container in task exited", ExitCode: intp(2), LogStream: "second",
				StartedAt: ms(30), StoppedAt: ms(40)},
			final: true,
		},
		{
			// A job that never started a container: the timeout or cancel reason is
			// the job's, and no exit code is invented.
			name: "failed before any attempt",
			detail: event.BatchJobDetail{JobID: "j3", JobName: "n3", Status: "FAILED", StatusReason: "Job attempt duration exceeded timeout",
				CreatedAt: 5, StoppedAt: 9, Container: &event.BatchContainer{Reason: "CannotPullContainerError: pull access denied"}},
			want: training.JobStatus{ID: "j3", Name: "n3", Status: training.StatusFailed,
				StatusReason: "Job attempt duration exceeded timeout (CannotPullContainerError: pull access denied)",
				CreatedAt:    ms(5), StoppedAt: ms(9)},
			final: true,
		},
		{
			// The container's exit code wins over an attempt's that disagrees (Batch
			// fills the container from the latest attempt).
			name: "container wins over attempts",
			detail: event.BatchJobDetail{JobID: "j4", JobName: "n4", Status: "SUCCEEDED", StartedAt: 50, StoppedAt: 60,
				Container: &event.BatchContainer{ExitCode: intp(0), LogStreamName: "job-level"},
				Attempts:  []event.BatchAttempt{{Container: event.BatchContainer{ExitCode: intp(9), LogStreamName: "attempt"}, StartedAt: 1, StoppedAt: 2}}},
			want: training.JobStatus{ID: "j4", Name: "n4", Status: training.StatusSucceeded, ExitCode: intp(0),
				LogStream: "job-level", StartedAt: ms(50), StoppedAt: ms(60)},
			final: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := training.JobStatusFromDetail(tc.detail)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v (exit %v)\nwant %+v (exit %v)", got, deref(got.ExitCode), tc.want, deref(tc.want.ExitCode))
			}
			if got.Final() != tc.final {
				t.Errorf("Final() = %v", got.Final())
			}
		})
	}
}

// The status owns its exit code and tags: changing the detail afterwards (a
// handler reusing its decode buffer) does not change it.
func TestJobStatusFromDetailCopies(t *testing.T) {
	d := event.BatchJobDetail{JobID: "j", Status: "FAILED", Tags: map[string]string{"run": "r"},
		Container: &event.BatchContainer{ExitCode: intp(3)}}
	s := training.JobStatusFromDetail(d)
	*d.Container.ExitCode = 4
	d.Tags["run"] = "other"
	if *s.ExitCode != 3 || s.Tags["run"] != "r" {
		t.Errorf("status follows the detail: exit %d, run tag %s", *s.ExitCode, s.Tags["run"])
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

package training

import (
	"maps"
	"time"

	"github.com/openmlops/mlops/shared/event"
)

// JobStatusFromDetail reads a job's state from the detail of a "Batch Job State
// Change" event. The AWS adapter maps DescribeJobs' answer through it too (the
// event detail is DescribeJobs' job shape), and the local runner describes its
// jobs with it, so a job reads the same whichever way its state arrives.
//
// The exit code and log stream come from the job's container when it has them,
// else from the last attempt: Batch fills the container part from the latest
// attempt, but a job that failed before its container reported (or an event
// sent between attempts) may carry them only in the attempts. A container
// reason (such as "OutOfMemoryError: Container killed due to memory usage") is
// appended to the status reason in parentheses, because Batch's status reason
// alone ("Essential container in task exited") does not say why.
func JobStatusFromDetail(d event.BatchJobDetail) JobStatus {
	s := JobStatus{
		ID:           d.JobID,
		Name:         d.JobName,
		Status:       d.Status,
		StatusReason: d.StatusReason,
		CreatedAt:    batchMillis(d.CreatedAt),
		StartedAt:    batchMillis(d.StartedAt),
		StoppedAt:    batchMillis(d.StoppedAt),
		Tags:         maps.Clone(d.Tags),
	}
	var last *event.BatchAttempt
	if n := len(d.Attempts); n > 0 {
		last = &d.Attempts[n-1]
	}
	var reason string
	if c := d.Container; c != nil {
		s.ExitCode = cloneInt(c.ExitCode)
		s.LogStream = c.LogStreamName
		reason = c.Reason
	}
	if last != nil {
		if s.ExitCode == nil {
			s.ExitCode = cloneInt(last.Container.ExitCode)
		}
		if s.LogStream == "" {
			s.LogStream = last.Container.LogStreamName
		}
		if reason == "" {
			reason = last.Container.Reason
		}
		if s.StatusReason == "" {
			s.StatusReason = last.StatusReason
		}
		// A job's startedAt is its latest attempt's; fill it from the attempt when
		// the job-level field is missing (some events carry only the attempts).
		if s.StartedAt.IsZero() {
			s.StartedAt = batchMillis(last.StartedAt)
		}
		if s.StoppedAt.IsZero() && (d.Status == StatusSucceeded || d.Status == StatusFailed) {
			s.StoppedAt = batchMillis(last.StoppedAt)
		}
	}
	switch {
	case reason == "" || reason == s.StatusReason:
	case s.StatusReason == "":
		s.StatusReason = reason
	default:
		s.StatusReason += " (" + reason + ")"
	}
	return s
}

// batchMillis converts Batch's milliseconds since the Unix epoch; 0 (absent) is
// the zero time, not 1970.
func batchMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// cloneInt copies p so that a JobStatus never aliases the detail it came from.
func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

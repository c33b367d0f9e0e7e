package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
)

// A run's job as Batch reports it: state events in any order, final states,
// failure reasons, and announcing the outcome at least once.

// OnJobState applies a batch job's state to its run. Events arrive in any order
// and more than once: a status never moves back, a final state is final, and an
// event for a job other than the run's recorded one (a duplicate job) is ignored.
func (s *Service) OnJobState(ctx context.Context, st JobStatus) error {
	if _, _, _, err := ParseRunID(st.Name); err != nil {
		s.log.Info("job state for a job that is not a run; ignored", "job", st.Name, "id", st.ID)
		return nil
	}
	rec, _, err := s.Get(ctx, st.Name)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Warn("job state for an unknown run; ignored", "run", st.Name, "job", st.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Final() {
		return s.ensurePublished(ctx, rec)
	}
	if rec.Job.ID != "" && st.ID != "" && rec.Job.ID != st.ID {
		s.log.Warn("job state for another job with this run's name; ignored", "run", rec.RunID, "recorded", rec.Job.ID, "event", st.ID)
		return nil
	}
	if rec.Job.ID == "" && st.ID != "" {
		// No job recorded yet: the event's job is adopted only if it is the
		// newest of the run's name. A claimant that died after SubmitJob leaves
		// a job that a taker may not have found (ListJobs lags) and submitted
		// again; the dead claimant's job failing must not fail the run the
		// taker's job is training.
		newest, found, err := s.batch.FindByName(ctx, rec.RunID)
		if err != nil {
			return fmt.Errorf("run %s: look up job %s: %w", rec.RunID, rec.RunID, err)
		}
		if found && newest.ID != st.ID {
			s.log.Warn("job state for a job this run does not follow (a newer job has its name); ignored",
				"run", rec.RunID, "newest", newest.ID, "event", st.ID)
			return nil
		}
	}
	if !st.Final() {
		_, err := s.update(ctx, rec.RunID, func(r *Run) bool {
			if r.Final() || statusRank(st.Status) <= statusRank(r.Job.Status) {
				return false
			}
			if r.Job.ID == "" {
				r.Job.ID = st.ID
			}
			if r.State == StateClaimed {
				r.State = StateSubmitted
			}
			applyStatus(r, st)
			r.History = append(r.History, Step{At: s.now(), State: r.State, Status: st.Status})
			return true
		})
		return err
	}
	var b *Bundle
	reason, note := "", ""
	if st.Status == StatusSucceeded {
		got, err := s.verify(ctx, s.cfg.Bucket, BundlePrefix(rec.RunID), rec)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			reason = "the job succeeded but its bundle did not verify: " + err.Error()
		} else {
			b = &got
		}
	} else {
		reason = failureReason(st)
		if why := s.trainerError(ctx, rec.RunID); why != "" {
			reason += ": " + why
		}
		got, err := s.completeBundle(ctx, rec)
		if err != nil {
			return err
		}
		if got != nil {
			// A duplicate job (two takers racing) wrote the whole bundle first, and
			// this job failed on its create-once files; or the trainer failed after
			// writing its manifest. Either way the run's output is complete and
			// verified: the run succeeded.
			s.log.Warn("job failed, but the run's bundle is complete and verified", "run", rec.RunID, "job", st.ID, "reason", reason)
			b, note = got, "job "+st.ID+" failed ("+reason+"), but the run's bundle is complete and verified"
		}
	}
	final, err := s.update(ctx, rec.RunID, func(r *Run) bool {
		if r.Final() {
			return false
		}
		now := s.now()
		if r.Job.ID == "" {
			r.Job.ID = st.ID
		}
		applyStatus(r, st)
		r.FinishedAt = now
		if b != nil {
			r.State, r.Bundle = StateSucceeded, b
		} else {
			reason = clipReason(reason)
			r.State, r.Reason, note = StateFailed, reason, reason
		}
		r.History = append(r.History, Step{At: now, State: r.State, Status: st.Status, Note: note})
		return true
	})
	if err != nil {
		return err
	}
	s.log.Info("run finished", "run", final.RunID, "state", final.State, "reason", final.Reason)
	return s.ensurePublished(ctx, final)
}

// completeBundle verifies the run's bundle if its manifest (written last) is
// there, for a run whose job failed: nil if there is none or it does not verify.
func (s *Service) completeBundle(ctx context.Context, rec *Run) (*Bundle, error) {
	prefix := BundlePrefix(rec.RunID)
	if _, err := s.st.Head(ctx, s.cfg.Bucket, prefix+bundle.ManifestFile); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("run %s: %w", rec.RunID, err)
	}
	got, err := s.verify(ctx, s.cfg.Bucket, prefix, rec)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		s.log.Warn("the failed job's run has a bundle that does not verify", "run", rec.RunID, "error", err)
		return nil, nil
	}
	return &got, nil
}

// fail ends a run that cannot go on, whatever its job does.
func (s *Service) fail(ctx context.Context, id, reason string, exitCode *int) error {
	final, err := s.update(ctx, id, func(r *Run) bool {
		if r.Final() {
			return false
		}
		now := s.now()
		r.State, r.Reason, r.FinishedAt = StateFailed, clipReason(reason), now
		if exitCode != nil {
			r.Job.ExitCode = exitCode
		}
		r.History = append(r.History, Step{At: now, State: StateFailed, Note: reason})
		return true
	})
	if err != nil {
		return err
	}
	return s.ensurePublished(ctx, final)
}

// trainerError reads the error.json a failed trainer left in its output folder
// (the container contract), so the run says why, not only that it exited.
func (s *Service) trainerError(ctx context.Context, id string) string {
	b, info, err := s.st.ReadAll(ctx, s.cfg.Bucket, BundlePrefix(id)+bundle.ErrorFile)
	if err != nil || info.Size > 64<<10 {
		return ""
	}
	var rep bundle.ErrorReport
	if json.Unmarshal(b, &rep) != nil || rep.Error == "" {
		return ""
	}
	msg := strings.Join(strings.Fields(rep.Error), " ")
	if r := []rune(msg); len(r) > 1000 {
		msg = string(r[:1000]) + "…"
	}
	if rep.Kind == bundle.ErrorBadInput {
		return "bad input: " + msg
	}
	return msg
}

func failureReason(st JobStatus) string {
	reason := st.StatusReason
	if reason == "" {
		reason = "the job failed"
	}
	if st.ExitCode != nil {
		reason += " (exit code " + strconv.Itoa(*st.ExitCode) + ")"
	}
	return reason
}

func applyStatus(r *Run, st JobStatus) {
	if statusRank(st.Status) > statusRank(r.Job.Status) {
		r.Job.Status = st.Status
	}
	if st.StatusReason != "" {
		r.Job.StatusReason = clipReason(st.StatusReason)
	}
	if st.ExitCode != nil {
		r.Job.ExitCode = st.ExitCode
	}
	if st.LogStream != "" {
		r.Job.LogLocation = st.LogStream
	}
	if !st.StartedAt.IsZero() {
		r.Job.StartedAt = st.StartedAt.UTC()
	}
	if !st.StoppedAt.IsZero() {
		r.Job.StoppedAt = st.StoppedAt.UTC()
	}
}

// ensurePublished announces a final run once it is committed, again on every
// delivery until the published marker exists (at least once), then drops the run
// from the pending index.
func (s *Service) ensurePublished(ctx context.Context, rec *Run) error {
	if _, err := s.st.Head(ctx, s.cfg.Bucket, PublishedKey(rec.RunID)); err == nil {
		return s.unindex(ctx, rec.RunID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("run %s: %w", rec.RunID, err)
	}
	ev := event.Event{Source: event.Source, Resources: []string{"s3://" + s.cfg.Bucket + "/" + RunKey(rec.RunID)}}
	if rec.State == StateSucceeded {
		ev.DetailType = event.TrainingSucceeded
		ev.Detail = event.TrainingSucceededDetail{SchemaVersion: event.SchemaVersion, RunID: rec.RunID, Model: rec.Model,
			Dataset: rec.Dataset, DatasetVersion: rec.DatasetVersion, ContractHash: rec.ContractHash, SpecHash: rec.SpecHash,
			Trainer: rec.Trainer, Bucket: s.cfg.Bucket, RunKey: RunKey(rec.RunID), BundlePrefix: rec.Bundle.Prefix,
			BundleSHA256: rec.Bundle.SHA256, Headline: rec.Bundle.Headline, HeadlineValue: rec.Bundle.HeadlineValue,
			JobID: rec.Job.ID, FinishedAt: rec.FinishedAt}
	} else {
		ev.DetailType = event.TrainingFailed
		ev.Detail = event.TrainingFailedDetail{SchemaVersion: event.SchemaVersion, RunID: rec.RunID, Model: rec.Model,
			Dataset: rec.Dataset, DatasetVersion: rec.DatasetVersion, SpecHash: rec.SpecHash, Bucket: s.cfg.Bucket,
			RunKey: RunKey(rec.RunID), JobID: rec.Job.ID, Reason: rec.Reason, ExitCode: rec.Job.ExitCode,
			LogLocation: rec.Job.LogLocation, Attempt: rec.Attempt, FinishedAt: rec.FinishedAt}
	}
	if err := s.pub.Publish(ctx, ev); err != nil {
		return fmt.Errorf("run %s: publish %s: %w", rec.RunID, ev.DetailType, err)
	}
	if _, err := s.st.Create(ctx, s.cfg.Bucket, PublishedKey(rec.RunID), []byte(ev.DetailType), store.PutOptions{}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("run %s: mark published: %w", rec.RunID, err)
	}
	return s.unindex(ctx, rec.RunID)
}

func (s *Service) unindex(ctx context.Context, id string) error {
	if err := s.st.Delete(ctx, s.cfg.Bucket, PendingKey(id), ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("run %s: drop from the pending index: %w", id, err)
	}
	return nil
}

// reasonBytes bounds a run's reason: it may quote a trainer's text or a
// bundle's fields, and it travels in the Training Failed event, which
// EventBridge caps at 256 KB.
const reasonBytes = 2048

func clipReason(s string) string { return clip.Bytes(s, reasonBytes) }

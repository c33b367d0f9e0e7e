package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/store"
)

// Retrain and retry requests: each request starts at most one run, however
// often and however late it is delivered.

// requestRecord is RequestRecordKey(model, requestID): the run a request
// started, or the run in flight that satisfied it.
type requestRecord struct {
	SchemaVersion string    `json:"schemaVersion"`
	RequestID     string    `json:"requestId"`
	Model         string    `json:"model"`
	RunID         string    `json:"runId"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// OnRetrain starts a run on demand: the next attempt of a failed run (RetryOf), or
// a run of the model's current spec on the pinned or latest dataset version. One
// request starts at most one run, and a request while a run of the same inputs is
// in flight is satisfied by that run.
//
// The run a request chose is recorded (create-once, keyed by the request ID)
// before it is claimed, so a redelivery, even after later requests started
// other attempts, resumes that run and never claims another. A crash between
// the two writes leaves a record naming an attempt not yet claimed: the
// redelivery claims it (or, if another request took that attempt meanwhile,
// moves the record on by compare-and-swap).
func (s *Service) OnRetrain(ctx context.Context, d event.RetrainRequestedDetail) error {
	model, err := checkRetrain(d)
	if err != nil {
		return err
	}
	var p *plan
	err = store.Retry(ctx, 5, func() (bool, error) {
		req, etag, err := s.readRequest(ctx, model, d.RequestID)
		if err != nil {
			return false, err
		}
		if req != nil {
			if _, _, err := s.Get(ctx, req.RunID); err == nil {
				s.log.Info("retrain request already has its run", "request", d.RequestID, "run", req.RunID)
				return true, s.resume(ctx, req.RunID)
			} else if !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		}
		if p == nil {
			if p, err = s.planRetrain(ctx, d); err != nil {
				return false, err
			}
		}
		target, attempt, err := s.chooseRun(ctx, *p, d)
		if err != nil {
			return false, err
		}
		if req == nil || req.RunID != target {
			if lost, err := s.recordRequest(ctx, req, etag, model, d.RequestID, target); err != nil || lost {
				return false, err
			}
		}
		if attempt == 0 {
			s.log.Info("retrain satisfied by an existing run", "request", d.RequestID, "run", target)
			return true, s.resume(ctx, target)
		}
		err = s.claim(ctx, *p, attempt)
		if errors.Is(err, errClaimTaken) {
			return false, nil // another request claimed that attempt first: look again
		}
		return true, err
	})
	if errors.Is(err, store.ErrContended) {
		return fmt.Errorf("retrain %s: too much contention, try again", model)
	}
	return err
}

// checkRetrain checks a request's fields before any of them becomes part of a
// key, and returns the model it trains.
func checkRetrain(d event.RetrainRequestedDetail) (string, error) {
	if err := CheckRequestID(d.RequestID); err != nil {
		return "", fmt.Errorf("retrain request: %w", err)
	}
	if d.Model != "" && !naming.Valid(d.Model) {
		return "", fmt.Errorf("retrain request %s: model %q: %s", d.RequestID, d.Model, naming.Rule)
	}
	if d.RetryOf != "" {
		if err := CheckRetryOf(d.RetryOf, d.Model); err != nil {
			return "", fmt.Errorf("retrain request %s: %w", d.RequestID, err)
		}
		if d.DatasetVersion != "" {
			return "", fmt.Errorf("retrain request %s: datasetVersion and retryOf exclude each other: a retry trains its run's version", d.RequestID)
		}
		model, _, _, _ := ParseRunID(d.RetryOf)
		return model, nil
	}
	if d.Model == "" {
		return "", fmt.Errorf("retrain request %s: model or retryOf is required", d.RequestID)
	}
	if d.DatasetVersion != "" {
		if err := CheckDatasetVersion(d.DatasetVersion); err != nil {
			return "", fmt.Errorf("retrain request %s: %w", d.RequestID, err)
		}
	}
	return d.Model, nil
}

// planRetrain resolves what a request trains: a retry, its failed run's spec
// and version; a retrain, the model's current spec on the pinned or latest
// version.
func (s *Service) planRetrain(ctx context.Context, d event.RetrainRequestedDetail) (*plan, error) {
	var p plan
	if d.RetryOf != "" {
		prev, _, err := s.Get(ctx, d.RetryOf)
		if err != nil {
			return nil, fmt.Errorf("retry %s: %w", d.RetryOf, err)
		}
		if prev.State != StateFailed {
			return nil, fmt.Errorf("retry %s: the run is %s; only failed runs are retried", d.RetryOf, prev.State)
		}
		ref, err := s.specs.Get(ctx, prev.SpecKey)
		if err != nil {
			return nil, fmt.Errorf("retry %s: %w", d.RetryOf, err)
		}
		m, err := s.datasets.Manifest(ctx, prev.Dataset, prev.DatasetVersion)
		if err != nil {
			return nil, fmt.Errorf("retry %s: %w", d.RetryOf, err)
		}
		p = plan{ref: ref, manifest: m}
		p.cause = Cause{Kind: CauseRetry, RequestID: d.RequestID, Principal: d.Principal, Reason: d.Reason, RetryOf: d.RetryOf}
	} else {
		ref, err := s.specs.Current(ctx, d.Model)
		if err != nil {
			return nil, fmt.Errorf("retrain %s: %w", d.Model, err)
		}
		version := d.DatasetVersion
		if version == "" {
			if version, err = s.latestVersion(ctx, ref.Spec.Dataset); err != nil {
				return nil, fmt.Errorf("retrain %s: %w", d.Model, err)
			}
		}
		m, err := s.datasets.Manifest(ctx, ref.Spec.Dataset, version)
		if err != nil {
			return nil, fmt.Errorf("retrain %s: %w", d.Model, err)
		}
		p = plan{ref: ref, manifest: m}
		p.cause = Cause{Kind: CauseRetrain, RequestID: d.RequestID, Principal: d.Principal, Reason: d.Reason}
	}
	tr, err := s.trainers.Resolve(p.ref.Spec)
	if err != nil {
		return nil, err
	}
	p.trainer = tr
	return &p, nil
}

// chooseRun picks the run that answers a request: an existing one (attempt 0)
// or the next attempt to claim.
func (s *Service) chooseRun(ctx context.Context, p plan, d event.RetrainRequestedDetail) (string, int, error) {
	last, err := s.lastAttempt(ctx, p.ref.Spec.Name, p.base())
	switch {
	case err != nil:
		return "", 0, err
	case last == nil:
		return RunID(p.ref.Spec.Name, p.base(), 1), 1, nil
	case last.Cause.RequestID == d.RequestID, !last.Final(), last.State == StateSucceeded && d.RetryOf != "":
		// This request's run (claimed before requests were recorded), a run in
		// flight, or (for a retry) inputs that have since trained successfully:
		// nothing new to start.
		return last.RunID, 0, nil
	}
	return RunID(p.ref.Spec.Name, p.base(), last.Attempt+1), last.Attempt + 1, nil
}

// readRequest reads a request's record and its ETag; nil if there is none.
func (s *Service) readRequest(ctx context.Context, model, id string) (*requestRecord, string, error) {
	key := RequestRecordKey(model, id)
	b, info, err := s.st.ReadAll(ctx, s.cfg.Bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("retrain request %s: %w", id, err)
	}
	var r requestRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, "", fmt.Errorf("retrain request %s: damaged record s3://%s/%s: %w", id, s.cfg.Bucket, key, err)
	}
	if m, _, _, err := ParseRunID(r.RunID); err != nil || m != model || r.RequestID != id || r.Model != model {
		return nil, "", fmt.Errorf("retrain request %s: damaged record s3://%s/%s: it names request %q, model %q, run %q",
			id, s.cfg.Bucket, key, r.RequestID, r.Model, r.RunID)
	}
	return &r, info.ETag, nil
}

// recordRequest writes that request id is answered by run: created once, or
// moved from the run it named (never claimed) by compare-and-swap. lost reports
// that another delivery wrote first: read again.
func (s *Service) recordRequest(ctx context.Context, prev *requestRecord, etag, model, id, run string) (lost bool, err error) {
	now := s.now()
	rec := requestRecord{SchemaVersion: event.SchemaVersion, RequestID: id, Model: model, RunID: run, CreatedAt: now, UpdatedAt: now}
	if prev != nil {
		rec.CreatedAt = prev.CreatedAt
	}
	body, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return false, fmt.Errorf("retrain request %s: encode its record: %w", id, err)
	}
	key := RequestRecordKey(model, id)
	if prev == nil {
		_, err = s.st.Create(ctx, s.cfg.Bucket, key, body, jsonOpt)
	} else {
		_, err = s.st.Swap(ctx, s.cfg.Bucket, key, etag, body, jsonOpt)
	}
	if store.Lost(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("retrain request %s: record its run: %w", id, err)
	}
	return false, nil
}

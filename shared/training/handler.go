package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
)

// Handle is the train function's entry point, in AWS and in local mode alike. It
// takes the EventBridge events the train function's rules route to it:
// "Dataset Versioned" and "Retrain Requested" (source mlops), "Batch Job State
// Change" (aws.batch), and "Object Created" for a retrain request dropped under
// requests/retrain/ in the platform bucket (how the CLI asks). An error makes the
// invoker retry, then dead-letter the event.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("train panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("train: internal error: %v", r)
		}
	}()
	var env event.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return fmt.Errorf("train event: not an EventBridge event: %w", err)
	}
	switch {
	case env.Source == event.Source && env.DetailType == event.DatasetVersioned:
		var d event.DatasetVersionedDetail
		if err := decodeDetail(env, &d); err != nil {
			return err
		}
		if d.Dataset == "" || d.VersionID == "" {
			return fmt.Errorf("train event %s: detail.dataset and detail.versionId are required", env.ID)
		}
		return s.OnDatasetVersioned(ctx, d)
	case env.Source == event.Source && env.DetailType == event.RetrainRequested:
		var d event.RetrainRequestedDetail
		if err := decodeDetail(env, &d); err != nil {
			return err
		}
		return s.OnRetrain(ctx, d)
	case env.Source == event.BatchSource && env.DetailType == event.BatchJobStateChange:
		var d event.BatchJobDetail
		if err := decodeDetail(env, &d); err != nil {
			return err
		}
		return s.OnJobState(ctx, JobStatusFromDetail(d))
	case env.Source == event.S3Source && env.DetailType == event.S3ObjectCreated:
		var d event.S3ObjectCreatedDetail
		if err := decodeDetail(env, &d); err != nil {
			return err
		}
		return s.onRequestObject(ctx, d)
	}
	return fmt.Errorf("train event %s: unexpected source %q and detail-type %q", env.ID, env.Source, env.DetailType)
}

func decodeDetail(env event.Envelope, v any) error {
	if err := json.Unmarshal(env.Detail, v); err != nil {
		return fmt.Errorf("train event %s (%s): detail: %w", env.ID, env.DetailType, err)
	}
	return nil
}

// onRequestObject reads a retrain request the CLI dropped into the platform
// bucket.
func (s *Service) onRequestObject(ctx context.Context, d event.S3ObjectCreatedDetail) error {
	key, err := url.QueryUnescape(d.Object.Key)
	if err != nil {
		return fmt.Errorf("retrain request key %q: %w", d.Object.Key, err)
	}
	if d.Bucket.Name != s.cfg.Bucket || !strings.HasPrefix(key, RequestsPrefix) {
		s.log.Info("object is not a retrain request; ignored", "bucket", d.Bucket.Name, "key", key)
		return nil
	}
	b, _, err := s.st.ReadAll(ctx, s.cfg.Bucket, key)
	if err != nil {
		return fmt.Errorf("retrain request %s: %w", key, err)
	}
	req, err := ParseRequest(key, b)
	if err != nil {
		s.log.Error("bad retrain request; dropped", "key", key, "error", err)
		return nil // retrying cannot fix the body
	}
	// The body's principal is whatever the client wrote; S3's requester is what
	// S3 saw (in AWS an account or principal ID). Both are kept, and said apart.
	switch {
	case d.Requester != "" && req.Principal != "":
		req.Principal = fmt.Sprintf("%s (stated; S3 requester %s)", req.Principal, d.Requester)
	case d.Requester != "":
		req.Principal = "S3 requester " + d.Requester
	}
	return s.OnRetrain(ctx, req)
}

// ParseRequest reads a retrain request object; its ID must match its key.
func ParseRequest(key string, b []byte) (event.RetrainRequestedDetail, error) {
	var req event.RetrainRequestedDetail
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("retrain request %s: %w", key, err)
	}
	if key != RequestKey(req.RequestID) {
		return req, fmt.Errorf("retrain request %s: requestId %q does not match the key", key, req.RequestID)
	}
	if _, err := checkRetrain(req); err != nil {
		return req, fmt.Errorf("%s: %w", key, err)
	}
	return req, nil
}

// Sweep finishes runs that a crash or a lost event left unfinished: claims whose
// lease ran out are taken over (the job looked up by name first), submitted runs
// whose final event never came are asked about, and final runs whose event was
// never published are published. Runs indexed less than grace ago are left alone.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	type entry struct {
		id  string
		age time.Duration
	}
	var entries []entry
	now := s.now()
	if err := s.st.List(ctx, s.cfg.Bucket, PendingPrefix, func(o store.ObjectInfo) error {
		entries = append(entries, entry{strings.TrimPrefix(o.Key, PendingPrefix), now.Sub(o.LastModified)})
		return nil
	}); err != nil {
		return 0, fmt.Errorf("sweep runs: %w", err)
	}
	done := 0
	var errs []error
	for _, e := range entries {
		if e.age < grace {
			continue
		}
		// One run that cannot be finished (a damaged record, a Batch error) is
		// reported and skipped: the runs after it are still finished.
		if err := s.sweepOne(ctx, e.id); err != nil {
			s.log.Error("runs sweep: run skipped", "run", e.id, "error", err)
			errs = append(errs, err)
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}

func (s *Service) sweepOne(ctx context.Context, id string) error {
	rec, _, err := s.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.unindex(ctx, id) // indexed, then the claim never happened
	}
	if err != nil {
		return err
	}
	switch {
	case rec.Final():
		return s.ensurePublished(ctx, rec)
	case rec.State == StateClaimed:
		return s.resume(ctx, id)
	case rec.Job.ID == "":
		return s.resume(ctx, id)
	}
	st, err := s.batch.Describe(ctx, rec.Job.ID)
	if errors.Is(err, ErrJobNotFound) {
		return s.fail(ctx, id, fmt.Sprintf("the batch system no longer knows job %s", rec.Job.ID), nil)
	}
	if err != nil {
		return fmt.Errorf("run %s: describe job %s: %w", id, rec.Job.ID, err)
	}
	if st.Name == "" {
		st.Name = id
	}
	return s.OnJobState(ctx, st)
}

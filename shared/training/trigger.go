package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/store"
)

// When a new dataset version trains a model: the spec's trigger (every version, at
// most every N hours, after M new rows) and the state it is judged against.

// triggerState is triggers/<model>.json.
type triggerState struct {
	RunID          string    `json:"runId"`
	DatasetVersion string    `json:"datasetVersion"`
	Rows           int64     `json:"rows"`
	ClaimedAt      time.Time `json:"claimedAt"`
}

func (s *Service) triggerAllows(ctx context.Context, sp *spec.Spec, m *ingest.Manifest) (bool, string, error) {
	t := sp.Trigger
	if t.Manual {
		return false, "the spec's trigger is manual: only retrain requests train it", nil
	}
	if t.MinIntervalHours <= 0 && t.MinNewRows <= 0 {
		return true, "", nil
	}
	b, _, err := s.st.ReadAll(ctx, s.cfg.Bucket, TriggerKey(sp.Name))
	if errors.Is(err, store.ErrNotFound) {
		return true, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("trigger state of %s: %w", sp.Name, err)
	}
	var last triggerState
	if err := json.Unmarshal(b, &last); err != nil {
		return true, "", nil // a damaged state must not stop training
	}
	if t.MinIntervalHours > 0 {
		if since := s.now().Sub(last.ClaimedAt); since < time.Duration(t.MinIntervalHours*float64(time.Hour)) {
			return false, fmt.Sprintf("last run %s started %s ago; the spec trains at most every %g hours",
				last.RunID, since.Round(time.Second), t.MinIntervalHours), nil
		}
	}
	if t.MinNewRows > 0 {
		diff := m.Rows - last.Rows
		if diff < 0 {
			diff = -diff
		}
		if diff < t.MinNewRows {
			return false, fmt.Sprintf("%d rows changed since run %s; the spec needs %d", diff, last.RunID, t.MinNewRows), nil
		}
	}
	return true, "", nil
}

// recordTrigger moves the model's trigger state forward (best effort: a lost
// update only makes the next trigger decision more permissive).
func (s *Service) recordTrigger(ctx context.Context, rec *Run) {
	body, err := json.Marshal(triggerState{RunID: rec.RunID, DatasetVersion: rec.DatasetVersion, Rows: rec.Rows, ClaimedAt: rec.ClaimedAt})
	if err != nil {
		s.log.Warn("record trigger state", "model", rec.Model, "error", err)
		return
	}
	key := TriggerKey(rec.Model)
	_, err = store.Update(ctx, s.st, s.cfg.Bucket, key, jsonOpt, 5, func(b []byte, exists bool) ([]byte, error) {
		var cur triggerState
		if exists && json.Unmarshal(b, &cur) == nil && !cur.ClaimedAt.Before(rec.ClaimedAt) {
			return nil, nil
		}
		return body, nil
	})
	if err != nil && !errors.Is(err, store.ErrContended) {
		s.log.Warn("record trigger state", "model", rec.Model, "error", err)
	}
}

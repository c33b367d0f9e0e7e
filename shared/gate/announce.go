package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/registry"
)

// eventOf is the event a record of the trail announces ("" for a record that
// announces nothing: checks, approvals, refused decisions). A bundle refused
// before it became a version is announced as a rejection.
func eventOf(rec *registry.AuditRecord) string {
	switch rec.Kind {
	case registry.KindRegistered:
		return event.ModelRegistered
	case registry.KindPending:
		return event.PromotionPending
	case registry.KindPromoted:
		return event.ModelPromoted
	case registry.KindRejected:
		return event.ModelRejected
	case registry.KindRolledBack:
		return event.ModelRolledBack
	case registry.KindRetired:
		return event.ModelRetired
	case registry.KindRefused:
		if rec.Version == 0 && rec.RunID != "" {
			return event.ModelRejected
		}
	}
	return ""
}

// stateAfter is the state a record leaves its version in.
var stateAfter = map[registry.Kind]registry.State{
	registry.KindRegistered: registry.StateRegistered, registry.KindPending: registry.StatePendingApproval,
	registry.KindPromoted: registry.StateChampion, registry.KindRejected: registry.StateRejected,
	registry.KindRolledBack: registry.StateChampion, registry.KindRetired: registry.StateRetired,
}

// SweepAnnouncements publishes the events of decisions that were committed
// (their audit record written) but never announced: the publish failed (the
// bus refused, PutEvents' 256 KB limit) or the function stopped in between.
// Records younger than grace are left to the path that wrote them. It
// returns how many events it published.
func (s *Service) SweepAnnouncements(ctx context.Context, grace time.Duration) (int, error) {
	models, err := s.reg.Models(ctx)
	if err != nil {
		return 0, err
	}
	published := 0
	var errs []error
	cutoff := s.cfg.Now().Add(-grace)
	for _, model := range models {
		entries, err := s.reg.Unannounced(ctx, model)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if e.Time.After(cutoff) {
				break // in order: the rest are younger still
			}
			if dt := eventOf(&e.AuditRecord); dt != "" {
				if err := s.publish(ctx, dt, s.recordDetail(ctx, e)); err != nil {
					errs = append(errs, err)
					break // announce in order: try again next sweep
				}
				published++
				continue // publish marked it
			}
			if err := s.reg.MarkAnnounced(ctx, model, e.Seq); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return published, errors.Join(errs...)
}

// recordDetail is the event of a trail record, as the path that wrote it
// would have published it (the version as it is now, where it still exists).
func (s *Service) recordDetail(ctx context.Context, e registry.Entry) event.ModelDetail {
	rec := &e.AuditRecord
	det := event.ModelDetail{SchemaVersion: event.SchemaVersion, Model: rec.Model, Version: rec.Version, RunID: rec.RunID,
		BundleSHA256: rec.Hashes.BundleSHA256, Bucket: s.cfg.Bucket, State: string(stateAfter[rec.Kind]),
		PolicyHash: rec.Hashes.PolicyHash, PreviousChampion: rec.Previous, Principal: rec.Principal,
		Reason: clipText(rec.Reason, eventReasonBytes), AuditKey: e.Key, At: s.cfg.Now().UTC()}
	if rec.Kind == registry.KindRefused {
		det.State, det.Reasons = "refused", []string{det.Reason}
	}
	if rec.Version > 0 {
		if v, err := s.reg.Get(ctx, rec.Model, rec.Version); err == nil {
			det.RunID, det.BundleSHA256, det.BundlePrefix = v.RunID, v.BundleSHA256, v.BundlePrefix
		} else {
			s.log.Warn("announce a record whose version cannot be read", "key", e.Key, "error", fmt.Sprint(err))
		}
	}
	return det
}

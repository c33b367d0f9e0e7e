package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/registry"
)

// announced is, for each kind of record that announces something, its event
// and the state it leaves its version in. Checks, approvals and refused
// decisions announce nothing.
var announced = map[registry.Kind]struct {
	event string
	state registry.State
}{
	registry.KindRegistered: {event.ModelRegistered, registry.StateRegistered},
	registry.KindPending:    {event.PromotionPending, registry.StatePendingApproval},
	registry.KindPromoted:   {event.ModelPromoted, registry.StateChampion},
	registry.KindRejected:   {event.ModelRejected, registry.StateRejected},
	registry.KindRolledBack: {event.ModelRolledBack, registry.StateChampion},
	registry.KindRetired:    {event.ModelRetired, registry.StateRetired},
}

// eventOf is the event a record of the trail announces ("" for none). A
// bundle refused before it became a version is announced as a rejection.
func eventOf(rec *registry.AuditRecord) string {
	if rec.Kind == registry.KindRefused && rec.Version == 0 && rec.RunID != "" {
		return event.ModelRejected
	}
	return announced[rec.Kind].event
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
			if e.Model != model {
				// A record in this trail about another model: announced
				// by no one, tagged by no one.
				s.log.Warn("an audit record names another model than its trail's: not announced", "key", e.Key, "model", e.Model, "trail", model)
				if err := s.reg.MarkAnnounced(ctx, model, e.Seq); err != nil {
					errs = append(errs, err)
					break
				}
				continue
			}
			if e.Kind == registry.KindRetired {
				// The retirement's path tags before it announces: a crash
				// between the record and the tags is finished here. Tags
				// only save storage: a failure is logged, and never holds
				// back this announcement or the ones after it.
				if err := s.tagRetiredRecord(ctx, e); err != nil {
					s.log.Warn("a retired version's bundle was not tagged for archival", "key", e.Key, "error", err.Error())
				}
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

// tagRetiredRecord tags the bundle of the version a retirement record
// names; a version that is not there any more has nothing left to tag.
func (s *Service) tagRetiredRecord(ctx context.Context, e registry.Entry) error {
	v, err := s.reg.Get(ctx, e.Model, e.Version)
	if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrDamaged) {
		s.log.Warn("a retirement whose version cannot be read: nothing to tag", "key", e.Key, "error", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("retirement %s: %w", e.Key, err)
	}
	return s.tagRetired(ctx, v)
}

// recordDetail is the event of a trail record, as the path that wrote it
// would have published it (the version as it is now, where it still exists).
func (s *Service) recordDetail(ctx context.Context, e registry.Entry) event.ModelDetail {
	rec := &e.AuditRecord
	det := event.ModelDetail{SchemaVersion: event.SchemaVersion, Model: rec.Model, Version: rec.Version, RunID: rec.RunID,
		BundleSHA256: rec.Hashes.BundleSHA256, Bucket: s.cfg.Bucket, State: string(announced[rec.Kind].state),
		PolicyHash: rec.Hashes.PolicyHash, PreviousChampion: rec.Previous, Principal: rec.Principal,
		Reason: clip.Bytes(rec.Reason, eventReasonBytes), AuditKey: e.Key, At: s.cfg.Now().UTC()}
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

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// Entry is an audit record with its key and the SHA-256 of its bytes.
type Entry struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	AuditRecord
}

// readHead reads the trail's head; nil when the trail has none.
func (r *Registry) readHead(ctx context.Context, model string) (*Head, string, error) {
	b, info, err := r.st.ReadAll(ctx, r.cfg.Bucket, HeadKey(model))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("model %s: read the audit head: %w", model, err)
	}
	h, err := ParseHead(b)
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w: %w", model, ErrDamaged, err)
	}
	return h, info.ETag, nil
}

// settle finishes the trail's last append: writes the record if the appender
// stopped before it, and applies it to the version records and the pointer.
func (r *Registry) settle(ctx context.Context, model string, h *Head) error {
	if err := r.writeRecord(ctx, h.Key, h.Record); err != nil {
		return fmt.Errorf("model %s: %w", model, err)
	}
	rec, err := ParseAudit(h.Record)
	if err != nil {
		return fmt.Errorf("model %s: %w: head: %w", model, ErrDamaged, err)
	}
	return r.apply(ctx, rec, h.Key)
}

// writeRecord creates an audit record once, then its signed checkpoint;
// finding it already there with the same bytes is fine, with other bytes is
// damage.
func (r *Registry) writeRecord(ctx context.Context, key string, body []byte) error {
	_, err := r.st.Create(ctx, r.cfg.Bucket, key, body, r.recordOpt())
	if err == nil {
		return r.checkpoint(ctx, key, body)
	}
	if !errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("write %s: %w", key, err)
	}
	cur, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if !bytes.Equal(cur, body) {
		return fmt.Errorf("%w: %s hashes to %s but the trail's head holds %s (altered? run verify)",
			ErrDamaged, key, hashid.Short(hashid.Of(cur)), hashid.Short(hashid.Of(body)))
	}
	return r.checkpoint(ctx, key, body)
}

// append adds one record to the trail. build runs after the last record has
// been settled, so everything it reads reflects the whole trail; it returns
// the record to append, or nil when the effect is already there (a
// duplicate). If another writer appends first, build runs again on the new
// state. The record is the decision: once the head has moved to it, it stands,
// and a failure to apply it is finished by the next operation or Reconcile.
func (r *Registry) append(ctx context.Context, model string, build func(ctx context.Context) (*AuditRecord, error)) (*AuditRecord, string, error) {
	var rec *AuditRecord
	var key string
	var body []byte
	err := store.Retry(ctx, casAttempts, func() (bool, error) {
		h, etag, err := r.readHead(ctx, model)
		if err != nil {
			return false, err
		}
		if h != nil {
			if err := r.settle(ctx, model, h); err != nil {
				return false, err
			}
		} else if err := r.checkEmptyTrail(ctx, model); err != nil {
			// Records without a head: either another writer started the trail
			// just now (its head is there: go round), or the head was lost.
			if h2, _, herr := r.readHead(ctx, model); herr == nil && h2 != nil {
				return false, nil
			}
			return false, err
		}
		nr, err := build(ctx)
		if err != nil || nr == nil {
			return true, err
		}
		nr.SchemaVersion, nr.Model, nr.Time = SchemaVersion, model, r.now()
		nr.Seq, nr.Prev = 1, nil
		if h != nil {
			nr.Seq, nr.Prev = h.Seq+1, &Link{Key: h.Key, SHA256: h.SHA256}
		}
		nb, err := encode(nr)
		if err != nil {
			return false, err
		}
		k := AuditKey(model, nr.Seq, nr.Kind)
		nh, err := encode(Head{Seq: nr.Seq, Key: k, SHA256: hashid.Of(nb), Record: nb})
		if err != nil {
			return false, err
		}
		if h == nil {
			_, err = r.st.Create(ctx, r.cfg.Bucket, HeadKey(model), nh, jsonOpt)
		} else {
			_, err = r.st.Swap(ctx, r.cfg.Bucket, HeadKey(model), etag, nh, jsonOpt)
		}
		if store.Lost(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("model %s: append %s: %w", model, k, err)
		}
		rec, key, body = nr, k, nb
		return true, nil
	})
	if errors.Is(err, store.ErrContended) {
		return nil, "", fmt.Errorf("model %s: append to the audit trail: %w", model, ErrContention)
	}
	if err != nil || rec == nil {
		return nil, "", err
	}
	r.log.Info("audit", "model", model, "key", key, "version", rec.Version, "principal", rec.Principal)
	if err := r.writeRecord(ctx, key, body); err != nil {
		return rec, key, fmt.Errorf("model %s: %s is decided but not yet written (the next operation or Reconcile finishes it): %w", model, key, err)
	}
	if err := r.apply(ctx, rec, key); err != nil {
		return rec, key, fmt.Errorf("model %s: %s is decided but not yet applied (the next operation or Reconcile finishes it): %w", model, key, err)
	}
	return rec, key, nil
}

// checkEmptyTrail refuses to start a trail where records exist without a head
// (the head was deleted): no crash leaves that, so it is damage.
func (r *Registry) checkEmptyTrail(ctx context.Context, model string) error {
	entries, _, err := r.listTrail(ctx, model)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("model %s: %w: the audit trail has %d records but no head: no crash leaves that (run verify)", model, ErrDamaged, len(entries))
	}
	return nil
}

// effect is what an audit record does to one version: State "" keeps the state.
type effect struct {
	version int
	state   State
}

// versionEffects lists what rec does to version records, in the state
// machine's terms: the table in state.go is what allowed it to be appended.
func versionEffects(rec *AuditRecord) []effect {
	switch rec.Kind {
	case KindRegistered:
		return []effect{{rec.Version, StateRegistered}}
	case KindChecked:
		return []effect{{rec.Version, ""}}
	case KindPending:
		return []effect{{rec.Version, StatePendingApproval}}
	case KindApproved:
		return []effect{{rec.Version, StateApproved}}
	case KindRejected:
		return []effect{{rec.Version, StateRejected}}
	case KindPromoted, KindRolledBack:
		out := []effect{{rec.Version, StateChampion}}
		if rec.Previous > 0 && rec.Previous != rec.Version {
			out = append(out, effect{rec.Previous, StateArchived})
		}
		return out
	case KindRetired:
		return []effect{{rec.Version, StateRetired}}
	}
	return nil
}

// championEffect is what rec does to the champion pointer.
func championEffect(rec *AuditRecord) (version int, ok bool) {
	switch {
	case rec.Kind == KindPromoted || rec.Kind == KindRolledBack:
		return rec.Version, true
	case rec.Kind == KindRetired && rec.WasChampion:
		return 0, true
	}
	return 0, false
}

// apply moves the derived objects to what rec says. Each object remembers the
// last record applied to it and ignores older ones, so applying is idempotent
// and a late application never undoes a newer one.
func (r *Registry) apply(ctx context.Context, rec *AuditRecord, key string) error {
	for _, e := range versionEffects(rec) {
		err := r.updateVersion(ctx, rec.Model, e.version, func(v *Version) bool {
			if v.Seq >= rec.Seq {
				return false
			}
			if e.state != "" {
				v.State = e.state
			}
			v.Seq, v.LastEvent = rec.Seq, key
			if e.version == rec.Version {
				if v.Events == nil {
					v.Events = map[Kind]string{}
				}
				v.Events[rec.Kind] = key
			}
			switch rec.Kind {
			case KindApproved, KindRejected:
				if e.version == rec.Version {
					v.Decision = key
				}
			case KindChecked:
				if v.Checks == nil {
					v.Checks = map[string]CheckRef{}
				}
				v.Checks[rec.Hashes.PolicyHash] = CheckRef{Verdict: rec.Verdict, Key: rec.ChecksKey, Audit: key, Seq: rec.Seq}
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	if v, ok := championEffect(rec); ok {
		c := &Champion{Model: rec.Model, Version: v, Decision: key, Seq: rec.Seq, At: rec.Time}
		if v > 0 {
			c.BundleSHA256 = rec.Hashes.BundleSHA256
		}
		if err := r.moveChampion(ctx, c); err != nil {
			return err
		}
	}
	if rec.Kind == KindRefused && rec.RunID != "" && rec.Version == 0 {
		body, err := encode(Link{Key: key})
		if err == nil {
			_, err = r.st.Create(ctx, r.cfg.Bucket, RefusalKey(rec.Model, rec.RunID), body, jsonOpt)
		}
		if err != nil && !errors.Is(err, store.ErrPrecondition) {
			return fmt.Errorf("model %s: mark run %s refused: %w", rec.Model, rec.RunID, err)
		}
	}
	return nil
}

// updateVersion applies change to a version record by compare-and-swap;
// change returns false to leave it as it is.
func (r *Registry) updateVersion(ctx context.Context, model string, version int, change func(*Version) bool) error {
	err := store.Retry(ctx, casAttempts, func() (bool, error) {
		v, etag, err := r.readVersion(ctx, model, version)
		if err != nil {
			return false, err
		}
		if !change(v) {
			return true, nil
		}
		v.UpdatedAt = r.now()
		body, err := encode(v)
		if err != nil {
			return false, err
		}
		_, err = r.st.Swap(ctx, r.cfg.Bucket, VersionKey(model, version), etag, body, jsonOpt)
		if store.Lost(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("model %s: update version %d: %w", model, version, err)
		}
		return true, nil
	})
	if errors.Is(err, store.ErrContended) {
		return fmt.Errorf("model %s: update version %d: %w", model, version, ErrContention)
	}
	return err
}

// moveChampion sets the pointer to c unless it already reflects c's record or
// a newer one.
func (r *Registry) moveChampion(ctx context.Context, c *Champion) error {
	_, err := store.Update(ctx, r.st, r.cfg.Bucket, ChampionKey(c.Model), jsonOpt, casAttempts, func(b []byte, exists bool) ([]byte, error) {
		if exists {
			cur, err := ParseChampion(b)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
			}
			if cur.Seq >= c.Seq {
				return nil, nil
			}
		}
		return encode(c)
	})
	if errors.Is(err, store.ErrContended) {
		return fmt.Errorf("model %s: move the champion pointer: %w", c.Model, ErrContention)
	}
	if err != nil {
		return fmt.Errorf("model %s: move the champion pointer: %w", c.Model, err)
	}
	return nil
}

// trailKey is one listed object of a trail.
type trailKey struct {
	Seq  int
	Kind Kind
	Key  string
}

// listTrail lists a trail's records in order; names that are not records
// (other than the head) come back apart.
func (r *Registry) listTrail(ctx context.Context, model string) ([]trailKey, []string, error) {
	var out []trailKey
	var odd []string
	err := r.st.List(ctx, r.cfg.Bucket, TrailPrefix(model), func(o store.ObjectInfo) error {
		if o.Key == HeadKey(model) || strings.HasPrefix(o.Key, CheckpointsPrefix(model)) {
			return nil
		}
		seq, kind, err := ParseAuditName(path.Base(o.Key))
		if err != nil || path.Dir(o.Key)+"/" != TrailPrefix(model) {
			odd = append(odd, o.Key)
			return nil
		}
		out = append(out, trailKey{Seq: seq, Kind: kind, Key: o.Key})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: list the audit trail: %w", model, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].Key < out[j].Key
	})
	return out, odd, nil
}

// History returns a model's audit trail in order. It fails on a record that
// does not parse; Verify reports every problem instead.
func (r *Registry) History(ctx context.Context, model string) ([]Entry, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	keys, _, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, k.Key)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", model, err)
		}
		rec, err := ParseAudit(b)
		if err != nil {
			return nil, fmt.Errorf("model %s: %s: %w: %w", model, k.Key, ErrDamaged, err)
		}
		out = append(out, Entry{Key: k.Key, SHA256: hashid.Of(b), AuditRecord: *rec})
	}
	return out, nil
}

// readRecord reads and parses one audit record.
func (r *Registry) readRecord(ctx context.Context, key string) (*AuditRecord, error) {
	b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, key)
	if err != nil {
		return nil, err
	}
	rec, err := ParseAudit(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", key, ErrDamaged, err)
	}
	return rec, nil
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/store"
)

// Announcements: a decision is committed when its audit record is written,
// and announced (its event published) after. A crash, or an event bus that
// refuses, between the two leaves a decision "committed but not yet
// announced"; the announcement sweep finishes it, as ingest's pending/ index
// does for dataset versions. Each record whose event went out (or that has
// none) gets a create-once marker, models/<model>/announced/<seq>; the cursor
// models/<model>/announced/cursor is the sequence number up to which every
// record is marked, so a sweep reads only what follows it.

// AnnouncedKey marks that record seq of model's trail was announced.
func AnnouncedKey(model string, seq int) string {
	return fmt.Sprintf("%sannounced/%06d", ModelPrefix(model), seq)
}

func announcedCursorKey(model string) string { return ModelPrefix(model) + "announced/cursor" }

// MarkAnnounced records that the event of record seq went out (or that it
// has none). Marking twice is fine.
func (r *Registry) MarkAnnounced(ctx context.Context, model string, seq int) error {
	if seq < 1 {
		return nil
	}
	_, err := r.st.Create(ctx, r.cfg.Bucket, AnnouncedKey(model, seq), nil, store.PutOptions{})
	if err != nil && !errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("model %s: mark record %d announced: %w", model, seq, err)
	}
	return nil
}

// Unannounced returns the records of model's trail that have no announced
// marker, in order, and first moves the cursor past every record that has
// one. The records come from the trail itself: what a crash left
// unannounced is found whatever was lost with it.
func (r *Registry) Unannounced(ctx context.Context, model string) ([]Entry, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	cursor, etag, err := r.announcedCursor(ctx, model)
	if err != nil {
		return nil, err
	}
	marked := map[int]bool{}
	err = r.st.List(ctx, r.cfg.Bucket, ModelPrefix(model)+"announced/", func(o store.ObjectInfo) error {
		if n, err := strconv.Atoi(path.Base(o.Key)); err == nil {
			marked[n] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: list announcements: %w", model, err)
	}
	keys, _, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	next := cursor
	var out []Entry
	for _, k := range keys {
		if k.Seq <= cursor {
			continue
		}
		if marked[k.Seq] {
			if len(out) == 0 && k.Seq == next+1 {
				next = k.Seq
			}
			continue
		}
		rec, err := r.readRecord(ctx, k.Key)
		if err != nil {
			return nil, fmt.Errorf("model %s: %s: %w", model, k.Key, err)
		}
		out = append(out, Entry{Key: k.Key, AuditRecord: *rec})
	}
	if next > cursor {
		// Best effort: a lost race means another sweep moved it.
		body := []byte(strconv.Itoa(next))
		if etag == "" {
			_, err = r.st.Create(ctx, r.cfg.Bucket, announcedCursorKey(model), body, store.PutOptions{})
		} else {
			_, err = r.st.Swap(ctx, r.cfg.Bucket, announcedCursorKey(model), etag, body, store.PutOptions{})
		}
		if err != nil && !store.Lost(err) {
			return nil, fmt.Errorf("model %s: move the announcement cursor: %w", model, err)
		}
	}
	return out, nil
}

func (r *Registry) announcedCursor(ctx context.Context, model string) (int, string, error) {
	b, info, err := r.st.ReadAll(ctx, r.cfg.Bucket, announcedCursorKey(model))
	if errors.Is(err, store.ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("model %s: read the announcement cursor: %w", model, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0, "", fmt.Errorf("model %s: %w: announcement cursor %q", model, ErrDamaged, b)
	}
	return n, info.ETag, nil
}

// SeqOf is the sequence number an audit record's key names (0 if none).
func SeqOf(key string) int {
	seq, _, err := ParseAuditName(path.Base(key))
	if err != nil {
		return 0
	}
	return seq
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Model    string   `json:"model"`
	Records  int      `json:"records"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// derived is the state the trail gives a version or the pointer.
type derived struct {
	state   State
	version int // champion only
	seq     int
	key     string
	bundle  string
}

// trailState folds a trail's records into the state of every version and the
// champion (champion.seq 0: the trail never set one).
func trailState(recs []*AuditRecord, keys []string) (map[int]derived, derived) {
	vs := map[int]derived{}
	var champ derived
	for i, rec := range recs {
		if rec == nil {
			continue
		}
		for _, e := range versionEffects(rec) {
			d := vs[e.version]
			if e.state != "" {
				d.state = e.state
			}
			d.seq, d.key = rec.Seq, keys[i]
			vs[e.version] = d
		}
		if v, ok := championEffect(rec); ok {
			champ = derived{version: v, seq: rec.Seq, key: keys[i]}
			if v > 0 {
				champ.bundle = rec.Hashes.BundleSHA256
			}
		}
	}
	return vs, champ
}

// Verify walks a model's audit trail in order and checks that it is whole and
// untouched: sequence numbers 1..n without gaps or duplicates, every record
// parsing and naming its own sequence number and kind, every record's link
// naming the previous record and the SHA-256 of its bytes, the head matching
// the last record; then that the version records and the champion pointer
// agree with what the trail says. Each problem names the object where the
// chain breaks. An error is returned only when S3 could not be read.
func (r *Registry) Verify(ctx context.Context, model string) (*VerifyReport, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	rep := &VerifyReport{Model: model}
	bad := func(format string, a ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...)) }
	keys, odd, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	for _, k := range odd {
		bad("%s: not an audit record name (expected %s<000001>-<kind>.json)", k, TrailPrefix(model))
	}
	recs := make([]*AuditRecord, len(keys))
	names := make([]string, len(keys))
	var prevKey, prevSHA string
	prevSeq := 0
	for i, k := range keys {
		names[i] = k.Key
		b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, k.Key)
		if errors.Is(err, store.ErrNotFound) {
			bad("%s: listed but gone", k.Key)
			continue
		}
		if err != nil {
			return nil, err
		}
		sum := hashid.Of(b)
		rec, perr := ParseAudit(b)
		if perr != nil {
			bad("%s: does not parse: %v", k.Key, perr)
		} else {
			recs[i] = rec
			if rec.Seq != k.Seq || rec.Kind != k.Kind || rec.Model != model {
				bad("%s: holds record %d (%s) of model %s", k.Key, rec.Seq, rec.Kind, rec.Model)
			}
		}
		switch {
		case k.Seq == prevSeq:
			bad("%s: sequence number %d is taken twice (also %s)", k.Key, k.Seq, path.Base(prevKey))
		case k.Seq > prevSeq+1:
			names := fmt.Sprintf("%06d", prevSeq+1)
			if k.Seq > prevSeq+2 {
				names += fmt.Sprintf("..%06d", k.Seq-1)
			}
			msg := fmt.Sprintf("%s%s-*.json: missing", TrailPrefix(model), names)
			if rec != nil && rec.Prev != nil && k.Seq == prevSeq+2 {
				msg += fmt.Sprintf(" (%s names %s, SHA-256 %s, as its previous record)", path.Base(k.Key), rec.Prev.Key, hashid.Short(rec.Prev.SHA256))
			}
			bad("%s", msg)
		case rec != nil && k.Seq > 1 && prevKey != "":
			if rec.Prev.Key != prevKey {
				bad("%s: previous record is %s but the trail has %s there", k.Key, rec.Prev.Key, path.Base(prevKey))
			} else if rec.Prev.SHA256 != prevSHA {
				bad("%s: previous record hash %s but %s hashes to %s", k.Key, hashid.Short(rec.Prev.SHA256), path.Base(prevKey), hashid.Short(prevSHA))
			}
		}
		prevKey, prevSHA, prevSeq = k.Key, sum, k.Seq
	}
	rep.Records = len(keys)
	r.verifyHead(ctx, model, keys, prevKey, prevSHA, bad)
	vs, champ := trailState(recs, names)
	if err := r.verifyDerived(ctx, model, vs, champ, bad); err != nil {
		return nil, err
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

func (r *Registry) verifyHead(ctx context.Context, model string, keys []trailKey, lastKey, lastSHA string, bad func(string, ...any)) {
	h, _, err := r.readHead(ctx, model)
	switch {
	case err != nil:
		bad("%s: %v", HeadKey(model), err)
	case h == nil && len(keys) > 0:
		bad("%s: missing, but the trail has %d records", HeadKey(model), len(keys))
	case h == nil:
	case len(keys) == 0 || h.Seq > keys[len(keys)-1].Seq:
		bad("%s: missing: the head names it (an append that did not finish: reconcile writes it from the head)", h.Key)
	case h.Seq < keys[len(keys)-1].Seq:
		bad("%s: after the head (%s): not appended through the head", lastKey, path.Base(h.Key))
	case h.Key != lastKey:
		bad("%s: the head names %s as the last record", lastKey, path.Base(h.Key))
	case h.SHA256 != lastSHA:
		bad("%s: hashes to %s but the head records %s", lastKey, hashid.Short(lastSHA), hashid.Short(h.SHA256))
	}
}

func (r *Registry) verifyDerived(ctx context.Context, model string, vs map[int]derived, champ derived, bad func(string, ...any)) error {
	nums, err := r.versionNumbers(ctx, model)
	if err != nil {
		return err
	}
	have := map[int]bool{}
	for _, n := range nums {
		have[n] = true
		key := VersionKey(model, n)
		v, _, err := r.readVersion(ctx, model, n)
		if errors.Is(err, ErrDamaged) {
			bad("%s: %v", key, err)
			continue
		}
		if err != nil {
			return err
		}
		d, ok := vs[n]
		switch {
		case !ok && v.Seq == 0:
			bad("%s: version %d has no registration in the trail (reconcile audits it)", key, n)
		case !ok:
			bad("%s: version %d names audit record %d but the trail has no event for it", key, n, v.Seq)
		case d.state != v.State:
			bad("%s: state %s but the trail's last event for it (%s) makes it %s", key, v.State, d.key, d.state)
		}
	}
	for n, d := range vs {
		if !have[n] {
			bad("%s: missing, but the trail has events for version %d (last %s)", VersionKey(model, n), n, d.key)
		}
	}
	c, _, err := r.readChampion(ctx, model)
	if errors.Is(err, ErrDamaged) {
		bad("%s: %v", ChampionKey(model), err)
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case c == nil && champ.seq > 0:
		bad("%s: missing, but %s makes version %d champion", ChampionKey(model), champ.key, champ.version)
	case c == nil:
	case champ.seq == 0:
		bad("%s: names version %d but the trail never made a champion", ChampionKey(model), c.Version)
	case c.Version != champ.version || c.Decision != champ.key:
		bad("%s: names version %d (%s) but the trail's last champion change (%s) makes it %d",
			ChampionKey(model), c.Version, c.Decision, champ.key, champ.version)
	case c.BundleSHA256 != champ.bundle:
		bad("%s: bundle %s but %s names %s", ChampionKey(model), hashid.Short(c.BundleSHA256), champ.key, hashid.Short(champ.bundle))
	}
	return nil
}

// ReconcileReport says what Reconcile finished.
type ReconcileReport struct {
	Model string   `json:"model"`
	Done  []string `json:"done,omitempty"`
}

// Reconcile finishes whatever a crash left half done for a model: an append
// whose record was never written or never applied (a decision whose version
// record or pointer never moved), a registration that stopped between the run
// index and the version record or before its audit record, and version records
// or a pointer that disagree with the trail (they are re-derived from it). It
// is safe to run at any time, beside any operation.
func (r *Registry) Reconcile(ctx context.Context, model string) (*ReconcileReport, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	rep := &ReconcileReport{Model: model}
	h, _, err := r.readHead(ctx, model)
	if err != nil {
		return nil, err
	}
	if h == nil {
		if h, err = r.rebuildHead(ctx, model); err != nil {
			return nil, err
		}
		if h != nil {
			rep.Done = append(rep.Done, "rebuilt "+HeadKey(model)+" from "+h.Key)
		}
	}
	if h != nil {
		was := r.isApplied(ctx, h)
		if err := r.settle(ctx, model, h); err != nil {
			return nil, err
		}
		if !was {
			rep.Done = append(rep.Done, "finished "+h.Key)
		}
	}
	// Registrations: every run index entry ends with its version, audited.
	var runs []string
	err = r.st.List(ctx, r.cfg.Bucket, RunsPrefix(model), func(o store.ObjectInfo) error {
		runs = append(runs, o.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: list runs: %w", model, err)
	}
	for _, key := range runs {
		idx, etag, err := r.readRunIndex(ctx, key)
		if err != nil {
			return nil, err
		}
		v, created, err := r.allocate(ctx, idx, etag)
		if err != nil {
			return nil, err
		}
		if created {
			rep.Done = append(rep.Done, fmt.Sprintf("created version %d for run %s", v.Version, idx.RunID))
		}
		if cur, _, err := r.readVersion(ctx, model, v.Version); err != nil {
			return nil, err
		} else if cur.Seq == 0 {
			if err := r.auditRegistration(ctx, cur, idx.Input.Reason); err != nil {
				return nil, err
			}
			rep.Done = append(rep.Done, fmt.Sprintf("audited the registration of version %d", v.Version))
		}
	}
	fixed, err := r.rederive(ctx, model)
	if err != nil {
		return nil, err
	}
	rep.Done = append(rep.Done, fixed...)
	return rep, nil
}

// isApplied reports whether the head's record is written and applied to
// every object it moves.
func (r *Registry) isApplied(ctx context.Context, h *Head) bool {
	if _, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, h.Key); err != nil {
		return false
	}
	rec, err := ParseAudit(h.Record)
	if err != nil {
		return false
	}
	for _, e := range versionEffects(rec) {
		if v, _, err := r.readVersion(ctx, rec.Model, e.version); err != nil || v.Seq < rec.Seq {
			return false
		}
	}
	if _, ok := championEffect(rec); ok {
		if c, _, err := r.readChampion(ctx, rec.Model); err != nil || c == nil || c.Seq < rec.Seq {
			return false
		}
	}
	return true
}

// rebuildHead makes a head for a trail that lost it, from its last record.
func (r *Registry) rebuildHead(ctx context.Context, model string) (*Head, error) {
	keys, _, err := r.listTrail(ctx, model)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	last := keys[len(keys)-1]
	b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, last.Key)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", model, err)
	}
	if _, err := ParseAudit(b); err != nil {
		return nil, fmt.Errorf("model %s: %w: %s: %w", model, ErrDamaged, last.Key, err)
	}
	h := &Head{Seq: last.Seq, Key: last.Key, SHA256: hashid.Of(b), Record: b}
	body, err := encode(h)
	if err != nil {
		return nil, fmt.Errorf("model %s: rebuild the audit head: %w", model, err)
	}
	if _, err := r.st.Create(ctx, r.cfg.Bucket, HeadKey(model), body, jsonOpt); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return nil, fmt.Errorf("model %s: rebuild the audit head: %w", model, err)
	}
	h, _, err = r.readHead(ctx, model)
	return h, err
}

// rederive sets every version record's state and the champion pointer to what
// the trail says, where they disagree and nothing newer has been applied.
func (r *Registry) rederive(ctx context.Context, model string) ([]string, error) {
	keys, _, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	recs := make([]*AuditRecord, len(keys))
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
		if recs[i], err = r.readRecord(ctx, k.Key); err != nil {
			return nil, fmt.Errorf("model %s: %w (reconcile re-derives only from a trail that parses)", model, err)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	lastSeq := recs[len(recs)-1].Seq
	vs, champ := trailState(recs, names)
	var done []string
	byKey := map[string]*AuditRecord{}
	for i, k := range names {
		byKey[k] = recs[i]
	}
	for n, d := range vs {
		if d.state == "" {
			continue
		}
		v, _, err := r.readVersion(ctx, model, n)
		if err != nil {
			return nil, err
		}
		if v.Seq < d.seq {
			// Its last record was never applied to it: apply it whole.
			if err := r.apply(ctx, byKey[d.key], d.key); err != nil {
				return nil, err
			}
			done = append(done, fmt.Sprintf("version %d: applied %s", n, d.key))
			continue
		}
		err = r.updateVersion(ctx, model, n, func(v *Version) bool {
			if v.State == d.state || v.Seq > lastSeq {
				return false
			}
			done = append(done, fmt.Sprintf("version %d: %s → %s (%s)", n, v.State, d.state, d.key))
			v.State, v.Seq, v.LastEvent = d.state, max(v.Seq, d.seq), d.key
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if champ.seq > 0 {
		c, etag, err := r.readChampion(ctx, model)
		if err != nil {
			return nil, err
		}
		want := &Champion{Model: model, Version: champ.version, BundleSHA256: champ.bundle, Decision: champ.key, Seq: champ.seq, At: r.now()}
		switch {
		case c == nil:
			if err := r.moveChampion(ctx, want); err != nil {
				return nil, err
			}
			done = append(done, fmt.Sprintf("champion pointer: set to version %d (%s)", champ.version, champ.key))
		case c.Seq <= lastSeq && (c.Version != champ.version || c.Decision != champ.key || c.BundleSHA256 != champ.bundle):
			body, err := encode(want)
			if err != nil {
				return nil, fmt.Errorf("model %s: repair the champion pointer: %w", model, err)
			}
			if _, err := r.st.Swap(ctx, r.cfg.Bucket, ChampionKey(model), etag, body, jsonOpt); err != nil && !store.Lost(err) {
				return nil, fmt.Errorf("model %s: repair the champion pointer: %w", model, err)
			}
			done = append(done, fmt.Sprintf("champion pointer: version %d → %d (%s)", c.Version, champ.version, champ.key))
		}
	}
	return done, nil
}

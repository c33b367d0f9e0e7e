package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Model    string   `json:"model"`
	Records  int      `json:"records"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	// Damage lists the problems that no crash leaves (a subset of
	// Problems): records, the head or checkpoints deleted or rewritten,
	// references to records that do not exist. Reconcile repairs only what
	// a crash leaves and refuses to touch a model with damage.
	Damage []string `json:"damage,omitempty"`
	// Anchored: the checkpoints' MACs were checked with the deployment's
	// key. Anchor says how the chain is anchored, or why it is not.
	Anchored bool   `json:"anchored"`
	Anchor   string `json:"anchor"`
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

// verifier is one run of Verify.
type verifier struct {
	r      *Registry
	model  string
	rep    *VerifyReport
	listed map[string]*AuditRecord // the listed records by key (nil: did not parse)
	sums   map[string]string       // their SHA-256
	last   int                     // the last listed sequence number
}

// crashed reports a problem that an interrupted operation leaves and
// Reconcile finishes.
func (v *verifier) crashed(format string, a ...any) {
	v.rep.Problems = append(v.rep.Problems, fmt.Sprintf(format, a...))
}

// damaged reports a problem that no crash leaves.
func (v *verifier) damaged(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	v.rep.Problems = append(v.rep.Problems, msg)
	v.rep.Damage = append(v.rep.Damage, msg)
}

// Verify walks a model's audit trail in order and checks that it is whole and
// untouched: sequence numbers 1..n without gaps or duplicates, every record
// parsing and naming its own sequence number and kind, every record's link
// naming the previous record and the SHA-256 of its bytes, the head matching
// the last record, every record signed by a checkpoint and no checkpoint
// beyond the trail's end; then that the version records and the champion
// pointer agree with what the trail says and that every record they name
// exists and says what they say. Each problem names the object where the chain
// breaks; those no crash explains are listed again as Damage. An error is
// returned only when S3 (or the signing key's service) could not be read, or
// when ctx ends while Verify waits (below).
//
// Verify runs safely beside appends: it reads the head before and after the
// trail, lists checkpoints before records (a checkpoint is written after its
// record), and reads a named record that the listing missed before calling it
// missing, so an append in flight is never reported as damage. An operation
// in flight does look for a moment like one a crash stopped (a version
// registered but not yet audited, a record appended but not yet applied), so
// while all Verify finds is what a crash leaves, it verifies again after
// each of settleWaits: an operation usually finishes within them, and a
// crash's leftovers stay until Reconcile finishes them.
func (r *Registry) Verify(ctx context.Context, model string) (*VerifyReport, error) {
	rep, err := r.verify(ctx, model)
	for _, d := range settleWaits {
		if err != nil || rep.OK || len(rep.Damage) > 0 {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("model %s: verify: %w", model, ctx.Err())
		case <-t.C:
		}
		rep, err = r.verify(ctx, model)
	}
	return rep, err
}

// settleWaits are Verify's pauses before it verifies again (1.55 s in all):
// registering a version or deciding takes a few S3 round trips.
var settleWaits = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	400 * time.Millisecond, 800 * time.Millisecond}

// verify is one pass of Verify: what the objects say at one moment.
func (r *Registry) verify(ctx context.Context, model string) (*VerifyReport, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	rep := &VerifyReport{Model: model}
	v := &verifier{r: r, model: model, rep: rep, listed: map[string]*AuditRecord{}, sums: map[string]string{}}
	h0, _, herr := r.readHead(ctx, model)
	if herr != nil && !errors.Is(herr, ErrDamaged) {
		return nil, herr
	}
	cps, err := v.listCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	keys, odd, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	for _, k := range odd {
		v.damaged("%s: not an audit record name (expected %s<000001>-<kind>.json)", k, TrailPrefix(model))
	}
	recs, err := v.records(ctx, keys)
	if err != nil {
		return nil, err
	}
	rep.Records = len(keys)
	h2, _, err := r.readHead(ctx, model)
	switch {
	case errors.Is(err, ErrDamaged):
		v.damaged("%s: %v", HeadKey(model), err)
	case err != nil:
		return nil, err
	default:
		v.head(h0, h2, keys)
	}
	if err := v.checkpoints(ctx, cps, keys); err != nil {
		return nil, err
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	vs, champ := trailState(recs, names)
	if err := v.derived(ctx, vs, champ); err != nil {
		return nil, err
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// records reads and checks the listed records and their links.
func (v *verifier) records(ctx context.Context, keys []trailKey) ([]*AuditRecord, error) {
	recs := make([]*AuditRecord, len(keys))
	var prevKey, prevSHA string
	prevSeq := 0
	for i, k := range keys {
		b, _, err := v.r.st.ReadAll(ctx, v.r.cfg.Bucket, k.Key)
		if errors.Is(err, store.ErrNotFound) {
			v.damaged("%s: listed but gone", k.Key)
			continue
		}
		if err != nil {
			return nil, err
		}
		sum := hashid.Of(b)
		v.sums[k.Key] = sum
		rec, perr := ParseAudit(b)
		v.listed[k.Key] = rec
		if perr != nil {
			v.damaged("%s: does not parse: %v", k.Key, perr)
		} else {
			recs[i] = rec
			if rec.Seq != k.Seq || rec.Kind != k.Kind || rec.Model != v.model {
				v.damaged("%s: holds record %d (%s) of model %s", k.Key, rec.Seq, rec.Kind, rec.Model)
			}
		}
		switch {
		case k.Seq == prevSeq:
			v.damaged("%s: sequence number %d is taken twice (also %s)", k.Key, k.Seq, path.Base(prevKey))
		case k.Seq > prevSeq+1:
			names := fmt.Sprintf("%06d", prevSeq+1)
			if k.Seq > prevSeq+2 {
				names += fmt.Sprintf("..%06d", k.Seq-1)
			}
			msg := fmt.Sprintf("%s%s-*.json: missing", TrailPrefix(v.model), names)
			if rec != nil && rec.Prev != nil && k.Seq == prevSeq+2 {
				msg += fmt.Sprintf(" (%s names %s, SHA-256 %s, as its previous record)", path.Base(k.Key), rec.Prev.Key, hashid.Short(rec.Prev.SHA256))
			}
			v.damaged("%s", msg)
		case rec != nil && k.Seq > 1 && prevKey != "":
			if rec.Prev.Key != prevKey {
				v.damaged("%s: previous record is %s but the trail has %s there", k.Key, rec.Prev.Key, path.Base(prevKey))
			} else if rec.Prev.SHA256 != prevSHA {
				v.damaged("%s: previous record hash %s but %s hashes to %s", k.Key, hashid.Short(rec.Prev.SHA256), path.Base(prevKey), hashid.Short(prevSHA))
			}
		}
		prevKey, prevSHA, prevSeq = k.Key, sum, k.Seq
	}
	v.last = prevSeq
	return recs, nil
}

// head checks the head against the trail. h0 was read before the listing and
// h2 after it. An append moves the head first and writes its record second,
// and it creates the head before record 1: so the only state a crash leaves
// is a head one record ahead of the trail. Records without a head, a head
// further ahead, or records after it are damage.
func (v *verifier) head(h0, h2 *Head, keys []trailKey) {
	hk := HeadKey(v.model)
	lastKey, lastSHA := "", ""
	if len(keys) > 0 {
		lastKey = keys[len(keys)-1].Key
		lastSHA = v.sums[lastKey]
	}
	switch {
	case h2 == nil && h0 != nil:
		v.damaged("%s: deleted while verify ran (it was at %s)", hk, path.Base(h0.Key))
	case h2 == nil && len(keys) > 0:
		v.damaged("%s: missing, but the trail has %d records: an append creates the head before its record, so no crash leaves this (the head, and perhaps the last records, were deleted)", hk, len(keys))
	case h2 == nil:
	case v.last > h2.Seq:
		v.damaged("%s: after the head (%s): not appended through the head", lastKey, path.Base(h2.Key))
	case h0 != nil && v.last < h0.Seq-1:
		v.damaged("%s%06d..%06d-*.json: missing: the head is at %s but the trail ends at %d (records were deleted)",
			TrailPrefix(v.model), v.last+1, h0.Seq-1, path.Base(h0.Key), v.last)
	case h2.Seq == v.last && h2.Key != lastKey:
		v.damaged("%s: the head names %s as the last record", lastKey, path.Base(h2.Key))
	case h2.Seq == v.last && h2.SHA256 != lastSHA:
		v.damaged("%s: hashes to %s but the head records %s", lastKey, hashid.Short(lastSHA), hashid.Short(h2.SHA256))
	case h2.Seq == v.last+1 && (h0 == nil || h0.Seq == h2.Seq):
		v.crashed("%s: missing: the head names it (an append that did not finish: reconcile writes it from the head)", h2.Key)
	}
	// Otherwise the head moved on while verify ran: appends in flight.
}

// listCheckpoints lists a trail's checkpoints by sequence number.
func (v *verifier) listCheckpoints(ctx context.Context) (map[int]string, error) {
	out := map[int]string{}
	prefix := CheckpointsPrefix(v.model)
	err := v.r.st.List(ctx, v.r.cfg.Bucket, prefix, func(o store.ObjectInfo) error {
		n, ok := parseVersionName(strings.TrimPrefix(o.Key, prefix))
		if !ok {
			v.damaged("%s: not a checkpoint name (expected %s<000001>.json)", o.Key, prefix)
			return nil
		}
		out[n] = o.Key
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: list the checkpoints: %w", v.model, err)
	}
	return out, nil
}

// checkpoints checks every checkpoint against the trail (and its MAC, with a
// signer), and with a signer that every record has one. A checkpoint signs
// its record's SHA-256, and each record names the SHA-256 of the one before:
// so a chain rewritten consistently, or cut back and written again, no longer
// matches its checkpoints, and one cut back leaves checkpoints beyond its end.
func (v *verifier) checkpoints(ctx context.Context, cps map[int]string, keys []trailKey) error {
	s := v.r.cfg.Signer
	ids := map[string]bool{}
	bySeq := map[int]string{}
	for _, k := range keys {
		if _, dup := bySeq[k.Seq]; !dup {
			bySeq[k.Seq] = k.Key
		}
	}
	for _, n := range slices.Sorted(maps.Keys(cps)) {
		ck := cps[n]
		b, _, err := v.r.st.ReadAll(ctx, v.r.cfg.Bucket, ck)
		if errors.Is(err, store.ErrNotFound) {
			v.damaged("%s: listed but gone", ck)
			continue
		}
		if err != nil {
			return err
		}
		c, err := ParseCheckpoint(b)
		if err != nil {
			v.damaged("%s: does not parse: %v", ck, err)
			continue
		}
		if c.Seq != n || c.Model != v.model {
			v.damaged("%s: holds the checkpoint of record %d of model %s", ck, c.Seq, c.Model)
			continue
		}
		if s != nil {
			ok, err := c.checkMAC(ctx, s)
			if err != nil {
				return fmt.Errorf("model %s: %w", v.model, err)
			}
			if !ok {
				v.damaged("%s: its MAC does not verify under key %s: forged or altered", ck, c.KeyID)
				continue
			}
			ids[c.KeyID] = true
		}
		key, ok := bySeq[n]
		switch {
		case n > v.last:
			v.damaged("%s: signs %s but the trail ends at record %d: the records after it were deleted", ck, path.Base(c.Key), v.last)
		case !ok:
			v.damaged("%s: signs %s, which is missing", ck, path.Base(c.Key))
		case key != c.Key || v.sums[key] != c.SHA256:
			v.damaged("%s: signs %s hashing to %s, but the trail has %s hashing to %s there: the chain was rewritten",
				ck, path.Base(c.Key), hashid.Short(c.SHA256), path.Base(key), hashid.Short(v.sums[key]))
		}
	}
	if s == nil {
		v.rep.Anchor = "unanchored: no signing key is configured, so a consistent rewrite of the whole chain, or a cut of its tail with its checkpoints, is not detectable"
		return nil
	}
	for _, k := range keys {
		if _, ok := cps[k.Seq]; ok {
			continue
		}
		// Written after the listing? A checkpoint follows its record.
		if _, _, err := v.r.st.ReadAll(ctx, v.r.cfg.Bucket, CheckpointKey(v.model, k.Seq)); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if k.Seq == v.last {
			v.crashed("%s: not signed yet (an append that did not finish: reconcile signs it)", CheckpointKey(v.model, k.Seq))
		} else {
			v.damaged("%s: missing: %s is not anchored (every record is signed before the next is appended)", CheckpointKey(v.model, k.Seq), path.Base(k.Key))
		}
	}
	v.rep.Anchored = true
	v.rep.Anchor = "signed checkpoints"
	if len(ids) > 0 {
		v.rep.Anchor += " (key " + strings.Join(slices.Sorted(maps.Keys(ids)), ", ") + ")"
	}
	return nil
}

// record finds an audit record that a derived object names: in the listing,
// or (appended since) in the bucket. nil without an error: it does not exist.
func (v *verifier) record(ctx context.Context, key string) (*AuditRecord, bool, error) {
	if rec, ok := v.listed[key]; ok {
		return rec, true, nil
	}
	if !strings.HasPrefix(key, TrailPrefix(v.model)) {
		return nil, false, nil
	}
	rec, err := v.r.readRecord(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case errors.Is(err, ErrDamaged):
		v.damaged("%v", err)
		return nil, true, nil
	case err != nil:
		return nil, false, err
	}
	return rec, true, nil
}

// ref checks that the record key, named by obj as what, exists and passes
// check (which says what is wrong with it, or ""). A record that exists but
// does not parse is reported where the trail is walked.
func (v *verifier) ref(ctx context.Context, obj, what, key string, check func(*AuditRecord) string) error {
	if key == "" {
		v.damaged("%s: names no %s", obj, what)
		return nil
	}
	rec, ok, err := v.record(ctx, key)
	switch {
	case err != nil:
		return err
	case !ok:
		v.damaged("%s: its %s %s does not exist", obj, what, key)
	case rec != nil:
		if msg := check(rec); msg != "" {
			v.damaged("%s: its %s %s %s", obj, what, key, msg)
		}
	}
	return nil
}

// affects says what is wrong with rec as a record about version n, or "".
func affects(rec *AuditRecord, n int) string {
	for _, e := range versionEffects(rec) {
		if e.version == n {
			return ""
		}
	}
	return fmt.Sprintf("is about version %d, not %d", rec.Version, n)
}

// versionRefs cross-checks every record a version record names.
func (v *verifier) versionRefs(ctx context.Context, ver *Version) error {
	obj, n := VersionKey(v.model, ver.Version), ver.Version
	type named struct {
		what, key string
		check     func(*AuditRecord) string
	}
	var refs []named
	if ver.Seq > 0 {
		refs = append(refs, named{"last event", ver.LastEvent, func(rec *AuditRecord) string {
			if rec.Seq != ver.Seq {
				return fmt.Sprintf("is record %d, not %d", rec.Seq, ver.Seq)
			}
			return affects(rec, n)
		}})
	}
	if ver.Decision != "" {
		refs = append(refs, named{"decision", ver.Decision, func(rec *AuditRecord) string {
			if rec.Kind != KindApproved && rec.Kind != KindRejected {
				return fmt.Sprintf("is %s, not a decision", rec.Kind)
			}
			return affects(rec, n)
		}})
	}
	for _, k := range slices.Sorted(maps.Keys(ver.Events)) {
		refs = append(refs, named{string(k) + " event", ver.Events[k], func(rec *AuditRecord) string {
			if rec.Kind != k {
				return fmt.Sprintf("is %s", rec.Kind)
			}
			return affects(rec, n)
		}})
	}
	for _, r := range refs {
		if err := v.ref(ctx, obj, r.what, r.key, r.check); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(ver.Checks)) {
		c := ver.Checks[p]
		var checksSHA string
		err := v.ref(ctx, obj, "checks record for policy "+hashid.Short(p), c.Audit, func(rec *AuditRecord) string {
			checksSHA = rec.Hashes.ChecksSHA256
			switch {
			case rec.Kind != KindChecked || rec.Hashes.PolicyHash != p:
				return fmt.Sprintf("is %s for policy %s", rec.Kind, hashid.Short(rec.Hashes.PolicyHash))
			case rec.Seq != c.Seq || rec.ChecksKey != c.Key || rec.Verdict != c.Verdict:
				return fmt.Sprintf("is record %d, %s, verdict %s; the version says %d, %s, %s", rec.Seq, rec.ChecksKey, rec.Verdict, c.Seq, c.Key, c.Verdict)
			}
			return affects(rec, n)
		})
		if err != nil {
			return err
		}
		if checksSHA == "" {
			continue
		}
		b, _, err := v.r.st.ReadAll(ctx, v.r.cfg.Bucket, c.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			v.damaged("%s: the check results %s do not exist", obj, c.Key)
		case err != nil:
			return err
		case hashid.Of(b) != checksSHA:
			v.damaged("%s: hashes to %s but %s records %s", c.Key, hashid.Short(hashid.Of(b)), c.Audit, hashid.Short(checksSHA))
		}
	}
	return nil
}

// derived checks the version records and the champion pointer against the
// trail and every record they name.
func (v *verifier) derived(ctx context.Context, vs map[int]derived, champ derived) error {
	model := v.model
	nums, err := v.r.versionNumbers(ctx, model)
	if err != nil {
		return err
	}
	have := map[int]bool{}
	for _, n := range nums {
		have[n] = true
		key := VersionKey(model, n)
		ver, _, err := v.r.readVersion(ctx, model, n)
		if errors.Is(err, ErrDamaged) {
			v.damaged("%s: %v", key, err)
			continue
		}
		if err != nil {
			return err
		}
		if err := v.versionRefs(ctx, ver); err != nil {
			return err
		}
		d, ok := vs[n]
		switch {
		case !ok && ver.Seq == 0:
			v.crashed("%s: version %d has no registration in the trail (reconcile audits it)", key, n)
		case ok && d.state != ver.State && ver.Seq <= d.seq:
			v.crashed("%s: state %s but the trail's last event for it (%s) makes it %s", key, ver.State, d.key, d.state)
		}
	}
	for n, d := range vs {
		if !have[n] {
			v.damaged("%s: missing, but the trail has events for version %d (last %s)", VersionKey(model, n), n, d.key)
		}
	}
	c, _, err := v.r.readChampion(ctx, model)
	if errors.Is(err, ErrDamaged) {
		v.damaged("%s: %v", ChampionKey(model), err)
		return nil
	}
	if err != nil {
		return err
	}
	if c != nil {
		err := v.ref(ctx, ChampionKey(model), "decision", c.Decision, func(rec *AuditRecord) string {
			ver, ok := championEffect(rec)
			switch {
			case rec.Seq != c.Seq:
				return fmt.Sprintf("is record %d, not %d", rec.Seq, c.Seq)
			case !ok || ver != c.Version:
				return fmt.Sprintf("(%s of version %d) does not make version %d champion", rec.Kind, rec.Version, c.Version)
			case ver > 0 && rec.Hashes.BundleSHA256 != c.BundleSHA256:
				return fmt.Sprintf("names bundle %s, not %s", hashid.Short(rec.Hashes.BundleSHA256), hashid.Short(c.BundleSHA256))
			}
			return ""
		})
		if err != nil {
			return err
		}
	}
	switch {
	case c == nil && champ.seq > 0:
		v.crashed("%s: missing, but %s makes version %d champion", ChampionKey(model), champ.key, champ.version)
	case c == nil || c.Seq > champ.seq:
		// Nothing, or a record after the listing: checked above.
	case c.Version != champ.version || c.Decision != champ.key:
		v.crashed("%s: names version %d (%s) but the trail's last champion change (%s) makes it %d",
			ChampionKey(model), c.Version, c.Decision, champ.key, champ.version)
	case c.BundleSHA256 != champ.bundle:
		v.crashed("%s: bundle %s but %s names %s", ChampionKey(model), hashid.Short(c.BundleSHA256), champ.key, hashid.Short(champ.bundle))
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
// repairs nothing else: a model with damage (VerifyReport.Damage: a head lost
// while records exist, records cut, references to records that do not exist)
// is refused with ErrDamaged. It is safe to run at any time, beside any
// operation.
func (r *Registry) Reconcile(ctx context.Context, model string) (*ReconcileReport, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	rep := &ReconcileReport{Model: model}
	// Reconcile finishes what a crash leaves and nothing else: rebuilding a
	// head, or re-deriving from a trail that lost records, would make
	// tampering look whole.
	// One pass: what a crash leaves and what an operation in flight leaves
	// are finished alike.
	vr, err := r.verify(ctx, model)
	if err != nil {
		return nil, err
	}
	if len(vr.Damage) > 0 {
		return nil, fmt.Errorf("model %s: %w: reconcile repairs only what a crash leaves, and no crash leaves this (restore the objects from the bucket's versions, then verify): %s",
			model, ErrDamaged, strings.Join(vr.Damage, "; "))
	}
	h, _, err := r.readHead(ctx, model)
	if err != nil {
		return nil, err
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

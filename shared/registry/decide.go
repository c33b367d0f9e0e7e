package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// DecisionInput is a decision about one version, by someone, for a reason.
type DecisionInput struct {
	Model   string
	Version int
	// BundleSHA256 is the bundle the decider saw. Approve requires it and
	// refuses (and audits the refusal) when it is not the version's bundle.
	BundleSHA256 string
	PolicyHash   string // the policy the decision rests on, where there is one
	Principal    string // who: the caller's verified identity
	Reason       string
	// Override approves a version with no passing check under PolicyHash
	// (the caller checked that the policy lets the principal override); the
	// approval record says so.
	Override bool
}

// Result is what a state change did.
type Result struct {
	Version *Version     // the version record afterwards (nil for a rollback to none)
	Key     string       // the audit record that decided it
	Record  *AuditRecord // that record
	Created bool         // false: it had been decided before (a duplicate); Key is that decision
}

// MarkPending records that the version waits for a person's approval.
func (r *Registry) MarkPending(ctx context.Context, in DecisionInput) (*Result, error) {
	return r.decide(ctx, in, ActionMarkPending, KindPending, nil)
}

// Approve approves a version, bound to the bundle SHA-256 the approver saw and
// to the policy in force (in.PolicyHash): the version must have a passing check
// under that policy, unless in.Override. Otherwise the approval does not
// apply: it is refused (ErrBundleMismatch, ErrNotPassed) and the refusal is
// audited.
func (r *Registry) Approve(ctx context.Context, in DecisionInput) (*Result, error) {
	if in.BundleSHA256 == "" {
		return nil, fmt.Errorf("%w: model %s version %d: an approval names the bundle SHA-256 it approves", ErrInvalid, in.Model, in.Version)
	}
	var refused error
	res, err := r.decide(ctx, in, ActionApprove, KindApproved, func(v *Version, rec *AuditRecord) error {
		refused = nil
		switch {
		case v.BundleSHA256 != in.BundleSHA256:
			refused = fmt.Errorf("%w: model %s version %d: approval names bundle %s but the version's bundle is %s: refused",
				ErrBundleMismatch, in.Model, in.Version, hashid.Short(in.BundleSHA256), hashid.Short(v.BundleSHA256))
			rec.Kind = KindRefused
			rec.Reason = fmt.Sprintf("approval of bundle %s refused: version %d's bundle is %s (approver's reason: %s)",
				in.BundleSHA256, v.Version, v.BundleSHA256, clip.Bytes(in.Reason, refusedReasonBytes))
		case in.Override:
			rec.Override = true
		case in.PolicyHash == "" && lastPassingPolicy(v) == "", in.PolicyHash != "" && v.Checks[in.PolicyHash].Verdict != VerdictPass:
			why := "it has no check under the policy in force (" + hashid.Short(in.PolicyHash) + ")"
			if in.PolicyHash == "" {
				why = "it passed no policy's checks"
			} else if c, ok := v.Checks[in.PolicyHash]; ok {
				why = "its check under the policy in force (" + hashid.Short(in.PolicyHash) + ") is " + string(c.Verdict)
			}
			refused = fmt.Errorf("%w: model %s version %d: %s: only a version that passed its policy may be approved, or one the policy lets you override",
				ErrNotPassed, in.Model, in.Version, why)
			rec.Kind = KindRefused
			rec.Reason = "approval refused: " + why + " (approver's reason: " + clip.Bytes(in.Reason, refusedReasonBytes) + ")"
		}
		return nil
	})
	if err == nil && refused != nil && res.Created {
		return res, fmt.Errorf("%w (%s)", refused, res.Key)
	}
	return res, err
}

// Reject rejects a version.
func (r *Registry) Reject(ctx context.Context, in DecisionInput) (*Result, error) {
	return r.decide(ctx, in, ActionReject, KindRejected, nil)
}

// PromoteInput asks for an approved version to become the champion.
type PromoteInput struct {
	Model     string
	Version   int
	Principal string
	Reason    string
	// OnlyOverLower refuses (ErrStale) when the current champion is a higher
	// version: automatic promotion never lets a late, older candidate replace
	// a newer champion.
	OnlyOverLower bool
}

// Promote makes an approved version the champion (the champion pointer moves
// by CAS) and archives the champion it replaces, in one audit record.
func (r *Registry) Promote(ctx context.Context, in PromoteInput) (*Result, error) {
	din := DecisionInput{Model: in.Model, Version: in.Version, Principal: in.Principal, Reason: in.Reason}
	return r.decide(ctx, din, ActionPromote, KindPromoted, func(v *Version, rec *AuditRecord) error {
		c, _, err := r.readChampion(ctx, in.Model)
		if err != nil {
			return err
		}
		if c != nil && c.Version > 0 {
			if in.OnlyOverLower && c.Version > v.Version {
				return fmt.Errorf("%w: model %s: version %d is champion: version %d may not replace it automatically", ErrStale, in.Model, c.Version, v.Version)
			}
			rec.Previous = c.Version
		}
		// A promotion rests on an approval of this version's bundle in the
		// trail: the version record's state alone is not enough, since it is
		// derived, and could have been altered.
		rec.Approval = v.Events[KindApproved]
		if rec.Approval == "" {
			return fmt.Errorf("%w: model %s version %d: no approval in the trail to promote on", ErrTransition, in.Model, v.Version)
		}
		a, err := r.readRecord(ctx, rec.Approval)
		if err != nil {
			return fmt.Errorf("model %s version %d: its approval: %w", in.Model, v.Version, err)
		}
		if a.Kind != KindApproved || a.Model != in.Model || a.Version != v.Version || a.Hashes.BundleSHA256 != v.BundleSHA256 {
			return fmt.Errorf("%w: model %s version %d: %s is not an approval of this version's bundle", ErrDamaged, in.Model, v.Version, rec.Approval)
		}
		rec.Approver = a.Principal
		if rec.Hashes.PolicyHash == "" {
			rec.Hashes.PolicyHash = a.Hashes.PolicyHash
		}
		return nil
	})
}

// RetireInput decommissions a version: never served again.
type RetireInput struct {
	Model     string
	Version   int
	Principal string
	Reason    string
	// Force retires the champion too, which leaves the model with no champion
	// (the pointer is set to version 0; serving answers 503 "no champion").
	Force bool
}

// Retire retires a version. Retiring the champion is refused unless Force.
func (r *Registry) Retire(ctx context.Context, in RetireInput) (*Result, error) {
	din := DecisionInput{Model: in.Model, Version: in.Version, Principal: in.Principal, Reason: in.Reason}
	action := ActionRetire
	if in.Force {
		action = ActionForceRetire
	}
	return r.decide(ctx, din, action, KindRetired, func(v *Version, rec *AuditRecord) error {
		rec.Force = in.Force
		rec.WasChampion = v.State == StateChampion
		return nil
	})
}

// decide is every single-version state change: it appends the record (after
// the trail's last record is settled), then applies it.
func (r *Registry) decide(ctx context.Context, in DecisionInput, action Action, kind Kind,
	extra func(v *Version, rec *AuditRecord) error) (*Result, error) {
	if err := required(in.Model, in.Principal, in.Reason, true); err != nil {
		return nil, err
	}
	if in.Version < 1 {
		return nil, fmt.Errorf("%w: model %s: version %d", ErrInvalid, in.Model, in.Version)
	}
	res := &Result{}
	rec, key, err := r.append(ctx, in.Model, func(ctx context.Context) (*AuditRecord, error) {
		res.Key = ""
		v, _, err := r.readVersion(ctx, in.Model, in.Version)
		if err != nil {
			return nil, err
		}
		if kind == KindApproved && v.BundleSHA256 != in.BundleSHA256 && v.State != StateRetired {
			// Not an approval of this version's bundle, whatever its state.
			rec := &AuditRecord{Kind: KindApproved, Version: v.Version, RunID: v.RunID, Principal: in.Principal, Reason: in.Reason,
				Hashes: Hashes{BundleSHA256: v.BundleSHA256, PolicyHash: in.PolicyHash}}
			return rec, extra(v, rec)
		}
		if duplicate(v, kind) {
			res.Key = v.Events[kind] // decided before: a duplicate
			return nil, nil
		}
		a := action
		if action == ActionForceRetire && v.State != StateChampion {
			a = ActionRetire
		}
		if _, err := Next(v.State, a); err != nil {
			te := err.(*TransitionError)
			te.Model, te.Version = in.Model, in.Version
			if v.State == StateChampion && action == ActionRetire {
				te.Hint = "it is the champion: retire it with force, which leaves the model with no champion, or promote another version first"
			}
			return nil, te
		}
		rec := &AuditRecord{Kind: kind, Version: v.Version, RunID: v.RunID, Principal: in.Principal, Reason: in.Reason,
			Hashes: Hashes{BundleSHA256: v.BundleSHA256, PolicyHash: in.PolicyHash, SpecHash: v.SpecHash,
				DatasetVersion: v.DatasetVersion, ContractHash: v.ContractHash}}
		if kind == KindApproved && rec.Hashes.PolicyHash == "" {
			rec.Hashes.PolicyHash = lastPassingPolicy(v)
		}
		if extra != nil {
			if err := extra(v, rec); err != nil {
				return nil, err
			}
		}
		return rec, nil
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		res.Key, res.Record, res.Created = key, rec, true
	} else if res.Key != "" {
		if res.Record, err = r.readRecord(ctx, res.Key); err != nil {
			return nil, err
		}
	}
	if res.Version, _, err = r.readVersion(ctx, in.Model, in.Version); err != nil {
		return nil, err
	}
	return res, nil
}

// duplicate reports whether the version already had this decision and still
// stands where it led (a late duplicate of a promotion of a version that has
// since been archived or retired is refused, not reported as done).
func duplicate(v *Version, kind Kind) bool {
	if v.Events[kind] == "" {
		return false
	}
	switch kind {
	case KindPending:
		return v.State != StateRetired
	case KindApproved:
		return v.State == StateApproved || v.State == StateChampion || v.State == StateArchived
	case KindRejected:
		return v.State == StateRejected
	case KindPromoted:
		return v.State == StateChampion
	case KindRetired:
		return v.State == StateRetired
	}
	return false
}

// lastPassingPolicy is the policy of the version's most recent passing check.
func lastPassingPolicy(v *Version) string {
	best, seq := "", 0
	for h, c := range v.Checks {
		if c.Verdict == VerdictPass && c.Seq > seq {
			best, seq = h, c.Seq
		}
	}
	return best
}

// RollbackInput asks for the previous champion back.
type RollbackInput struct {
	Model string
	// From is the champion the caller wants to roll back from (0: whatever is
	// champion now). A duplicate of a rollback that happened already finds
	// the champion moved and returns that rollback (Created false); a From that
	// is neither is refused with ErrStale.
	From      int
	Principal string
	Reason    string
}

// Rollback makes the previous champion champion again and archives the
// current one. The previous champion is derived from the trail: the most
// recent other version that was champion (promoted or rolled back to) and is
// archived now; a retired one is skipped, being never served again. With no
// champion (after a forced retirement) it restores the most recent one.
func (r *Registry) Rollback(ctx context.Context, in RollbackInput) (*Result, error) {
	if err := required(in.Model, in.Principal, in.Reason, true); err != nil {
		return nil, err
	}
	cache := map[string]*AuditRecord{}
	res := &Result{}
	rec, key, err := r.append(ctx, in.Model, func(ctx context.Context) (*AuditRecord, error) {
		res.Key = ""
		c, _, err := r.readChampion(ctx, in.Model)
		if err != nil {
			return nil, err
		}
		cur := 0
		if c != nil {
			cur = c.Version
		}
		if in.From != 0 && in.From != cur {
			if c != nil && c.Decision != "" {
				if d, err := r.readRecord(ctx, c.Decision); err == nil && d.Kind == KindRolledBack && d.Previous == in.From {
					res.Key = c.Decision
					return nil, nil
				}
			}
			return nil, fmt.Errorf("%w: model %s: rollback from version %d asked, but the champion is version %d", ErrStale, in.Model, in.From, cur)
		}
		trail, err := r.cachedTrail(ctx, in.Model, cache)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{cur: true}
		for i := len(trail) - 1; i >= 0; i-- {
			t := trail[i]
			if (t.Kind != KindPromoted && t.Kind != KindRolledBack) || seen[t.Version] {
				continue
			}
			seen[t.Version] = true
			v, _, err := r.readVersion(ctx, in.Model, t.Version)
			if err != nil {
				return nil, err
			}
			if v.State != StateArchived {
				continue
			}
			if _, err := Next(v.State, ActionRollbackTo); err != nil {
				return nil, err
			}
			return &AuditRecord{Kind: KindRolledBack, Version: v.Version, RunID: v.RunID, Principal: in.Principal,
				Reason: in.Reason, Previous: cur, Approval: v.Events[KindApproved],
				Hashes: Hashes{BundleSHA256: v.BundleSHA256, SpecHash: v.SpecHash, DatasetVersion: v.DatasetVersion,
					ContractHash: v.ContractHash}}, nil
		}
		return nil, fmt.Errorf("%w: model %s: no archived former champion to roll back to", ErrNoPrevious, in.Model)
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		res.Key, res.Record, res.Created = key, rec, true
	} else if res.Record, err = r.readRecord(ctx, res.Key); err != nil {
		return nil, err
	}
	if res.Version, _, err = r.readVersion(ctx, in.Model, res.Record.Version); err != nil {
		return nil, err
	}
	return res, nil
}

// cachedTrail reads the trail, reusing records read before (they never change).
func (r *Registry) cachedTrail(ctx context.Context, model string, cache map[string]*AuditRecord) ([]*AuditRecord, error) {
	keys, _, err := r.listTrail(ctx, model)
	if err != nil {
		return nil, err
	}
	out := make([]*AuditRecord, 0, len(keys))
	for _, k := range keys {
		rec, ok := cache[k.Key]
		if !ok {
			if rec, err = r.readRecord(ctx, k.Key); err != nil {
				return nil, fmt.Errorf("model %s: %w", model, err)
			}
			cache[k.Key] = rec
		}
		out = append(out, rec)
	}
	return out, nil
}

// RefuseInput records that something was refused: a bundle that failed
// verification (tampered), an approver the policy does not allow.
type RefuseInput struct {
	Model        string
	Version      int    // 0 when the refused thing never became a version
	RunID        string // a refusal of a run's bundle is recorded once per run
	BundleSHA256 string
	PolicyHash   string
	Principal    string
	Reason       string
	// Once, where set, names the refusal: only the first refusal of a given
	// Once is recorded, and a repeat returns an empty Result (no key). The
	// gate names a refused decision by (caller, decision, target, hour), so
	// that a caller refused again and again cannot grow the trail.
	Once string
}

// refusedReasonBytes bounds what a refusal quotes of the refused caller's reason.
const refusedReasonBytes = 512

// refusalOnceKey marks that the refusal named once was recorded.
func refusalOnceKey(model, once string) string {
	return ModelPrefix(model) + "refusals/once/" + hashid.Of([]byte(once)) + ".json"
}

// Refuse appends a refused record. With a RunID and no version (a bundle
// refused before it became a version) it is idempotent per run: a redelivery
// returns the first refusal (Created false); with Once, per Once.
func (r *Registry) Refuse(ctx context.Context, in RefuseInput) (*Result, error) {
	if err := required(in.Model, in.Principal, in.Reason, true); err != nil {
		return nil, err
	}
	if in.RunID != "" && !runIDPattern.MatchString(in.RunID) {
		return nil, fmt.Errorf("%w: model %s: run ID %q", ErrInvalid, in.Model, in.RunID)
	}
	if in.Once != "" {
		// One refusal per Once: a repeat is collapsed into the first. The
		// marker is written after the record, so a failed append leaves the
		// next refusal to be recorded (concurrent firsts may both be).
		_, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, refusalOnceKey(in.Model, in.Once))
		if err == nil {
			return &Result{}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("model %s: record a refusal: %w", in.Model, err)
		}
	}
	res := &Result{}
	rec, key, err := r.append(ctx, in.Model, func(ctx context.Context) (*AuditRecord, error) {
		res.Key = ""
		if in.RunID != "" && in.Version == 0 {
			b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, RefusalKey(in.Model, in.RunID))
			if err == nil {
				var l Link
				if jerr := json.Unmarshal(b, &l); jerr == nil && l.Key != "" {
					res.Key = l.Key
					return nil, nil
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &AuditRecord{Kind: KindRefused, Version: in.Version, RunID: in.RunID, Principal: in.Principal,
			Reason: in.Reason, Hashes: Hashes{BundleSHA256: in.BundleSHA256, PolicyHash: in.PolicyHash}}, nil
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		res.Key, res.Record, res.Created = key, rec, true
	} else if res.Record, err = r.readRecord(ctx, res.Key); err != nil {
		return nil, err
	}
	if in.Once != "" {
		if _, err := r.st.Create(ctx, r.cfg.Bucket, refusalOnceKey(in.Model, in.Once), nil, jsonOpt); err != nil && !errors.Is(err, store.ErrPrecondition) {
			r.log.Warn("mark a refusal recorded", "model", in.Model, "error", err) // the next one is recorded too
		}
	}
	return res, nil
}

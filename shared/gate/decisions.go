package gate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// Routes serves the decisions API (shared/decisions) over this gate: the
// registry's reads and people's decisions. principal returns the caller's
// verified identity (the local API's user; in AWS the IAM ARN API Gateway's
// authorizer verified); a request without one is refused.
func (s *Service) Routes(principal func(*http.Request) string) map[string]http.Handler {
	return decisions.Routes(decider{s}, principal, s.log)
}

// decider is the gate as the decisions API's service: the registry's reads,
// and decisions applied to the registry, then announced.
type decider struct{ s *Service }

var _ decisions.Service = decider{}

func (d decider) summary(ctx context.Context, model string) (decisions.ModelSummary, []*registry.Version, error) {
	vs, err := d.s.reg.List(ctx, model)
	if err != nil {
		return decisions.ModelSummary{}, nil, err
	}
	sum := decisions.ModelSummary{Model: model, Versions: len(vs)}
	if len(vs) > 0 {
		sum.Latest = vs[len(vs)-1]
	}
	if c, err := d.s.reg.Champion(ctx, model); err == nil {
		sum.Champion = c.Version
	} else if !errors.Is(err, registry.ErrNoChampion) {
		return sum, nil, err
	}
	return sum, vs, nil
}

func (d decider) Models(ctx context.Context) ([]decisions.ModelSummary, error) {
	models, err := d.s.reg.Models(ctx)
	if err != nil {
		return nil, err
	}
	out := []decisions.ModelSummary{}
	for _, m := range models {
		sum, _, err := d.summary(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

func (d decider) Model(ctx context.Context, model string) (*decisions.Model, error) {
	sum, vs, err := d.summary(ctx, model)
	if err != nil {
		return nil, err
	}
	return &decisions.Model{ModelSummary: sum, All: vs}, nil
}

func (d decider) Version(ctx context.Context, model string, n int) (*registry.Version, error) {
	return d.s.reg.Get(ctx, model, n)
}

func (d decider) History(ctx context.Context, model string) ([]registry.Entry, error) {
	return d.s.reg.History(ctx, model)
}

func (d decider) Verify(ctx context.Context, model string) (*registry.VerifyReport, error) {
	return d.s.reg.Verify(ctx, model)
}

// authorize finds the policy in force and checks that who may make decision
// on model (version n, 0 for a model-level decision) before anything is
// written: an unknown target is not found (and nothing is recorded), and a
// model with no policy refuses everyone (fail closed: a policy names who may
// decide). A refusal is audited, at most once per (caller, decision, target)
// an hour, with a bounded reason, so that refused callers cannot grow the
// trail that verify, history and rollback read.
func (d decider) authorize(ctx context.Context, who, model string, n int, decision, reason string) (*policy.Policy, string, error) {
	s := d.s
	if n > 0 {
		if _, err := s.reg.Get(ctx, model, n); err != nil {
			return nil, "", err
		}
	} else if vs, err := s.reg.List(ctx, model); err != nil {
		return nil, "", err
	} else if len(vs) == 0 {
		return nil, "", decisions.Errorf(decisions.CodeNotFound, "model %s has no versions", model)
	}
	pol, phash, err := policystore.Current(ctx, s.st, s.cfg.Bucket, model)
	if errors.Is(err, policystore.ErrNoPolicy) {
		return nil, "", decisions.Errorf(decisions.CodeForbidden,
			"model %s has no promotion policy, and nobody may %s without one: apply a policy that names who may (mlops models apply)", model, decision)
	}
	if err != nil {
		return nil, "", err
	}
	if policy.MayDecide(pol, decision, who) {
		return pol, phash, nil
	}
	allowed := policy.Deciders(pol, decision)
	why := fmt.Sprintf("%s may not %s %s: the policy allows %s", who, decision, model, orNobody(allowed))
	if err := s.refuseOnce(ctx, who, model, n, decision, phash, why+"; their reason: "+reason); err != nil {
		return nil, "", err
	}
	return nil, "", decisions.Errorf(decisions.CodeForbidden, "%s", why)
}

// refusalShards bounds how many refusals of one decision about one target an
// hour are recorded: callers are spread over this many slots by identity.
const refusalShards = 8

// refuseOnce audits a refused decision with a bounded reason, at most
// refusalShards times an hour per (decision, target). The slot comes from the
// caller's identity, a role's sessions counting as the role: the session name
// of an assumed role is the caller's to choose, and must not buy a record each.
func (s *Service) refuseOnce(ctx context.Context, who, model string, n int, decision, phash, reason string) error {
	id := who
	if role, ok := policy.AssumedRoleARN(who); ok {
		id = role
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	once := fmt.Sprintf("%s\x00%d\x00%s\x00%d", decision, n, s.cfg.Now().UTC().Format("2006-01-02T15"), h.Sum32()%refusalShards)
	_, err := s.reg.Refuse(ctx, registry.RefuseInput{Model: model, Version: n, PolicyHash: phash, Principal: who,
		Reason: clip.Bytes(reason, refusalReasonBytes), Once: once})
	return err
}

// refusalReasonBytes bounds what a refusal records of a refused caller's words.
const refusalReasonBytes = 512

func orNobody(patterns []string) string {
	if len(patterns) == 0 {
		return "nobody (name them in the policy)"
	}
	return strings.Join(patterns, ", ")
}

// Approve records a person's approval, bound to the bundle they saw and to the
// policy in force: only a version that passed that policy is approved, unless
// the caller overrides, which the policy must allow them and which is
// recorded as such. A version with no check under the policy in force (it
// waited while the policy changed, or a crash interrupted its evaluation) is
// checked first. The approval promotes at once unless the policy makes
// promotion a separate step, and never over a newer champion.
func (d decider) Approve(ctx context.Context, who, model string, n int, dec decisions.Decision) (*decisions.Result, error) {
	s := d.s
	decision := policy.DecideApprove
	if dec.Override {
		decision = policy.DecideOverride
	}
	pol, phash, err := d.authorize(ctx, who, model, n, decision, dec.Reason)
	if err != nil {
		return nil, err
	}
	if !dec.Override {
		if err := d.passed(ctx, who, model, n, policy.DecideApprove, pol, phash); err != nil {
			return nil, err
		}
	}
	res, err := s.reg.Approve(ctx, registry.DecisionInput{Model: model, Version: n, BundleSHA256: dec.BundleSHA256,
		PolicyHash: phash, Principal: who, Reason: dec.Reason, Override: dec.Override})
	if err != nil {
		return nil, err
	}
	out := decisions.Result{Model: model, Version: res.Version, AuditKey: res.Key, Created: res.Created}
	if !pol.Approval.SeparatePromotion {
		pres, err := s.reg.Promote(ctx, registry.PromoteInput{Model: model, Version: n, Principal: who,
			Reason: "approved: " + dec.Reason, OnlyOverLower: true})
		switch {
		case err == nil:
			out.Version, out.AuditKey, out.Promoted = pres.Version, pres.Key, true
			if perr := s.announce(ctx, event.ModelPromoted, pres, who, dec.Reason); perr != nil {
				return nil, perr
			}
		case errors.Is(err, registry.ErrStale):
			// A newer version is champion: an approval of an older one does
			// not replace it; promoting it is a decision of its own.
			out.NotPromoted = err.Error()
		case !errors.Is(err, registry.ErrTransition):
			return nil, err
		}
	}
	return s.answer(ctx, out)
}

func (d decider) Reject(ctx context.Context, who, model string, n int, dec decisions.Decision) (*decisions.Result, error) {
	phash, err := d.allowed(ctx, who, model, n, policy.DecideReject, dec)
	if err != nil {
		return nil, err
	}
	res, err := d.s.reg.Reject(ctx, registry.DecisionInput{Model: model, Version: n, PolicyHash: phash, Principal: who, Reason: dec.Reason})
	return d.s.decided(ctx, event.ModelRejected, model, who, dec, res, err)
}

func (d decider) Promote(ctx context.Context, who, model string, n int, dec decisions.Decision) (*decisions.Result, error) {
	if dec.Override {
		return nil, decisions.Errorf(decisions.CodeBadRequest, "override applies to approvals only")
	}
	pol, phash, err := d.authorize(ctx, who, model, n, policy.DecidePromote, dec.Reason)
	if err != nil {
		return nil, err
	}
	// What is promoted must pass the policy in force now, not only the one it
	// was approved under, unless its approval was an override.
	if err := d.passed(ctx, who, model, n, policy.DecidePromote, pol, phash); err != nil {
		return nil, err
	}
	res, err := d.s.reg.Promote(ctx, registry.PromoteInput{Model: model, Version: n, Principal: who, Reason: dec.Reason})
	return d.s.decided(ctx, event.ModelPromoted, model, who, dec, res, err)
}

func (d decider) Retire(ctx context.Context, who, model string, n int, dec decisions.Decision) (*decisions.Result, error) {
	if _, err := d.allowed(ctx, who, model, n, policy.DecideRetire, dec); err != nil {
		return nil, err
	}
	res, err := d.s.reg.Retire(ctx, registry.RetireInput{Model: model, Version: n, Principal: who, Reason: dec.Reason, Force: dec.Force})
	if err == nil {
		// The decision stands whatever happens to the tags, which only
		// save storage: a failure is logged, not the caller's.
		if terr := d.s.tagRetired(ctx, res.Version); terr != nil {
			d.s.log.Warn("a retired version's bundle was not tagged for archival", "model", model, "version", n, "error", terr.Error())
		}
	}
	return d.s.decided(ctx, event.ModelRetired, model, who, dec, res, err)
}

func (d decider) Rollback(ctx context.Context, who, model string, dec decisions.Decision) (*decisions.Result, error) {
	if _, err := d.allowed(ctx, who, model, 0, policy.DecideRollback, dec); err != nil {
		return nil, err
	}
	res, err := d.s.reg.Rollback(ctx, registry.RollbackInput{Model: model, From: dec.From, Principal: who, Reason: dec.Reason})
	return d.s.decided(ctx, event.ModelRolledBack, model, who, dec, res, err)
}

// passed refuses (and audits, bounded) a decision about version n unless it
// passed the policy in force (evaluated now if it has no check under it), or
// its approval was an override the policy allowed.
func (d decider) passed(ctx context.Context, who, model string, n int, decision string, pol *policy.Policy, phash string) error {
	s := d.s
	v, err := s.reg.Get(ctx, model, n)
	if err != nil {
		return err
	}
	// Where the state machine refuses the decision anyway (approving a
	// rejected or retired version, promoting one that is not approved), the
	// registry says so, in its terms.
	if (decision == policy.DecideApprove && (v.State == registry.StateRejected || v.State == registry.StateRetired)) ||
		(decision == policy.DecidePromote && v.State != registry.StateApproved) {
		return nil
	}
	if err := s.checkVersion(ctx, v, pol, phash); err != nil {
		return err
	}
	if v, err = s.reg.Get(ctx, model, n); err != nil {
		return err
	}
	c, checked := v.Checks[phash]
	if checked && c.Verdict == registry.VerdictPass {
		return nil
	}
	if decision == policy.DecidePromote && v.Events[registry.KindApproved] != "" {
		if a, err := s.reg.Record(ctx, v.Events[registry.KindApproved]); err == nil && a.Override && a.Version == n {
			return nil
		}
	}
	why := fmt.Sprintf("model %s version %d did not pass the policy in force (%s): %s", model, n, hashid.Short(phash), verdictOf(c, checked))
	if err := s.refuseOnce(ctx, who, model, n, decision, phash, why); err != nil {
		return err
	}
	return decisions.Errorf(decisions.CodeNotPassed, "%s: only a version that passed may be approved or promoted, or one the policy lets you override (approve --override)", why)
}

func verdictOf(c registry.CheckRef, checked bool) string {
	if !checked {
		return "no check"
	}
	return "its check is " + string(c.Verdict)
}

// allowed is authorize for decisions that take no override.
func (d decider) allowed(ctx context.Context, who, model string, n int, decision string, dec decisions.Decision) (string, error) {
	if dec.Override {
		return "", decisions.Errorf(decisions.CodeBadRequest, "override applies to approvals only")
	}
	_, phash, err := d.authorize(ctx, who, model, n, decision, dec.Reason)
	return phash, err
}

// decided finishes reject, promote, retire and rollback once the registry
// applied the decision (or refused it: err): it announces the decision and
// answers with the champion.
func (s *Service) decided(ctx context.Context, detailType, model, who string, dec decisions.Decision,
	res *registry.Result, err error) (*decisions.Result, error) {
	if err != nil {
		return nil, err
	}
	if err := s.announce(ctx, detailType, res, who, dec.Reason); err != nil {
		return nil, err
	}
	return s.answer(ctx, decisions.Result{Model: model, Version: res.Version, AuditKey: res.Key, Created: res.Created,
		Promoted: detailType == event.ModelPromoted})
}

// tagRetired tags the objects of a retired version's bundle (its manifest
// and the files the manifest lists: what the gate verified, within the
// bundle format's limits, not whatever else lies beside them), so that
// the stack's lifecycle rule moves them to archival storage: they are kept
// (the audit trail names them) but never served again. Only the version's
// own run's bundle is tagged: a record naming another prefix (another
// model's run, a whole folder) gets nothing tagged and a warning. Tags
// only save storage: the caller logs a failure and goes on; a retirement
// the gate recorded but never announced (it stopped in between) is tagged
// by the decision sweep.
func (s *Service) tagRetired(ctx context.Context, v *registry.Version) error {
	if v == nil || v.BundlePrefix == "" {
		return nil
	}
	if !ownBundle(v) {
		s.log.Warn("a retired version's bundle prefix is not its run's: nothing tagged", "model", v.Model,
			"version", v.Version, "runId", v.RunID, "bundlePrefix", v.BundlePrefix)
		return nil
	}
	keys := []string{v.BundlePrefix + bundle.ManifestFile}
	m, err := bundlestore.Manifest(ctx, s.st, s.cfg.Bucket, v.BundlePrefix)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // nothing was ever written there
	case errors.Is(err, bundle.ErrInvalid):
		s.log.Warn("a retired version's manifest does not check: only the manifest tagged", "model", v.Model,
			"version", v.Version, "error", err.Error())
	case err != nil:
		return fmt.Errorf("retired %s v%d: %w", v.Model, v.Version, err)
	}
	for _, f := range m.Files {
		keys = append(keys, v.BundlePrefix+f.Path)
	}
	tags := map[string]string{rules.RetiredTag: "true", "mlops:model": v.Model, "mlops:version": strconv.Itoa(v.Version)}
	for _, k := range keys {
		err := s.st.Tag(ctx, s.cfg.Bucket, k, tags)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("retired %s v%d: tag %s for archival: %w", v.Model, v.Version, k, err)
		}
	}
	return nil
}

// ownBundle reports whether v's bundle prefix is its own run's, and the run
// one of its own model's.
func ownBundle(v *registry.Version) bool {
	model, _, _, err := training.ParseRunID(v.RunID)
	return err == nil && model == v.Model && v.BundlePrefix == training.BundlePrefix(v.RunID)
}

// eventReasonBytes bounds the reason an event carries: the whole reason is in
// the audit record the event names (AuditKey), and an event must stay far
// below EventBridge's 256 KB per entry.
const eventReasonBytes = 256

// announce publishes a decision's event (again on a duplicate: at least once).
func (s *Service) announce(ctx context.Context, detailType string, res *registry.Result, who, reason string) error {
	det := event.ModelDetail{SchemaVersion: event.SchemaVersion, Bucket: s.cfg.Bucket, Principal: who, Reason: clip.Bytes(reason, eventReasonBytes),
		AuditKey: res.Key, At: s.cfg.Now().UTC()}
	if res.Record != nil {
		det.Model, det.Version, det.PreviousChampion = res.Record.Model, res.Record.Version, res.Record.Previous
		det.PolicyHash = res.Record.Hashes.PolicyHash
	}
	if v := res.Version; v != nil {
		det.Model, det.Version, det.RunID, det.BundleSHA256, det.BundlePrefix, det.State =
			v.Model, v.Version, v.RunID, v.BundleSHA256, v.BundlePrefix, string(v.State)
	}
	return s.publish(ctx, detailType, det)
}

// answer completes a decision's answer with the model's champion now.
func (s *Service) answer(ctx context.Context, out decisions.Result) (*decisions.Result, error) {
	if c, err := s.reg.Champion(ctx, out.Model); err == nil {
		out.Champion = c.Version
	} else if !errors.Is(err, registry.ErrNoChampion) {
		return nil, err
	}
	return &out, nil
}

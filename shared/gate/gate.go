// Package gate is the promotion gate's use case: a trained bundle (Training
// Succeeded) is verified, registered as a model version, judged by the model's
// promotion policy against the current champion on the same test rows, and then
// rejected with reasons, left pending a person's approval, or promoted
// automatically where the policy allows it and only over a lower version.
//
// Every step is idempotent: the registry registers a run once, records a
// policy's checks once per (version, policy hash) so a redelivery reaches the
// same verdict, and treats a repeated decision as the one already made.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/testset"
	"github.com/openmlops/mlops/shared/xgboost"
)

// Store is what the gate needs from S3 (*store.Store has it): it reads bundles,
// test rows and policies, and tags a retired version's artifacts for archival.
type Store interface {
	ingest.Reader // bundles, and the dataset versions they were tested on (through ingest.Datasets)
	Tag(ctx context.Context, bucket, key string, tags map[string]string) error
}

// Config configures a Service.
type Config struct {
	Bucket string // the platform bucket
	// Principal is who the gate's own decisions are recorded as (default "gate").
	Principal string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Service is the gate use case.
type Service struct {
	st  Store
	pub event.Publisher
	reg *registry.Registry
	cfg Config
	log *slog.Logger
	// datasets reads the versions candidates and champions were tested on.
	datasets *ingest.Datasets
}

// New returns the gate over its adapters.
func New(st Store, pub event.Publisher, reg *registry.Registry, cfg Config) *Service {
	if cfg.Principal == "" {
		cfg.Principal = "gate"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, pub: pub, reg: reg, cfg: cfg, log: log, datasets: ingest.NewDatasets(st, cfg.Bucket, "")}
}

// Outcome is what the gate decided for one trained run.
type Outcome struct {
	Version int            `json:"version,omitempty"` // 0: refused before registration
	State   registry.State `json:"state,omitempty"`
	Reasons []string       `json:"reasons,omitempty"`
	Policy  string         `json:"policyHash,omitempty"`
}

// Handle is the gate function's entry point for EventBridge events ("Training
// Succeeded"). An error makes the invoker retry, then dead-letter the event.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("gate panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("gate: internal error: %v", r)
		}
	}()
	var env event.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return fmt.Errorf("gate event: not an EventBridge event: %w", err)
	}
	if env.Source != event.Source || env.DetailType != event.TrainingSucceeded {
		return fmt.Errorf("gate event %s: unexpected source %q and detail-type %q", env.ID, env.Source, env.DetailType)
	}
	var d event.TrainingSucceededDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return fmt.Errorf("gate event %s: detail: %w", env.ID, err)
	}
	if d.Model == "" || d.RunID == "" || d.BundlePrefix == "" || d.BundleSHA256 == "" {
		return fmt.Errorf("gate event %s: detail.model, runId, bundlePrefix and bundleSha256 are required", env.ID)
	}
	_, err = s.OnTrainingSucceeded(ctx, d)
	return err
}

// OnTrainingSucceeded judges one trained run.
func (s *Service) OnTrainingSucceeded(ctx context.Context, d event.TrainingSucceededDetail) (Outcome, error) {
	b, err := bundlestore.FetchVerified(ctx, s.st, s.cfg.Bucket, d.BundlePrefix, d.BundleSHA256)
	if err == nil && (b.Manifest.RunID != d.RunID || b.Manifest.Model != d.Model) {
		err = fmt.Errorf("%w: the bundle is run %s of model %s, but training announced run %s of model %s",
			bundle.ErrInvalid, b.Manifest.RunID, b.Manifest.Model, d.RunID, d.Model)
	}
	if err != nil {
		if !errors.Is(err, bundle.ErrInvalid) && !errors.Is(err, store.ErrNotFound) {
			return Outcome{}, fmt.Errorf("gate %s: %w", d.RunID, err) // a read failed: retry
		}
		// Also for a run that is a version already (a late delivery after its
		// bundle was altered): the tampering is recorded in the trail.
		return s.refuse(ctx, d, err)
	}

	v, _, err := s.reg.Register(ctx, registry.RegisterInput{Model: d.Model, RunID: d.RunID, BundleSHA256: b.SHA256,
		BundlePrefix: d.BundlePrefix, DatasetVersion: d.DatasetVersion, ContractHash: d.ContractHash, SpecHash: d.SpecHash,
		Metrics: b.Metrics.Test, Principal: s.cfg.Principal, Compiled: s.compile(b)})
	if err != nil {
		return Outcome{}, fmt.Errorf("gate %s: register: %w", d.RunID, err)
	}
	if err := s.publish(ctx, event.ModelRegistered, s.detail(v, v.Events[registry.KindRegistered])); err != nil {
		return Outcome{}, err
	}
	if v.State != registry.StateRegistered {
		// Decided by an earlier delivery (or a person since): nothing to redo.
		return Outcome{Version: v.Version, State: v.State}, nil
	}

	pol, phash, err := policystore.Current(ctx, s.st, s.cfg.Bucket, d.Model)
	if errors.Is(err, policystore.ErrNoPolicy) {
		return s.pending(ctx, v, "", nil, "no promotion policy is applied to this model: nobody may approve it until one is "+
			"(mlops models apply with a policy), which then checks it")
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("gate %s: %w", d.RunID, err)
	}
	res, err := s.check(ctx, b, v, pol, phash)
	if err != nil {
		return Outcome{}, err
	}

	switch {
	case !res.Passed:
		var reasons []string
		for _, c := range res.Failures() {
			reasons = append(reasons, c.Name+": "+c.Why)
		}
		return s.reject(ctx, v, phash, reasons)
	case res.NeedsApproval:
		return s.pending(ctx, v, phash, res.Approvers, "policy passed; it requires a person's approval")
	case res.AutoPromote:
		return s.autoPromote(ctx, v, phash)
	}
	// Passed, no approval required, no automatic promotion: approved, and a
	// person promotes it.
	r, err := s.reg.Approve(ctx, registry.DecisionInput{Model: v.Model, Version: v.Version, BundleSHA256: v.BundleSHA256,
		PolicyHash: phash, Principal: s.cfg.Principal, Reason: "policy passed; approval not required"})
	if err != nil {
		return Outcome{}, s.settled(v, err)
	}
	return Outcome{Version: v.Version, State: r.Version.State, Policy: phash}, nil
}

// compile is the verified bundle's model in its compiled form, for serving
// to load without parsing model.json: made here, where the bundle has just
// been verified (every file's hash, and the evaluator against the trainer's
// samples), and checked the same way once read back. nil (serving parses
// model.json) if that fails, which is logged: the version is no less valid.
func (s *Service) compile(b *bundle.Bundle) *registry.CompiledInput {
	entry, _ := b.Manifest.File(bundle.ModelFile)
	data, err := b.Model.MarshalBinary()
	if err == nil {
		var m *xgboost.Model
		if m, err = xgboost.ParseCompiled(data); err == nil {
			back := *b
			back.Model = m
			err = back.CheckSamples()
		}
	}
	if err != nil {
		s.log.Error("model not compiled: serving will parse model.json", "model", b.Manifest.Model, "run", b.Manifest.RunID, "error", err)
		return nil
	}
	return &registry.CompiledInput{Data: data, Format: xgboost.CompiledVersion, ModelSHA256: entry.SHA256}
}

// check evaluates the policy on version v (bundle b) and records the result
// once per (version, policy): a redelivery, or a check made again later, gets
// the first evaluation, whatever it would find now, so every path reaches the
// same decision.
func (s *Service) check(ctx context.Context, b *bundle.Bundle, v *registry.Version, pol *policy.Policy, phash string) (policy.Result, error) {
	res, err := s.evaluate(ctx, b, v, pol)
	if err != nil {
		return policy.Result{}, err
	}
	verdict := registry.VerdictPass
	if !res.Passed {
		verdict = registry.VerdictFail
	}
	cr, err := s.reg.RecordChecks(ctx, registry.ChecksInput{Model: v.Model, Version: v.Version, PolicyHash: phash,
		Checks: res, Verdict: verdict, Principal: s.cfg.Principal, Reason: "policy evaluated"})
	if err != nil {
		return policy.Result{}, fmt.Errorf("gate %s: record checks: %w", v.RunID, err)
	}
	if !cr.Created {
		var first policy.Result
		if err := json.Unmarshal(cr.Record.Checks, &first); err != nil {
			return policy.Result{}, fmt.Errorf("gate %s: recorded checks %s: %w", v.RunID, cr.Key, err)
		}
		res = first
	}
	return res, nil
}

// checkVersion makes sure version v has a check under the policy in force
// (phash), evaluating it now if it has none: a version that waited while
// the policy changed, or whose evaluation a crash interrupted, is checked
// when a person wants to decide on it.
func (s *Service) checkVersion(ctx context.Context, v *registry.Version, pol *policy.Policy, phash string) error {
	if _, ok := v.Checks[phash]; ok {
		return nil
	}
	b, err := bundlestore.FetchVerified(ctx, s.st, s.cfg.Bucket, v.BundlePrefix, v.BundleSHA256)
	if errors.Is(err, bundle.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		// Not a fault of the platform: the version cannot pass what it cannot be checked against.
		return fmt.Errorf("%w: model %s version %d has no check under the policy in force (%s), and its bundle cannot be checked: %v",
			registry.ErrNotPassed, v.Model, v.Version, hashid.Short(phash), err)
	}
	if err != nil {
		return fmt.Errorf("model %s version %d: check under policy %s: %w", v.Model, v.Version, hashid.Short(phash), err)
	}
	_, err = s.check(ctx, b, v, pol, phash)
	return err
}

// evaluate runs the policy on the candidate, with the champion scored on the
// candidate's own test rows where that is possible.
func (s *Service) evaluate(ctx context.Context, b *bundle.Bundle, v *registry.Version, pol *policy.Policy) (policy.Result, error) {
	modelJSON, _, err := s.st.ReadAll(ctx, s.cfg.Bucket, v.BundlePrefix+bundle.ModelFile)
	if err != nil {
		return policy.Result{}, fmt.Errorf("gate %s: %w", v.RunID, err)
	}
	cand, err := policy.CandidateFromBundle(b, modelJSON)
	if err != nil {
		return policy.Result{}, fmt.Errorf("gate %s: %w", v.RunID, err)
	}
	champ, err := s.champion(ctx, b, v)
	if err != nil {
		return policy.Result{}, err
	}
	return policy.Evaluate(pol, cand, champ), nil
}

// champion compares the current champion with the candidate on rows neither
// trained on: the candidate's test rows that are the champion's test rows too
// (the same dataset version, or an append dataset whose earlier partitions the
// champion saw) or that came after the champion's data. Scoring the champion on
// rows it trained on would flatter it. Where too few such rows exist (a replace
// dataset's new version, other features), the champion's recorded test metrics
// stand in, and the checks say so.
func (s *Service) champion(ctx context.Context, cand *bundle.Bundle, v *registry.Version) (*policy.Champion, error) {
	c, err := s.reg.Champion(ctx, v.Model)
	if errors.Is(err, registry.ErrNoChampion) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gate %s: champion: %w", v.RunID, err)
	}
	if c.Version == v.Version {
		return nil, nil
	}
	cv, err := s.reg.Get(ctx, v.Model, c.Version)
	if err != nil {
		return nil, fmt.Errorf("gate %s: champion v%d: %w", v.RunID, c.Version, err)
	}
	cb, err := bundlestore.Fetch(ctx, s.st, s.cfg.Bucket, cv.BundlePrefix)
	if err != nil {
		return nil, fmt.Errorf("gate %s: champion v%d's bundle: %w", v.RunID, c.Version, err)
	}
	recorded := &policy.Champion{Version: c.Version, Metrics: cb.Metrics.Test}
	dataset := cand.Lineage.Dataset
	cm, err := s.datasets.Manifest(ctx, dataset, cand.TestRows.DatasetVersion)
	if err != nil {
		return nil, fmt.Errorf("gate %s: %w", v.RunID, err)
	}
	var champRows int64 = -1 // rows of the champion's data, when the candidate's data extends it
	if cb.Lineage.Dataset == dataset && cb.TestRows.DatasetVersion != cand.TestRows.DatasetVersion {
		chm, err := s.datasets.Manifest(ctx, dataset, cb.TestRows.DatasetVersion)
		if err != nil {
			return nil, fmt.Errorf("gate %s: champion v%d's data: %w", v.RunID, c.Version, err)
		}
		if extends(cm.Partitions, chm.Partitions) {
			champRows = 0
			for _, p := range chm.Partitions {
				champRows += p.Rows
			}
		}
	}
	clean := unseenRows(cand.TestRows, cb.TestRows, champRows)
	if len(clean) < minSharedRows(len(cand.TestRows.Rows)) {
		s.log.Info("too few test rows the champion did not train on; comparing recorded metrics",
			"model", v.Model, "champion", c.Version, "candidate", v.Version, "rows", len(clean))
		return recorded, nil
	}
	rows, err := testset.FetchManifest(ctx, s.datasets, cm, clean)
	if err != nil {
		return nil, fmt.Errorf("gate %s: test rows: %w", v.RunID, err)
	}
	champScore, err := testset.ScoreOn(cb, rows)
	if errors.Is(err, testset.ErrIncomparable) {
		s.log.Warn("champion cannot be scored on the candidate's test rows; comparing recorded metrics",
			"model", v.Model, "champion", c.Version, "candidate", v.Version, "why", err)
		return recorded, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gate %s: score champion v%d: %w", v.RunID, c.Version, err)
	}
	candScore, err := testset.ScoreOn(cand, rows)
	if err != nil {
		return nil, fmt.Errorf("gate %s: score the candidate on the shared rows: %w", v.RunID, err)
	}
	return &policy.Champion{Version: c.Version, Metrics: champScore.Metrics, SameRows: true,
		CandidateMetrics: candScore.Metrics, Rows: len(clean)}, nil
}

// extends reports whether the partitions start with base's (an append
// dataset's later version), so that row numbers below base's count are the same rows.
func extends(parts, base []ingest.Partition) bool {
	if len(base) == 0 || len(parts) < len(base) {
		return false
	}
	for i, p := range base {
		if parts[i].PayloadSHA256 != p.PayloadSHA256 || parts[i].Rows != p.Rows {
			return false
		}
	}
	return true
}

// unseenRows are the candidate's test rows the champion did not train on: with
// the same dataset version, those in the champion's test set; with data that
// extends the champion's (champRows ≥ 0), also those past the champion's rows.
func unseenRows(cand, champ bundle.TestRows, champRows int64) []int64 {
	same := cand.DatasetVersion == champ.DatasetVersion
	if !same && champRows < 0 {
		return nil
	}
	test := make(map[int64]bool, len(champ.Rows))
	for _, r := range champ.Rows {
		test[r] = true
	}
	var out []int64
	for _, r := range cand.Rows {
		if test[r] || (!same && r >= champRows) {
			out = append(out, r)
		}
	}
	return out
}

// minSharedRows is how many unseen rows a comparison needs to mean anything.
func minSharedRows(candRows int) int { return max(30, candRows/4) }

func (s *Service) refuse(ctx context.Context, d event.TrainingSucceededDetail, why error) (Outcome, error) {
	// The why may quote the bundle's own fields (a manifest is up to 1 MiB):
	// bounded, for the trail and the event alike.
	reason := clip.Bytes("bundle refused: "+why.Error(), refusalReasonBytes)
	r, err := s.reg.Refuse(ctx, registry.RefuseInput{Model: d.Model, RunID: d.RunID, BundleSHA256: d.BundleSHA256,
		Principal: s.cfg.Principal, Reason: reason})
	if err != nil {
		return Outcome{}, fmt.Errorf("gate %s: audit the refusal: %w", d.RunID, err)
	}
	s.log.Warn("bundle refused", "model", d.Model, "run", d.RunID, "why", why)
	det := event.ModelDetail{SchemaVersion: event.SchemaVersion, Model: d.Model, RunID: d.RunID, BundleSHA256: d.BundleSHA256,
		BundlePrefix: d.BundlePrefix, Bucket: s.cfg.Bucket, State: "refused", Reasons: []string{reason},
		Principal: s.cfg.Principal, AuditKey: r.Key, At: s.cfg.Now().UTC()}
	if err := s.publish(ctx, event.ModelRejected, det); err != nil {
		return Outcome{}, err
	}
	return Outcome{Reasons: []string{reason}}, nil
}

func (s *Service) reject(ctx context.Context, v *registry.Version, phash string, reasons []string) (Outcome, error) {
	r, err := s.reg.Reject(ctx, registry.DecisionInput{Model: v.Model, Version: v.Version, PolicyHash: phash,
		Principal: s.cfg.Principal, Reason: "policy failed: " + strings.Join(reasons, "; ")})
	if err != nil {
		return Outcome{}, s.settled(v, err)
	}
	det := s.detail(r.Version, r.Key)
	det.PolicyHash, det.Reasons = phash, reasons
	if err := s.publish(ctx, event.ModelRejected, det); err != nil {
		return Outcome{}, err
	}
	return Outcome{Version: v.Version, State: r.Version.State, Reasons: reasons, Policy: phash}, nil
}

func (s *Service) pending(ctx context.Context, v *registry.Version, phash string, approvers []string, reason string) (Outcome, error) {
	r, err := s.reg.MarkPending(ctx, registry.DecisionInput{Model: v.Model, Version: v.Version, PolicyHash: phash,
		Principal: s.cfg.Principal, Reason: reason})
	if err != nil {
		return Outcome{}, s.settled(v, err)
	}
	det := s.detail(r.Version, r.Key)
	det.PolicyHash, det.Approvers, det.Reason = phash, approvers, reason
	if err := s.publish(ctx, event.PromotionPending, det); err != nil {
		return Outcome{}, err
	}
	return Outcome{Version: v.Version, State: r.Version.State, Policy: phash}, nil
}

// autoPromote approves and promotes, but never over a newer champion: a late,
// older candidate stays approved for a person to promote.
func (s *Service) autoPromote(ctx context.Context, v *registry.Version, phash string) (Outcome, error) {
	if _, err := s.reg.Approve(ctx, registry.DecisionInput{Model: v.Model, Version: v.Version, BundleSHA256: v.BundleSHA256,
		PolicyHash: phash, Principal: s.cfg.Principal, Reason: "policy passed; the policy promotes automatically"}); err != nil {
		return Outcome{}, s.settled(v, err)
	}
	r, err := s.reg.Promote(ctx, registry.PromoteInput{Model: v.Model, Version: v.Version, Principal: s.cfg.Principal,
		Reason: "policy passed; automatic promotion", OnlyOverLower: true})
	if errors.Is(err, registry.ErrStale) {
		s.log.Info("not promoted over a newer champion", "model", v.Model, "version", v.Version, "why", err)
		return Outcome{Version: v.Version, State: registry.StateApproved, Policy: phash,
			Reasons: []string{err.Error()}}, nil
	}
	if err != nil {
		return Outcome{}, s.settled(v, err)
	}
	det := s.detail(r.Version, r.Key)
	det.PolicyHash, det.PreviousChampion = phash, r.Record.Previous
	if err := s.publish(ctx, event.ModelPromoted, det); err != nil {
		return Outcome{}, err
	}
	return Outcome{Version: v.Version, State: r.Version.State, Policy: phash}, nil
}

// settled turns an illegal transition found on a redelivery (a person decided
// in between) into success: the version has moved on, nothing is lost.
func (s *Service) settled(v *registry.Version, err error) error {
	if errors.Is(err, registry.ErrTransition) {
		s.log.Info("version already decided", "model", v.Model, "version", v.Version, "why", err)
		return nil
	}
	return fmt.Errorf("gate %s: %w", v.RunID, err)
}

func (s *Service) detail(v *registry.Version, auditKey string) event.ModelDetail {
	return event.ModelDetail{SchemaVersion: event.SchemaVersion, Model: v.Model, Version: v.Version, RunID: v.RunID,
		BundleSHA256: v.BundleSHA256, BundlePrefix: v.BundlePrefix, Bucket: s.cfg.Bucket, State: string(v.State),
		AuditKey: auditKey, At: s.cfg.Now().UTC()}
}

func (s *Service) publish(ctx context.Context, detailType string, d event.ModelDetail) error {
	err := s.pub.Publish(ctx, event.Event{Source: event.Source, DetailType: detailType, Detail: d,
		Resources: []string{"s3://" + s.cfg.Bucket + "/" + registry.ModelPrefix(d.Model)}})
	if err != nil {
		return fmt.Errorf("gate: publish %s for %s v%d: %w", detailType, d.Model, d.Version, err)
	}
	// Announced: the sweep need not publish it again. Best effort: a lost
	// marker costs one duplicate event, which consumers take.
	if err := s.reg.MarkAnnounced(ctx, d.Model, registry.SeqOf(d.AuditKey)); err != nil {
		s.log.Warn("mark announced", "key", d.AuditKey, "error", err)
	}
	return nil
}

package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/store"
)

// Decision is the body of a decision route.
type Decision struct {
	Reason string `json:"reason"`
	// BundleSHA256 is the bundle an approval approves (required for approve:
	// if the bundle changed, the approval does not apply).
	BundleSHA256 string `json:"bundleSha256,omitempty"`
	// Force retires the champion too (retire only).
	Force bool `json:"force,omitempty"`
	// From is the champion a rollback rolls back from (0: the current one).
	From int `json:"from,omitempty"`
}

// DecisionResult is the answer of a decision route.
type DecisionResult struct {
	Model    string            `json:"model"`
	Version  *registry.Version `json:"version,omitempty"`
	Champion int               `json:"champion"`
	AuditKey string            `json:"auditKey"`
	// Created is false when the same decision had been made before.
	Created bool `json:"created"`
	// Promoted: an approval promoted the version at once.
	Promoted bool `json:"promoted,omitempty"`
}

// Routes serves the registry's read and decision routes. principal returns the
// caller's verified identity (the local API's user; in AWS the IAM ARN API
// Gateway's authorizer verified); a request without one is refused.
//
//	GET  /v1/models                                   models with their champion
//	GET  /v1/models/{model}                           its versions and champion
//	GET  /v1/models/{model}/versions/{version}        one version
//	GET  /v1/models/{model}/history                   the audit trail, in order
//	GET  /v1/models/{model}/verify                    the trail's verification
//	POST /v1/models/{model}/versions/{version}/approve  {reason, bundleSha256}
//	POST /v1/models/{model}/versions/{version}/reject   {reason}
//	POST /v1/models/{model}/versions/{version}/promote  {reason}
//	POST /v1/models/{model}/versions/{version}/retire   {reason, force}
//	POST /v1/models/{model}/rollback                    {reason, from}
func (s *Service) Routes(principal func(*http.Request) string) map[string]http.Handler {
	h := func(f func(w http.ResponseWriter, r *http.Request, who string) error) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who := principal(r)
			if who == "" {
				writeError(w, http.StatusUnauthorized, "no verified caller")
				return
			}
			if err := f(w, r, who); err != nil {
				status := statusOf(err)
				if status == http.StatusInternalServerError {
					s.log.Error("decision route", "path", r.URL.Path, "error", err)
				}
				writeError(w, status, err.Error())
			}
		})
	}
	return map[string]http.Handler{
		"GET /v1/models":                                     h(s.listModels),
		"GET /v1/models/{model}":                             h(s.showModel),
		"GET /v1/models/{model}/versions/{version}":          h(s.showVersion),
		"GET /v1/models/{model}/history":                     h(s.history),
		"GET /v1/models/{model}/verify":                      h(s.verify),
		"POST /v1/models/{model}/versions/{version}/approve": h(s.approve),
		"POST /v1/models/{model}/versions/{version}/reject":  h(s.decided(event.ModelRejected, s.reject1)),
		"POST /v1/models/{model}/versions/{version}/promote": h(s.decided(event.ModelPromoted, s.promote)),
		"POST /v1/models/{model}/versions/{version}/retire":  h(s.decided(event.ModelRetired, s.retire)),
		"POST /v1/models/{model}/rollback":                   h(s.decided(event.ModelRolledBack, s.rollback)),
	}
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, registry.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, registry.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, registry.ErrTransition), errors.Is(err, registry.ErrBundleMismatch),
		errors.Is(err, registry.ErrNoPrevious), errors.Is(err, registry.ErrStale), errors.Is(err, registry.ErrNoChampion),
		errors.Is(err, registry.ErrDamaged):
		// A damaged trail is the registry's state, not a server fault: verify says where.
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func target(r *http.Request) (string, int, error) {
	model := r.PathValue("model")
	if !spec.ValidName(model) {
		return "", 0, badRequest("%q is not a model name", model)
	}
	v := r.PathValue("version")
	if v == "" {
		return model, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, badRequest("version %q: expected a number from 1", v)
	}
	return model, n, nil
}

func decodeDecision(r *http.Request) (Decision, error) {
	var d Decision
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, badRequest("body: %v (expected {\"reason\": ...})", err)
	}
	if strings.TrimSpace(d.Reason) == "" {
		return d, badRequest("a reason is required")
	}
	return d, nil
}

type modelSummary struct {
	Model    string            `json:"model"`
	Champion int               `json:"champion"`
	Versions int               `json:"versions"`
	Latest   *registry.Version `json:"latest,omitempty"`
}

func (s *Service) summary(r *http.Request, model string) (modelSummary, []*registry.Version, error) {
	vs, err := s.reg.List(r.Context(), model)
	if err != nil {
		return modelSummary{}, nil, err
	}
	sum := modelSummary{Model: model, Versions: len(vs)}
	if len(vs) > 0 {
		sum.Latest = vs[len(vs)-1]
	}
	if c, err := s.reg.Champion(r.Context(), model); err == nil {
		sum.Champion = c.Version
	} else if !errors.Is(err, registry.ErrNoChampion) {
		return sum, nil, err
	}
	return sum, vs, nil
}

func (s *Service) listModels(w http.ResponseWriter, r *http.Request, _ string) error {
	models, err := s.reg.Models(r.Context())
	if err != nil {
		return err
	}
	out := []modelSummary{}
	for _, m := range models {
		sum, _, err := s.summary(r, m)
		if err != nil {
			return err
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) showModel(w http.ResponseWriter, r *http.Request, _ string) error {
	model, _, err := target(r)
	if err != nil {
		return err
	}
	sum, vs, err := s.summary(r, model)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return &httpError{http.StatusNotFound, fmt.Sprintf("model %s has no versions", model)}
	}
	writeJSON(w, http.StatusOK, struct {
		modelSummary
		All []*registry.Version `json:"all"`
	}{sum, vs})
	return nil
}

func (s *Service) showVersion(w http.ResponseWriter, r *http.Request, _ string) error {
	model, n, err := target(r)
	if err != nil {
		return err
	}
	v, err := s.reg.Get(r.Context(), model, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Service) history(w http.ResponseWriter, r *http.Request, _ string) error {
	model, _, err := target(r)
	if err != nil {
		return err
	}
	h, err := s.reg.History(r.Context(), model)
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return &httpError{http.StatusNotFound, fmt.Sprintf("model %s has no audit trail", model)}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Service) verify(w http.ResponseWriter, r *http.Request, _ string) error {
	model, _, err := target(r)
	if err != nil {
		return err
	}
	rep, err := s.reg.Verify(r.Context(), model)
	if err != nil {
		return err
	}
	if rep.Records == 0 && rep.OK {
		return &httpError{http.StatusNotFound, fmt.Sprintf("model %s has no audit trail", model)}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// approve records a person's approval, bound to the bundle they saw, if the
// policy lets them approve; it promotes at once unless the policy makes
// promotion a separate step.
func (s *Service) approve(w http.ResponseWriter, r *http.Request, who string) error {
	model, n, err := target(r)
	if err != nil {
		return err
	}
	d, err := decodeDecision(r)
	if err != nil {
		return err
	}
	if d.BundleSHA256 == "" {
		return badRequest("an approval names the bundle SHA-256 it approves (bundleSha256)")
	}
	ctx := r.Context()
	pol, phash, err := policystore.Current(ctx, s.st, s.cfg.Bucket, model)
	separate := false
	switch {
	case errors.Is(err, policystore.ErrNoPolicy):
		// No policy: any verified caller decides (the gate left it pending).
	case err != nil:
		return err
	default:
		separate = pol.Approval.SeparatePromotion
		if !policy.MayApprove(pol, who) {
			if _, rerr := s.reg.Refuse(ctx, registry.RefuseInput{Model: model, Version: n, BundleSHA256: d.BundleSHA256,
				PolicyHash: phash, Principal: who, Reason: "approval refused: " + who + " is not among the policy's approvers (" +
					strings.Join(pol.Approval.Approvers, ", ") + "); their reason: " + d.Reason}); rerr != nil {
				return rerr
			}
			return &httpError{http.StatusForbidden, fmt.Sprintf("%s may not approve %s: the policy's approvers are %s",
				who, model, strings.Join(pol.Approval.Approvers, ", "))}
		}
	}
	res, err := s.reg.Approve(ctx, registry.DecisionInput{Model: model, Version: n, BundleSHA256: d.BundleSHA256,
		PolicyHash: phash, Principal: who, Reason: d.Reason})
	if err != nil {
		return err
	}
	out := DecisionResult{Model: model, Version: res.Version, AuditKey: res.Key, Created: res.Created}
	if !separate {
		pres, err := s.reg.Promote(ctx, registry.PromoteInput{Model: model, Version: n, Principal: who,
			Reason: "approved: " + d.Reason})
		if err != nil && !errors.Is(err, registry.ErrTransition) {
			return err
		}
		if err == nil {
			out.Version, out.AuditKey, out.Promoted = pres.Version, pres.Key, true
			if perr := s.announce(r, event.ModelPromoted, pres, who, d.Reason); perr != nil {
				return perr
			}
		}
	}
	return s.answer(w, r, out)
}

// decided is the shape of reject, promote, retire and rollback: read the
// target and the decision, apply it to the registry, then announce it.
func (s *Service) decided(detailType string, apply func(r *http.Request, model string, n int, who string, d Decision) (*registry.Result, error)) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, who string) error {
		model, n, err := target(r)
		if err != nil {
			return err
		}
		d, err := decodeDecision(r)
		if err != nil {
			return err
		}
		res, err := apply(r, model, n, who, d)
		if err != nil {
			return err
		}
		if err := s.announce(r, detailType, res, who, d.Reason); err != nil {
			return err
		}
		return s.answer(w, r, DecisionResult{Model: model, Version: res.Version, AuditKey: res.Key, Created: res.Created,
			Promoted: detailType == event.ModelPromoted})
	}
}

func (s *Service) reject1(r *http.Request, model string, n int, who string, d Decision) (*registry.Result, error) {
	return s.reg.Reject(r.Context(), registry.DecisionInput{Model: model, Version: n, Principal: who, Reason: d.Reason})
}

func (s *Service) promote(r *http.Request, model string, n int, who string, d Decision) (*registry.Result, error) {
	return s.reg.Promote(r.Context(), registry.PromoteInput{Model: model, Version: n, Principal: who, Reason: d.Reason})
}

func (s *Service) retire(r *http.Request, model string, n int, who string, d Decision) (*registry.Result, error) {
	res, err := s.reg.Retire(r.Context(), registry.RetireInput{Model: model, Version: n, Principal: who, Reason: d.Reason, Force: d.Force})
	if err != nil {
		return nil, err
	}
	return res, s.tagRetired(r, res.Version)
}

func (s *Service) rollback(r *http.Request, model string, _ int, who string, d Decision) (*registry.Result, error) {
	return s.reg.Rollback(r.Context(), registry.RollbackInput{Model: model, From: d.From, Principal: who, Reason: d.Reason})
}

// tagRetired tags every object of a retired version's bundle, so that a
// lifecycle rule can move them to archival storage: they are kept (the audit
// trail names them) but never served again. A retirement whose tagging failed
// is completed by asking again (a duplicate retirement tags again).
func (s *Service) tagRetired(r *http.Request, v *registry.Version) error {
	if v == nil || v.BundlePrefix == "" {
		return nil
	}
	tags := map[string]string{"mlops:retired": "true", "mlops:model": v.Model, "mlops:version": strconv.Itoa(v.Version)}
	return s.st.List(r.Context(), s.cfg.Bucket, v.BundlePrefix, func(o store.ObjectInfo) error {
		if err := s.st.Tag(r.Context(), s.cfg.Bucket, o.Key, tags); err != nil {
			return fmt.Errorf("retired %s v%d: tag %s for archival: %w", v.Model, v.Version, o.Key, err)
		}
		return nil
	})
}

// announce publishes a decision's event (again on a duplicate: at least once).
func (s *Service) announce(r *http.Request, detailType string, res *registry.Result, who, reason string) error {
	det := event.ModelDetail{SchemaVersion: event.SchemaVersion, Bucket: s.cfg.Bucket, Principal: who, Reason: reason,
		AuditKey: res.Key, At: s.cfg.Now().UTC()}
	if res.Record != nil {
		det.Model, det.Version, det.PreviousChampion = res.Record.Model, res.Record.Version, res.Record.Previous
		det.PolicyHash = res.Record.Hashes.PolicyHash
	}
	if v := res.Version; v != nil {
		det.Model, det.Version, det.RunID, det.BundleSHA256, det.BundlePrefix, det.State =
			v.Model, v.Version, v.RunID, v.BundleSHA256, v.BundlePrefix, string(v.State)
	}
	return s.publish(r.Context(), detailType, det)
}

func (s *Service) answer(w http.ResponseWriter, r *http.Request, out DecisionResult) error {
	if c, err := s.reg.Champion(r.Context(), out.Model); err == nil {
		out.Champion = c.Version
	} else if !errors.Is(err, registry.ErrNoChampion) {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

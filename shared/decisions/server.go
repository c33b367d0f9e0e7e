package decisions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
)

// Service is what the routes serve (the gate implements it over the model
// registry). who is the caller the API verified. A method refuses with an
// *Error or one of registry's errors (see the package documentation for their
// codes); any other error is a failure of the platform.
type Service interface {
	Models(ctx context.Context) ([]ModelSummary, error)
	// Model has no versions in All when the model has none.
	Model(ctx context.Context, model string) (*Model, error)
	Version(ctx context.Context, model string, version int) (*registry.Version, error)
	History(ctx context.Context, model string) ([]registry.Entry, error)
	Verify(ctx context.Context, model string) (*registry.VerifyReport, error)
	Approve(ctx context.Context, who, model string, version int, d Decision) (*Result, error)
	Reject(ctx context.Context, who, model string, version int, d Decision) (*Result, error)
	Promote(ctx context.Context, who, model string, version int, d Decision) (*Result, error)
	Retire(ctx context.Context, who, model string, version int, d Decision) (*Result, error)
	Rollback(ctx context.Context, who, model string, d Decision) (*Result, error)
}

// Routes serves svc: the handlers by ServeMux pattern (the Route constants).
// principal returns the caller's verified identity (the local API's user; in
// AWS the IAM ARN API Gateway's authorizer verified); a request without one is
// refused. Failures of the platform are logged to log.
func Routes(svc Service, principal func(*http.Request) string, log *slog.Logger) map[string]http.Handler {
	g := apierror.Guard{API: "decisions API", Principal: principal, Log: log, Classify: classify}
	hw := func(f func(w http.ResponseWriter, r *http.Request, who string) (any, error)) http.Handler {
		return g.Handle(func(w http.ResponseWriter, r *http.Request, who, _ string) (any, error) { return f(w, r, who) })
	}
	h := func(f func(r *http.Request, who string) (any, error)) http.Handler {
		return hw(func(_ http.ResponseWriter, r *http.Request, who string) (any, error) { return f(r, who) })
	}
	// read is a route that reads about a model (and a version where the
	// pattern names one).
	read := func(f func(ctx context.Context, model string, version int) (any, error)) http.Handler {
		return h(func(r *http.Request, _ string) (any, error) {
			model, n, err := target(r)
			if err != nil {
				return nil, err
			}
			return f(r.Context(), model, n)
		})
	}
	decision := func(apply func(ctx context.Context, who, model string, version int, d Decision) (*Result, error)) http.Handler {
		return hw(func(w http.ResponseWriter, r *http.Request, who string) (any, error) {
			model, n, err := target(r)
			if err != nil {
				return nil, err
			}
			d, err := decodeDecision(w, r)
			if err != nil {
				return nil, err
			}
			return apply(r.Context(), who, model, n, d)
		})
	}
	return map[string]http.Handler{
		RouteModels: h(func(r *http.Request, _ string) (any, error) {
			list, err := svc.Models(r.Context())
			if list == nil {
				list = []ModelSummary{} // [] rather than null: a list is always a list
			}
			return list, err
		}),
		RouteModel: read(func(ctx context.Context, model string, _ int) (any, error) {
			m, err := svc.Model(ctx, model)
			if err == nil && (m == nil || len(m.All) == 0) {
				return nil, Errorf(CodeNotFound, "model %s has no versions", model)
			}
			return m, err
		}),
		RouteVersion: read(func(ctx context.Context, model string, n int) (any, error) {
			return svc.Version(ctx, model, n)
		}),
		RouteHistory: read(func(ctx context.Context, model string, _ int) (any, error) {
			trail, err := svc.History(ctx, model)
			if err == nil && len(trail) == 0 {
				return nil, Errorf(CodeNotFound, "model %s has no audit trail", model)
			}
			return trail, err
		}),
		RouteVerify: read(func(ctx context.Context, model string, _ int) (any, error) {
			rep, err := svc.Verify(ctx, model)
			if err == nil && (rep == nil || rep.Records == 0 && rep.OK) {
				return nil, Errorf(CodeNotFound, "model %s has no audit trail", model)
			}
			return rep, err
		}),
		RouteApprove: decision(func(ctx context.Context, who, model string, n int, d Decision) (*Result, error) {
			if d.BundleSHA256 == "" {
				return nil, Errorf(CodeBadRequest, "an approval names the bundle SHA-256 it approves (bundleSha256)")
			}
			return svc.Approve(ctx, who, model, n, d)
		}),
		RouteReject:  decision(svc.Reject),
		RoutePromote: decision(svc.Promote),
		RouteRetire:  decision(svc.Retire),
		RouteRollback: decision(func(ctx context.Context, who, model string, _ int, d Decision) (*Result, error) {
			// A rollback names the champion it rolls back from: without it, a
			// resent request would roll back again (and toggle).
			if d.From < 1 {
				return nil, Errorf(CodeBadRequest, "a rollback names the champion it rolls back from (from): a resent request then finds it done")
			}
			return svc.Rollback(ctx, who, model, d)
		}),
	}
}

// target reads the model and the version (0 where the route has none) from the path.
func target(r *http.Request) (string, int, error) {
	model := r.PathValue("model")
	if !spec.ValidName(model) {
		return "", 0, Errorf(CodeBadRequest, "%q is not a model name", model)
	}
	v := r.PathValue("version")
	if v == "" {
		return model, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, Errorf(CodeBadRequest, "version %q: expected a number from 1", v)
	}
	return model, n, nil
}

// Limits of a decision's body, checked before anything is written: a reason
// is read by people in the audit trail, and every record of the trail is read
// again by verify, history and rollback.
const (
	MaxReasonBytes = 4096
	maxBodyBytes   = 16 << 10
)

func decodeDecision(w http.ResponseWriter, r *http.Request) (Decision, error) {
	var d Decision
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return d, Errorf(CodeTooLarge, "body over %d bytes (a reason is at most %d bytes)", maxBodyBytes, MaxReasonBytes)
		}
		return d, Errorf(CodeBadRequest, "body: %v (expected {\"reason\": ...})", err)
	}
	if dec.More() {
		return d, Errorf(CodeBadRequest, "body: one JSON object expected, found more after it")
	}
	if err := CheckReason(d.Reason); err != nil {
		return d, Errorf(CodeBadRequest, "%v", err)
	}
	if d.BundleSHA256 != "" && !isSHA256(d.BundleSHA256) {
		return d, Errorf(CodeBadRequest, "bundleSha256 %q: expected 64 lowercase hex digits", shortText(d.BundleSHA256))
	}
	if d.From < 0 {
		return d, Errorf(CodeBadRequest, "from %d: expected a version number from 1 (or none: the current champion)", d.From)
	}
	return d, nil
}

// CheckReason is the rule for a decision's reason: required, at most
// MaxReasonBytes of UTF-8 text, with no control characters but tab and
// newline. Clients check it too, before they send.
func CheckReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return errors.New("a reason is required")
	case len(reason) > MaxReasonBytes:
		return fmt.Errorf("the reason is %d bytes: at most %d", len(reason), MaxReasonBytes)
	case !utf8.ValidString(reason):
		return errors.New("the reason is not UTF-8 text")
	}
	for i, c := range reason {
		if (c < ' ' && c != '\t' && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("the reason has a control character (U+%04X) at byte %d: expected printable text", c, i)
		}
		// Format characters (bidirectional overrides, zero-width spaces) can
		// make a reason read differently on screen from what it says.
		if unicode.Is(unicode.Cf, c) {
			return fmt.Errorf("the reason has an invisible format character (U+%04X) at byte %d: expected printable text", c, i)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func shortText(s string) string { return clip.Bytes(s, 80) }

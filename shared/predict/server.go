package predict

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/spec"
)

// Service is what the routes serve (shared/serving implements it). A method
// refuses with an *apierror.Error: UnknownModel (404), NoChampion (503), the
// Checker's 400s; any other error is a failure of the platform (500).
type Service interface {
	// Predict scores req with model's current champion. requestID names the
	// request in logs. The route reuses req's memory once Predict returns:
	// neither the answer nor anything left running may read req afterwards,
	// unless Predict calls req.Keep first.
	Predict(ctx context.Context, model string, req *Request, requestID string) (*Response, error)
	// Metadata describes model's current champion.
	Metadata(ctx context.Context, model string) (*Metadata, error)
}

// UnknownModel is the refusal of a model the registry does not know.
func UnknownModel(model string) *apierror.Error {
	return apierror.Errorf(apierror.CodeNotFound, "model %s: no such model", model)
}

// NoChampion is the refusal of a model with no champion to serve (its
// champion was retired with --force, or none was ever promoted).
func NoChampion(model string) *apierror.Error {
	return apierror.Errorf(apierror.CodeUnavailable,
		"model %s has no champion (retired, or never promoted): nothing serves it until a version is promoted", model)
}

// Routes serves svc: the handlers by ServeMux pattern (the Route constants).
// principal returns the caller's verified identity (the local API's user; in
// AWS the IAM ARN or JWT subject API Gateway's authorizer verified); a request
// without one is refused. Bodies are read under lim (DecodeRequest).
// Failures of the platform are logged to log.
func Routes(svc Service, principal func(*http.Request) string, log *slog.Logger, lim Limits) map[string]http.Handler {
	lim = lim.withDefaults()
	g := apierror.Guard{API: "prediction API", Principal: principal, Log: log, Compact: true}
	return map[string]http.Handler{
		RoutePredict: g.Handle(func(w http.ResponseWriter, r *http.Request, _, id string) (any, error) {
			model, err := predictTarget(r.PathValue("target"))
			if err != nil {
				return nil, err
			}
			if r.ContentLength > lim.MaxBodyBytes {
				return nil, tooLarge(lim.MaxBodyBytes) // refused before a byte is read
			}
			req, err := DecodeRequestSized(http.MaxBytesReader(w, r.Body, lim.MaxBodyBytes), r.ContentLength, lim)
			if err != nil {
				return nil, err
			}
			resp, err := svc.Predict(r.Context(), model, req, id)
			n := len(req.Instances)
			// The answer holds nothing of the request's memory (the service
			// calls Keep on a request it still reads): the next request reuses it.
			req.Release()
			if err != nil {
				return nil, err
			}
			if resp == nil || len(resp.Predictions) != n {
				if resp != nil {
					resp.Release() // not written
				}
				return nil, errors.New("predict: the service answered no prediction for some instances")
			}
			resp.RequestID = id
			return resp, nil
		}),
		RouteMetadata: g.Handle(func(_ http.ResponseWriter, r *http.Request, _, _ string) (any, error) {
			model := r.PathValue("model")
			if !spec.ValidName(model) {
				return nil, badModel(model)
			}
			m, err := svc.Metadata(r.Context(), model)
			if err == nil && m == nil {
				err = errors.New("predict: the service answered no metadata")
			}
			return m, err
		}),
	}
}

// predictTarget reads the model from a path segment <model>:predict.
func predictTarget(segment string) (string, error) {
	model, verb, ok := strings.Cut(segment, ":")
	if !ok {
		return "", apierror.Errorf(apierror.CodeNotFound,
			"POST %s/%s: no such route: predictions are POST %s", modelsPath, clipName(segment), PredictPath("{model}"))
	}
	if verb != Verb {
		return "", apierror.Errorf(apierror.CodeNotFound, "%s: no such method: expected :%s (POST %s)",
			clipName(":"+verb), Verb, PredictPath("{model}"))
	}
	if !spec.ValidName(model) {
		return "", badModel(model)
	}
	return model, nil
}

func badModel(model string) *apierror.Error {
	return apierror.Errorf(apierror.CodeBadRequest, "%q is not a model name", clipName(model))
}

func clipName(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

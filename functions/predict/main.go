// Command predict is the prediction endpoint's Lambda: wiring only. Behind
// API Gateway's HTTP API (its own API, apart from the decisions API, so a
// caller who may predict cannot decide), it serves shared/predict's routes
// over shared/serving, and writes each scored instance's record to stdout,
// where a CloudWatch Logs subscription carries it to the monitoring bucket
// (docs/prediction-log.md says why this path).
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/aws/httpapi"
	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/wire/predictwire"
)

// handler is the predict function's: the prediction routes and the health
// check, behind API Gateway.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	p, err := lambdaenv.ReadPredict(os.Getenv)
	if err != nil {
		return nil, err
	}
	key, err := p.PIIKey(context.Background(), c.AWS)
	if err != nil {
		return nil, err
	}
	svc, err := predictwire.Predict(s, p, key, c, lambdaenv.Stdout, log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for pattern, h := range predict.Routes(svc, httpapi.Principal, log, predict.Limits{}) {
		mux.Handle(pattern, h)
	}
	doc, err := apidoc.For(apidoc.Predictions)
	if err != nil {
		return nil, err
	}
	mux.Handle(apidoc.Route, apidoc.Handler(doc, httpapi.Principal))
	// The one route API Gateway lets through unauthenticated: it says the
	// function runs, and nothing about any model.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		apierror.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return httpapi.Handler(mux), nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"}, handler)
}

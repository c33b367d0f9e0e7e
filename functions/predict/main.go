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
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/aws/httpapi"
	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/wire/predictwire"
)

// handler is the predict function's: the prediction routes and the health
// check, behind API Gateway. firstDone is called once the first request has
// been answered.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger, firstDone func()) (any, error) {
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
	return httpapi.Handler(afterFirst(mux, firstDone)), nil
}

// pauseGC turns the garbage collector off until restore is called. A cold
// start's first request fetches and lays out the champion: megabytes
// allocated by a process whose heap is nearly empty, so that the collector,
// at its default pace, runs several cycles over memory that all stays live,
// on a fraction of a vCPU. With it off from exec to the first answer the
// cold start of a 1000-tree model took 164, 176 and 120 ms where three runs
// with it on took 373, 277 and 253 ms, alternated on one loaded machine
// (docs/benchmarks.md, "Cold start of the predict function"). The heap still
// stays bounded: where Lambda gives the function's memory, the collector
// runs anyway as the heap nears half of it (a memory limit), and restore
// puts back the settings the process started with.
func pauseGC(getenv func(string) string) (restore func()) {
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(-1)
	if mb, err := strconv.ParseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
		debug.SetMemoryLimit(min(limit, mb<<20/2))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			debug.SetMemoryLimit(limit)
			debug.SetGCPercent(percent)
		})
	}
}

// afterFirst is h, calling done once the first request has been answered.
func afterFirst(h http.Handler, done func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer done()
		h.ServeHTTP(w, r)
	})
}

func main() {
	restoreGC := pauseGC(os.Getenv)
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"},
		func(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
			return handler(s, c, log, restoreGC)
		})
}

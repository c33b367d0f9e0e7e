// Command gate is the promotion gate's Lambda: wiring only. It takes "Training
// Succeeded" events from EventBridge and, behind API Gateway's IAM-authorized
// HTTP API, people's decisions (approve, reject, promote, rollback, retire),
// stamped with the caller's verified ARN. The work is in shared/gate over
// shared/registry, which `mlops up` runs too.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/aws/httpapi"
	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the gate function's: API Gateway's requests go to the decisions
// API, everything else (EventBridge's events) to the gate.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	svc := wire.Gate(s, c, log)
	mux := http.NewServeMux()
	for pattern, h := range svc.Routes(httpapi.Principal) {
		mux.Handle(pattern, h)
	}
	doc, err := apidoc.For(apidoc.Decisions)
	if err != nil {
		return nil, err
	}
	mux.Handle(apidoc.Route, apidoc.Handler(doc, httpapi.Principal))
	api := httpapi.Handler(mux)
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		if httpapi.IsRequest(payload) {
			var req lambdaevents.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &req); err != nil {
				return nil, fmt.Errorf("gate: API request: %w", err)
			}
			return api(ctx, req)
		}
		return nil, svc.Handle(ctx, payload)
	}, nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"PLATFORM_BUCKET", "EVENT_BUS_NAME"}, handler)
}

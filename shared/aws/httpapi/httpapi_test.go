package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/aws/httpapi"
)

// A route served behind API Gateway sees the path values, the body and the
// caller API Gateway's IAM authorizer verified and API Gateway's request id;
// headers claiming another identity or request id change nothing.
func TestHandlerServesRoutesWithTheVerifiedCaller(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/models/{model}/versions/{version}/approve", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"who": httpapi.Principal(r), "model": r.PathValue("model"),
			"version": r.PathValue("version"), "body": string(body), "requestId": r.Header.Get(httpapi.RequestIDHeader)})
	})
	sample := events.Sample("apigw-approve")
	if !httpapi.IsRequest(sample) || httpapi.IsRequest(events.Sample("training-succeeded")) {
		t.Fatal("IsRequest cannot tell an API request from an EventBridge event")
	}
	var req lambdaevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample, &req); err != nil {
		t.Fatal(err)
	}
	req.Headers["x-mlops-principal"] = "arn:aws:iam::123456789012:root"
	req.Headers["x-request-id"] = "chosen-by-the-caller"
	resp, err := httpapi.Handler(mux)(context.Background(), req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got["who"] != "arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice" || got["model"] != "credit" ||
		got["version"] != "1" || got["body"] != req.Body || got["requestId"] != req.RequestContext.RequestID {
		t.Fatalf("the route saw %v", got)
	}
	// Without an IAM authorizer there is no caller: the routes refuse.
	req.RequestContext.Authorizer = nil
	resp, _ = httpapi.Handler(mux)(context.Background(), req)
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || got["who"] != "" {
		t.Fatalf("a caller without the authorizer: %v %v", got, err)
	}
}

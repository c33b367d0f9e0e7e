// Package httpapi serves the platform's net/http routes behind API Gateway's
// HTTP API in a Lambda: the request arrives as an API Gateway (payload 2.0)
// event, and the caller's identity is what API Gateway's IAM authorizer
// verified, never anything the request says about itself.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/openmlops/mlops/shared/apierror"
)

// Principal is the verified caller of a request served by Handler: the IAM
// ARN API Gateway's authorizer saw, or "" (the routes then refuse the request).
func Principal(r *http.Request) string {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil {
		return ""
	}
	return rc.Authorizer.IAM.UserARN
}

// RequestIDHeader carries API Gateway's id of the request to the routes (they
// name it in their error answers and logs; see shared/apierror).
const RequestIDHeader = apierror.RequestIDHeader

// Handler adapts h to API Gateway HTTP API events. The request reaches h with
// API Gateway's request id in RequestIDHeader, in place of any the caller sent.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpadapter.NewV2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(RequestIDHeader)
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
			r.Header.Set(RequestIDHeader, rc.RequestID)
		}
		h.ServeHTTP(w, r)
	})).ProxyWithContext
}

// IsRequest reports whether a Lambda payload is an API Gateway HTTP API request
// (rather than an EventBridge event), so one function can take both.
func IsRequest(payload json.RawMessage) bool {
	var probe struct {
		RouteKey       *string          `json:"routeKey"`
		RequestContext *json.RawMessage `json:"requestContext"`
	}
	return json.Unmarshal(payload, &probe) == nil && probe.RouteKey != nil && probe.RequestContext != nil
}

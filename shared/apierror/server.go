package apierror

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// RequestIDHeader carries a request's id. The routes take it from the request
// only because what is in front of them sets it and drops a caller's: API
// Gateway's request id (shared/aws/httpapi), none locally (shared/local/api).
const RequestIDHeader = "X-Request-Id"

// RequestID is the request's id as the front set it, else a new one.
func RequestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// WriteJSON writes v indented: people read these answers (and -o json prints them).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Handler is the work of one route: its answer (written as JSON with 200) or
// an error. who is the verified caller, requestID the request's id.
type Handler func(w http.ResponseWriter, r *http.Request, who, requestID string) (any, error)

// Guard is what every route of an API does around its work: it names the
// request (RequestID, echoed in the X-Request-Id header), refuses a request
// with no verified caller, keeps any panic from leaving the route (in Lambda
// it would end the process), and answers errors with the error body.
type Guard struct {
	// API names the API in the log ("decisions API").
	API string
	// Principal returns the caller's verified identity (the local API's user;
	// in AWS the IAM ARN API Gateway's authorizer verified), "" for none. A
	// nil Principal verifies no one.
	Principal func(*http.Request) string
	// Log receives failures of the platform, with their detail; nil discards.
	Log *slog.Logger
	// Classify gives the code of an error that is no *Error (the decisions
	// API's: the registry's errors); nil, or "", makes it internal.
	Classify func(error) Code
}

// Handle wraps f into a route.
func (g Guard) Handle(f Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestID(r)
		w.Header().Set(RequestIDHeader, id)
		defer func() {
			if p := recover(); p != nil {
				g.WriteError(w, r, id, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
			}
		}()
		who := ""
		if g.Principal != nil {
			who = g.Principal(r)
		}
		if who == "" {
			g.WriteError(w, r, id, Errorf(CodeUnauthorized, "no verified caller"))
			return
		}
		out, err := f(w, r, who, id)
		if err != nil {
			g.WriteError(w, r, id, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
}

// WriteError answers err for request id. An internal failure is logged with
// its detail under the request id, and the caller is told only "internal
// error" and the id: the detail may name buckets, keys or internals. A 503
// the service chose (unavailable) is logged as a warning and told.
func (g Guard) WriteError(w http.ResponseWriter, r *http.Request, id string, err error) {
	e := As(err, g.Classify)
	log := g.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case e.Code == CodeInternal:
		log.Error(g.API, "method", r.Method, "path", r.URL.Path, "requestId", id, "error", err)
		e.Message, e.Details = "internal error", nil
	case e.Status >= 500:
		log.Warn(g.API, "method", r.Method, "path", r.URL.Path, "requestId", id, "status", e.Status, "error", e.Message)
	}
	WriteJSON(w, e.Status, Body{Error: e.Message, Code: e.Code, RequestID: id, Details: e.Details})
}

package apierror

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/openmlops/mlops/shared/jsonappend"
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

// Appender is a body that writes itself as compact JSON, faster than
// encoding/json's reflection would: the prediction API's answer, written for
// every request (WriteCompactJSON). WriteJSON indents it as it indents any
// other answer.
type Appender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// bodies are the scratch of Appenders' answers: the compact form, then the
// indented one.
var bodies = sync.Pool{New: func() any { return new([2][]byte) }}

// maxPooledBody keeps a large answer's scratch out of the pool.
const maxPooledBody = 1 << 20

// WriteJSON writes v indented: people read these answers (and -o json prints
// them). An Appender's bytes are the same as encoding/json's would be, and go
// out with their Content-Length, in one write.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v, true) }

// WriteCompactJSON writes v as WriteJSON does, but compact, as encoding/json
// writes it without indentation (<, > and & escaped in strings).
func WriteCompactJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v, false) }

func writeJSON(w http.ResponseWriter, status int, v any, indent bool) {
	w.Header().Set("Content-Type", "application/json")
	if a, ok := v.(Appender); ok {
		scratch := bodies.Get().(*[2][]byte)
		compact, err := a.AppendJSON(scratch[0][:0])
		if err == nil {
			var body []byte
			if indent {
				body = append(jsonappend.Indent(scratch[1][:0], compact, "  ", true), '\n')
			} else {
				compact = append(jsonappend.EscapeHTML(compact, 0), '\n')
				body = compact
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write(body)
			if cap(compact) <= maxPooledBody && cap(body) <= maxPooledBody {
				scratch[0] = compact
				if indent {
					scratch[1] = body
				}
				bodies.Put(scratch)
			}
			return
		}
		// encoding/json meets the same error below, and writes what it
		// writes of such a value today.
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
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
	// Compact writes the API's answers and errors compact (WriteCompactJSON)
	// rather than indented: the prediction API's, which programs read, at a
	// rate where the indentation's bytes count.
	Compact bool
}

// write writes an answer or error as the API writes them.
func (g Guard) write(w http.ResponseWriter, status int, v any) {
	if g.Compact {
		WriteCompactJSON(w, status, v)
		return
	}
	WriteJSON(w, status, v)
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
		g.write(w, http.StatusOK, out)
		if rel, ok := out.(Releaser); ok {
			rel.Release()
		}
	})
}

// Releaser is an answer in memory its maker reuses: Guard calls Release once
// the answer is written, and reads it no more.
type Releaser interface {
	Release()
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
	g.write(w, e.Status, Body{Error: e.Message, Code: e.Code, RequestID: id, Details: e.Details})
}

package decisions

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openmlops/mlops/shared/registry"
)

// Code is an error's stable, machine-readable kind: programs compare codes,
// never messages. The package documentation lists them with their statuses.
type Code string

// The codes.
const (
	CodeBadRequest         Code = "bad_request"
	CodeTooLarge           Code = "too_large"
	CodeUnauthorized       Code = "unauthorized"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeIllegalTransition  Code = "illegal_transition"
	CodeBundleMismatch     Code = "bundle_mismatch"
	CodeNotPassed          Code = "not_passed"
	CodeStale              Code = "stale"
	CodeNoChampion         Code = "no_champion"
	CodeNoPreviousChampion Code = "no_previous_champion"
	CodeDamagedTrail       Code = "damaged_trail"
	CodeConflict           Code = "conflict"
	CodeInternal           Code = "internal"
)

// Status is the HTTP status a code answers with.
func (c Code) Status() int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeIllegalTransition, CodeBundleMismatch, CodeNotPassed, CodeStale, CodeNoChampion, CodeNoPreviousChampion,
		CodeDamagedTrail, CodeConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// codeOfStatus is the code of an answer that carried none (it came from
// something in front of the API): "" where no code fits the status.
func codeOfStatus(status int) Code {
	switch {
	case status >= 500:
		return CodeInternal
	case status == http.StatusConflict:
		return CodeConflict // many codes answer 409: only the generic one fits
	}
	for _, c := range []Code{CodeBadRequest, CodeTooLarge, CodeUnauthorized, CodeForbidden, CodeNotFound} {
		if c.Status() == status {
			return c
		}
	}
	return ""
}

// Error is a refusal or failure of the API: what a Service returns to refuse
// with a code, and what the Client returns for an answer other than 200.
type Error struct {
	Status    int    // HTTP status
	Code      Code   // "" only from something in front of the API, with a status no code has
	Message   string // for a person
	RequestID string // the request in the platform's logs ("" when the answer named none)
}

// Errorf returns an *Error with code's status.
func Errorf(code Code, format string, a ...any) *Error {
	return &Error{Status: code.Status(), Code: code, Message: fmt.Sprintf(format, a...)}
}

// Error is the message and the status, and for a failure of the platform the
// request id to look for in its log.
func (e *Error) Error() string {
	if e.Status >= 500 && e.RequestID != "" {
		return fmt.Sprintf("%s, request id %s (HTTP %d)", e.Message, e.RequestID, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// errorBody is the wire form of an Error (see the package documentation).
type errorBody struct {
	Error     string `json:"error"`
	Code      Code   `json:"code,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// Message is where API Gateway puts its own refusals' text.
	Message string `json:"message,omitempty"`
}

// RequestIDHeader carries a request's id. The routes take it from the request
// only because what is in front of them sets it and drops a caller's: API
// Gateway's request id (shared/aws/httpapi), none locally (shared/local/api).
const RequestIDHeader = "X-Request-Id"

// requestID is the request's id as the front set it, else a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// asError is the API error err stands for: its own, the code of a registry
// error, or internal (the message then is err's detail, for the log only).
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.Code == "" {
			out.Code = codeOfStatus(out.Status)
		}
		if out.Status == 0 {
			out.Status = out.Code.Status()
		}
		return &out
	}
	code := CodeInternal
	for _, c := range []struct {
		err  error
		code Code
	}{
		{registry.ErrNotFound, CodeNotFound},
		{registry.ErrInvalid, CodeBadRequest},
		{registry.ErrTransition, CodeIllegalTransition},
		{registry.ErrBundleMismatch, CodeBundleMismatch},
		{registry.ErrNotPassed, CodeNotPassed},
		{registry.ErrStale, CodeStale},
		{registry.ErrNoChampion, CodeNoChampion},
		{registry.ErrNoPrevious, CodeNoPreviousChampion},
		// A damaged trail is the registry's state, not a server fault: verify says where.
		{registry.ErrDamaged, CodeDamagedTrail},
	} {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	return &Error{Status: code.Status(), Code: code, Message: err.Error()}
}

// writeError answers err. A failure of the platform (5xx) is logged with its
// detail under the request id, and the caller is told only "internal error"
// and the id: the detail may name buckets, keys or internals.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, id string, err error) {
	e := asError(err)
	if e.Status >= 500 {
		log.Error("decisions API", "method", r.Method, "path", r.URL.Path, "requestId", id, "error", err)
		e.Message = "internal error"
	}
	writeJSON(w, e.Status, errorBody{Error: e.Message, Code: e.Code, RequestID: id})
}

// Package apierror is the error body every API of the platform answers with
// (the decisions API, shared/decisions; the prediction API, shared/predict),
// and what both sides do with it: the route guard that verifies the caller,
// names the request and turns errors and panics into that body, and the client
// side that reads it back into an *Error. It writes and reads HTTP bodies and
// nothing else: an API's routes, types and own codes live in its package.
//
// # The body
//
// Every refusal and failure answers with its HTTP status and:
//
//	{
//	  "error": "instances[3].Age: 150 is above the maximum 120",
//	  "code": "bad_request",
//	  "requestId": "Cz7q1jXyoAMEVbQ=",
//	  "details": [{"field": "instances[3].Age", "rule": "max", "message": "150 is above the maximum 120"}]
//	}
//
// "error" is the message for a person (it was the whole body before codes
// were added, so older clients still read it); "code" is what programs compare
// (the codes are stable, messages are not); "requestId" names the request in
// the platform's logs: API Gateway's request id in AWS, else one the route
// makes; it is also in the X-Request-Id header. "details", present only where
// an API lists several problems of one request (the prediction API's input
// checks), has one entry per problem: the JSON path of the value, the rule it
// breaks and a message; "error" then says them all too, so that a client that
// knows no details misses nothing.
//
// An internal failure (code internal, 500) answers only "internal error" and
// the request id: the detail may name buckets, keys or internals, so it goes
// to the log under that id, never to the caller. Other refusals, 503
// unavailable included, tell their message.
//
// Something in front of the API (API Gateway refusing a signature, a proxy)
// answers without a code, API Gateway with {"message": ...}: a client reads
// that message and gives the code of the status (CodeOfStatus).
package apierror

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is an error's stable, machine-readable kind: programs compare codes,
// never messages.
type Code string

// The codes every API shares. An API adds codes of its own for its domain
// (decisions' illegal_transition, stale, …).
const (
	CodeBadRequest   Code = "bad_request"  // 400: a malformed name, number or body
	CodeTooLarge     Code = "too_large"    // 413: a body or a list over its limit
	CodeUnauthorized Code = "unauthorized" // 401: no verified caller
	CodeForbidden    Code = "forbidden"    // 403: the caller may not do this
	CodeNotFound     Code = "not_found"    // 404: no such thing
	CodeConflict     Code = "conflict"     // 409: the request conflicts with the state of what it names
	CodeUnavailable  Code = "unavailable"  // 503: the thing exists but cannot serve now (a model with no champion)
	CodeInternal     Code = "internal"     // 500: the platform failed; the detail is in its log
)

// Status is the HTTP status a code answers with. An API's own codes (any
// code this package does not define) name conflicts with the state of what
// the request names, and answer 409; "" is internal.
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
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeInternal, "":
		return http.StatusInternalServerError
	}
	return http.StatusConflict
}

// CodeOfStatus is the code of an answer that carried none (it came from
// something in front of the API): "" where no code fits the status.
func CodeOfStatus(status int) Code {
	switch {
	case status == http.StatusServiceUnavailable:
		return CodeUnavailable
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

// Error is a refusal or failure of an API: what a service returns to refuse
// with a code, and what a client returns for an answer other than 200.
type Error struct {
	Status    int    // HTTP status
	Code      Code   // "" only from something in front of the API, with a status no code has
	Message   string // for a person
	RequestID string // the request in the platform's logs ("" when the answer named none)
	// Details lists the problems of a request refused for several at once
	// (Message says them too); nil for most errors.
	Details []Detail
}

// Detail is one problem of a request refused for several.
type Detail struct {
	// Field is the JSON path of the value, e.g. instances[3].Age.
	Field string `json:"field"`
	// Rule is the rule broken (type, required, min, max, allowed, pattern, …).
	Rule    string `json:"rule"`
	Message string `json:"message"`
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

// IsCode reports whether err is an API error with that code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// As is the API error err stands for: its own (with the status or the code
// filled in from the other), the code classify gives it (an API's mapping of
// its domain's errors; nil or "" for none), else internal, whose message is
// err's detail, for the log only.
func As(err error, classify func(error) Code) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.Code == "" {
			out.Code = CodeOfStatus(out.Status)
		}
		if out.Status == 0 {
			out.Status = out.Code.Status()
		}
		return &out
	}
	code := CodeInternal
	if classify != nil {
		if c := classify(err); c != "" {
			code = c
		}
	}
	return &Error{Status: code.Status(), Code: code, Message: err.Error()}
}

// Body is the wire form of an Error (see the package documentation).
type Body struct {
	Error     string   `json:"error"`
	Code      Code     `json:"code,omitempty"`
	RequestID string   `json:"requestId,omitempty"`
	Details   []Detail `json:"details,omitempty"`
	// Message is where API Gateway puts its own refusals' text.
	Message string `json:"message,omitempty"`
}

package decisions

import (
	"errors"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/registry"
)

// Code is an error's stable, machine-readable kind: programs compare codes,
// never messages. The package documentation lists them with their statuses.
// The error body and the generic codes are the platform's (shared/apierror);
// the codes of the decisions' domain are this package's.
type Code = apierror.Code

// The codes.
const (
	CodeBadRequest              = apierror.CodeBadRequest
	CodeTooLarge                = apierror.CodeTooLarge
	CodeUnauthorized            = apierror.CodeUnauthorized
	CodeForbidden               = apierror.CodeForbidden
	CodeNotFound                = apierror.CodeNotFound
	CodeIllegalTransition  Code = "illegal_transition"
	CodeBundleMismatch     Code = "bundle_mismatch"
	CodeNotPassed          Code = "not_passed"
	CodeStale              Code = "stale"
	CodeNoChampion         Code = "no_champion"
	CodeNoPreviousChampion Code = "no_previous_champion"
	CodeDamagedTrail       Code = "damaged_trail"
	CodeConflict                = apierror.CodeConflict
	CodeInternal                = apierror.CodeInternal
)

// Error is a refusal or failure of the API: what a Service returns to refuse
// with a code, and what the Client returns for an answer other than 200.
type Error = apierror.Error

// Errorf returns an *Error with code's status.
func Errorf(code Code, format string, a ...any) *Error { return apierror.Errorf(code, format, a...) }

// IsCode reports whether err is an API error with that code.
func IsCode(err error, code Code) bool { return apierror.IsCode(err, code) }

// RequestIDHeader carries a request's id (see apierror.RequestIDHeader).
const RequestIDHeader = apierror.RequestIDHeader

// registryCodes are the codes of the registry's errors.
var registryCodes = []struct {
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
}

// classify is the code of a registry error, "" for any other error (internal).
func classify(err error) Code {
	for _, c := range registryCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

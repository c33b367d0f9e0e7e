package apierror_test

import (
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
)

// Each code has its status; an API's own codes are conflicts; an answer
// without a code gets the code of its status.
func TestCodesAndStatuses(t *testing.T) {
	for code, status := range map[apierror.Code]int{
		apierror.CodeBadRequest: 400, apierror.CodeTooLarge: 413, apierror.CodeUnauthorized: 401, apierror.CodeForbidden: 403,
		apierror.CodeNotFound: 404, apierror.CodeConflict: 409, apierror.CodeUnavailable: 503, apierror.CodeInternal: 500,
		"illegal_transition": 409, "": 500,
	} {
		if got := code.Status(); got != status {
			t.Errorf("%q: %d, want %d", code, got, status)
		}
		if code != "" && code != "illegal_transition" && apierror.CodeOfStatus(status) != code {
			t.Errorf("status %d: %q, want %q", status, apierror.CodeOfStatus(status), code)
		}
	}
	for status, code := range map[int]apierror.Code{502: apierror.CodeInternal, 504: apierror.CodeInternal, 429: "", 405: ""} {
		if got := apierror.CodeOfStatus(status); got != code {
			t.Errorf("status %d: %q, want %q", status, got, code)
		}
	}
}

package apierror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
)

// The client reads the body back, details included; an answer from
// something in front of the API has the code of its status.
func TestClientReadsErrors(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"/details": func(w http.ResponseWriter) {
			w.Header().Set(apierror.RequestIDHeader, "hdr")
			apierror.WriteJSON(w, 400, apierror.Body{Error: "2 problems", Code: apierror.CodeBadRequest, RequestID: "r9",
				Details: []apierror.Detail{{Field: "instances[0].a", Rule: "min", Message: "m"}}})
		},
		"/gateway": func(w http.ResponseWriter) {
			w.Header().Set(apierror.RequestIDHeader, "gw")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"message":"Service Unavailable"}`)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answers[r.URL.Path](w) }))
	defer srv.Close()
	c := apierror.NewClient("the test API", srv.URL, nil, apierror.BearerToken("t"))
	_, err := apierror.Call[map[string]any](context.Background(), c, http.MethodGet, "/details", nil)
	var e *apierror.Error
	if !errors.As(err, &e) || e.RequestID != "r9" || len(e.Details) != 1 || e.Details[0].Field != "instances[0].a" || err.Error() != "2 problems (HTTP 400)" {
		t.Fatalf("%#v", err)
	}
	_, err = apierror.Call[map[string]any](context.Background(), c, http.MethodGet, "/gateway", nil)
	if !errors.As(err, &e) || e.Code != apierror.CodeUnavailable || e.Message != "Service Unavailable" || e.RequestID != "gw" ||
		err.Error() != "Service Unavailable, request id gw (HTTP 503)" {
		t.Fatalf("%#v", err)
	}
	srv.Close()
	_, err = apierror.Call[map[string]any](context.Background(), c, http.MethodGet, "/details", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "the test API at "+srv.URL+" did not answer") {
		t.Fatalf("%v", err)
	}
}

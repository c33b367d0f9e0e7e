package decisions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/registry"
)

// accepting is a Service that takes every decision the routes let through,
// and checks what reaches it.
type accepting struct {
	decisions.Service
	t *testing.T
}

func (a accepting) Reject(_ context.Context, who, model string, n int, d decisions.Decision) (*decisions.Result, error) {
	if err := decisions.CheckReason(d.Reason); err != nil || who == "" || model != "credit" || n != 1 || d.From < 0 {
		a.t.Fatalf("the routes let through %q %s %d %+v (%v)", who, model, n, d, err)
	}
	return &decisions.Result{Model: model, Version: &registry.Version{Model: model, Version: n}}, nil
}

// The decision body decoder, through the route: any body is a 200 with a valid
// decision, a 400 or a 413, and never a panic or a 500.
func FuzzDecisionBody(f *testing.F) {
	for _, seed := range []string{
		`{"reason":"ok"}`, `{"reason":"ok","from":2}`, `{"reason":""}`, `{"reason":"a","bogus":1}`, `{"reason":"a"}{"reason":"b"}`,
		`[]`, `null`, `{"reason":"\u202e"}`, `{"reason":"x","bundleSha256":"../.."}`, `{"reason":"x","from":-1}`, "",
		`{"reason":"` + strings.Repeat("x", 5000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		mux := http.NewServeMux()
		for pattern, h := range decisions.Routes(accepting{t: t}, func(*http.Request) string { return "local:alice" }, nil) {
			mux.Handle(pattern, h)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/models/credit/versions/1/reject", strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
	})
}

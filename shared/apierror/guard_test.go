package apierror_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
)

var errDomain = errors.New("the state moved on")

// The guard: a named request, a verified caller, errors as the body, the
// detail of a failure in the log only, a chosen 503 told, no panic escaping.
func TestGuard(t *testing.T) {
	var log bytes.Buffer
	g := apierror.Guard{API: "test API", Log: slog.New(slog.NewTextHandler(&log, nil)),
		Principal: func(r *http.Request) string { return r.Header.Get("X-Who") },
		Classify: func(err error) apierror.Code {
			if errors.Is(err, errDomain) {
				return "stale"
			}
			return ""
		}}
	results := map[string]error{
		"/ok":          nil,
		"/stale":       fmt.Errorf("model m: %w", errDomain),
		"/unavailable": apierror.Errorf(apierror.CodeUnavailable, "model m has no champion"),
		"/secret":      errors.New("bucket platform-1234: access denied"),
		"/details":     &apierror.Error{Status: 400, Code: apierror.CodeBadRequest, Message: "2 problems", Details: []apierror.Detail{{Field: "a", Rule: "min", Message: "m"}}},
		"/status-only": &apierror.Error{Status: 404, Message: "gone"},
	}
	h := g.Handle(func(_ http.ResponseWriter, r *http.Request, who, id string) (any, error) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		if err := results[r.URL.Path]; err != nil {
			return nil, err
		}
		return map[string]string{"who": who, "id": id}, nil
	})
	do := func(path, who, id string) (int, string, http.Header) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if who != "" {
			req.Header.Set("X-Who", who)
		}
		if id != "" {
			req.Header.Set(apierror.RequestIDHeader, id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header()
	}
	for _, tc := range []struct {
		path, who string
		status    int
		body      string
	}{
		{"/ok", "alice", 200, "{\n  \"id\": \"r1\",\n  \"who\": \"alice\"\n}\n"},
		{"/ok", "", 401, `{"error":"no verified caller","code":"unauthorized","requestId":"r1"}`},
		{"/stale", "alice", 409, `{"error":"model m: the state moved on","code":"stale","requestId":"r1"}`},
		{"/unavailable", "alice", 503, `{"error":"model m has no champion","code":"unavailable","requestId":"r1"}`},
		{"/secret", "alice", 500, `{"error":"internal error","code":"internal","requestId":"r1"}`},
		{"/panic", "alice", 500, `{"error":"internal error","code":"internal","requestId":"r1"}`},
		{"/details", "alice", 400, `{"error":"2 problems","code":"bad_request","requestId":"r1","details":[{"field":"a","rule":"min","message":"m"}]}`},
		{"/status-only", "alice", 404, `{"error":"gone","code":"not_found","requestId":"r1"}`},
	} {
		status, body, hdr := do(tc.path, tc.who, "r1")
		compact := &bytes.Buffer{}
		if tc.status != 200 {
			if err := json.Compact(compact, []byte(body)); err != nil {
				t.Fatal(err)
			}
			body = compact.String()
		}
		if status != tc.status || body != tc.body || hdr.Get(apierror.RequestIDHeader) != "r1" || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s as %q: %d %s, want %d %s", tc.path, tc.who, status, body, tc.status, tc.body)
		}
	}
	// Without an id from the front, the guard makes one.
	if _, _, hdr := do("/ok", "alice", ""); len(hdr.Get(apierror.RequestIDHeader)) != 16 {
		t.Fatalf("request id %q", hdr.Get(apierror.RequestIDHeader))
	}
	l := log.String()
	for _, want := range []string{"level=ERROR msg=\"test API\"", "access denied", "panic: boom", "level=WARN msg=\"test API\"", "has no champion", "requestId=r1"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %q:\n%s", want, l)
		}
	}
	if strings.Count(l, "level=ERROR") != 2 {
		t.Errorf("refusals logged as failures:\n%s", l)
	}
	// No principal function: no verified caller, ever.
	rec := httptest.NewRecorder()
	apierror.Guard{}.Handle(func(http.ResponseWriter, *http.Request, string, string) (any, error) { return "x", nil }).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 401 {
		t.Fatalf("%d", rec.Code)
	}
}

// releasedAnswer is an answer whose maker reuses its memory: it records how
// much of the body had been written when it was released.
type releasedAnswer struct {
	Value    string `json:"value"`
	rec      *httptest.ResponseRecorder
	released int
	at       int
}

func (a *releasedAnswer) Release() {
	a.released++
	a.at = a.rec.Body.Len()
}

// An answer that is a Releaser is released once, after it is written; an
// error's path releases nothing.
func TestGuardReleasesAnswerAfterWriting(t *testing.T) {
	g := apierror.Guard{API: "test API", Principal: func(*http.Request) string { return "me" }}
	for _, fail := range []bool{false, true} {
		rec := httptest.NewRecorder()
		a := &releasedAnswer{Value: "x", rec: rec}
		g.Handle(func(http.ResponseWriter, *http.Request, string, string) (any, error) {
			if fail {
				return a, errors.New("no")
			}
			return a, nil
		}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		switch {
		case fail && a.released != 0:
			t.Errorf("an answer not written was released")
		case !fail && (a.released != 1 || a.at != rec.Body.Len() || a.at == 0):
			t.Errorf("released %d times, with %d of %d bytes written", a.released, a.at, rec.Body.Len())
		}
	}
}

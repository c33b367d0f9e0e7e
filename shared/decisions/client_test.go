package decisions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

type discard struct{}

func (discard) Publish(context.Context, ...event.Event) error { return nil }

// platform is the gate's routes over a real registry and store, as the local
// API and the gate Lambda serve them; the caller is a test header (the local
// API's token or API Gateway's IAM authorizer in life).
type platform struct {
	st  *store.Store
	reg *registry.Registry
	srv *httptest.Server
	log *bytes.Buffer // read it after srv.Close, which waits for the routes
	// policy is the hash of the policy in force (the credit example's).
	policy string
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	log := &bytes.Buffer{}
	a := lambdatest.StartDecisionsAPI(t, lambdatest.DecisionsOptions{Publisher: discard{}, Logger: slog.New(slog.NewTextHandler(log, nil)),
		Principal: func(r *http.Request) string { return r.Header.Get("X-Test-Principal") }})
	return &platform{st: a.Store, reg: a.Registry, srv: a.Server, log: log, policy: a.Policy}
}

// check records the gate's verdict on version n under a policy, as the gate
// records it after evaluating.
func (p *platform) check(t *testing.T, n int, policyHash string, verdict registry.Verdict) {
	t.Helper()
	if _, err := p.reg.RecordChecks(context.Background(), registry.ChecksInput{Model: "credit", Version: n, PolicyHash: policyHash,
		Verdict: verdict, Checks: []map[string]any{{"name": "auc", "pass": verdict == registry.VerdictPass}}, Principal: "gate",
		Reason: "policy evaluated"}); err != nil {
		t.Fatal(err)
	}
}

// as is a client acting as who ("": no verified caller).
func (p *platform) as(who string) *decisions.Client {
	return decisions.NewClient(p.srv.URL+"/", p.srv.Client(), func(r *http.Request) error {
		if who != "" {
			r.Header.Set("X-Test-Principal", who)
		}
		return nil
	})
}

// register registers n versions of credit waiting for a person.
func (p *platform) register(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		run := fmt.Sprintf("credit-0123456789abcdef-%d", i)
		v, _, err := p.reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: run, BundleSHA256: fmt.Sprintf("%064d", i),
			BundlePrefix: "runs/" + run + "/bundle/", Metrics: map[string]float64{"auc": 0.8 + float64(i)/100}, Principal: "gate"})
		if err != nil {
			t.Fatal(err)
		}
		// As the gate leaves it: passed the policy in force, waiting for a person.
		p.check(t, v.Version, p.policy, registry.VerdictPass)
		if _, err := p.reg.MarkPending(ctx, registry.DecisionInput{Model: "credit", Version: v.Version, Principal: "gate", Reason: "needs a person"}); err != nil {
			t.Fatal(err)
		}
	}
}

// raw is the body of a 200 answer as the route wrote it, asked as alice.
func (p *platform) raw(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.srv.URL+path, rd)
	req.Header.Set("X-Test-Principal", "local:alice")
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// sameJSON fails unless v, encoded as the CLI prints it (-o json), is the
// route's answer byte for byte.
func sameJSON(t *testing.T, what string, raw []byte, v any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), raw) {
		t.Fatalf("%s does not survive a round trip through its type:\nroute:  %s\nclient: %s", what, raw, b.Bytes())
	}
}

// wantCode fails unless err is an *decisions.Error with code, status and a
// message containing msg.
func wantCode(t *testing.T, what string, err error, code decisions.Code, status int, msg string) {
	t.Helper()
	var e *decisions.Error
	if !errors.As(err, &e) || e.Code != code || e.Status != status || !strings.Contains(e.Message, msg) || e.RequestID == "" ||
		!decisions.IsCode(err, code) {
		t.Fatalf("%s: %#v (%v), want %s %d %q with a request id", what, e, err, code, status, msg)
	}
}

// Every route through the client, and each answer equal to what the route
// wrote once the client decoded it and encoded it again.
func TestClientRoundTripsEveryRoute(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	alice := p.as("local:alice")

	models, err := alice.Models(ctx)
	if err != nil || models == nil || len(models) != 0 {
		t.Fatalf("no models yet: %#v %v", models, err)
	}
	sameJSON(t, "an empty model list", p.raw(t, http.MethodGet, decisions.ModelsPath, nil), models)

	p.register(t, 2)
	v1, err := alice.Version(ctx, "credit", 1)
	if err != nil || v1.State != registry.StatePendingApproval || v1.Metrics["auc"] != 0.81 {
		t.Fatalf("version 1: %+v %v", v1, err)
	}
	sameJSON(t, "a version", p.raw(t, http.MethodGet, decisions.VersionPath("credit", 1), nil), v1)

	res, err := alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "reviewed the card", BundleSHA256: v1.BundleSHA256})
	if err != nil || !res.Created || !res.Promoted || res.Champion != 1 || res.Version.State != registry.StateChampion || res.AuditKey == "" {
		t.Fatalf("approve: %+v %v", res, err)
	}
	// A decision made again is an answer (created false), the same each time.
	again, err := alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "reviewed the card", BundleSHA256: v1.BundleSHA256})
	if err != nil || again.Created || again.Champion != 1 {
		t.Fatalf("approve again: %+v %v", again, err)
	}
	rawAgain := p.raw(t, http.MethodPost, decisions.VersionPath("credit", 1)+"/approve", decisions.Decision{Reason: "reviewed the card", BundleSHA256: v1.BundleSHA256})
	sameJSON(t, "a decision's result", rawAgain, again)

	if _, err := alice.Reject(ctx, "credit", 2, decisions.Decision{Reason: "not needed"}); err != nil {
		t.Fatalf("reject: %v", err)
	}
	res, err = alice.Retire(ctx, "credit", 2, decisions.Decision{Reason: "superseded"})
	if err != nil || res.Version.State != registry.StateRetired || res.Champion != 1 {
		t.Fatalf("retire: %+v %v", res, err)
	}

	models, err = alice.Models(ctx)
	if err != nil || len(models) != 1 || models[0].Model != "credit" || models[0].Champion != 1 || models[0].Versions != 2 ||
		models[0].Latest.Version != 2 {
		t.Fatalf("models: %+v %v", models, err)
	}
	sameJSON(t, "the model list", p.raw(t, http.MethodGet, decisions.ModelsPath, nil), models)
	m, err := alice.Model(ctx, "credit")
	if err != nil || m.Model != "credit" || m.Champion != 1 || len(m.All) != 2 || m.All[1].State != registry.StateRetired {
		t.Fatalf("model: %+v %v", m, err)
	}
	sameJSON(t, "a model", p.raw(t, http.MethodGet, decisions.ModelPath("credit"), nil), m)
	h, err := alice.History(ctx, "credit")
	if err != nil || len(h) < 6 || h[0].Kind != registry.KindRegistered || h[len(h)-1].Kind != registry.KindRetired {
		t.Fatalf("history: %+v %v", h, err)
	}
	sameJSON(t, "the audit trail", p.raw(t, http.MethodGet, decisions.ModelPath("credit")+"/history", nil), h)
	rep, err := alice.Verify(ctx, "credit")
	if err != nil || !rep.OK || rep.Records != len(h) {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	sameJSON(t, "a verification", p.raw(t, http.MethodGet, decisions.ModelPath("credit")+"/verify", nil), rep)
}

// Every refusal the routes make reaches the client as an *decisions.Error
// with its code and status, the message and the request id.
func TestClientRefusalsHaveCodes(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	p.register(t, 2)
	alice, bob, nobody := p.as("local:alice"), p.as("local:bob"), p.as("")
	v1, err := alice.Version(ctx, "credit", 1)
	if err != nil {
		t.Fatal(err)
	}
	ok := decisions.Decision{Reason: "reviewed", BundleSHA256: v1.BundleSHA256}
	_, err = nobody.Approve(ctx, "credit", 1, ok)
	wantCode(t, "no caller", err, decisions.CodeUnauthorized, 401, "no verified caller")
	_, err = alice.Approve(ctx, "credit", 1, decisions.Decision{BundleSHA256: v1.BundleSHA256})
	wantCode(t, "no reason", err, decisions.CodeBadRequest, 400, "a reason is required")
	_, err = alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "x"})
	wantCode(t, "no bundle", err, decisions.CodeBadRequest, 400, "bundleSha256")
	_, err = alice.Version(ctx, "credit", 0)
	wantCode(t, "version 0", err, decisions.CodeBadRequest, 400, "expected a number")
	_, err = alice.Model(ctx, "Credit!")
	wantCode(t, "a bad model name", err, decisions.CodeBadRequest, 400, "not a model name")
	_, err = alice.Approve(ctx, "credit", 9, decisions.Decision{Reason: "x", BundleSHA256: v1.BundleSHA256})
	wantCode(t, "an unknown version", err, decisions.CodeNotFound, 404, "not found")
	_, err = alice.Model(ctx, "nosuch")
	wantCode(t, "an unknown model", err, decisions.CodeNotFound, 404, "model nosuch has no versions")
	_, err = alice.History(ctx, "nosuch")
	wantCode(t, "an unknown model's history", err, decisions.CodeNotFound, 404, "no audit trail")
	_, err = alice.Verify(ctx, "nosuch")
	wantCode(t, "an unknown model's verification", err, decisions.CodeNotFound, 404, "no audit trail")
	_, err = p.as("arn:aws:iam::1:user/mallory").Approve(ctx, "credit", 1, ok)
	wantCode(t, "an approver the policy does not name", err, decisions.CodeForbidden, 403, "may not approve")
	_, err = alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "x", BundleSHA256: strings.Repeat("ab", 32)})
	wantCode(t, "another bundle", err, decisions.CodeBundleMismatch, 409, "does not match")
	_, err = alice.Promote(ctx, "credit", 1, decisions.Decision{Reason: "x"})
	wantCode(t, "promoting a pending version", err, decisions.CodeIllegalTransition, 409, "cannot promote")

	if _, err := alice.Approve(ctx, "credit", 1, ok); err != nil {
		t.Fatal(err)
	}
	_, err = bob.Rollback(ctx, "credit", decisions.Decision{Reason: "x"})
	wantCode(t, "a rollback that does not name the champion it rolls back from", err, decisions.CodeBadRequest, 400, "rolls back from (from)")
	_, err = bob.Rollback(ctx, "credit", decisions.Decision{Reason: "x", From: 1})
	wantCode(t, "a rollback with no former champion", err, decisions.CodeNoPreviousChampion, 409, "no archived former champion")
	_, err = bob.Rollback(ctx, "credit", decisions.Decision{Reason: "x", From: 2})
	wantCode(t, "a rollback from another champion", err, decisions.CodeStale, 409, "the champion is version 1")
	_, err = bob.Retire(ctx, "credit", 1, decisions.Decision{Reason: "x"})
	wantCode(t, "retiring the champion without force", err, decisions.CodeIllegalTransition, 409, "with force")

	// A damaged version record is the registry's state, told as such.
	if _, err := p.st.Put(ctx, "platform", registry.VersionKey("credit", 2), []byte("{not json"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Version(ctx, "credit", 2)
	wantCode(t, "a damaged version record", err, decisions.CodeDamagedTrail, 409, "damaged")

	p.srv.Close()
	if log := p.log.String(); strings.Contains(log, "level=ERROR") {
		t.Fatalf("refusals were logged as failures:\n%s", log)
	}
}

// failing is a Service whose reads of the model list and of a version fail with err.
type failing struct {
	decisions.Service
	err error
}

func (f failing) Models(context.Context) ([]decisions.ModelSummary, error) { return nil, f.err }

func (f failing) Version(context.Context, string, int) (*registry.Version, error) { return nil, f.err }

// A failure of the platform answers "internal error" and the request id; the
// detail goes to the log under that id, never to the caller.
func TestInternalErrorsTellOnlyTheRequestID(t *testing.T) {
	detail := "read models/credit/champion from bucket platform-123456789012: connection reset"
	var log bytes.Buffer
	mux := http.NewServeMux()
	for pattern, h := range decisions.Routes(failing{err: errors.New(detail)}, func(*http.Request) string { return "local:alice" },
		slog.New(slog.NewJSONHandler(&log, nil))) {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	// The request id is the one the front gave (API Gateway's), else a new one.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+decisions.ModelsPath, nil)
	req.Header.Set(decisions.RequestIDHeader, "Cz7q1jXyoAMEVbQ=")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "{\n  \"error\": \"internal error\",\n  \"code\": \"internal\",\n  \"requestId\": \"Cz7q1jXyoAMEVbQ=\"\n}\n"
	if resp.StatusCode != 500 || string(body) != want || resp.Header.Get(decisions.RequestIDHeader) != "Cz7q1jXyoAMEVbQ=" {
		t.Fatalf("%d %q %v, want 500 %q", resp.StatusCode, body, resp.Header, want)
	}
	_, err = decisions.NewClient(srv.URL, nil, nil).Version(context.Background(), "credit", 1)
	srv.Close() // the log is read after the routes are done
	if l := log.String(); !strings.Contains(l, `"requestId":"Cz7q1jXyoAMEVbQ="`) || !strings.Contains(l, detail) {
		t.Fatalf("the log does not have the detail under the request id:\n%s", l)
	}
	var e *decisions.Error
	if !errors.As(err, &e) || e.Code != decisions.CodeInternal || e.Status != 500 || e.Message != "internal error" ||
		!regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(e.RequestID) || strings.Contains(err.Error(), "connection reset") ||
		err.Error() != "internal error, request id "+e.RequestID+" (HTTP 500)" {
		t.Fatalf("%#v %v", e, err)
	}
	if l := log.String(); !strings.Contains(l, `"requestId":"`+e.RequestID+`"`) {
		t.Fatalf("the log does not name request %s:\n%s", e.RequestID, l)
	}
}

// Each registry error the service returns has its code, whatever route.
func TestRegistryErrorsHaveTheirCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code decisions.Code
	}{
		{registry.ErrNotFound, decisions.CodeNotFound},
		{registry.ErrInvalid, decisions.CodeBadRequest},
		{&registry.TransitionError{From: registry.StateRetired, Action: registry.ActionPromote}, decisions.CodeIllegalTransition},
		{registry.ErrBundleMismatch, decisions.CodeBundleMismatch},
		{registry.ErrStale, decisions.CodeStale},
		{registry.ErrNoChampion, decisions.CodeNoChampion},
		{registry.ErrNoPrevious, decisions.CodeNoPreviousChampion},
		{registry.ErrDamaged, decisions.CodeDamagedTrail},
		{decisions.Errorf(decisions.CodeConflict, "taken"), decisions.CodeConflict},
		{decisions.Errorf(decisions.CodeForbidden, "no"), decisions.CodeForbidden},
		{registry.ErrContention, decisions.CodeInternal},
	} {
		mux := http.NewServeMux()
		err := fmt.Errorf("model credit: %w", c.err)
		for pattern, h := range decisions.Routes(failing{err: err}, func(*http.Request) string { return "x" }, nil) {
			mux.Handle(pattern, h)
		}
		srv := httptest.NewServer(mux)
		_, got := decisions.NewClient(srv.URL, nil, nil).Models(context.Background())
		srv.Close()
		msg := err.Error()
		var own *decisions.Error
		switch {
		case c.code == decisions.CodeInternal:
			msg = "internal error"
		case errors.As(c.err, &own):
			msg = own.Message // the service's own refusal is told as it wrote it
		}
		wantCode(t, c.err.Error(), got, c.code, c.code.Status(), msg)
	}
}

// An answer from something in front of the API (API Gateway, a proxy) has no
// code: the client gives the status's.
func TestAnswersWithoutACode(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		code   decisions.Code
		msg    string
	}{
		{403, `{"message":"Forbidden"}`, decisions.CodeForbidden, "Forbidden"},
		{401, `{"error": "a bearer token is required"}`, decisions.CodeUnauthorized, "a bearer token is required"},
		{409, ``, decisions.CodeConflict, "Conflict"},
		{404, "404 page not found\n", decisions.CodeNotFound, "404 page not found"},
		{502, `<html>Bad Gateway</html>`, decisions.CodeInternal, "<html>Bad Gateway</html>"},
		{429, `{"message":"Too Many Requests"}`, "", "Too Many Requests"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(c.status)
			_, _ = io.WriteString(w, c.body)
		}))
		_, err := decisions.NewClient(srv.URL, nil, nil).Models(context.Background())
		srv.Close()
		var e *decisions.Error
		if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code || e.Message != c.msg {
			t.Errorf("%d %q: %#v, want code %q message %q", c.status, c.body, e, c.code, c.msg)
		}
	}
	// No answer, or one that is not the route's, is not an API error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "<html>") }))
	_, err := decisions.NewClient(srv.URL, nil, nil).Models(context.Background())
	srv.Close()
	var e *decisions.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "unexpected answer") {
		t.Fatalf("a 200 that is not JSON: %v", err)
	}
	_, err = decisions.NewClient(srv.URL, nil, nil).Models(context.Background())
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("no server: %v", err)
	}
}

// The client sends what authorize sets (a bearer token here; a SigV4
// signature to API Gateway), and a failing authorize sends nothing.
func TestClientAuthorizes(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "[]")
	}))
	defer srv.Close()
	if _, err := decisions.NewClient(srv.URL, nil, decisions.BearerToken("t0k")).Models(context.Background()); err != nil || got != "Bearer t0k" {
		t.Fatalf("%q %v", got, err)
	}
	got = "unset"
	_, err := decisions.NewClient(srv.URL, nil, func(*http.Request) error { return errors.New("no credentials") }).Models(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no credentials") || got != "unset" {
		t.Fatalf("%q %v", got, err)
	}
}

// The bodies keep their JSON through a round trip of their types, every
// field set.
func TestTypesRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 22, 6, 15, 0, 123456789, time.UTC)
	v := &registry.Version{SchemaVersion: "1", Model: "credit", Version: 2, RunID: "credit-0123456789abcdef-1", BundleSHA256: strings.Repeat("ab", 32),
		BundlePrefix: "runs/credit-0123456789abcdef-1/bundle/", DatasetVersion: "d1", ContractHash: "c1", SpecHash: "s1",
		Metrics: map[string]float64{"auc": 0.8125, "logloss": 0.43}, RegisteredBy: "gate", RegisteredAt: at,
		State: registry.StateChampion, Seq: 7, LastEvent: "audit/credit/7", Checks: map[string]registry.CheckRef{
			"p1": {Verdict: registry.VerdictPass, Key: "checks/1", Audit: "audit/credit/2", Seq: 2}},
		Decision: "audit/credit/4", Events: map[registry.Kind]string{registry.KindApproved: "audit/credit/4"}, UpdatedAt: at}
	sum := decisions.ModelSummary{Model: "credit", Champion: 2, Versions: 2, Latest: v}
	for _, c := range []struct {
		name string
		v    any
		new  func() any
	}{
		{"Decision", decisions.Decision{Reason: "r", BundleSHA256: "b", Force: true, From: 3}, func() any { return &decisions.Decision{} }},
		{"Result", decisions.Result{Model: "credit", Version: v, Champion: 2, AuditKey: "audit/credit/7", Created: true, Promoted: true},
			func() any { return &decisions.Result{} }},
		{"ModelSummary", sum, func() any { return &decisions.ModelSummary{} }},
		{"Model", decisions.Model{ModelSummary: sum, All: []*registry.Version{v, v}}, func() any { return &decisions.Model{} }},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		back := c.new()
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(b, again) {
			t.Errorf("%s:\n%s\n%s", c.name, b, again)
		}
	}
	// The wire names are camelCase, and a Model is its summary's fields and all.
	b, _ := json.Marshal(decisions.Model{ModelSummary: decisions.ModelSummary{Model: "credit"}, All: []*registry.Version{}})
	if string(b) != `{"model":"credit","champion":0,"versions":0,"all":[]}` {
		t.Fatalf("%s", b)
	}
	b, _ = json.Marshal(decisions.Decision{Reason: "r", BundleSHA256: "b", Force: true, From: 3})
	if string(b) != `{"reason":"r","bundleSha256":"b","force":true,"from":3}` {
		t.Fatalf("%s", b)
	}
}

// Every input is checked before anything is written: an oversized or
// malformed decision, even from a caller the policy would refuse, leaves the
// trail as it was (issue 10: a 300 KB reason once committed a decision whose
// event could never be published).
func TestDecisionInputsAreCheckedBeforeAnyWrite(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	p.register(t, 1)
	alice := p.as("local:alice")
	v1, err := alice.Version(ctx, "credit", 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := p.reg.History(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("r", 300<<10)
	for _, c := range []struct {
		what   string
		who    string
		d      decisions.Decision
		code   decisions.Code
		status int
		msg    string
	}{
		{"a 300 KB reason", "local:alice", decisions.Decision{Reason: huge, BundleSHA256: v1.BundleSHA256}, decisions.CodeTooLarge, 413, "at most 4096"},
		{"a 300 KB reason from a caller the policy refuses", "arn:aws:iam::1:user/mallory",
			decisions.Decision{Reason: huge, BundleSHA256: v1.BundleSHA256}, decisions.CodeTooLarge, 413, "body over"},
		{"a reason over 4 KB", "local:alice", decisions.Decision{Reason: strings.Repeat("é", 2049), BundleSHA256: v1.BundleSHA256},
			decisions.CodeBadRequest, 400, "4098 bytes: at most 4096"},
		{"a control character", "local:alice", decisions.Decision{Reason: "ok\x1b[31m", BundleSHA256: v1.BundleSHA256},
			decisions.CodeBadRequest, 400, "control character (U+001B)"},
		{"a malformed bundle hash", "local:alice", decisions.Decision{Reason: "ok", BundleSHA256: "../../x"},
			decisions.CodeBadRequest, 400, "64 lowercase hex"},
		{"a negative rollback source", "local:alice", decisions.Decision{Reason: "ok", From: -1},
			decisions.CodeBadRequest, 400, "from -1"},
	} {
		var err error
		if c.d.From != 0 {
			_, err = p.as(c.who).Rollback(ctx, "credit", c.d)
		} else {
			_, err = p.as(c.who).Approve(ctx, "credit", 1, c.d)
		}
		wantCode(t, c.what, err, c.code, c.status, c.msg)
	}
	// Two JSON values in one body.
	req, _ := http.NewRequest(http.MethodPost, p.srv.URL+decisions.VersionPath("credit", 1)+"/reject",
		strings.NewReader(`{"reason":"a"}{"reason":"b"}`))
	req.Header.Set("X-Test-Principal", "local:alice")
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("two JSON values: %d", resp.StatusCode)
	}
	after, err := p.reg.History(ctx, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("refused inputs wrote %d audit records", len(after)-len(before))
	}
	// Tab, newline and any script's letters are text.
	if err := decisions.CheckReason("reviewed:\n\t- slices ✓ (ok, 好)"); err != nil {
		t.Error(err)
	}
}

// Every decision is authorized by the policy (issue 10, items 1, 2 and 5):
// reject, promote, retire and rollback as approve is; a refused caller is
// audited once per decision and target, with a bounded reason, and only for
// a target that exists; a model with no policy refuses everyone; a version that
// failed its policy is approved only by an override the policy allows.
func TestEveryDecisionIsAuthorized(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	p.register(t, 2)
	mallory := p.as("arn:aws:iam::1:user/mallory")
	v1, err := p.as("local:alice").Version(ctx, "credit", 1)
	if err != nil {
		t.Fatal(err)
	}
	trail := func() int {
		h, err := p.reg.History(ctx, "credit")
		if err != nil {
			t.Fatal(err)
		}
		return len(h)
	}
	before := trail()
	long := strings.Repeat("please ", 500) // 3.5 KB: a valid reason, bounded in the refusal
	for what, call := range map[string]func() error{
		"reject": func() error { _, err := mallory.Reject(ctx, "credit", 1, decisions.Decision{Reason: long}); return err },
		"promote": func() error {
			_, err := mallory.Promote(ctx, "credit", 1, decisions.Decision{Reason: long})
			return err
		},
		"retire": func() error {
			_, err := mallory.Retire(ctx, "credit", 2, decisions.Decision{Reason: long, Force: true})
			return err
		},
		"rollback": func() error {
			_, err := mallory.Rollback(ctx, "credit", decisions.Decision{Reason: long, From: 1})
			return err
		},
		"approve": func() error {
			_, err := mallory.Approve(ctx, "credit", 1, decisions.Decision{Reason: long, BundleSHA256: v1.BundleSHA256})
			return err
		},
	} {
		for range 3 { // repeated: audited once
			wantCode(t, what, call(), decisions.CodeForbidden, 403, "may not "+what)
		}
	}
	hist, _ := p.reg.History(ctx, "credit")
	if got := len(hist) - before; got != 5 {
		t.Fatalf("%d refusals audited for 5 refused decisions made 3 times each, want 5", got)
	}
	for _, e := range hist[before:] {
		if e.Kind != registry.KindRefused || len(e.Reason) > 600 || e.Principal != "arn:aws:iam::1:user/mallory" {
			t.Errorf("refusal record: kind %s, %d bytes of reason, principal %s", e.Kind, len(e.Reason), e.Principal)
		}
	}
	// A target that does not exist is not found, and nothing is recorded.
	_, err = mallory.Reject(ctx, "credit", 99, decisions.Decision{Reason: "x"})
	wantCode(t, "an unknown version", err, decisions.CodeNotFound, 404, "not found")
	_, err = mallory.Rollback(ctx, "nosuch", decisions.Decision{Reason: "x", From: 1})
	wantCode(t, "an unknown model", err, decisions.CodeNotFound, 404, "no versions")
	if trail() != len(hist) {
		t.Fatal("a decision about nothing was recorded")
	}

	// A version whose check failed is not approved, even by an approver; an
	// override needs the policy's override role, which the example names nobody in.
	p.check(t, 2, "other", registry.VerdictFail)
	pol, _ := credit.Policy()
	pol.Minimum = nil
	pol.Approval.Override = []string{"local:cro"}
	failing, err := policystore.Apply(ctx, p.st, "platform", pol, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.check(t, 2, failing.Hash, registry.VerdictFail)
	v2, _ := p.as("local:alice").Version(ctx, "credit", 2)
	_, err = p.as("local:alice").Approve(ctx, "credit", 2, decisions.Decision{Reason: "fine", BundleSHA256: v2.BundleSHA256})
	wantCode(t, "approving a failed version", err, decisions.CodeNotPassed, 409, "is fail")
	_, err = p.as("local:alice").Approve(ctx, "credit", 2, decisions.Decision{Reason: "fine", BundleSHA256: v2.BundleSHA256, Override: true})
	wantCode(t, "an override by an approver without the override role", err, decisions.CodeForbidden, 403, "may not override")
	res, err := p.as("local:cro").Approve(ctx, "credit", 2, decisions.Decision{Reason: "risk accepted", BundleSHA256: v2.BundleSHA256, Override: true})
	if err != nil || !res.Promoted {
		t.Fatalf("override: %v %+v", err, res)
	}
	h, _ := p.reg.History(ctx, "credit")
	var overridden bool
	for _, e := range h {
		overridden = overridden || (e.Kind == registry.KindApproved && e.Override && e.Principal == "local:cro")
	}
	if !overridden {
		t.Fatal("the override is not in the trail")
	}
	// Version 1, approved now (it passed the policy in force), does not
	// replace the newer champion.
	p.check(t, 1, failing.Hash, registry.VerdictPass)
	res, err = p.as("local:alice").Approve(ctx, "credit", 1, decisions.Decision{Reason: "late", BundleSHA256: v1.BundleSHA256})
	if err != nil || res == nil || res.Promoted || res.Champion != 2 || !strings.Contains(res.NotPromoted, "version 2 is champion") {
		t.Fatalf("a late approval of an older version: %v %+v", err, res)
	}
}

// A model with no policy refuses every decision: a policy names who may decide.
func TestNoPolicyFailsClosed(t *testing.T) {
	_, st := lambdatest.S3(t, "platform")
	ctx := context.Background()
	reg := registry.New(st, registry.Config{Bucket: "platform"})
	svc := gate.New(st, discard{}, reg, gate.Config{Bucket: "platform"})
	mux := http.NewServeMux()
	for pattern, h := range svc.Routes(func(r *http.Request) string { return "local:alice" }) {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	v, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0123456789abcdef-1", BundleSHA256: fmt.Sprintf("%064d", 1),
		BundlePrefix: "runs/credit-0123456789abcdef-1/bundle/", Principal: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	c := decisions.NewClient(srv.URL+"/", srv.Client(), nil)
	_, err = c.Approve(ctx, "credit", 1, decisions.Decision{Reason: "ok", BundleSHA256: v.BundleSHA256})
	wantCode(t, "approving with no policy", err, decisions.CodeForbidden, 403, "has no promotion policy")
	_, err = c.Reject(ctx, "credit", 1, decisions.Decision{Reason: "no"})
	wantCode(t, "rejecting with no policy", err, decisions.CodeForbidden, 403, "has no promotion policy")
}

// What is promoted must pass the policy in force now: an explicit promote, or
// an approval re-sent for a version already approved, of a version that fails
// a stricter policy applied since, is refused (found by a hostile review).
func TestPromoteNeedsThePolicyInForce(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	p.register(t, 2)
	alice := p.as("local:alice")
	v1, _ := alice.Version(ctx, "credit", 1)
	v2, _ := alice.Version(ctx, "credit", 2)
	if _, err := alice.Approve(ctx, "credit", 2, decisions.Decision{Reason: "ok", BundleSHA256: v2.BundleSHA256}); err != nil {
		t.Fatal(err)
	}
	if res, err := alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "ok", BundleSHA256: v1.BundleSHA256}); err != nil || res.Promoted {
		t.Fatalf("approve v1 under v2: %+v %v", res, err)
	}
	pol, _ := credit.Policy()
	pol.Minimum = nil
	stricter, err := policystore.Apply(ctx, p.st, "platform", pol, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.check(t, 1, stricter.Hash, registry.VerdictFail)
	_, err = alice.Promote(ctx, "credit", 1, decisions.Decision{Reason: "go"})
	wantCode(t, "promoting a version that fails the policy in force", err, decisions.CodeNotPassed, 409, "did not pass the policy in force")
	_, err = alice.Approve(ctx, "credit", 1, decisions.Decision{Reason: "again", BundleSHA256: v1.BundleSHA256})
	wantCode(t, "re-approving it", err, decisions.CodeNotPassed, 409, "did not pass the policy in force")
	if m, _ := alice.Model(ctx, "credit"); m.Champion != 2 {
		t.Fatalf("champion %d", m.Champion)
	}
}

// A role's sessions count as the role, and refusals of one decision about one
// target are recorded a bounded number of times an hour however many callers
// there are: a caller cannot buy a record per session name.
func TestRefusalsAreBoundedAcrossSessions(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()
	p.register(t, 1)
	before, _ := p.reg.History(ctx, "credit")
	for i := range 40 {
		_, err := p.as(fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/Intruder/s%d", i)).Reject(ctx, "credit", 1, decisions.Decision{Reason: "x"})
		wantCode(t, "an intruder's session", err, decisions.CodeForbidden, 403, "may not reject")
	}
	mid, _ := p.reg.History(ctx, "credit")
	if n := len(mid) - len(before); n != 1 {
		t.Fatalf("40 sessions of one role: %d refusals recorded, want 1", n)
	}
	for i := range 40 {
		_, err := p.as(fmt.Sprintf("arn:aws:iam::123456789012:user/u%d", i)).Reject(ctx, "credit", 1, decisions.Decision{Reason: "x"})
		wantCode(t, "another user", err, decisions.CodeForbidden, 403, "may not reject")
	}
	after, _ := p.reg.History(ctx, "credit")
	if n := len(after) - len(mid); n < 1 || n > 8 {
		t.Fatalf("40 users: %d refusals recorded, want between 1 and 8", n)
	}
	// Invisible format characters are no part of a reason.
	if err := decisions.CheckReason("approved \u202egnitset"); err == nil {
		t.Error("a bidirectional override was accepted in a reason")
	}
}

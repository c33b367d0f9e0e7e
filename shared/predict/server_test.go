package predict_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/predict"
)

// fakeService serves the credit model's "champion" with the real contract
// check and made-up outputs; a few model names stand for the registry's
// other answers.
type fakeService struct {
	t       testing.TB
	checker *predict.Checker
}

func newFakeService(t testing.TB) *fakeService {
	c := creditContract(t)
	return &fakeService{t: t, checker: newChecker(t, c, c.Features, predict.CheckOptions{})}
}

const detail = "read models/credit/champion from bucket platform-123456789012: connection reset"

func (f *fakeService) refuse(model string) error {
	switch model {
	case "credit", "multi":
		return nil
	case "retired":
		return predict.NoChampion(model)
	case "boom":
		return errors.New(detail)
	case "panic":
		panic("the evaluator fell over")
	}
	return predict.UnknownModel(model)
}

func (f *fakeService) Predict(_ context.Context, model string, req *predict.Request, requestID string) (*predict.Response, error) {
	if requestID == "" {
		f.t.Error("no request id")
	}
	if err := f.refuse(model); err != nil {
		return nil, err
	}
	rows, err := f.checker.Check(req.Instances)
	if err != nil {
		return nil, err
	}
	resp := &predict.Response{Model: model, ModelVersion: 3}
	for i, row := range rows {
		p := predict.Prediction{Flags: row.Flags}
		cols, cells := []string{"p_bad", "label"}, []string{bundle.FormatOutput(float32(i) / 8), "good"}
		if model == "multi" {
			cols, cells = []string{"p_good", "p_bad", "p_unknown", "label"}, []string{"0.5", "0.25", "0.25", "good"}
		}
		if p.Outputs, err = predict.ScorerOutputs(cols, cells); err != nil {
			return nil, err
		}
		if req.Explain {
			p.Explanation = explanation(model == "multi", row)
		}
		resp.Predictions = append(resp.Predictions, p)
	}
	return resp, nil
}

func explanation(multi bool, row predict.Row) *predict.Explanation {
	one := func(class string, scale float64) predict.Contributions {
		c := predict.Contributions{Class: class, Bias: -1.25 * scale}
		for i, f := range []string{"Seniority", "Home", "Time", "Age", "Marital", "Records", "Job", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"} {
			c.Features = append(c.Features, predict.Contribution{Feature: f, Value: scale * float64(i-6) / 10})
		}
		return c
	}
	e := &predict.Explanation{Outputs: []predict.Contributions{one("", 1)},
		Reasons: []predict.Reason{{Feature: "Price", Value: row.Logged[12], Contribution: 0.6}, {Feature: "Home", Value: row.Logged[1], Contribution: -0.5}}}
	if multi {
		e.Outputs = []predict.Contributions{one("good", 1), one("bad", -2), one("unknown", 1e-9)}
	}
	return e
}

func (f *fakeService) Metadata(_ context.Context, model string) (*predict.Metadata, error) {
	if err := f.refuse(model); err != nil {
		return nil, err
	}
	m := predict.NewMetadata(model, 3, f.checker, &bundle.Encoding{Target: bundle.Label{Column: "Status", Kind: bundle.LabelBinary,
		Classes: []string{"good", "bad"}, PositiveClass: "bad"}, Threshold: 0.5})
	m.Metadata.BundleSHA256, m.Metadata.ContractHash, m.Metadata.DatasetVersion = strings.Repeat("ab", 32), strings.Repeat("cd", 32), "v1"
	m.Metadata.ModelCard = "models/credit/v3/index.html"
	return m, nil
}

// server serves the prediction routes and the decisions routes on one mux,
// as the local API does; the caller is a test header.
func server(t testing.TB, svc predict.Service, log *slog.Logger) *httptest.Server {
	mux := http.NewServeMux()
	principal := func(r *http.Request) string { return r.Header.Get("X-Test-Principal") }
	for pattern, h := range predict.Routes(svc, principal, log, predict.Limits{}) {
		mux.Handle(pattern, h)
	}
	for pattern, h := range decisions.Routes(decisionsStub{}, principal, log) {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// decisionsStub answers the decisions API's model route.
type decisionsStub struct{ decisions.Service }

func (decisionsStub) Model(_ context.Context, model string) (*decisions.Model, error) {
	return &decisions.Model{ModelSummary: decisions.ModelSummary{Model: model, Champion: 3, Versions: 3}, All: nil}, nil
}

func post(t testing.TB, srv *httptest.Server, path, who string, body io.Reader) (int, apierror.Body, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, body)
	return send(t, srv, req, who)
}

func send(t testing.TB, srv *httptest.Server, req *http.Request, who string) (int, apierror.Body, []byte, http.Header) {
	t.Helper()
	if who != "" {
		req.Header.Set("X-Test-Principal", who)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body apierror.Body
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body, raw, resp.Header
}

const okBody = `{"instances": [{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no",
	"Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}]}`

// The bad-input table, through the routes: each a 4xx with a clear
// message and a request id, and the server serves the next request.
func TestRoutesRefuseBadInput(t *testing.T) {
	var log bytes.Buffer
	svc := newFakeService(t)
	srv := server(t, svc, slog.New(slog.NewTextHandler(&log, nil)))
	path := predict.PredictPath("credit")
	cases := append([]struct {
		name, body string
		code       apierror.Code
		msg        string
	}{}, badBodies...)
	cases = append(cases, []struct {
		name, body string
		code       apierror.Code
		msg        string
	}{
		{"a field of the wrong type", strings.Replace(okBody, `"Age": 30`, `"Age": "thirty"`, 1), apierror.CodeBadRequest,
			`instances[0].Age: expected an integer, got "thirty"`},
		{"a field out of range", strings.Replace(okBody, `"Age": 30`, `"Age": 130`, 1), apierror.CodeBadRequest,
			"instances[0].Age: 130 is above the maximum 120"},
		{"an unknown field", strings.Replace(okBody, `"Age": 30`, `"Age": 30, "Shoe": 44`, 1), apierror.CodeBadRequest,
			"instances[0].Shoe: no such column in the contract credit"},
		{"a missing required field", strings.Replace(okBody, `"Age": 30,`, ``, 1), apierror.CodeBadRequest,
			"instances[0].Age: required, and missing"},
	}...)
	for _, tc := range cases {
		code, body, raw, h := post(t, srv, path, "local:alice", strings.NewReader(tc.body))
		if code != tc.code.Status() || body.Code != tc.code || !strings.Contains(body.Error, tc.msg) || body.RequestID == "" ||
			h.Get(apierror.RequestIDHeader) != body.RequestID {
			t.Errorf("%s: %d %s, want %d %s %q", tc.name, code, clipped(raw), tc.code.Status(), tc.code, tc.msg)
		}
		if code, _, raw, _ := post(t, srv, path, "local:alice", strings.NewReader(okBody)); code != 200 {
			t.Fatalf("after %s: %d %s", tc.name, code, raw)
		}
	}
	// The contract's problems come with details too.
	_, body, _, _ := post(t, srv, path, "local:alice", strings.NewReader(strings.NewReplacer(`"Age": 30`, `"Age": 130`, `"rent"`, `"castle"`).Replace(okBody)))
	if len(body.Details) != 2 || body.Details[1] != (apierror.Detail{Field: "instances[0].Age", Rule: "max", Message: "130 is above the maximum 120"}) ||
		body.Details[0].Field != "instances[0].Home" || body.Details[0].Rule != "allowed" || !strings.HasPrefix(body.Error, "2 problems in the instances: ") {
		t.Fatalf("%+v", body)
	}

	for _, tc := range []struct {
		name, path, who string
		status          int
		code            apierror.Code
		msg             string
	}{
		{"an unknown model", predict.PredictPath("nosuch"), "local:alice", 404, apierror.CodeNotFound, "model nosuch: no such model"},
		{"a retired model", predict.PredictPath("retired"), "local:alice", 503, apierror.CodeUnavailable,
			"model retired has no champion (retired, or never promoted): nothing serves it until a version is promoted"},
		{"no caller", path, "", 401, apierror.CodeUnauthorized, "no verified caller"},
		{"no verb", "/v1/models/credit", "local:alice", 404, apierror.CodeNotFound,
			"POST /v1/models/credit: no such route: predictions are POST /v1/models/%7Bmodel%7D:predict"},
		{"another verb", "/v1/models/credit:explain", "local:alice", 404, apierror.CodeNotFound, ":explain: no such method: expected :predict"},
		{"a bad model name", "/v1/models/Credit!:predict", "local:alice", 400, apierror.CodeBadRequest, `"Credit!" is not a model name`},
		{"an empty model name", "/v1/models/:predict", "local:alice", 400, apierror.CodeBadRequest, `"" is not a model name`},
		{"a failure of the platform", predict.PredictPath("boom"), "local:alice", 500, apierror.CodeInternal, "internal error"},
		{"a panic", predict.PredictPath("panic"), "local:alice", 500, apierror.CodeInternal, "internal error"},
	} {
		code, body, raw, _ := post(t, srv, tc.path, tc.who, strings.NewReader(okBody))
		if code != tc.status || body.Code != tc.code || body.Error != tc.msg && !strings.Contains(body.Error, tc.msg) || body.RequestID == "" {
			t.Errorf("%s: %d %s, want %d %s %q", tc.name, code, raw, tc.status, tc.code, tc.msg)
		}
		if strings.Contains(string(raw), "connection reset") || strings.Contains(string(raw), "fell over") {
			t.Errorf("%s: the detail reached the caller: %s", tc.name, raw)
		}
	}
	// A body announced over the limit is refused before it is read.
	h := predict.Routes(svc, func(*http.Request) string { return "local:alice" }, nil, predict.Limits{})[predict.RoutePredict]
	req := httptest.NewRequest(http.MethodPost, path, unreadable{})
	req.SetPathValue("target", "credit:predict")
	req.ContentLength = predict.DefaultMaxBodyBytes + 1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "body: over 5242880 bytes") {
		t.Errorf("an announced body over the limit: %d %s", rec.Code, rec.Body)
	}
	srv.Close()
	l := log.String()
	if !strings.Contains(l, detail) || !strings.Contains(l, "the evaluator fell over") || !strings.Contains(l, `level=WARN msg="prediction API"`) {
		t.Fatalf("the log lacks the failures:\n%s", l)
	}
	if n := strings.Count(l, "level=ERROR"); n != 2 {
		t.Fatalf("%d errors logged, want the 2 failures:\n%s", n, l)
	}
}

// unreadable is a body that must not be read.
type unreadable struct{}

func (unreadable) Read([]byte) (int, error) { panic("read a body announced over the limit") }

func clipped(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// The prediction routes and the decisions API's stand on one mux: each
// answers its own requests.
func TestRoutesCoexistWithTheDecisionsAPI(t *testing.T) {
	srv := server(t, newFakeService(t), nil)
	code, _, raw, _ := post(t, srv, predict.PredictPath("credit"), "local:alice", strings.NewReader(okBody))
	if code != 200 || !strings.Contains(string(raw), `"predictions"`) {
		t.Fatalf("predict: %d %s", code, raw)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+predict.MetadataPath("credit"), nil)
	if code, _, raw, _ := send(t, srv, req, "local:alice"); code != 200 || !strings.Contains(string(raw), `"modelSpec"`) {
		t.Fatalf("metadata: %d %s", code, raw)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+decisions.ModelPath("credit"), nil)
	if code, _, raw, _ := send(t, srv, req, "local:alice"); code != 404 || !strings.Contains(string(raw), "model credit has no versions") {
		t.Fatalf("the decisions API's model route: %d %s", code, raw) // the stub's model has no versions: the decisions route answered
	}
	// A GET of a prediction path is the decisions API's model route, which
	// refuses "credit:predict" as a model name.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+predict.PredictPath("credit"), nil)
	if code, body, _, _ := send(t, srv, req, "local:alice"); code != 400 || body.Error != `"credit:predict" is not a model name` {
		t.Fatalf("GET of a prediction path: %d %+v", code, body)
	}
}

// Behind the local HTTPS server: no token and a wrong token are refused
// before the routes; its own body cap is told as a 413 too.
func TestRoutesBehindTheLocalAPI(t *testing.T) {
	s, err := api.New(api.Config{Dir: t.TempDir(), Principal: "local:tester"})
	if err != nil {
		t.Fatal(err)
	}
	principal := func(r *http.Request) string { return api.Principal(r.Context()) }
	for pattern, h := range predict.Routes(newFakeService(t), principal, nil, predict.Limits{}) {
		s.Handle(pattern, h)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	tc, err := api.ClientTLS(s.CACertFile())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	req := &predict.Request{Instances: mustRequest(t, okBody).Instances}
	for _, tok := range []string{"", "wrong"} {
		_, err := predict.NewClient(s.URL(), hc, apierror.BearerToken(tok)).Predict(context.Background(), "credit", req)
		var e *apierror.Error
		if !errors.As(err, &e) || e.Code != apierror.CodeUnauthorized || !strings.Contains(e.Message, "a bearer token is required") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	c := predict.NewClient(s.URL(), hc, apierror.BearerToken(s.Token()))
	resp, err := c.Predict(context.Background(), "credit", req)
	if err != nil || len(resp.Predictions) != 1 || resp.RequestID == "" {
		t.Fatalf("%+v %v", resp, err)
	}
	// 1000 instances of 5.3 KB (long padding fields, refused by the route
	// only once the body is read): over the route's 5 MiB, under the local
	// server's own 6 MiB cap (api.MaxBodyBytes), so the route answers with
	// its 413 and message.
	pad := strings.Repeat("g", 1020)
	long := mustRequest(t, strings.Replace(okBody, `"Age": 30`, `"Age": 30, "Status": "`+pad+`", "pad1": "`+pad+`", "pad2": "`+pad+
		`", "pad3": "`+pad+`", "pad4": "`+pad+`"`, 1))
	big := &predict.Request{}
	for range predict.DefaultMaxInstances {
		big.Instances = append(big.Instances, long.Instances[0])
	}
	_, err = c.Predict(context.Background(), "credit", big)
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != apierror.CodeTooLarge || !strings.Contains(e.Message, "body: over 5242880 bytes") {
		t.Fatalf("a body over the route's limit: %v", err)
	}
}

func mustRequest(t testing.TB, body string) *predict.Request {
	t.Helper()
	req, err := predict.DecodeRequest(strings.NewReader(body), predict.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

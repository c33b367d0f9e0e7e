package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/predict"
)

// okInstance is one applicant the credit contract accepts.
const okInstance = `{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", ` +
	`"Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}`

// instances is a request body of the given instances.
func instances(in ...string) string { return `{"instances": [` + strings.Join(in, ", ") + `]}` }

// edited is okInstance with each old value replaced by new, in pairs.
func edited(pairs ...string) string { return strings.NewReplacer(pairs...).Replace(okInstance) }

// The bad-input table against the real endpoint (mlops up's HTTPS
// server, the credit champion, its contract): each request is refused with
// its 4xx and a message that names the instance and field, or what was
// expected, and the request that follows it is answered. Last, the champion
// retired with force: 503, saying there is no champion.
func TestEndpointRefusesBadInput(t *testing.T) {
	p := servedCredit(t, local.Config{})
	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	predictURL := p.Endpoint.API.URL + predict.PredictPath("credit")
	type answer struct {
		status int
		body   apierror.Body
		raw    []byte
	}
	post := func(url, token string, body io.Reader, size int64) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size // -1: chunked, the length unknown to the server
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var b apierror.Body
		_ = json.Unmarshal(raw, &b)
		return answer{resp.StatusCode, b, raw}
	}
	token := p.Endpoint.API.Token
	valid := func(after string) {
		t.Helper()
		a := post(predictURL, token, strings.NewReader(instances(okInstance)), -1)
		var resp predict.Response
		if a.status != http.StatusOK || json.Unmarshal(a.raw, &resp) != nil || resp.ModelVersion != 1 || len(resp.Predictions) != 1 {
			t.Fatalf("after %s, a valid request: %d %s", after, a.status, clip(a.raw))
		}
	}
	valid("nothing")

	many := make([]string, 1001)
	for i := range many {
		many[i] = okInstance
	}
	// Over the 5 MiB limit and under the API server's 6 MiB: the
	// prediction route's own refusal. The padding is whitespace between
	// tokens, which JSON allows in any amount.
	padded := `{"instances": [` + okInstance + strings.Repeat(" ", 5<<20) + `]}`
	for _, tc := range []struct {
		name   string
		url    string
		token  string
		body   string
		sized  bool // with a Content-Length; otherwise chunked
		status int
		code   apierror.Code
		msg    []string
	}{
		{name: "invalid JSON", body: `{"instances": [` + okInstance, status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances: not JSON: the body ends where ',' or ']' was expected"}},
		{name: "not an object", body: `[` + okInstance + `]`, status: 400, code: apierror.CodeBadRequest,
			msg: []string{`body: expected a JSON object {"instances": [{...}, ...]}, got an array`}},
		{name: "a string", body: `"instances"`, status: 400, code: apierror.CodeBadRequest, msg: []string{"got a string"}},
		{name: "instances missing", body: `{"explain": true}`, status: 400, code: apierror.CodeBadRequest,
			msg: []string{"body: instances is required"}},
		{name: "instances empty", body: `{"instances": []}`, status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances: empty: expected at least one instance"}},
		{name: "instances not an array", body: `{"instances": ` + okInstance + `}`, status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances: expected an array of objects, got an object"}},
		{name: "too many instances", body: instances(many...), sized: true, status: 413, code: apierror.CodeTooLarge,
			msg: []string{"instances: more than 1000 in one request"}},
		{name: "a field of the wrong type", body: instances(edited(`"Age": 30`, `"Age": "thirty"`)), status: 400, code: apierror.CodeBadRequest,
			msg: []string{`instances[0].Age: expected an integer, got "thirty"`}},
		{name: "every problem at once", body: instances(edited(`"Age": 30`, `"Age": 130`), okInstance, edited(`"Income": 129`, `"Income": true`, `"rent"`, `"castle"`)),
			status: 400, code: apierror.CodeBadRequest,
			msg: []string{"3 problems in the instances", "instances[0].Age: 130 is above the maximum 120", "instances[2].Income: expected a number", "instances[2].Home"}},
		{name: "NaN", body: instances(edited(`"Income": 129`, `"Income": NaN`)), status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances[0].Income: not JSON: NaN and Infinity are not numbers in JSON (a missing value is null)"}},
		{name: "Infinity", body: instances(okInstance, edited(`"Amount": 800`, `"Amount": -Infinity`)), status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances[1].Amount: not JSON: NaN and Infinity"}},
		{name: "beyond float32", body: instances(edited(`"Price": 846`, `"Price": 3.5e38`)), status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances[0].Price: 3.5e38 is beyond the float32 range"}},
		{name: "deeply nested arrays", body: instances(edited(`"Home": "rent"`, `"Home": `+strings.Repeat("[", 100000)+strings.Repeat("]", 100000))),
			status: 400, code: apierror.CodeBadRequest, msg: []string{"instances[0].Home: expected a number, string, boolean or null, got an array"}},
		{name: "deeply nested objects", body: instances(edited(`"Job": "freelance"`, `"Job": `+strings.Repeat(`{"a": `, 50000)+"1"+strings.Repeat("}", 50000))),
			status: 400, code: apierror.CodeBadRequest, msg: []string{"instances[0].Job: expected a number, string, boolean or null, got an object"}},
		{name: "a megabyte string", body: instances(edited(`"rent"`, `"`+strings.Repeat("x", 1<<20)+`"`)), status: 400, code: apierror.CodeBadRequest,
			msg: []string{"instances[0].Home: a string of 1048576 bytes: at most 1024"}},
		{name: "a body over the limit, sized", body: padded, sized: true, status: 413, code: apierror.CodeTooLarge,
			msg: []string{"body: over 5242880 bytes"}},
		{name: "a body over the limit, chunked", body: padded, status: 413, code: apierror.CodeTooLarge,
			msg: []string{"body: over 5242880 bytes"}},
		{name: "an unknown model", url: p.Endpoint.API.URL + predict.PredictPath("nosuchmodel"), body: instances(okInstance),
			status: 404, code: apierror.CodeNotFound, msg: []string{"model nosuchmodel: no such model"}},
		{name: "no token", token: "-", body: instances(okInstance), status: 401, code: apierror.CodeUnauthorized,
			msg: []string{"a bearer token is required"}},
		{name: "a wrong token", token: strings.Repeat("x", len(token)), body: instances(okInstance), status: 401, code: apierror.CodeUnauthorized,
			msg: []string{"a bearer token is required"}},
	} {
		url, tok := predictURL, token
		if tc.url != "" {
			url = tc.url
		}
		switch tc.token {
		case "-":
			tok = ""
		case "":
		default:
			tok = tc.token
		}
		size := int64(-1)
		if tc.sized {
			size = int64(len(tc.body))
		}
		a := post(url, tok, bytes.NewReader([]byte(tc.body)), size)
		ok := a.status == tc.status && a.body.Code == tc.code
		for _, m := range tc.msg {
			ok = ok && strings.Contains(a.body.Error, m)
		}
		if !ok {
			t.Errorf("%s: %d %s %q, want %d %s saying %q", tc.name, a.status, a.body.Code, clip([]byte(a.body.Error)), tc.status, tc.code, tc.msg)
		}
		valid(tc.name)
	}

	// Retired with force, credit has no champion: 503, saying so; the
	// server still answers what it can.
	if _, err := decisionsClient(t, p).Retire(context.Background(), "credit", 1,
		decisions.Decision{Reason: "withdrawn: the bad-input test", Force: true}); err != nil {
		t.Fatal(err)
	}
	waitIdleFor(t, p, time.Minute)
	a := post(predictURL, token, strings.NewReader(instances(okInstance)), -1)
	if a.status != http.StatusServiceUnavailable || a.body.Code != apierror.CodeUnavailable ||
		!strings.Contains(a.body.Error, "model credit has no champion") {
		t.Errorf("a retired model: %d %s, want 503 unavailable saying there is no champion", a.status, clip(a.raw))
	}
	if a := post(p.Endpoint.API.URL+predict.PredictPath("nosuchmodel"), token, strings.NewReader(instances(okInstance)), -1); a.status != http.StatusNotFound {
		t.Errorf("after the retirement, an unknown model: %d %s", a.status, clip(a.raw))
	}
	resp, err := hc.Get(p.Endpoint.API.URL + api.HealthPath)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the retirement, /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// clip shortens an answer for a message.
func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

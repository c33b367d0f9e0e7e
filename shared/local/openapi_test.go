package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/apidoc/apidoctest"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// docClient calls the local platform's API by the document's operations and
// holds every answer to the document: the status is one the document gives
// the operation, and the headers and body match what it says of that status.
type docClient struct {
	t     *testing.T
	doc   *apidoctest.Doc
	base  string
	token string
	hc    *http.Client
	// seen records the statuses each operation answered.
	seen map[apidoc.Operation]map[int]bool
}

// auth is how a request authenticates.
type auth int

const (
	withToken auth = iota
	noToken
	wrongToken
)

// req is one request: an operation of the document with its path parameters.
type req struct {
	method, path string // the document's: POST /v1/models/{model}:predict
	params       map[string]string
	body         any // marshalled unless []byte
	auth         auth
	// url replaces the URL's path made from path and params (a path that
	// no operation's template makes, answered by that operation's route).
	url string
}

// do sends r, checks the answer against the document and that its status is
// want, and returns the body.
func (c *docClient) do(r req, want int) []byte {
	c.t.Helper()
	op := apidoc.Operation{Method: r.method, Path: r.path}
	path := r.path
	for k, v := range r.params {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	if r.url != "" {
		path = r.url
	}
	if strings.Contains(path, "{") {
		c.t.Fatalf("%s: parameters left in %s", op, path)
	}
	var body io.Reader
	var raw []byte
	if r.body != nil {
		if b, ok := r.body.([]byte); ok {
			raw = b
		} else {
			var err error
			if raw, err = json.Marshal(r.body); err != nil {
				c.t.Fatal(err)
			}
		}
		body = bytes.NewReader(raw)
		// What the document says a route takes, the route takes.
		if want == http.StatusOK {
			if err := c.doc.CheckValue(c.doc.RequestBodySchema(op), raw); err != nil {
				c.t.Errorf("%s: a request the server answers 200 breaks the document's request schema: %v", op, err)
			}
		}
	}
	hr, err := http.NewRequest(r.method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if raw != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch r.auth {
	case withToken:
		hr.Header.Set("Authorization", "Bearer "+c.token)
	case wrongToken:
		hr.Header.Set("Authorization", "Bearer not-"+c.token)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Errorf("%s %s: %d, want %d: %s", r.method, path, resp.StatusCode, want, got)
	}
	if err := c.doc.CheckResponse(op, resp.StatusCode, resp.Header, got); err != nil {
		c.t.Errorf("%s %s: %v", r.method, path, err)
	}
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][resp.StatusCode] = true
	return got
}

// field reads one member of a JSON object.
func field[T any](t *testing.T, body []byte, name string) T {
	t.Helper()
	var m map[string]json.RawMessage
	var v T
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if err := json.Unmarshal(m[name], &v); err != nil {
		t.Fatalf("%s: %v: %s", name, err, body)
	}
	return v
}

// Every route of both APIs, on the real local platform serving a trained
// credit champion, answers as the OpenAPI document says: each success and
// each refusal that can be caused from outside, every body validated against
// the document's schema for its operation and status by a JSON Schema
// 2020-12 validator; and the server's routes are exactly the document's.
func TestEveryRouteAnswersAsTheOpenAPIDocumentSays(t *testing.T) {
	// Out-of-range values are scored and flagged, so that a prediction with
	// flags is among the answers checked.
	p := servedCredit(t, local.Config{Serving: local.Serving{OutOfRange: "flag"}})
	ctx := context.Background()
	whole := apidoc.JSON()
	doc := apidoctest.Load(t, whole)

	// No undocumented route, no documented route that is not served.
	routes, err := apidoc.Routes(whole)
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, pattern := range p.API.Patterns() {
		served = append(served, apidoc.MuxPattern(pattern))
		if _, ok := routes[apidoc.MuxPattern(pattern)]; !ok {
			t.Errorf("the server serves %s, which the document does not describe", pattern)
		}
	}
	for pattern, op := range routes {
		if !slices.Contains(served, pattern) {
			t.Errorf("the document describes %s, which the server does not serve", op)
		}
	}
	if len(served) != len(routes) {
		t.Errorf("the server has %d routes, the document %d", len(served), len(routes))
	}

	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	c := &docClient{t: t, doc: doc, base: p.Endpoint.API.URL, token: p.Endpoint.API.Token,
		hc:   &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}},
		seen: map[apidoc.Operation]map[int]bool{}}
	const (
		get  = http.MethodGet
		post = http.MethodPost

		health   = "/healthz"
		openapi  = apidoc.Path
		predictP = "/v1/models/{model}:predict"
		metaP    = "/v1/models/{model}/metadata"
		modelsP  = "/v1/models"
		modelP   = "/v1/models/{model}"
		versionP = "/v1/models/{model}/versions/{version}"
		historyP = "/v1/models/{model}/history"
		verifyP  = "/v1/models/{model}/verify"
		approveP = "/v1/models/{model}/versions/{version}/approve"
		rejectP  = "/v1/models/{model}/versions/{version}/reject"
		promoteP = "/v1/models/{model}/versions/{version}/promote"
		retireP  = "/v1/models/{model}/versions/{version}/retire"
		rollback = "/v1/models/{model}/rollback"
	)
	credit1 := map[string]string{"model": "credit", "version": "1"}
	m := func(model string) map[string]string { return map[string]string{"model": model} }
	mv := func(model string, v int) map[string]string {
		return map[string]string{"model": model, "version": strconv.Itoa(v)}
	}
	reason := map[string]any{"reason": "the OpenAPI test decides"}

	// Every route but the health check refuses a caller without the token,
	// or with another.
	for _, op := range doc.Operations() {
		if op.Path == health {
			c.do(req{method: op.Method, path: op.Path, auth: noToken}, http.StatusOK)
			continue
		}
		var body any
		if op.Method == post {
			body = reason
		}
		c.do(req{method: op.Method, path: op.Path, params: credit1, body: body, auth: noToken}, http.StatusUnauthorized)
		c.do(req{method: op.Method, path: op.Path, params: credit1, body: body, auth: wrongToken}, http.StatusUnauthorized)
	}

	// The document, served: the very one in the repository.
	var servedDoc, repoDoc any
	if json.Unmarshal(c.do(req{method: get, path: openapi}, http.StatusOK), &servedDoc) != nil ||
		json.Unmarshal(whole, &repoDoc) != nil || !reflect.DeepEqual(servedDoc, repoDoc) {
		t.Error("GET /openapi.json serves another document than shared/apidoc's")
	}

	// The prediction API.
	rows := creditRows(t, 5)
	c.do(req{method: post, path: predictP, params: m("credit"), body: rows}, http.StatusOK)
	rows.Explain = true
	explained := c.do(req{method: post, path: predictP, params: m("credit"), body: rows}, http.StatusOK)
	if !strings.Contains(string(explained), `"contributions"`) || !strings.Contains(string(explained), `"reasons"`) {
		t.Errorf("no explanation: %s", explained)
	}
	applicant := map[string]any{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no",
		"Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}
	with := func(changes map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range applicant {
			out[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	flagged := c.do(req{method: post, path: predictP, params: m("credit"),
		body: map[string]any{"instances": []any{with(map[string]any{"Age": 150, "Income": nil})}, "explain": true}}, http.StatusOK)
	if !strings.Contains(string(flagged), `"flags"`) {
		t.Errorf("an out-of-range age scored without a flag: %s", flagged)
	}
	refused := c.do(req{method: post, path: predictP, params: m("credit"), body: map[string]any{"instances": []any{
		with(map[string]any{"Age": "old", "Colour": "red"}), with(map[string]any{"Time": nil, "Seniority": "many"}),
	}}}, http.StatusBadRequest)
	if details := field[[]map[string]string](t, refused, "details"); len(details) < 2 {
		t.Errorf("every problem of every instance is told: %s", refused)
	}
	refused = c.do(req{method: post, path: predictP, params: m("credit"), body: map[string]any{"instances": []any{
		with(map[string]any{"Age": "old", "Colour": "red", "Time": nil})}}}, http.StatusBadRequest)
	if details := field[[]map[string]string](t, refused, "details"); len(details) != 3 {
		t.Errorf("three problems, three details: %s", refused)
	}
	for _, bad := range []string{`{"instances": [`, `[]`, `{"instances": []}`, `{"instances": [{"Age": NaN}]}`, `{"instances": [{}], "explian": true}`, `{"instances": [{"Home": ["rent"]}]}`} {
		c.do(req{method: post, path: predictP, params: m("credit"), body: []byte(bad)}, http.StatusBadRequest)
	}
	c.do(req{method: post, path: predictP, params: m("Not-A-Name"), body: rows}, http.StatusBadRequest)
	c.do(req{method: post, path: predictP, params: m("nosuchmodel"), body: rows}, http.StatusNotFound)
	// Another verb is no route: the prediction route answers it.
	c.do(req{method: post, path: predictP, url: "/v1/models/credit:explain", body: rows}, http.StatusNotFound)
	many := make([]any, 1001)
	for i := range many {
		many[i] = applicant
	}
	c.do(req{method: post, path: predictP, params: m("credit"), body: map[string]any{"instances": many}}, http.StatusRequestEntityTooLarge)
	huge := append([]byte(`{"instances": [{"Job": "`), bytes.Repeat([]byte("x"), 5<<20)...)
	c.do(req{method: post, path: predictP, params: m("credit"), body: append(huge, `"}]}`...)}, http.StatusRequestEntityTooLarge)

	c.do(req{method: get, path: metaP, params: m("credit")}, http.StatusOK)
	c.do(req{method: get, path: metaP, params: m("Not-A-Name")}, http.StatusBadRequest)
	c.do(req{method: get, path: metaP, params: m("nosuchmodel")}, http.StatusNotFound)

	// The decisions API's reads.
	c.do(req{method: get, path: modelsP}, http.StatusOK)
	for _, path := range []string{modelP, historyP, verifyP} {
		c.do(req{method: get, path: path, params: m("credit")}, http.StatusOK)
		c.do(req{method: get, path: path, params: m("Not-A-Name")}, http.StatusBadRequest)
		c.do(req{method: get, path: path, params: m("nosuchmodel")}, http.StatusNotFound)
	}
	v1 := c.do(req{method: get, path: versionP, params: credit1}, http.StatusOK)
	bundle1 := field[string](t, v1, "bundleSha256")
	c.do(req{method: get, path: versionP, params: mv("credit", 99)}, http.StatusNotFound)
	c.do(req{method: get, path: versionP, params: map[string]string{"model": "credit", "version": "one"}}, http.StatusBadRequest)

	// Under a policy that promotes by itself and names nobody to decide
	// (servedCredit's lets the local user retire), nobody may decide.
	y := string(credit.PolicyYAML())
	for _, r := range [][2]string{{"required: true", "required: false"}, {`approvers: ["local:*"]`, ""},
		{"separatePromotion: false", ""}, {"autoPromote: false", "autoPromote: true"}} {
		y = strings.Replace(y, r[0], r[1], 1)
	}
	nobody, err := policy.Parse("policy.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, nobody, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.do(req{method: post, path: approveP, params: credit1, body: map[string]any{"reason": "mine", "bundleSha256": bundle1}}, http.StatusForbidden)
	for _, path := range []string{rejectP, promoteP, retireP} {
		c.do(req{method: post, path: path, params: credit1, body: reason}, http.StatusForbidden)
	}
	c.do(req{method: post, path: rollback, params: m("credit"), body: map[string]any{"reason": "back", "from": 1}}, http.StatusForbidden)

	// Under the credit policy, a person approves: two new versions wait.
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	for n, id := range []string{"openapi-2", "openapi-3"} {
		if v := retrainVersion(t, p, id, "the OpenAPI test", n+2); v.State != registry.StatePendingApproval {
			t.Fatalf("version %d is %s, want pending_approval", n+2, v.State)
		}
	}
	v2 := c.do(req{method: get, path: versionP, params: mv("credit", 2)}, http.StatusOK)
	bundle2 := field[string](t, v2, "bundleSha256")

	// Decisions' bodies are checked before anything is decided.
	for _, path := range []string{approveP, rejectP, promoteP, retireP, rollback} {
		params := mv("credit", 2)
		c.do(req{method: post, path: path, params: params, body: []byte(`{"reason": `)}, http.StatusBadRequest)
		c.do(req{method: post, path: path, params: params, body: map[string]any{"reason": "x", "becauseISaidSo": true}}, http.StatusBadRequest)
		c.do(req{method: post, path: path, params: params, body: map[string]any{"reason": " "}}, http.StatusBadRequest)
		c.do(req{method: post, path: path, params: params, body: map[string]any{"reason": strings.Repeat("x", 17<<10)}}, http.StatusRequestEntityTooLarge)
		c.do(req{method: post, path: path, params: map[string]string{"model": "Not-A-Name", "version": "2"}, body: reason}, http.StatusBadRequest)
		body := map[string]any{"reason": "nothing there", "bundleSha256": bundle2, "from": 2}
		if path == rollback {
			c.do(req{method: post, path: path, params: m("nosuchmodel"), body: map[string]any{"reason": "x", "from": 1}}, http.StatusNotFound)
			continue
		}
		if path == approveP {
			delete(body, "from")
		} else {
			body = reason
		}
		c.do(req{method: post, path: path, params: mv("credit", 99), body: body}, http.StatusNotFound)
		c.do(req{method: post, path: path, params: map[string]string{"model": "credit", "version": "0"}, body: body}, http.StatusBadRequest)
	}
	c.do(req{method: post, path: approveP, params: mv("credit", 2), body: reason}, http.StatusBadRequest) // no bundle named
	c.do(req{method: post, path: rollback, params: m("credit"), body: reason}, http.StatusBadRequest)     // no champion named

	// The decisions, and their conflicts.
	c.do(req{method: post, path: approveP, params: mv("credit", 2),
		body: map[string]any{"reason": "looks fine", "bundleSha256": strings.Repeat("0", 64)}}, http.StatusConflict)
	approved := c.do(req{method: post, path: approveP, params: mv("credit", 2),
		body: map[string]any{"reason": "looks fine", "bundleSha256": bundle2}}, http.StatusOK)
	if !field[bool](t, approved, "promoted") || field[int](t, approved, "champion") != 2 {
		t.Errorf("an approval under a policy without separate promotion promotes: %s", approved)
	}
	again := c.do(req{method: post, path: approveP, params: mv("credit", 2),
		body: map[string]any{"reason": "looks fine", "bundleSha256": bundle2}}, http.StatusOK)
	if field[bool](t, again, "created") {
		t.Errorf("an approval made twice: %s", again)
	}
	c.do(req{method: post, path: promoteP, params: mv("credit", 2), body: reason}, http.StatusOK)
	c.do(req{method: post, path: rejectP, params: mv("credit", 3), body: reason}, http.StatusOK)
	c.do(req{method: post, path: rejectP, params: mv("credit", 2), body: reason}, http.StatusConflict)
	c.do(req{method: post, path: promoteP, params: mv("credit", 3), body: reason}, http.StatusConflict)
	c.do(req{method: post, path: rollback, params: m("credit"), body: map[string]any{"reason": "back", "from": 2}}, http.StatusOK)
	c.do(req{method: post, path: rollback, params: m("credit"), body: map[string]any{"reason": "back", "from": 2}}, http.StatusOK)
	c.do(req{method: post, path: retireP, params: mv("credit", 3), body: reason}, http.StatusOK)
	c.do(req{method: post, path: retireP, params: credit1, body: reason}, http.StatusConflict) // the champion, without force
	c.do(req{method: post, path: retireP, params: credit1, body: map[string]any{"reason": "withdrawn", "force": true}}, http.StatusOK)
	c.do(req{method: post, path: rollback, params: m("credit"), body: map[string]any{"reason": "back", "from": 1}}, http.StatusConflict)
	for _, path := range []string{modelP, historyP, verifyP} {
		c.do(req{method: get, path: path, params: m("credit")}, http.StatusOK)
	}
	c.do(req{method: get, path: versionP, params: mv("credit", 2)}, http.StatusOK)

	// With no champion, the prediction API says so (at once: the champion
	// event reaches the endpoint).
	waitFor(t, func() bool {
		_, err := predictClient(t, p, "").Metadata(ctx, "credit")
		return apierror.IsCode(err, apierror.CodeUnavailable)
	})
	c.do(req{method: get, path: metaP, params: m("credit")}, http.StatusServiceUnavailable)
	c.do(req{method: post, path: predictP, params: m("credit"), body: creditRows(t, 1)}, http.StatusServiceUnavailable)

	// A damaged registry record is the registry's state, told as such.
	for key, b := range map[string]string{
		registry.VersionKey("damaged", 1):                        "{",
		registry.AuditKey("damaged", 1, registry.KindRegistered): `{"seq": 1}`,
	} {
		if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Platform, key, []byte(b), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c.do(req{method: get, path: modelsP}, http.StatusConflict)
	for _, path := range []string{modelP, historyP} {
		c.do(req{method: get, path: path, params: m("damaged")}, http.StatusConflict)
	}
	c.do(req{method: get, path: versionP, params: mv("damaged", 1)}, http.StatusConflict)
	if rep := c.do(req{method: get, path: verifyP, params: m("damaged")}, http.StatusOK); field[bool](t, rep, "ok") {
		t.Errorf("a damaged trail verified: %s", rep)
	}

	// Every status the document gives was answered and checked, but those no
	// request from outside can cause.
	unreachable := map[int]string{
		http.StatusInternalServerError: "the platform failing (an S3 outage) is not caused from outside: apierror's tests hold the body",
	}
	for _, op := range doc.Operations() {
		for _, s := range doc.Statuses(op) {
			if c.seen[op][s] || unreachable[s] != "" {
				continue
			}
			t.Errorf("%s answered no %d in the test", op, s)
		}
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

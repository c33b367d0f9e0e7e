package apidoc_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/apidoc/apidoctest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predict"
)

// oasSchema is the OpenAPI Initiative's schema of 3.1 documents (testdata/README.md).
const (
	oasSchemaFile = "testdata/oas-3.1-schema-2022-10-07.json"
	oasSchemaID   = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"
)

func unmarshal(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// validator compiles the schema at url (a resource added from file, or one of
// the validator's own meta-schemas when file is "").
func validator(t *testing.T, url, file string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, unmarshal(t, b)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The document, whole and cut to each API, is an OpenAPI 3.1 document by the
// OpenAPI Initiative's own schema.
func TestDocumentIsOpenAPI31(t *testing.T) {
	oas := validator(t, oasSchemaID, oasSchemaFile)
	for _, apis := range [][]string{nil, {apidoc.Predictions}, {apidoc.Decisions}} {
		doc, err := apidoc.For(apis...)
		if err != nil {
			t.Fatal(err)
		}
		if err := oas.Validate(unmarshal(t, doc)); err != nil {
			t.Errorf("%v: %v", apis, err)
		}
	}
	// The schema is no rubber stamp: it refuses a document that breaks it.
	var doc map[string]any
	if err := json.Unmarshal(apidoc.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["paths"].(map[string]any)["/healthz"].(map[string]any)["get"].(map[string]any)["responses"] = []any{}
	b, _ := json.Marshal(doc)
	if err := oas.Validate(unmarshal(t, b)); err == nil {
		t.Error("a document whose responses are an array passed the OpenAPI schema")
	}
}

// The OpenAPI schema does not look into Schema Objects: each is checked
// against JSON Schema 2020-12's meta-schema, and compiled with its $refs.
func TestSchemasAreJSONSchema202012(t *testing.T) {
	meta := validator(t, "https://json-schema.org/draft/2020-12/schema", "")
	d := apidoctest.Load(t, apidoc.JSON())
	ptrs := d.SchemaPointers()
	if len(ptrs) < 60 {
		t.Fatalf("%d schemas found: the walk missed some", len(ptrs))
	}
	for _, p := range ptrs {
		b, _ := json.Marshal(d.At(p))
		if err := meta.Validate(unmarshal(t, b)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Every example in a schema is valid against it.
func TestExamplesMatchTheirSchemas(t *testing.T) {
	d := apidoctest.Load(t, apidoc.JSON())
	n := 0
	for _, p := range d.SchemaPointers() {
		obj, _ := d.At(p).(map[string]any)
		examples, _ := obj["examples"].([]any)
		for i, ex := range examples {
			b, _ := json.Marshal(ex)
			if err := d.CheckValue(p, b); err != nil {
				t.Errorf("%s example %d: %v", p, i, err)
			}
			n++
		}
	}
	if n < 4 {
		t.Fatalf("%d examples checked", n)
	}
}

// The schemas refuse what the platform never answers: each closed body
// rejects a member it does not have, and the dynamic prediction object
// rejects what no scorer row holds.
func TestSchemasAreClosed(t *testing.T) {
	d := apidoctest.Load(t, apidoc.JSON())
	schema := func(name string) string { return apidoctest.Pointer("components", "schemas", name) }
	for _, c := range []struct {
		schema, value string
		ok            bool
	}{
		{"Prediction", `{"p_bad": 0.2, "label": "good"}`, true},
		{"Prediction", `{"p_a": 0.2, "p_b": 0.5, "p_c": 0.3, "label": "b", "flags": ["Age: 130 is above the maximum 120"]}`, true},
		{"Prediction", `{"prediction": 3.5}`, true},
		{"Prediction", `{"prediction": 3.5, "contributions": {"x": 1, "y": -2}, "bias": 0.5, "reasons": [{"feature": "x", "value": "7", "contribution": 1}]}`, true},
		{"Prediction", `{"p_a": 0.2, "p_b": 0.8, "p_c": 0, "label": "b", "contributions": {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 0}}, "bias": {"a": 0, "b": 1, "c": 2}, "reasons": []}`, true},
		{"Prediction", `{"p_bad": 0.2}`, false},                                   // no label
		{"Prediction", `{"label": "good"}`, false},                                // no probability
		{"Prediction", `{"p_bad": 1.2, "label": "good"}`, false},                  // not a probability
		{"Prediction", `{"p_bad": 0.2, "label": "good", "prediction": 1}`, false}, // classifier and regression
		{"Prediction", `{"prediction": 1, "p_x": 0.5}`, false},                    // a regression's probability
		{"Prediction", `{"p_bad": 0.2, "label": "good", "score": 1}`, false},      // an unknown member
		{"Prediction", `{"p_bad": 0.2, "label": "good", "bias": 1}`, false},       // half an explanation
		{"Prediction", `{"p_bad": 0.2, "label": "good", "flags": []}`, false},     // flags are never empty
		// Per-class contributions with one bias.
		{"Prediction", `{"prediction": 1, "contributions": {"a": {"x": 1}, "b": {"x": 2}}, "bias": 1, "reasons": []}`, false},
		{"Error", `{"error": "x", "code": "bad_request", "requestId": "1"}`, true},
		{"Error", `{"error": "x", "code": "teapot", "requestId": "1"}`, false},
		{"Error", `{"error": "x", "code": "bad_request"}`, false},
		{"Error", `{"error": "x", "code": "bad_request", "requestId": "1", "message": "y"}`, false},
		{"PredictBadRequestError", `{"error": "x", "code": "bad_request", "requestId": "1", "details": [{"field": "instances[0].Age", "rule": "type", "message": "m"}]}`, true},
		{"PredictBadRequestError", `{"error": "x", "code": "bad_request", "requestId": "1", "details": [{"field": "instances[0][\"a b\"]", "rule": "unknown_field", "message": "m"}]}`, true},
		{"PredictBadRequestError", `{"error": "x", "code": "too_large", "requestId": "1"}`, false},
		{"PredictBadRequestError", `{"error": "x", "code": "bad_request", "requestId": "1", "details": [{"field": "Age", "rule": "type", "message": "m"}]}`, false},
		{"BadRequestError", `{"error": "x", "code": "bad_request", "requestId": "1", "details": [{"field": "instances[0].Age", "rule": "type", "message": "m"}]}`, false},
		{"InternalError", `{"error": "internal error", "code": "internal", "requestId": "1"}`, true},
		{"InternalError", `{"error": "s3://platform/models: access denied", "code": "internal", "requestId": "1"}`, false},
		{"UnauthorizedError", `{"error": "a bearer token is required", "code": "unauthorized"}`, true},
		{"Version", `{"schemaVersion": "1", "model": "credit", "version": 1, "runId": "r", "bundleSha256": "` + strings.Repeat("a", 64) + `", "registeredBy": "gate", "registeredAt": "2024-01-02T03:04:05Z", "state": "champion", "seq": 3, "updatedAt": "2024-01-02T03:04:05.123456789Z"}`, true},
		{"Version", `{"schemaVersion": "1", "model": "credit", "version": 1, "runId": "r", "bundleSha256": "` + strings.Repeat("a", 64) + `", "registeredBy": "gate", "registeredAt": "yesterday", "state": "champion", "seq": 3, "updatedAt": "2024-01-02T03:04:05Z"}`, false},
		{"Version", `{"schemaVersion": "1", "model": "credit", "version": 1, "runId": "r", "bundleSha256": "` + strings.Repeat("a", 64) + `", "registeredBy": "gate", "registeredAt": "2024-01-02T03:04:05Z", "state": "live", "seq": 3, "updatedAt": "2024-01-02T03:04:05Z"}`, false},
		{"ModelSummary", `{"model": "credit", "champion": 0, "versions": 0}`, true},
		{"ModelSummary", `{"model": "credit", "champion": 0, "versions": 0, "all": []}`, false},
		{"Model", `{"model": "credit", "champion": 0, "versions": 0}`, false},
		{"Entry", `{"key": "k", "sha256": "` + strings.Repeat("b", 64) + `", "schemaVersion": "1", "seq": 2, "kind": "approved", "model": "credit", "principal": "p", "time": "2024-01-02T03:04:05Z", "hashes": {}}`, false}, // no prev
		{"ApproveDecision", `{"reason": "ok"}`, false},
		{"Decision", `{"reason": "   "}`, false},
		{"RollbackDecision", `{"reason": "back", "from": 2}`, true},
	} {
		err := d.CheckValue(schema(c.schema), []byte(c.value))
		if (err == nil) != c.ok {
			t.Errorf("%s %s: valid %v, want %v (%v)", c.schema, c.value, err == nil, c.ok, err)
		}
	}
}

// Every operation is documented the same way: an id, the APIs that serve
// it, the token or IAM on all but the health check, and the error body on
// every refusal with the request id header.
func TestOperations(t *testing.T) {
	d := apidoctest.Load(t, apidoc.JSON())
	ids := map[string]bool{}
	for _, op := range d.Operations() {
		ptr := apidoctest.OperationPointer(op)
		o := d.At(ptr).(map[string]any)
		id, _ := o["operationId"].(string)
		if id == "" || ids[id] {
			t.Errorf("%s: operationId %q missing or used twice", op, id)
		}
		ids[id] = true
		tags, _ := o["tags"].([]any)
		if len(tags) == 0 {
			t.Errorf("%s: no tags: which API serves it?", op)
		}
		for _, tag := range tags {
			if tag != apidoc.Predictions && tag != apidoc.Decisions {
				t.Errorf("%s: tag %v names no API", op, tag)
			}
		}
		statuses := d.Statuses(op)
		sec, hasSec := o["security"]
		if op.Path == "/healthz" {
			if !hasSec || len(sec.([]any)) != 0 || !slices.Equal(statuses, []int{200}) {
				t.Errorf("%s: security %v, statuses %v: want none, [200]", op, sec, statuses)
			}
			continue
		}
		if hasSec {
			t.Errorf("%s: security of its own %v: every route but /healthz takes the document's", op, sec)
		}
		if !slices.Contains(statuses, 401) || !slices.Contains(statuses, 500) || !slices.Contains(statuses, 200) {
			t.Errorf("%s: statuses %v: every route answers 200, 401 and 500", op, statuses)
		}
		for _, s := range statuses {
			r := d.At(ptr + apidoctest.Pointer("responses", strconv.Itoa(s))).(map[string]any)
			ref, _ := r["$ref"].(string)
			if ref != "" {
				r = d.At(strings.TrimPrefix(ref, "#")).(map[string]any)
			}
			h, _ := r["headers"].(map[string]any)
			if _, ok := h["X-Request-Id"]; !ok {
				t.Errorf("%s %d: no X-Request-Id header", op, s)
			}
			if s >= 400 {
				schema := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"]
				if !strings.HasSuffix(schema.(string), "Error") {
					t.Errorf("%s %d: schema %v: a refusal answers the error body", op, s, schema)
				}
			}
		}
		if (op.Method == http.MethodPost) != (d.RequestBodySchema(op) != "") {
			t.Errorf("%s: request body %q: every POST takes one, no GET does", op, d.RequestBodySchema(op))
		}
	}
}

// patterns are the unnamed ServeMux patterns of routes.
func patterns(routes map[string]http.Handler, extra ...string) []string {
	var out []string
	for p := range routes {
		out = append(out, apidoc.MuxPattern(p))
	}
	for _, p := range extra {
		out = append(out, apidoc.MuxPattern(p))
	}
	slices.Sort(out)
	return out
}

func docPatterns(t *testing.T, apis ...string) []string {
	t.Helper()
	doc, err := apidoc.For(apis...)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := apidoc.Routes(doc)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(routes))
}

// Each API's document has exactly the routes of its Lambda's mux: the
// decisions API's routes (functions/gate), the prediction API's and the
// health check (functions/predict), and this document on both.
func TestForCutsTheDocumentToOneAPI(t *testing.T) {
	gate := lambdatest.StartDecisionsAPI(t, lambdatest.DecisionsOptions{}).Gate
	dec := patterns(gate.Routes(nil), apidoc.Route)
	pred := patterns(predict.Routes(nil, nil, nil, predict.Limits{}), "GET /healthz", apidoc.Route)
	if got := docPatterns(t, apidoc.Decisions); !slices.Equal(got, dec) {
		t.Errorf("the decisions API's document has %v, its routes are %v", got, dec)
	}
	if got := docPatterns(t, apidoc.Predictions); !slices.Equal(got, pred) {
		t.Errorf("the prediction API's document has %v, its routes are %v", got, pred)
	}
	both := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(dec), pred...))))
	if got := docPatterns(t); !slices.Equal(got, both) {
		t.Errorf("the whole document has %v, the routes are %v", got, both)
	}
	if _, err := apidoc.For("billing"); err == nil || !strings.Contains(err.Error(), "billing") {
		t.Errorf("an unknown API: %v", err)
	}
	// The cut keeps the shared components, and names only its API.
	doc, _ := apidoc.For(apidoc.Predictions)
	var cut struct {
		Tags       []struct{ Name string } `json:"tags"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &cut); err != nil {
		t.Fatal(err)
	}
	if len(cut.Tags) != 1 || cut.Tags[0].Name != apidoc.Predictions || cut.Components.Schemas["Error"] == nil {
		t.Errorf("the prediction API's document: tags %+v, %d schemas", cut.Tags, len(cut.Components.Schemas))
	}
	apidoctest.Load(t, doc)
}

// Routes refuses a document two of whose operations one ServeMux pattern
// would serve.
func TestRoutesRefusesOperationsAMuxCannotTellApart(t *testing.T) {
	doc := []byte(`{"paths": {"/v1/models/{model}:predict": {"post": {}}, "/v1/models/{name}": {"post": {}, "get": {}}}}`)
	if _, err := apidoc.Routes(doc); err == nil || !strings.Contains(err.Error(), "POST /v1/models/{}") {
		t.Fatalf("got %v", err)
	}
	routes, err := apidoc.Routes([]byte(`{"paths": {"/v1/models/{model}:predict": {"post": {}, "parameters": []}}}`))
	if err != nil || !reflect.DeepEqual(routes, map[string]apidoc.Operation{"POST /v1/models/{}": {Method: "POST", Path: "/v1/models/{model}:predict"}}) {
		t.Fatalf("routes %v %v", routes, err)
	}
	if got := apidoc.MuxPattern("POST /v1/models/{target}"); got != "POST /v1/models/{}" {
		t.Fatalf("MuxPattern: %s", got)
	}
}

// The handler serves the document to a verified caller, with the request
// id, and refuses anyone else with the error body: both answers as the
// document itself describes them.
func TestHandlerServesTheDocument(t *testing.T) {
	d := apidoctest.Load(t, apidoc.JSON())
	op := apidoc.Operation{Method: http.MethodGet, Path: apidoc.Path}
	for _, c := range []struct {
		apis   []string
		who    string
		status int
	}{{nil, "local:me", 200}, {[]string{apidoc.Decisions}, "arn:aws:iam::1:user/me", 200}, {nil, "", 401}} {
		doc, err := apidoc.For(c.apis...)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(apidoc.Handler(doc, func(*http.Request) string { return c.who }))
		resp, err := http.Get(srv.URL + apidoc.Path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%v %q: %d %s", c.apis, c.who, resp.StatusCode, body)
		}
		if err := d.CheckResponse(op, resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
		if c.status != 200 {
			continue
		}
		var got, exp any
		if json.Unmarshal(body, &got) != nil || json.Unmarshal(doc, &exp) != nil || !reflect.DeepEqual(got, exp) {
			t.Errorf("%v: served another document than For gives", c.apis)
		}
	}
}

// JSON gives a copy: a caller that changes it changes nothing served.
func TestJSONIsACopy(t *testing.T) {
	a := apidoc.JSON()
	a[0] = 'x'
	if b := apidoc.JSON(); b[0] != '{' {
		t.Fatal("JSON shares the embedded document")
	}
}

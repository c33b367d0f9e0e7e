// Package apidoctest holds servers to the OpenAPI document (shared/apidoc):
// it compiles the document's schemas with a JSON Schema 2020-12 validator and
// checks a real answer (status, headers, body) against what the document
// says the operation answers with that status. Imported by tests only.
package apidoctest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/local/lambdatest"
)

// DocURL is the base URL the document's schemas are compiled under: their
// $refs ("#/components/schemas/Error") resolve within it.
const DocURL = "https://openapi.invalid/openapi.json"

// Doc is an OpenAPI document ready to check answers against.
type Doc struct {
	raw map[string]any
	c   *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

// Load compiles doc: every Schema Object must compile (its $refs resolve, its
// keywords are well formed) and formats are asserted (date-time, ...).
func Load(t testing.TB, doc []byte) *Doc {
	t.Helper()
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("the document: %v", err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		t.Fatal("the document is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(DocURL, raw); err != nil {
		t.Fatal(err)
	}
	d := &Doc{raw: obj, c: c, schemas: map[string]*jsonschema.Schema{}}
	for _, ptr := range d.SchemaPointers() {
		if _, err := d.Schema(ptr); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// Pointer is the JSON pointer of tokens.
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// Schema compiles the Schema Object at ptr (a JSON pointer into the document).
func (d *Doc) Schema(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[ptr]; ok {
		return s, nil
	}
	s, err := d.c.Compile(DocURL + "#" + strings.ReplaceAll(ptr, "%", "%25"))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", ptr, err)
	}
	d.schemas[ptr] = s
	return s, nil
}

// At is the value at ptr, nil where there is none.
func (d *Doc) At(ptr string) any {
	var v any = d.raw
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[tok]
	}
	return v
}

// deref follows a Reference Object ({"$ref": "#/components/..."}) within the
// document, returning the object and its pointer.
func (d *Doc) deref(ptr string) (map[string]any, string, error) {
	for range 8 {
		obj, ok := d.At(ptr).(map[string]any)
		if !ok {
			return nil, ptr, fmt.Errorf("%s: no object there", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, ptr, fmt.Errorf("%s: $ref %q: only references within the document are followed", ptr, ref)
		}
		ptr = ref[1:]
	}
	return nil, ptr, fmt.Errorf("%s: a $ref loop", ptr)
}

// methods are the operations a path item may hold.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Operations lists the document's operations.
func (d *Doc) Operations() []apidoc.Operation {
	var out []apidoc.Operation
	paths, _ := d.raw["paths"].(map[string]any)
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for m := range item {
			if slices.Contains(methods, m) {
				out = append(out, apidoc.Operation{Method: strings.ToUpper(m), Path: p})
			}
		}
	}
	slices.SortFunc(out, func(a, b apidoc.Operation) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// OperationPointer is the pointer of op's Operation Object.
func OperationPointer(op apidoc.Operation) string {
	return Pointer("paths", op.Path, strings.ToLower(op.Method))
}

// Statuses lists the statuses the document gives op, in order.
func (d *Doc) Statuses(op apidoc.Operation) []int {
	rs, _ := d.At(OperationPointer(op) + "/responses").(map[string]any)
	var out []int
	for k := range rs {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// SchemaPointers lists the pointer of every Schema Object the document
// uses: the components' schemas, and each parameter's, header's, request
// body's and response's schema, in order.
func (d *Doc) SchemaPointers() []string {
	var out []string
	if cs, ok := d.At("/components/schemas").(map[string]any); ok {
		for name := range cs {
			out = append(out, Pointer("components", "schemas", name))
		}
	}
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := ptr + Pointer(k)
				if k == "schema" {
					out = append(out, p)
					continue
				}
				if ptr == "/components" && k == "schemas" {
					continue
				}
				walk(p, x)
			}
		case []any:
			for i, x := range v {
				walk(ptr+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("/paths", d.raw["paths"])
	walk("/components", d.raw["components"])
	slices.Sort(out)
	return out
}

// CheckResponse checks an answer of op against the document: its status is
// one the document gives op (no default), each header the response requires
// is there and valid, the body is JSON (Content-Type application/json) and
// valid against the response's schema.
func (d *Doc) CheckResponse(op apidoc.Operation, status int, h http.Header, body []byte) error {
	if _, ok := d.At(OperationPointer(op)).(map[string]any); !ok {
		return fmt.Errorf("%s: not in the document", op)
	}
	resp, rptr, err := d.deref(OperationPointer(op) + Pointer("responses", strconv.Itoa(status)))
	if err != nil {
		return fmt.Errorf("%s answered %d, which the document does not give it (%v): %s", op, status, d.Statuses(op), clip(body))
	}
	headers, _ := resp["headers"].(map[string]any)
	for name := range headers {
		hobj, hptr, err := d.deref(rptr + Pointer("headers", name))
		if err != nil {
			return fmt.Errorf("%s %d: %w", op, status, err)
		}
		vals, present := h[http.CanonicalHeaderKey(name)]
		if !present {
			if req, _ := hobj["required"].(bool); req {
				return fmt.Errorf("%s %d: header %s is required, and missing", op, status, name)
			}
			continue
		}
		s, err := d.Schema(hptr + "/schema")
		if err != nil {
			return err
		}
		for _, v := range vals {
			if err := s.Validate(v); err != nil {
				return fmt.Errorf("%s %d: header %s %q: %v", op, status, name, v, err)
			}
		}
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("%s %d: a body where the document gives none: %s", op, status, clip(body))
		}
		return nil
	}
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("%s %d: Content-Type %q: %v", op, status, h.Get("Content-Type"), err)
	}
	if _, ok := content[ct]; !ok {
		return fmt.Errorf("%s %d: Content-Type %s, the document gives %v", op, status, ct, keys(content))
	}
	s, err := d.Schema(rptr + Pointer("content", ct, "schema"))
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %d: the body is not JSON: %v: %s", op, status, err, clip(body))
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s %d: the body does not match the document's schema (%s):\n%v\nbody: %s", op, status, rptr, err, clip(body))
	}
	return nil
}

// CheckValue validates a JSON value (as text) against the Schema Object at ptr.
func (d *Doc) CheckValue(ptr string, value []byte) error {
	s, err := d.Schema(ptr)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// RequestBodySchema is the pointer of op's request body schema for
// application/json ("" where op takes no body).
func (d *Doc) RequestBodySchema(op apidoc.Operation) string {
	_, ptr, err := d.deref(OperationPointer(op) + "/requestBody")
	if err != nil {
		return ""
	}
	ptr += Pointer("content", "application/json", "schema")
	if d.At(ptr) == nil {
		return ""
	}
	return ptr
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// Invoke sends fn (a function's real bootstrap under the Runtime API) an
// API Gateway HTTP API request (payload 2.0) for method and path, from
// caller (the IAM ARN API Gateway's authorizer verified; "" for a request
// with no authorizer context), and returns the answer's status, headers and
// body.
func Invoke(t testing.TB, fn *lambdatest.Function, method, path, caller string) (int, http.Header, []byte) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /{proxy+}", RawPath: path,
		Headers: map[string]string{"host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "a1b2c3d4e5", RequestID: "Cz7q1jXyoAMEVbQ=", Stage: "$default",
			RouteKey: "ANY /{proxy+}", DomainName: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1"},
		},
	}
	if caller != "" {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: caller, AccountID: "123456789012"}}
	}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s %s: %v\nlogs:\n%s", method, path, err, fn.Logs())
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s %s: the answer is no API Gateway response: %v: %s", method, path, err, clip(out))
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, h, body
}

// Get is one GET a bootstrap test sends: the path, the document's path it
// is an operation of, the caller ("" for none) and the status it must get.
type Get struct {
	Path, DocPath, Caller string
	Status                int
}

// CheckGets sends each GET to the function fn behind API Gateway and checks
// its status and that its answer is as doc (that function's API's document)
// says; GET /openapi.json must answer doc itself.
func CheckGets(t testing.TB, fn *lambdatest.Function, doc []byte, gets []Get) {
	t.Helper()
	d := Load(t, doc)
	for _, c := range gets {
		status, h, body := Invoke(t, fn, http.MethodGet, c.Path, c.Caller)
		if status != c.Status {
			t.Fatalf("GET %s: %d, want %d: %s", c.Path, status, c.Status, body)
		}
		if err := d.CheckResponse(apidoc.Operation{Method: http.MethodGet, Path: c.DocPath}, status, h, body); err != nil {
			t.Error(err)
		}
		if c.Path == apidoc.Path && status == http.StatusOK {
			var got, want any
			if json.Unmarshal(body, &got) != nil || json.Unmarshal(doc, &want) != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s: not the function's API's document", c.Path)
			}
		}
	}
}

// Package apidoc is the OpenAPI 3.1 document of the platform's HTTP APIs:
// the prediction API (shared/predict) and the decisions API
// (shared/decisions), with their one error body (shared/apierror). The
// document is openapi.json beside this file, embedded; this package gives it
// out whole, as `mlops up` serves both APIs on one server, or cut to one API,
// as each API Gateway API serves it in AWS, and serves it at GET
// /openapi.json behind the same guard as every other route.
//
// A route's tags name the APIs that serve it ("predictions", "decisions").
// The document's paths are the ones callers use; the platform's ServeMux
// patterns differ only where a parameter shares its segment with more text
// (/v1/models/{model}:predict is served under POST /v1/models/{target}, as a
// ServeMux wildcard is a whole segment): Routes gives the pattern each
// operation is served under, for the tests that hold the servers and the
// document to each other (shared/local's openapi_test.go).
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/openmlops/mlops/shared/apierror"
)

//go:embed openapi.json
var document []byte

// The APIs, as the document's tags name them.
const (
	Predictions = "predictions"
	Decisions   = "decisions"
)

// Path is where the document is served; Route its ServeMux pattern.
const (
	Path  = "/openapi.json"
	Route = "GET " + Path
)

// JSON returns the whole document (a copy: the caller may change it).
func JSON() []byte { return bytes.Clone(document) }

// methods are the operations a path item may hold, in OpenAPI's order.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// For returns the document cut to the operations tagged with one of apis,
// each path keeping only those; a path left with no operation is dropped.
// The components are kept whole: a client reading one API's document finds
// the shared error body and types where the whole document has them. No apis
// is the whole document.
func For(apis ...string) ([]byte, error) {
	if len(apis) == 0 {
		return JSON(), nil
	}
	for _, a := range apis {
		if a != Predictions && a != Decisions {
			return nil, fmt.Errorf("apidoc: no API %q: expected %q or %q", a, Predictions, Decisions)
		}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(document, &doc); err != nil {
		return nil, fmt.Errorf("apidoc: the embedded document: %w", err)
	}
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		return nil, fmt.Errorf("apidoc: the embedded document's paths: %w", err)
	}
	for p, item := range paths {
		for m, raw := range item {
			if !slices.Contains(methods, m) {
				continue // a path item's parameters, summary, description
			}
			var op struct {
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("apidoc: %s %s: %w", m, p, err)
			}
			if !slices.ContainsFunc(op.Tags, func(t string) bool { return slices.Contains(apis, t) }) {
				delete(item, m)
			}
		}
		if !slices.ContainsFunc(methods, func(m string) bool { _, ok := item[m]; return ok }) {
			delete(paths, p)
		}
	}
	b, err := json.Marshal(paths)
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	doc["paths"] = b
	// The tags list the APIs the document covers.
	var tags []map[string]any
	if err := json.Unmarshal(doc["tags"], &tags); err != nil {
		return nil, fmt.Errorf("apidoc: the embedded document's tags: %w", err)
	}
	tags = slices.DeleteFunc(tags, func(t map[string]any) bool { n, _ := t["name"].(string); return !slices.Contains(apis, n) })
	if doc["tags"], err = json.Marshal(tags); err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	// encoding/json writes a map's members sorted, which keeps the cut
	// document stable from one cold start to the next.
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	return out, nil
}

// Handler serves doc (JSON, or For's cut) as a route of the platform:
// apierror.Guard names the request and refuses one with no verified caller,
// as every route but the health check does. principal returns the caller's
// verified identity (see apierror.Guard).
func Handler(doc []byte, principal func(*http.Request) string) http.Handler {
	g := apierror.Guard{API: "OpenAPI document", Principal: principal}
	return g.Handle(func(http.ResponseWriter, *http.Request, string, string) (any, error) {
		return json.RawMessage(doc), nil
	})
}

// Operation is one operation of the document.
type Operation struct {
	Method string // GET, POST, ...
	Path   string // as the document writes it: /v1/models/{model}:predict
}

func (o Operation) String() string { return o.Method + " " + o.Path }

// Routes lists doc's operations by the ServeMux pattern that serves each,
// with its wildcards unnamed (as MuxPattern writes them): a path segment that
// holds a parameter and more text is one wildcard. Two operations that one
// pattern would serve are an error: a ServeMux could not tell them apart.
func Routes(doc []byte) (map[string]Operation, error) {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	out := map[string]Operation{}
	for p, item := range d.Paths {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if strings.Contains(s, "{") {
				segs[i] = "{}"
			}
		}
		for m := range item {
			if !slices.Contains(methods, m) {
				continue
			}
			op := Operation{Method: strings.ToUpper(m), Path: p}
			pattern := op.Method + " " + strings.Join(segs, "/")
			if prev, ok := out[pattern]; ok {
				return nil, fmt.Errorf("apidoc: %s and %s are both served under %s", prev, op, pattern)
			}
			out[pattern] = op
		}
	}
	return out, nil
}

// MuxPattern is a ServeMux pattern ("GET /v1/models/{model}") with its
// wildcards unnamed ("GET /v1/models/{}"), as Routes keys operations.
func MuxPattern(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

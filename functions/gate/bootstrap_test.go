package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/openmlops/mlops/shared/apidoc"
	"github.com/openmlops/mlops/shared/apidoc/apidoctest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
)

// The real gate bootstrap, behind API Gateway, serves the decisions API's
// OpenAPI document to a verified caller and refuses anyone else, and its
// routes answer as that document says.
func TestBootstrapServesTheDecisionsAPIDocument(t *testing.T) {
	bin, _, _, env := lambdatest.Bootstrap(t, ".")
	fn := lambdatest.Start(t, bin, "gate", env)
	doc, err := apidoc.For(apidoc.Decisions)
	if err != nil {
		t.Fatal(err)
	}
	d := apidoctest.Load(t, doc)
	const alice = "arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice"
	for _, c := range []struct {
		path, docPath, caller string
		status                int
	}{
		{apidoc.Path, apidoc.Path, alice, http.StatusOK},
		{apidoc.Path, apidoc.Path, "", http.StatusUnauthorized},
		{"/v1/models", "/v1/models", alice, http.StatusOK},
		{"/v1/models/credit", "/v1/models/{model}", alice, http.StatusNotFound},
	} {
		status, h, body := apidoctest.Invoke(t, fn, http.MethodGet, c.path, c.caller)
		if status != c.status {
			t.Fatalf("GET %s: %d, want %d: %s", c.path, status, c.status, body)
		}
		if err := d.CheckResponse(apidoc.Operation{Method: http.MethodGet, Path: c.docPath}, status, h, body); err != nil {
			t.Error(err)
		}
		if c.path == apidoc.Path && status == http.StatusOK {
			var got, want any
			if json.Unmarshal(body, &got) != nil || json.Unmarshal(doc, &want) != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s: not the decisions API's document", c.path)
			}
		}
	}
}

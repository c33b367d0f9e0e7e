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

// The real predict bootstrap, behind API Gateway, serves the prediction
// API's OpenAPI document to a verified caller and refuses anyone else, and
// its routes answer as that document says.
func TestBootstrapServesThePredictionAPIDocument(t *testing.T) {
	bin, _, _, env := lambdatest.Bootstrap(t, ".")
	fn := lambdatest.Start(t, bin, "predict", append(env, "PII_MODE=drop"))
	doc, err := apidoc.For(apidoc.Predictions)
	if err != nil {
		t.Fatal(err)
	}
	d := apidoctest.Load(t, doc)
	const app = "arn:aws:sts::123456789012:assumed-role/CreditApp/web"
	for _, c := range []struct {
		path, docPath, caller string
		status                int
	}{
		{apidoc.Path, apidoc.Path, app, http.StatusOK},
		{apidoc.Path, apidoc.Path, "", http.StatusUnauthorized},
		{"/healthz", "/healthz", "", http.StatusOK},
		{"/v1/models/credit/metadata", "/v1/models/{model}/metadata", app, http.StatusNotFound},
		{"/v1/models/Credit/metadata", "/v1/models/{model}/metadata", app, http.StatusBadRequest},
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
				t.Errorf("GET %s: not the prediction API's document", c.path)
			}
		}
	}
}

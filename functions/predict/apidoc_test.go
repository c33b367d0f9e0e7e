package main

import (
	"net/http"
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
	const app = "arn:aws:sts::123456789012:assumed-role/CreditApp/web"
	apidoctest.CheckGets(t, fn, doc, []apidoctest.Get{
		{Path: apidoc.Path, DocPath: apidoc.Path, Caller: app, Status: http.StatusOK},
		{Path: apidoc.Path, DocPath: apidoc.Path, Caller: "", Status: http.StatusUnauthorized},
		{Path: "/healthz", DocPath: "/healthz", Caller: "", Status: http.StatusOK},
		{Path: "/v1/models/credit/metadata", DocPath: "/v1/models/{model}/metadata", Caller: app, Status: http.StatusNotFound},
		{Path: "/v1/models/Credit/metadata", DocPath: "/v1/models/{model}/metadata", Caller: app, Status: http.StatusBadRequest},
	})
}

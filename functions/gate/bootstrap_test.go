package main

import (
	"net/http"
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
	const alice = "arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice"
	apidoctest.CheckGets(t, fn, doc, []apidoctest.Get{
		{Path: apidoc.Path, DocPath: apidoc.Path, Caller: alice, Status: http.StatusOK},
		{Path: apidoc.Path, DocPath: apidoc.Path, Caller: "", Status: http.StatusUnauthorized},
		{Path: "/v1/models", DocPath: "/v1/models", Caller: alice, Status: http.StatusOK},
		{Path: "/v1/models/credit", DocPath: "/v1/models/{model}", Caller: alice, Status: http.StatusNotFound},
	})
}

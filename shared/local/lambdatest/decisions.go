package lambdatest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/store"
)

// DecisionsAPI is the gate's decisions API over a real registry in an embedded
// S3 bucket "platform", under the credit example's policy: what the local
// API and the gate Lambda serve, for the tests of the API and its client.
type DecisionsAPI struct {
	Store    *store.Store
	Registry *registry.Registry
	Gate     *gate.Service
	Server   *httptest.Server
	Policy   string // the hash of the policy in force
}

// DecisionsOptions are what the tests vary: the bus, the clock, the log, and
// who a request is from (principal; the API's token or IAM authorizer in life).
type DecisionsOptions struct {
	Publisher event.Publisher
	Now       func() time.Time
	Logger    *slog.Logger
	Principal func(*http.Request) string
}

// StartDecisionsAPI starts the API until the test ends.
func StartDecisionsAPI(t testing.TB, o DecisionsOptions) *DecisionsAPI {
	t.Helper()
	_, st := S3(t, "platform")
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := policystore.Apply(context.Background(), st, "platform", pol, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := &DecisionsAPI{Store: st, Registry: registry.New(st, registry.Config{Bucket: "platform"}), Policy: applied.Hash}
	a.Gate = gate.New(st, o.Publisher, a.Registry, gate.Config{Bucket: "platform", Now: o.Now, Logger: o.Logger})
	mux := http.NewServeMux()
	for pattern, h := range a.Gate.Routes(o.Principal) {
		mux.Handle(pattern, h)
	}
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Server.Close)
	return a
}

// CreditSpec, CreditPolicy and CreditContract are the credit example's
// documents, parsed, for tests.
func CreditSpec(t testing.TB) *spec.Spec {
	t.Helper()
	return must(t, credit.Spec)
}

// CreditPolicy is the credit example's promotion policy.
func CreditPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	return must(t, credit.Policy)
}

// CreditContract is the credit example's dataset contract.
func CreditContract(t testing.TB) *contract.Contract {
	t.Helper()
	return must(t, credit.Contract)
}

func must[T any](t testing.TB, read func() (T, error)) T {
	t.Helper()
	v, err := read()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

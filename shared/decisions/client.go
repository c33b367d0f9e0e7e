package decisions

import (
	"context"
	"net/http"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/registry"
)

// Client calls the decisions API. Its methods return the answer's body
// decoded, an *Error for an answer other than 200 (compare its Code), or
// another error when no answer came or the answer was not what the route
// answers.
type Client struct{ c *apierror.Client }

// NewClient returns a client of the API at baseURL (scheme, host and any base
// path, e.g. https://127.0.0.1:8443). authorize prepares each request before
// it is sent: BearerToken for the local API; a SigV4 signer for API Gateway's
// IAM authorization. hc nil is http.DefaultClient.
func NewClient(baseURL string, hc *http.Client, authorize func(*http.Request) error) *Client {
	return &Client{c: apierror.NewClient("the decisions API", baseURL, hc, authorize)}
}

// BearerToken authorizes requests with a bearer token (the local API's).
func BearerToken(token string) func(*http.Request) error { return apierror.BearerToken(token) }

// Models lists the registered models with their champion.
func (c *Client) Models(ctx context.Context) ([]ModelSummary, error) {
	return apierror.Call[[]ModelSummary](ctx, c.c, http.MethodGet, ModelsPath, nil)
}

// Model returns a model's versions and champion.
func (c *Client) Model(ctx context.Context, model string) (*Model, error) {
	return apierror.Call[*Model](ctx, c.c, http.MethodGet, ModelPath(model), nil)
}

// Version returns one version of a model.
func (c *Client) Version(ctx context.Context, model string, version int) (*registry.Version, error) {
	return apierror.Call[*registry.Version](ctx, c.c, http.MethodGet, VersionPath(model, version), nil)
}

// History returns a model's audit trail, in order.
func (c *Client) History(ctx context.Context, model string) ([]registry.Entry, error) {
	return apierror.Call[[]registry.Entry](ctx, c.c, http.MethodGet, ModelPath(model)+"/history", nil)
}

// Verify has the platform verify a model's audit trail. A trail that does
// not verify is an answer (OK false, with the problems), not an error.
func (c *Client) Verify(ctx context.Context, model string) (*registry.VerifyReport, error) {
	return apierror.Call[*registry.VerifyReport](ctx, c.c, http.MethodGet, ModelPath(model)+"/verify", nil)
}

// Approve approves a version, bound to the bundle d.BundleSHA256 names.
func (c *Client) Approve(ctx context.Context, model string, version int, d Decision) (*Result, error) {
	return c.decide(ctx, VersionPath(model, version)+"/approve", d)
}

// Reject rejects a version.
func (c *Client) Reject(ctx context.Context, model string, version int, d Decision) (*Result, error) {
	return c.decide(ctx, VersionPath(model, version)+"/reject", d)
}

// Promote makes an approved version the champion.
func (c *Client) Promote(ctx context.Context, model string, version int, d Decision) (*Result, error) {
	return c.decide(ctx, VersionPath(model, version)+"/promote", d)
}

// Retire retires a version (the champion only with d.Force).
func (c *Client) Retire(ctx context.Context, model string, version int, d Decision) (*Result, error) {
	return c.decide(ctx, VersionPath(model, version)+"/retire", d)
}

// Rollback makes the previous champion champion again; d.From is the
// champion it rolls back from (0: whichever is current).
func (c *Client) Rollback(ctx context.Context, model string, d Decision) (*Result, error) {
	return c.decide(ctx, ModelPath(model)+"/rollback", d)
}

func (c *Client) decide(ctx context.Context, path string, d Decision) (*Result, error) {
	return apierror.Call[*Result](ctx, c.c, http.MethodPost, path, d)
}

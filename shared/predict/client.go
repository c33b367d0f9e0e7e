package predict

import (
	"context"
	"errors"
	"net/http"

	"github.com/openmlops/mlops/shared/apierror"
)

// Client calls the prediction API. Its methods return the answer decoded, an
// *apierror.Error for an answer other than 200 (compare its Code), or another
// error when no answer came or the answer was not what the route answers.
type Client struct{ c *apierror.Client }

// Predict scores req's instances with model's champion. A request over the
// server's limits (DefaultMaxInstances) is refused: Split it first.
func (c *Client) Predict(ctx context.Context, model string, req *Request) (*Response, error) {
	if req == nil || len(req.Instances) == 0 {
		return nil, errors.New("predict: no instances to score")
	}
	return apierror.Call[*Response](ctx, c.c, http.MethodPost, PredictPath(model), req)
}

// Metadata describes model's champion: its version, features and outputs.
func (c *Client) Metadata(ctx context.Context, model string) (*Metadata, error) {
	return apierror.Call[*Metadata](ctx, c.c, http.MethodGet, MetadataPath(model), nil)
}

// NewClient returns a client of the API at baseURL (scheme, host and any base
// path). authorize prepares each request before it is sent:
// apierror.BearerToken for the local API; a SigV4 signer for API Gateway's
// IAM authorization. hc nil is http.DefaultClient.
func NewClient(baseURL string, hc *http.Client, authorize func(*http.Request) error) *Client {
	return &Client{c: apierror.NewClient("the prediction API", baseURL, hc, authorize)}
}

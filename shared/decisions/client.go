package decisions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/openmlops/mlops/shared/registry"
)

// Client calls the decisions API. Its methods return the answer's body
// decoded, an *Error for an answer other than 200 (compare its Code), or
// another error when no answer came or the answer was not what the route
// answers.
type Client struct {
	base      string
	hc        *http.Client
	authorize func(*http.Request) error
}

// NewClient returns a client of the API at baseURL (scheme, host and any base
// path, e.g. https://127.0.0.1:8443). authorize prepares each request before
// it is sent: BearerToken for the local API; a SigV4 signer for API Gateway's
// IAM authorization. hc nil is http.DefaultClient.
func NewClient(baseURL string, hc *http.Client, authorize func(*http.Request) error) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/"), hc: hc, authorize: authorize}
}

// BearerToken authorizes requests with a bearer token (the local API's).
func BearerToken(token string) func(*http.Request) error {
	return func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// Models lists the registered models with their champion.
func (c *Client) Models(ctx context.Context) ([]ModelSummary, error) {
	return call[[]ModelSummary](ctx, c, http.MethodGet, ModelsPath, nil)
}

// Model returns a model's versions and champion.
func (c *Client) Model(ctx context.Context, model string) (*Model, error) {
	return call[*Model](ctx, c, http.MethodGet, ModelPath(model), nil)
}

// Version returns one version of a model.
func (c *Client) Version(ctx context.Context, model string, version int) (*registry.Version, error) {
	return call[*registry.Version](ctx, c, http.MethodGet, VersionPath(model, version), nil)
}

// History returns a model's audit trail, in order.
func (c *Client) History(ctx context.Context, model string) ([]registry.Entry, error) {
	return call[[]registry.Entry](ctx, c, http.MethodGet, ModelPath(model)+"/history", nil)
}

// Verify has the platform verify a model's audit trail. A trail that does
// not verify is an answer (OK false, with the problems), not an error.
func (c *Client) Verify(ctx context.Context, model string) (*registry.VerifyReport, error) {
	return call[*registry.VerifyReport](ctx, c, http.MethodGet, ModelPath(model)+"/verify", nil)
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
	return call[*Result](ctx, c, http.MethodPost, path, d)
}

// maxAnswer bounds an answer's body: a long audit trail is megabytes, not more.
const maxAnswer = 64 << 20

// call sends one request and decodes a 200 answer.
func call[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var out T
	if err := c.do(ctx, method, path, body, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode the request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.authorize != nil {
		if err := c.authorize(req); err != nil {
			return fmt.Errorf("%s %s: authorize the request: %w", method, path, err)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the decisions API at %s did not answer: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answerError(resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// answerError reads an error answer: the API's error body, else API Gateway's
// ({"message": ...}), else whatever came, else the status's name.
func answerError(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get(RequestIDHeader)}
	var body errorBody
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = body.Code, body.Error
		if e.Message == "" {
			e.Message = body.Message
		}
		if body.RequestID != "" {
			e.RequestID = body.RequestID
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.Code == "" {
		e.Code = codeOfStatus(resp.StatusCode)
	}
	return e
}

// IsCode reports whether err is an API error with that code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

package apierror

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client sends requests to one API and reads its answers: the body of a 200
// decoded, an *Error for any other answer (compare its Code), or another
// error when no answer came or the answer was not what the route answers.
// The APIs' typed clients are built on it.
type Client struct {
	api       string
	base      string
	hc        *http.Client
	authorize func(*http.Request) error
}

// NewClient returns a client of the API at baseURL (scheme, host and any base
// path, e.g. https://127.0.0.1:8443); api names it in errors ("the decisions
// API"). authorize prepares each request before it is sent: BearerToken for
// the local API; a SigV4 signer for API Gateway's IAM authorization. hc nil
// is http.DefaultClient.
func NewClient(api, baseURL string, hc *http.Client, authorize func(*http.Request) error) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{api: api, base: strings.TrimSuffix(baseURL, "/"), hc: hc, authorize: authorize}
}

// BearerToken authorizes requests with a bearer token (the local API's).
func BearerToken(token string) func(*http.Request) error {
	return func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// maxAnswer bounds an answer's body: a long audit trail or a thousand
// explained predictions are megabytes, not more.
const maxAnswer = 64 << 20

// Do sends one request (body, when not nil, as JSON) and decodes a 200
// answer into out.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // the body as its type writes it: "&" stays "&"
		if err := enc.Encode(body); err != nil {
			return fmt.Errorf("%s %s: encode the request: %w", method, path, err)
		}
		rd = &b
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
		return fmt.Errorf("%s at %s did not answer: %w", c.api, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Read(resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// Read reads an error answer whose body is raw: the API's error body, else
// API Gateway's ({"message": ...}), else whatever came, else the status's name.
func Read(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get(RequestIDHeader)}
	var body Body
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message, e.Details = body.Code, body.Error, body.Details
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
		e.Code = CodeOfStatus(resp.StatusCode)
	}
	return e
}

// Call is Do for a typed answer: the decoded body of a 200, or the zero T and
// the error.
func Call[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var out T
	if err := c.Do(ctx, method, path, body, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

package sigv4http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/aws/awstest"
	"github.com/openmlops/mlops/shared/aws/sigv4http"
)

var creds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

// countingProvider is static credentials that count their retrievals.
type countingProvider struct {
	aws.Credentials
	n atomic.Int64
}

func (p *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.n.Add(1)
	return p.Credentials, nil
}

// apiGateway serves an echo of each request's method, path, query and body
// behind the SigV4 stand-in for API Gateway.
func apiGateway(t *testing.T) *httptest.Server {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
	srv := httptest.NewTLSServer(awstest.SigV4Verifier(creds, awstest.Region, "execute-api", echo))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, srv *httptest.Server, authorize func(*http.Request) error, method, path, body string, tamper func(*http.Request)) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorize != nil {
		if err := authorize(req); err != nil {
			t.Fatal(err)
		}
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Signed requests pass the stand-in with their bodies; the credentials come
// from the provider for each request.
func TestSignedRequestsPass(t *testing.T) {
	srv := apiGateway(t)
	p := &countingProvider{Credentials: creds}
	auth := sigv4http.Authorizer(p, awstest.Region, nil)
	// The signer puts the query in its canonical (sorted) order.
	for _, c := range []struct{ method, path, body, sent string }{
		{"GET", "/v1/models", "", "/v1/models"},
		{"GET", "/v1/models/credit/versions?limit=5&after=a%20b", "", "/v1/models/credit/versions?after=a%20b&limit=5"},
		{"POST", "/v1/models/credit/versions/3/approve", `{"reason":"looks good & fair"}`, "/v1/models/credit/versions/3/approve"},
	} {
		code, got := send(t, srv, auth, c.method, c.path, c.body, nil)
		if want := c.method + " " + c.sent + " " + c.body; code != 200 || got != want {
			t.Errorf("%s %s: %d %q, want 200 %q", c.method, c.path, code, got, want)
		}
	}
	if p.n.Load() != 3 {
		t.Errorf("credentials retrieved %d times for 3 requests, want 3", p.n.Load())
	}
}

// The stand-in refuses what API Gateway refuses, so that the passes above
// prove the signing: no signature, another secret or key, another region,
// an old signature, a body changed after signing.
func TestStandInRefusesBadSignatures(t *testing.T) {
	srv := apiGateway(t)
	good := creds
	wrongSecret := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, "not-the-secret", "")
	wrongKey := credentials.NewStaticCredentialsProvider("AKIDOTHER", creds.SecretAccessKey, "")
	static := credentials.StaticCredentialsProvider{Value: good}
	old := func() time.Time { return time.Now().Add(-2 * awstest.SigV4MaxSkew) }
	for _, c := range []struct {
		name      string
		authorize func(*http.Request) error
		tamper    func(*http.Request)
		want      string
	}{
		{"unsigned", nil, nil, "Missing Authentication Token"},
		{"wrong secret", sigv4http.Authorizer(wrongSecret, awstest.Region, nil), nil, "does not match"},
		{"wrong key", sigv4http.Authorizer(wrongKey, awstest.Region, nil), nil, "security token"},
		{"wrong region", sigv4http.Authorizer(static, "eu-west-1", nil), nil, "security token"},
		{"old", sigv4http.Authorizer(static, awstest.Region, old), nil, "Signature expired"},
		{"body changed", sigv4http.Authorizer(static, awstest.Region, nil), func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"reason":"other"}`))
			r.ContentLength = int64(len(`{"reason":"other"}`))
		}, "X-Amz-Content-Sha256"},
		{"header changed", sigv4http.Authorizer(static, awstest.Region, nil), func(r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
		}, "does not match"},
	} {
		code, got := send(t, srv, c.authorize, "POST", "/v1/models/credit/versions/3/approve", `{"reason":"ok"}`, c.tamper)
		if code != http.StatusForbidden || !strings.Contains(got, c.want) {
			t.Errorf("%s: %d %s, want 403 %q", c.name, code, got, c.want)
		}
	}
}

// A body that cannot be read twice cannot be signed: an error, not a
// request sent without its body.
func TestBodyWithoutGetBody(t *testing.T) {
	req, err := http.NewRequest("POST", "https://example.com/v1/x", io.NopCloser(strings.NewReader("x")))
	if err != nil {
		t.Fatal(err)
	}
	auth := sigv4http.Authorizer(credentials.StaticCredentialsProvider{Value: creds}, awstest.Region, nil)
	if err := auth(req); err == nil || !strings.Contains(err.Error(), "GetBody") {
		t.Errorf("got %v, want an error naming GetBody", err)
	}
	if err := sigv4http.Authorizer(nil, awstest.Region, nil)(req); err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("no provider: got %v", err)
	}
}

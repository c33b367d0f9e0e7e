// Package awstest holds what tests of the AWS adapters share: a fake service
// behind an httptest server that the real SDK clients talk to, and the checks
// every such fake makes of a request.
package awstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region the tests' clients sign for.
const Region = "us-east-1"

// Config serves fake until the test ends and returns the configuration of an
// SDK client of it: Region, the server as the endpoint, static credentials,
// and hc as the HTTP client (nil: the server's).
func Config(t testing.TB, fake http.Handler, hc aws.HTTPClient) aws.Config {
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	if hc == nil {
		hc = srv.Client()
	}
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   hc,
	}
}

// ReadSigned reads the body of a request the SDK sent a fake: a POST signed
// with SigV4 whose headers have the values in want, and that valid (the
// fake's own checks) accepts. Otherwise it fails the test, answers 400 and
// returns false.
func ReadSigned(t testing.TB, w http.ResponseWriter, r *http.Request, want map[string]string, valid bool) ([]byte, bool) {
	for k, v := range want {
		valid = valid && r.Header.Get(k) == v
	}
	if r.Method != http.MethodPost || !valid || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		t.Errorf("unexpected request: %s %s headers %v", r.Method, r.URL, r.Header)
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
		return nil, false
	}
	return body, true
}

// Package sigv4http signs the platform's HTTP API requests with SigV4 for
// API Gateway's IAM authorization: the authorize hook of the APIs' clients
// (shared/decisions, shared/predict) when the CLI talks to a stack.
package sigv4http

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service is the signing name of API Gateway's invoke endpoints.
const Service = "execute-api"

// PayloadHeader carries the hex SHA-256 of the body, which the signature
// covers: API Gateway checks the body against it.
const PayloadHeader = "X-Amz-Content-Sha256"

// Authorizer returns a hook that signs each request for service in region
// with credentials retrieved from creds at that moment (the provider caches
// and refreshes them: a role's session outlives no command), at now() (nil:
// time.Now). The body is read through GetBody, so it is still there to send.
func Authorizer(creds aws.CredentialsProvider, region string, now func() time.Time) func(*http.Request) error {
	if now == nil {
		now = time.Now
	}
	signer := v4.NewSigner()
	return func(r *http.Request) error {
		if creds == nil {
			return errors.New("sign the request: no AWS credentials")
		}
		sum, err := bodySHA256(r)
		if err != nil {
			return err
		}
		c, err := creds.Retrieve(r.Context())
		if err != nil {
			return fmt.Errorf("AWS credentials: %w", err)
		}
		r.Header.Set(PayloadHeader, sum)
		if err := signer.SignHTTP(r.Context(), c, r, sum, Service, region, now()); err != nil {
			return fmt.Errorf("sign the request: %w", err)
		}
		return nil
	}
}

// bodySHA256 is the hex SHA-256 of r's body, read from a copy (GetBody) so
// that the body itself stays unread.
func bodySHA256(r *http.Request) (string, error) {
	h := sha256.New()
	if r.Body != nil && r.Body != http.NoBody {
		if r.GetBody == nil {
			return "", errors.New("sign the request: its body cannot be read twice (no GetBody)")
		}
		b, err := r.GetBody()
		if err != nil {
			return "", fmt.Errorf("sign the request: read the body: %w", err)
		}
		defer b.Close()
		if _, err := io.Copy(h, b); err != nil {
			return "", fmt.Errorf("sign the request: read the body: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

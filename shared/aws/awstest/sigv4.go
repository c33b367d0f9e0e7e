package awstest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4MaxSkew is how far a signature's time may be from the verifier's
// clock, as AWS allows.
const SigV4MaxSkew = 5 * time.Minute

// SigV4Verifier stands in for API Gateway's IAM authorization in front of
// next: it recomputes each request's SigV4 signature with creds for service
// in region (the SDK's signer over the request's method, path, query, host
// and signed headers, at its X-Amz-Date) and answers 403 with API Gateway's
// {"message": ...} to a request that is unsigned, signed by another key or
// secret, for another scope, older or newer than SigV4MaxSkew, or whose body
// is not the one its X-Amz-Content-Sha256 names (or, without that header,
// whose signature does not cover its body). Signed requests go on to
// next, their body intact.
func SigV4Verifier(creds aws.Credentials, region, service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			forbid(w, "read the body: "+err.Error())
			return
		}
		if msg := verifySigV4(r, body, creds, region, service); msg != "" {
			forbid(w, msg)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func forbid(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// verifySigV4 is why r is refused, or "" when its signature is valid.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials, region, service string) string {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "Missing Authentication Token"
	}
	var credential, signedHeaders string
	for _, part := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] != creds.AccessKeyID || scope[2] != region || scope[3] != service || scope[4] != "aws4_request" {
		return "The security token included in the request is invalid (credential scope " + credential + ")"
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header"
	}
	if d := time.Since(at); d > SigV4MaxSkew || d < -SigV4MaxSkew {
		return "Signature expired: " + at.Format(time.RFC3339) + " is more than " + SigV4MaxSkew.String() + " from now"
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	// The header is optional for execute-api (curl's --aws-sigv4 sends none):
	// the signature covers the body's hash either way.
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return "The request's X-Amz-Content-Sha256 is not the SHA-256 of its body"
	}
	// The request as the client signed it: the same method, path, query and
	// host, and only the headers it signed.
	clone, err := http.NewRequest(r.Method, "https://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return "bad request: " + err.Error()
	}
	clone.Host = r.Host
	for _, h := range strings.Split(signedHeaders, ";") {
		switch h {
		case "host":
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			clone.ContentLength = n
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, clone, payload, service, region, at); err != nil {
		return "sign: " + err.Error()
	}
	if clone.Header.Get("Authorization") != auth {
		return "The request signature we calculated does not match the signature you provided"
	}
	return ""
}

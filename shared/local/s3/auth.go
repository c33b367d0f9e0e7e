package s3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
	maxPresignedTTL = 7 * 24 * time.Hour
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	payloadUnsigned               = "UNSIGNED-PAYLOAD"
	payloadStreamingUnsignedTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	payloadStreamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	payloadStreamingSignedTrail   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)

// signature is what a verified request carries forward: aws-chunked bodies chain each
// chunk's signature from the request's, under the same key and scope.
type signature struct {
	accessKeyID string
	amzDate     string
	scope       string
	key         []byte
	seed        string
	payloadHash string // x-amz-content-sha256, or UNSIGNED-PAYLOAD for presigned URLs
}

type sigInput struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
	amzDate       string
	payloadHash   string
	presigned     bool
}

// authenticate checks a request's SigV4 signature (header or presigned URL) against the
// one configured key pair. Nothing is served anonymously: the platform's state lives here.
func (s *Server) authenticate(r *http.Request, now time.Time) (*signature, error) {
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	hasQuery := q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" || q.Get("X-Amz-Credential") != ""
	switch {
	case authz != "" && hasQuery:
		return nil, errInvalidArgument("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case authz != "":
		in, err := parseAuthorizationHeader(r, authz)
		if err != nil {
			return nil, err
		}
		return s.verify(r, in, now)
	case hasQuery:
		in, err := parsePresigned(q, now)
		if err != nil {
			return nil, err
		}
		return s.verify(r, in, now)
	default:
		return nil, errAccessDenied("Access Denied")
	}
}

func parseAuthorizationHeader(r *http.Request, authz string) (*sigInput, error) {
	malformed := func(msg string) error {
		return newError(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; %s", msg)
	}
	alg, rest, ok := strings.Cut(authz, " ")
	if !ok || alg != sigAlgorithm {
		return nil, newError(http.StatusBadRequest, "InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, malformed("the field " + strconv.Quote(part) + " is not key=value")
		}
		fields[k] = v
	}
	in := &sigInput{signature: fields["Signature"]}
	if err := in.parseCredential(fields["Credential"]); err != nil {
		return nil, malformed(err.Error())
	}
	if fields["SignedHeaders"] == "" || in.signature == "" {
		return nil, malformed("SignedHeaders and Signature are required")
	}
	in.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	in.amzDate = r.Header.Get("X-Amz-Date")
	if in.amzDate == "" {
		// SigV4 allows the Date header instead; we then sign with its value in ISO form.
		if d, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			in.amzDate = d.UTC().Format(amzDateLayout)
		}
	}
	in.payloadHash = r.Header.Get("X-Amz-Content-Sha256")
	if in.payloadHash == "" {
		return nil, newError(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	}
	return in, nil
}

func parsePresigned(q url.Values, now time.Time) (*sigInput, error) {
	if alg := q.Get("X-Amz-Algorithm"); alg != sigAlgorithm {
		return nil, errInvalidArgument("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	in := &sigInput{presigned: true, signature: q.Get("X-Amz-Signature"), amzDate: q.Get("X-Amz-Date")}
	if err := in.parseCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, errAccessDenied("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	if in.signature == "" || q.Get("X-Amz-SignedHeaders") == "" || in.amzDate == "" {
		return nil, errAccessDenied("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	in.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 0 {
		return nil, errAccessDenied("X-Amz-Expires should be a number")
	}
	if time.Duration(expires)*time.Second > maxPresignedTTL {
		return nil, errAccessDenied("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	signed, err := time.Parse(amzDateLayout, in.amzDate)
	if err != nil {
		return nil, errAccessDenied("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if now.After(signed.Add(time.Duration(expires) * time.Second)) {
		return nil, errAccessDenied("Request has expired")
	}
	in.payloadHash = q.Get("X-Amz-Content-Sha256")
	if in.payloadHash == "" {
		in.payloadHash = payloadUnsigned
	}
	return in, nil
}

func (in *sigInput) parseCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return errInvalidArgument("the Credential %q must be AKID/yyyymmdd/region/service/aws4_request", cred)
	}
	in.accessKeyID, in.date, in.region, in.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (s *Server) verify(r *http.Request, in *sigInput, now time.Time) (*signature, error) {
	if in.accessKeyID != s.cfg.AccessKeyID {
		e := newError(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		e.AccessKeyID = in.accessKeyID
		return nil, e
	}
	t, err := time.Parse(amzDateLayout, in.amzDate)
	if err != nil {
		return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
	}
	if !in.presigned {
		if skew := now.Sub(t); skew > maxClockSkew || skew < -maxClockSkew {
			return nil, newError(http.StatusForbidden, "RequestTimeTooSkewed",
				"The difference between the request time (%s) and the current time (%s) is too large.", t.Format(amzDateLayout), now.UTC().Format(amzDateLayout))
		}
	} else if t.Sub(now) > maxClockSkew {
		return nil, errAccessDenied("Request is not valid yet")
	}
	if in.region != s.cfg.Region {
		return nil, newError(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region '%s' is wrong; expecting '%s'", in.region, s.cfg.Region)
	}
	if in.service != "s3" || in.date != t.Format("20060102") {
		return nil, s.mismatch(in, "", "")
	}
	if !slices.Contains(in.signedHeaders, "host") {
		return nil, errAccessDenied("Host header is required in signed headers")
	}

	scope := strings.Join([]string{in.date, in.region, in.service, "aws4_request"}, "/")
	key := signingKey(s.cfg.SecretAccessKey, in.date, in.region, in.service)
	headers := canonicalHeaders(r, in.signedHeaders)
	query := canonicalQuery(r.URL.RawQuery, in.presigned)
	// S3 signs the path encoded once. Clients agree on what that means for every character
	// we have seen, but to be lenient with one that encodes less (or more) we also accept the
	// path exactly as it came over the wire.
	paths := []string{encodePath(r.URL.Path)}
	if raw := r.URL.EscapedPath(); raw != paths[0] {
		paths = append(paths, raw)
	}
	var firstCR, firstSTS string
	for _, p := range paths {
		creq := strings.Join([]string{r.Method, p, query, headers, strings.Join(in.signedHeaders, ";"), in.payloadHash}, "\n")
		sts := strings.Join([]string{sigAlgorithm, in.amzDate, scope, hexSHA256([]byte(creq))}, "\n")
		want := hex.EncodeToString(hmacSHA256(key, sts))
		if hmac.Equal([]byte(want), []byte(strings.ToLower(in.signature))) {
			return &signature{accessKeyID: in.accessKeyID, amzDate: in.amzDate, scope: scope, key: key, seed: want, payloadHash: in.payloadHash}, nil
		}
		if firstCR == "" {
			firstCR, firstSTS = creq, sts
		}
	}
	return nil, s.mismatch(in, firstCR, firstSTS)
}

func (s *Server) mismatch(in *sigInput, creq, sts string) *apiError {
	e := newError(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	e.AccessKeyID, e.CanonicalReq, e.StringToSign, e.SignatureGiven = in.accessKeyID, creq, sts, in.signature
	return e
}

func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = append([]string(nil), r.Header.Values("Content-Length")...)
			if len(values) == 0 && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			// net/http moves this header out of the map.
			values = append([]string(nil), r.TransferEncoding...)
		default:
			values = append([]string(nil), r.Header.Values(name)...)
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalQuery sorts the parameters as sent, re-encoded strictly; a presigned URL's
// signature cannot sign itself, so it is left out.
func canonicalQuery(raw string, presigned bool) string {
	type pair struct{ k, v string }
	var pairs []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// encodePath is S3's canonical URI: the decoded path, every byte but the unreserved ones
// and '/' percent-encoded once (S3, unlike other services, does not encode twice).
func encodePath(p string) string {
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

func uriEncode(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package s3

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestAuthFailures(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	ctx := context.Background()
	in := &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")}
	_, err := sdkClient(s.URL(), testKeyID, "wrong").PutObject(ctx, in)
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = sdkClient(s.URL(), "AKIAUNKNOWN", testSecret).ListBuckets(ctx, &awss3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")

	for _, path := range []string{"/", "/" + testBucket, "/" + testBucket + "/k"} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
			t.Fatalf("anonymous %s: %d %s", path, resp.StatusCode, body)
		}
	}

	// A request signed 20 minutes ago.
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/"+testBucket, nil)
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", "us-east-1", time.Now().Add(-20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "RequestTimeTooSkewed") {
		t.Fatalf("skewed: %d %s", resp.StatusCode, body)
	}

	// A body that does not match its signed x-amz-content-sha256.
	req, _ = http.NewRequest(http.MethodPut, s.URL()+"/"+testBucket+"/k", strings.NewReader("tampered"))
	req.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte("original")))
	_ = signer.SignHTTP(ctx, creds, req, hexSHA256([]byte("original")), "s3", "us-east-1", time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "XAmzContentSHA256Mismatch") {
		t.Fatalf("sha mismatch: %d %s", resp.StatusCode, body)
	}
	if _, err := sdkClient(s.URL(), testKeyID, testSecret).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")}); err == nil {
		t.Fatal("a rejected body must not be committed")
	}
}

func TestPresignedGet(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("site/a b.html"), Body: strings.NewReader("<p>hi</p>")}); err != nil {
		t.Fatal(err)
	}
	pre, err := awss3.NewPresignClient(c).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("site/a b.html")},
		awss3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "<p>hi</p>" {
		t.Fatalf("presigned: %d %s", resp.StatusCode, body)
	}
	for _, tampered := range []string{
		strings.Replace(pre.URL, "a%20b", "a%20c", 1),
		strings.Replace(pre.URL, "X-Amz-Expires=60", "X-Amz-Expires=600", 1),
	} {
		resp, err := http.Get(tampered)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "SignatureDoesNotMatch") {
			t.Fatalf("tampered %s: %d %s", tampered, resp.StatusCode, body)
		}
	}
}

// Over TLS the SDK streams aws-chunked bodies with a trailing CRC32 (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
func TestChunkedTrailerOverTLS(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	ts := httptest.NewTLSServer(s.Handler())
	defer ts.Close()
	c := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, HTTPClient: ts.Client(),
		Credentials:                sdkClient("", testKeyID, testSecret).Options().Credentials,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported})
	ctx := context.Background()
	data := strings.Repeat("0123456789", 20000)
	// An io.Reader that is not seekable forces the streaming path.
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("chunked"),
		Body: io.NopCloser(strings.NewReader(data)), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("chunked")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	if string(got) != data {
		t.Fatalf("chunked round trip: %d bytes", len(got))
	}
	head, _ := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("chunked")})
	if aws.ToString(head.ContentEncoding) != "" {
		t.Fatalf("aws-chunked must not be stored as the object's encoding: %q", aws.ToString(head.ContentEncoding))
	}
}

// The worked example of STREAMING-AWS4-HMAC-SHA256-PAYLOAD in AWS's SigV4 documentation:
// 66560 bytes of 'a' in chunks of 64 KiB, 1 KiB and 0.
func TestSignedChunksAWSExample(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	sig := &signature{amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request",
		key: signingKey(secret, "20130524", "us-east-1", "s3"), seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
	chunks := []struct {
		n   int
		sig string
	}{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	}
	build := func(tamper bool) string {
		var b strings.Builder
		for _, c := range chunks {
			b.WriteString(strconv.FormatInt(int64(c.n), 16) + ";chunk-signature=" + c.sig + "\r\n")
			data := strings.Repeat("a", c.n)
			if tamper && c.n == 1024 {
				data = "b" + data[1:]
			}
			b.WriteString(data + "\r\n")
		}
		return b.String()
	}
	for _, tamper := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodPut, "/examplebucket/chunkObject.txt", strings.NewReader(build(tamper)))
		req.Header.Set("X-Amz-Decoded-Content-Length", "66560")
		sig.payloadHash = payloadStreamingSigned
		p, err := newPayloadReader(req, sig)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p)
		if tamper {
			if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
				t.Fatalf("tampered chunk accepted: %v", err)
			}
			continue
		}
		if err != nil || len(got) != 66560 {
			t.Fatalf("decode: %d bytes, %v", len(got), err)
		}
	}
}

// The signature covers the path as sent: a request signed for /platform/x cannot be replayed
// as /platform/a/../x (nothing cleans the path before the check), and one signed for the
// literal path is served that literal key.
func TestSignatureCoversLiteralPath(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	for k, v := range map[string]string{"x": "plain", "a/../x": "literal"} {
		put(t, c, testBucket, k, v)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	send := func(signedPath, sentPath string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+signedPath, nil)
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		if sentPath != signedPath {
			req.URL.Path, req.URL.RawPath = sentPath, ""
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("/platform/x", "/platform/a/../x"); code != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Fatalf("signed for /platform/x, sent as /platform/a/../x: %d %s", code, body)
	}
	if code, body := send("/platform/a/../x", "/platform/a/../x"); code != http.StatusOK || body != "literal" {
		t.Fatalf("signed and sent as /platform/a/../x: %d %s", code, body)
	}
	if code, body := send("/platform/a/%2E%2E/x", "/platform/a/%2E%2E/x"); code != http.StatusOK || body != "literal" {
		t.Fatalf("signed and sent as /platform/a/%%2E%%2E/x: %d %s", code, body)
	}
}

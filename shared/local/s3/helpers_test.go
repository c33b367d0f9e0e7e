package s3

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/openmlops/mlops/shared/event"
)

const (
	testKeyID  = "AKIAMLOPSLOCAL000001"
	testSecret = "local-secret-key-for-tests"
	testBucket = "platform"
)

type recorder struct {
	mu     sync.Mutex
	events []event.Envelope
}

func (r *recorder) add(_ context.Context, ev event.Envelope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) all() []event.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Envelope(nil), r.events...)
}

func startServer(t testing.TB, dir string, rec *recorder) *Server {
	t.Helper()
	return startServerWith(t, dir, rec, testBucket, "uploads")
}

func startServerWith(t testing.TB, dir string, rec *recorder, buckets ...string) *Server {
	t.Helper()
	cfg := Config{Dir: dir, Addr: "127.0.0.1:0", AccessKeyID: testKeyID, SecretAccessKey: testSecret,
		Buckets: buckets}
	if rec != nil {
		cfg.OnObjectCreated = rec.add
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func sdkClient(url, keyID, secret string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		// What config.LoadDefaultConfig gives today: checksums whenever the operation supports them.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

// readBody reads a response's body whole and closes it.
func readBody(t testing.TB, body io.ReadCloser) []byte {
	t.Helper()
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errCode(err); got != code {
		t.Fatalf("want error %s, got %v", code, err)
	}
}

func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		sum := md5.Sum(p)
		h.Write(sum[:])
	}
	return fmt.Sprintf(`"%x-%d"`, h.Sum(nil), len(parts))
}

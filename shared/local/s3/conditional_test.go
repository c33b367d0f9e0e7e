package s3

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestConditionalSemantics(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	b, k := aws.String(testBucket), aws.String("models/m/champion")

	_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("v1"), IfMatch: aws.String(`"abc"`)})
	wantCode(t, err, "NoSuchKey") // AWS: 404 for If-Match on a missing key
	first, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("v1"), IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("v2"), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("v2"), IfMatch: aws.String(`"0123"`)})
	wantCode(t, err, "PreconditionFailed")
	second, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("v2"), IfMatch: first.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 2 {
		t.Fatalf("rejected writes must raise no event: %d events", n)
	}

	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k, IfMatch: first.ETag})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: b, Key: k, IfMatch: first.ETag})
	if errCode(err) != "PreconditionFailed" && !strings.Contains(err.Error(), "412") {
		t.Fatalf("head if-match: %v", err)
	}
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k, IfNoneMatch: second.ETag})
	if err == nil || !strings.Contains(err.Error(), "304") {
		t.Fatalf("want 304, got %v", err)
	}
	got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k, IfMatch: second.ETag, IfNoneMatch: first.ETag})
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()

	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: k, IfMatch: first.ETag})
	wantCode(t, err, "PreconditionFailed")
	if _, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: k, IfMatch: second.ETag}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: k, IfMatch: second.ETag})
	wantCode(t, err, "NoSuchKey")
	if _, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: k}); err != nil {
		t.Fatalf("unconditional delete of a missing key is a no-op: %v", err)
	}
}

func TestConcurrentCreateOnce(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("runs/r1/claim"),
				Body: strings.NewReader("claim " + strconv.Itoa(i)), IfNoneMatch: aws.String("*")})
			code := "OK"
			if err != nil {
				code = errCode(err)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes["OK"] != 1 || codes["PreconditionFailed"] != 49 {
		t.Fatalf("outcomes: %v", codes)
	}
	if n := len(rec.all()); n != 1 {
		t.Fatalf("want exactly one event, got %d", n)
	}
}

func TestConcurrentCompareAndSwap(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	b, k := aws.String(testBucket), aws.String("counter")
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("0")}); err != nil {
		t.Fatal(err)
	}
	const workers = 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k})
				if err != nil {
					errs <- err
					return
				}
				raw, _ := io.ReadAll(get.Body)
				get.Body.Close()
				n, _ := strconv.Atoi(string(raw))
				_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader(strconv.Itoa(n + 1)), IfMatch: get.ETag})
				if err == nil {
					return
				}
				if errCode(err) != "PreconditionFailed" {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(get.Body)
	if string(raw) != strconv.Itoa(workers) {
		t.Fatalf("lost update: counter = %s, want %d", raw, workers)
	}
}

package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	data := make([]byte, 100<<10)
	_, _ = rand.Read(data)
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("predictions/m/dt=2024-01-01/a.jsonl.gz"),
		Body: bytes.NewReader(data), ContentType: aws.String("application/x-ndjson"), ContentEncoding: aws.String("gzip"), Metadata: map[string]string{"rows": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	mp := multipartUpload(t, c, "big", bytes.Repeat([]byte{1}, minPartSize), []byte{2, 3})
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Close(closeCtx); err != nil {
		t.Fatal(err)
	}

	s2 := startServer(t, dir, nil)
	c2 := sdkClient(s2.URL(), testKeyID, testSecret)
	get, err := c2.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("predictions/m/dt=2024-01-01/a.jsonl.gz")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	if !bytes.Equal(got, data) || *get.ETag != *put.ETag || *get.ContentType != "application/x-ndjson" ||
		aws.ToString(get.ContentEncoding) != "gzip" || get.Metadata["rows"] != "3" {
		t.Fatalf("after restart: %d bytes etag=%s ct=%s ce=%s meta=%v", len(got), *get.ETag, *get.ContentType, aws.ToString(get.ContentEncoding), get.Metadata)
	}
	head, err := c2.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("big")})
	if err != nil || *head.ETag != mp {
		t.Fatalf("multipart etag after restart: %v %s want %s", err, aws.ToString(head.ETag), mp)
	}
}

func multipartUpload(t *testing.T, c *awss3.Client, key string, parts ...[]byte) string {
	t.Helper()
	ctx := context.Background()
	create, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	comp, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	if want := multipartETag(parts...); *comp.ETag != want {
		t.Fatalf("etag %s want %s", *comp.ETag, want)
	}
	return *comp.ETag
}

// Completing a 64 MiB upload streams the parts from disk: it allocates far less than the object.
func TestCompleteStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB upload")
	}
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	part := make([]byte, 16<<20)
	_, _ = rand.Read(part)
	create, _ := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("huge")})
	var done []types.CompletedPart
	for i := 1; i <= 4; i++ {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("huge"), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i)), Body: bytes.NewReader(part)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i))})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("huge"),
		UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("completing 64 MiB allocated %d MiB", alloc>>20)
	}
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("huge")})
	if err != nil || *head.ContentLength != 64<<20 {
		t.Fatalf("head: %v", err)
	}
}

package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

func TestPersistsAcrossRestart(t *testing.T) {
	s, c, dir := serveTemp(t)
	ctx := context.Background()
	data := make([]byte, 100<<10)
	_, _ = rand.Read(data)
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("predictions/m/dt=2024-01-01/a.jsonl.gz"),
		Body: bytes.NewReader(data), ContentType: aws.String("application/x-ndjson"), ContentEncoding: aws.String("gzip"), Metadata: map[string]string{"rows": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	mp := multipartUpload(t, c, "big", bytes.Repeat([]byte{1}, minPartSize), []byte{2, 3})
	c2 := restart(t, s, dir)
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

// restart closes s and serves dir again, and returns a client of the new server.
func restart(t *testing.T, s *Server, dir string) *awss3.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, dir, nil)
	return sdkClient(s2.URL(), testKeyID, testSecret)
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

// Keys stored literally (the encoded store) survive a restart like the others.
func TestOddKeysPersistAcrossRestart(t *testing.T) {
	s, c, dir := serveTemp(t)
	ctx := context.Background()
	for _, k := range oddKeys {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader("v:" + k),
			ContentType: aws.String("text/odd"), Metadata: map[string]string{"rows": "3"}}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	mp := multipartUpload(t, c, "../big/", bytes.Repeat([]byte{1}, minPartSize), []byte{2, 3})
	c2 := restart(t, s, dir)
	for _, k := range oddKeys {
		get, err := c2.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %q after restart: %v", k, err)
		}
		got, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if string(got) != "v:"+k || aws.ToString(get.ContentType) != "text/odd" || get.Metadata["rows"] != "3" {
			t.Fatalf("%q after restart: %q ct=%s meta=%v", k, got, aws.ToString(get.ContentType), get.Metadata)
		}
	}
	head, err := c2.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("../big/")})
	if err != nil || *head.ETag != mp {
		t.Fatalf("multipart etag after restart: %v %s want %s", err, aws.ToString(head.ETag), mp)
	}
	want := append(slices.Clone(oddKeys), "../big/")
	slices.Sort(want)
	if keys, _ := listAll(t, c2, testBucket, "", "", 1000); !slices.Equal(keys, want) {
		t.Fatalf("after restart lists %q, want %q", keys, want)
	}
}

// A data directory written before keys were encoded (s3afero's layout alone, as earlier
// versions of mlops up left it) is served as it was.
func TestReadsEarlierLayout(t *testing.T) {
	dir := t.TempDir()
	old, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	keys := []string{"predictions/m/dt=2024-01-01/a.jsonl.gz", "models/m/v1/model.json", "top"}
	for _, k := range keys {
		if _, err := old.PutObject(testBucket, k, map[string]string{"Content-Type": "text/plain"}, strings.NewReader("old "+k), int64(len("old "+k)), nil); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, dir, nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	for _, k := range keys {
		if got := string(getBody(t, c, testBucket, k)); got != "old "+k {
			t.Fatalf("%q: %q", k, got)
		}
	}
	slices.Sort(keys)
	if got, _ := listAll(t, c, testBucket, "", "", 1000); !slices.Equal(got, keys) {
		t.Fatalf("lists %q", got)
	}
	// Written again, an old key stays where it was.
	if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("top"), Body: strings.NewReader("new")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "buckets", testBucket, "top")); err != nil || string(b) != "new" {
		t.Fatalf("buckets/%s/top: %q %v", testBucket, b, err)
	}
}

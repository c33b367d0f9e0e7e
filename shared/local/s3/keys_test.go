package s3

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// oddKeys are valid S3 keys that are no clean relative path, or collide as paths.
var oddKeys = []string{
	"../escape.txt",
	"a/../../escape.txt",
	"../platform/x",
	".", "..", "./a", "a/.", "a/./b",
	"a//b", "dir/", "/lead", "//",
	"100%", "%2e%2e/x", `back\slash`, `..\..\x`,
	"ctl\x01\x1f\x7f", "tab\tnew\nline",
	strings.Repeat("s", 300),
	"long/" + strings.Repeat("é", 500),
	strings.Repeat("k", maxKeyLength),
	"a", "a/b", "a/b/c", "a-c", "a0",
	"spaces and + and ? and # and &",
	"ü/ñ/日本",
}

// serveTemp serves a new data directory, and returns the server, a client of it, and the directory.
func serveTemp(t *testing.T) (*Server, *awss3.Client, string) {
	t.Helper()
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	return s, sdkClient(s.URL(), testKeyID, testSecret), dir
}

func put(t *testing.T, c *awss3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("put %s/%q: %v", bucket, key, err)
	}
}

func getBody(t *testing.T, c *awss3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%q: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

// listAll lists with encoding-type=url, page by page, and decodes the keys.
func listAll(t *testing.T, c *awss3.Client, bucket, prefix, delim string, pageSize int32) (keys, prefixes []string) {
	t.Helper()
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl, MaxKeys: aws.Int32(pageSize)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delim != "" {
		in.Delimiter = aws.String(delim)
	}
	dec := func(s string) string {
		d, err := url.PathUnescape(s)
		if err != nil {
			t.Fatalf("undecodable key %q: %v", s, err)
		}
		return d
	}
	for {
		out, err := c.ListObjectsV2(context.Background(), in)
		if err != nil {
			t.Fatalf("list %s prefix %q delimiter %q: %v", bucket, prefix, delim, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, dec(*o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, dec(*p.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys, prefixes
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// wantList is S3's answer for a listing of keys.
func wantList(all []string, prefix, delim string) (keys, prefixes []string) {
	for _, k := range all {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				if p := k[:len(prefix)+i+len(delim)]; !slices.Contains(prefixes, p) {
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(prefixes)
	return keys, prefixes
}

// onlyBucketDirs fails if anything lies under dir outside the places of buckets.
func onlyBucketDirs(t *testing.T, dir string, buckets ...string) {
	t.Helper()
	allowed := map[string]bool{tmpDirName: true, multipartDir: true}
	for _, top := range []string{"buckets", "metadata", encodedDir} {
		allowed[top] = true
		for _, b := range buckets {
			allowed[filepath.Join(top, b)] = true
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parent := filepath.Dir(rel)
		switch {
		case allowed[rel] && d.IsDir():
			if parent != "." && !allowed[parent] {
				t.Errorf("unexpected %s", rel)
			}
			return nil
		case allowed[rel]:
			t.Errorf("%s is a file", rel)
		case parent == "." || (filepath.Dir(parent) == "." && parent != tmpDirName && parent != multipartDir):
			t.Errorf("%s lies outside every bucket", rel)
		}
		return nil
	})
}

func TestOddKeys(t *testing.T) {
	_, c, dir := serveTemp(t)
	ctx := context.Background()
	body := func(k string) []byte { return []byte("object " + k) }

	put(t, c, testBucket, "x", "platform's x")
	for _, k := range oddKeys {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k), Body: bytes.NewReader(body(k)),
			Metadata: map[string]string{"k": "v"}}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	onlyBucketDirs(t, dir, testBucket, "uploads")
	for _, k := range oddKeys {
		if got := getBody(t, c, "uploads", k); !bytes.Equal(got, body(k)) {
			t.Errorf("get %q: %q", k, got)
		}
		head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k)})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body(k))) || head.Metadata["k"] != "v" {
			t.Errorf("head %q: %v %+v", k, err, head)
		}
		rng, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k), Range: aws.String("bytes=2-5")})
		if err != nil {
			t.Fatalf("range %q: %v", k, err)
		}
		b, _ := io.ReadAll(rng.Body)
		rng.Body.Close()
		if string(b) != "ject" {
			t.Errorf("range of %q: %q", k, b)
		}
	}
	if got := string(getBody(t, c, testBucket, "x")); got != "platform's x" {
		t.Fatalf("another bucket's object changed: %q", got)
	}
	if keys, _ := listAll(t, c, testBucket, "", "", 1000); !slices.Equal(keys, []string{"x"}) {
		t.Fatalf("platform bucket lists %q", keys)
	}

	for _, q := range []struct {
		prefix, delim string
		page          int32
	}{{"", "", 1000}, {"", "/", 1000}, {"a", "/", 1000}, {"a/", "/", 1000}, {"..", "/", 1000}, {"/", "/", 1000},
		{"", "/", 3}, {"", "", 2}, {"a/", "", 1}, {"dir/", "/", 1000}, {"", ".", 4}} {
		wk, wp := wantList(oddKeys, q.prefix, q.delim)
		gk, gp := listAll(t, c, "uploads", q.prefix, q.delim, q.page)
		if !slices.Equal(gk, wk) || !slices.Equal(gp, wp) {
			t.Errorf("list prefix %q delimiter %q page %d:\n got %q %q\nwant %q %q", q.prefix, q.delim, q.page, gk, gp, wk, wp)
		}
	}

	// Copy every odd key to another odd key, across buckets.
	for _, k := range oddKeys[:8] {
		dst := "../uploads/" + k
		if _, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String(dst),
			CopySource: aws.String("uploads/" + url.PathEscape(k))}); err != nil {
			t.Fatalf("copy %q: %v", k, err)
		}
		if got := getBody(t, c, testBucket, dst); !bytes.Equal(got, body(k)) {
			t.Errorf("copy of %q: %q", k, got)
		}
	}

	// Deleting "a" while "a/b" exists, then the rest, one by one and in a batch.
	var batch []types.ObjectIdentifier
	for i, k := range oddKeys {
		// DeleteObjects' XML cannot carry control characters: S3 says to delete those keys one by one.
		if i%2 == 0 && !strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			batch = append(batch, types.ObjectIdentifier{Key: aws.String(k)})
			continue
		}
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k)}); err != nil {
			t.Fatalf("delete %q: %v", k, err)
		}
		if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String(k)}); errCode(err) != "NotFound" {
			t.Fatalf("head after delete %q: %v", k, err)
		}
	}
	out, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("uploads"), Delete: &types.Delete{Objects: batch}})
	if err != nil || len(out.Errors) != 0 || len(out.Deleted) != len(batch) {
		t.Fatalf("delete objects: %v %+v", err, out)
	}
	if keys, prefixes := listAll(t, c, "uploads", "", "", 1000); len(keys)+len(prefixes) != 0 {
		t.Fatalf("left after deleting all: %q %q", keys, prefixes)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, encodedDir, "uploads")); len(entries) != 0 {
		t.Fatalf("%d entries left in the encoded store", len(entries))
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(testBucket)}); errCode(err) != "BucketNotEmpty" {
		t.Fatalf("deleting a bucket holding encoded keys: %v", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(strings.Repeat("k", maxKeyLength+1)), Body: strings.NewReader("x")})
	wantCode(t, err, "KeyTooLongError")
	for _, k := range []string{"\xff", "a/\xc3", "\xed\xa0\x80"} {
		_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader("x")})
		wantCode(t, err, "InvalidURI")
		_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
		wantCode(t, err, "InvalidURI")
		_, err = c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
		wantCode(t, err, "InvalidURI")
	}
	_, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(testBucket), EncodingType: "base64"})
	wantCode(t, err, "InvalidArgument")
}

func TestMultipartOddKey(t *testing.T) {
	_, c, dir := serveTemp(t)
	p1, p2 := bytes.Repeat([]byte{7}, minPartSize), []byte("tail")
	for _, k := range []string{"../uploads/mp", "mp//x/", strings.Repeat("m", 600)} {
		etag := multipartUpload(t, c, k, p1, p2)
		if got := getBody(t, c, testBucket, k); !bytes.Equal(got, append(append([]byte{}, p1...), p2...)) {
			t.Fatalf("%q: %d bytes back", k, len(got))
		}
		head, err := c.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
		if err != nil || *head.ETag != etag || etag != multipartETag(p1, p2) {
			t.Fatalf("%q: head %v %v, etag %s", k, err, head, etag)
		}
		if keys, _ := listAll(t, c, testBucket, k, "", 1000); !slices.Equal(keys, []string{k}) {
			t.Fatalf("%q lists as %q", k, keys)
		}
	}
	onlyBucketDirs(t, dir, testBucket, "uploads")
	if keys, _ := listAll(t, c, "uploads", "", "", 1000); len(keys) != 0 {
		t.Fatalf("uploads holds %q", keys)
	}
}

// A file nobody stored through S3 (no metadata beside it) is no object: listings leave it
// out instead of failing, and GET/HEAD answer NoSuchKey.
func TestStrayFiles(t *testing.T) {
	_, c, dir := serveTemp(t)
	ctx := context.Background()
	put(t, c, testBucket, "audit/real", "r")
	strays := map[string]string{
		"buckets/platform/audit/x":                     "the file the old layout let ../platform/audit/x write",
		"buckets/escape.txt":                           "the file the old layout let ../escape.txt write",
		"buckets/platform/stray.txt":                   "s",
		encodedDir + "/platform/zz.object":             "not hex",
		encodedDir + "/platform/6b.object":             "no trailer",
		encodedDir + "/platform/" + encodeKey("other"): "",
	}
	for p, content := range strays {
		full := filepath.Join(dir, filepath.FromSlash(p))
		_ = os.MkdirAll(filepath.Dir(full), 0o700)
		if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, delim := range []string{"", "/"} {
		keys, prefixes := listAll(t, c, testBucket, "", delim, 1000)
		if delim == "" && !slices.Equal(keys, []string{"audit/real"}) || delim == "/" && (len(keys) != 0 || !slices.Equal(prefixes, []string{"audit/"})) {
			t.Fatalf("delimiter %q: %q %q", delim, keys, prefixes)
		}
	}
	for _, k := range []string{"audit/x", "stray.txt", "k", "other"} {
		_, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
		wantCode(t, err, "NotFound")
	}
	buckets, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 2 {
		t.Fatalf("a file in buckets/ lists as a bucket: %v %+v", err, buckets)
	}
	_, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("escape.txt")})
	wantCode(t, err, "NoSuchBucket")
	// Writing over a stray file stores an object there.
	put(t, c, testBucket, "stray.txt", "now real")
	if got := string(getBody(t, c, testBucket, "stray.txt")); got != "now real" {
		t.Fatalf("got %q", got)
	}
}

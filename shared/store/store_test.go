package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const bucket = "platform"

// fixture is a real S3 implementation (gofakes3 over memory) behind an HTTP
// server, reached through the real SDK client, as in production.
type fixture struct {
	store  *Store
	client *s3.Client
	// requests counts requests by a short name: "PUT", "POST?uploads",
	// "PUT?partNumber", "POST?uploadId", "DELETE?uploadId", ...
	mu       sync.Mutex
	requests map[string]int
}

func (f *fixture) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[name]
}

// newFixture serves gofakes3 by default. With MLOPS_TEST_S3_ENDPOINT set (see
// scripts/test-minio.sh, `make test-minio`) it goes to that server instead (MinIO,
// which follows AWS's conditional-write semantics) through a counting proxy, with
// the "platform" bucket emptied first.
func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	f := &fixture{requests: map[string]int{}}
	var handler http.Handler
	cfg := testConfig()
	if ep := os.Getenv("MLOPS_TEST_S3_ENDPOINT"); ep != "" {
		target, err := url.Parse(ep)
		if err != nil {
			t.Fatal(err)
		}
		// The proxy keeps the client's Host header, which its SigV4 signature covers.
		// It reads each body whole before forwarding: a server that answers early
		// (412 before the body, as MinIO does) would otherwise reset the client's
		// connection through the proxy mid-write, which is the proxy's doing.
		proxy := httputil.NewSingleHostReverseProxy(target)
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			proxy.ServeHTTP(w, r)
		})
		cfg.Credentials = credentials.NewStaticCredentialsProvider(os.Getenv("MLOPS_TEST_S3_ACCESS_KEY"), os.Getenv("MLOPS_TEST_S3_SECRET_KEY"), "")
		emptyBucket(t, NewClient(cfg, ep, true))
	} else {
		backend := s3mem.New()
		if err := backend.CreateBucket(bucket); err != nil {
			t.Fatal(err)
		}
		handler = gofakes3.New(backend).Server()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Method
		q := r.URL.Query()
		for _, k := range []string{"uploads", "partNumber", "uploadId"} {
			if q.Has(k) {
				name += "?" + k
				break
			}
		}
		f.mu.Lock()
		f.requests[name]++
		f.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.client = NewClient(cfg, srv.URL, true)
	if opt.ConflictBackoff == 0 {
		opt.ConflictBackoff = time.Millisecond
	}
	f.store = New(f.client, opt)
	return f
}

// emptyBucket makes the shared bucket of an external server as new: created if
// missing, with no objects and no multipart uploads.
func emptyBucket(t *testing.T, c *s3.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if !errors.As(err, &owned) && !errors.As(err, &exists) {
			t.Fatalf("create bucket: %v", err)
		}
	}
	st := New(c, Options{})
	if err := st.List(ctx, bucket, "", func(o ObjectInfo) error { return st.Delete(ctx, bucket, o.Key, "") }); err != nil {
		t.Fatalf("empty bucket: %v", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list uploads: %v", err)
	}
	for _, u := range ups.Uploads {
		_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
	}
}

func testConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
}

func mustPut(t *testing.T, s *Store, key, body string) ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), bucket, key, []byte(body), PutOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

func TestPutGetHead(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	info, err := s.Put(ctx, bucket, "a/b.json", []byte(`{"x":1}`), PutOptions{
		ContentType: "application/json",
		Metadata:    map[string]string{"sha256": "abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag == "" || strings.Contains(info.ETag, `"`) {
		t.Fatalf("ETag %q: want non-empty and unquoted", info.ETag)
	}
	body, got, err := s.ReadAll(ctx, bucket, "a/b.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"x":1}` || got.ETag != info.ETag || got.Size != 7 {
		t.Fatalf("ReadAll = %q %+v", body, got)
	}
	if got.ContentType != "application/json" || got.Metadata["sha256"] != "abc" {
		t.Fatalf("headers lost: %+v", got)
	}
	head, err := s.Head(ctx, bucket, "a/b.json")
	if err != nil {
		t.Fatal(err)
	}
	if head.ETag != info.ETag || head.Size != 7 || head.LastModified.IsZero() {
		t.Fatalf("Head = %+v", head)
	}
	// Quoted and unquoted ETags are both accepted.
	for _, etag := range []string{info.ETag, `"` + info.ETag + `"`} {
		rc, _, err := s.Get(ctx, bucket, "a/b.json", GetOptions{IfMatch: etag})
		if err != nil {
			t.Fatalf("Get IfMatch %s: %v", etag, err)
		}
		rc.Close()
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	_, err := s.Head(ctx, bucket, "missing")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head missing: %v", err)
	}
	_, _, err = s.Get(ctx, bucket, "missing", GetOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	_, _, err = s.ReadAll(ctx, "nobucket", "k")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadAll missing bucket: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "NoSuchBucket" || e.Status != 404 {
		t.Fatalf("want *Error NoSuchBucket 404, got %#v", err)
	}
}

func TestErrorNamesBucketKeyCode(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	mustPut(t, s, "claims/run-1", "x")
	_, err := s.Create(ctx, bucket, "claims/run-1", []byte("y"), PutOptions{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"create", bucket + "/claims/run-1", "PreconditionFailed", "412"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if e.Op != "create" || e.Bucket != bucket || e.Key != "claims/run-1" || e.Status != 412 {
		t.Errorf("fields: %+v", e)
	}
}

func TestCreateOnce(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	if _, err := s.Create(ctx, bucket, "k", []byte("one"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, bucket, "k", []byte("two"), PutOptions{})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("second Create: %v, want ErrPrecondition", err)
	}
	body, _, err := s.ReadAll(ctx, bucket, "k")
	if err != nil || string(body) != "one" {
		t.Fatalf("body %q, %v: the second Create overwrote", body, err)
	}
}

func TestCreateOnceConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	const n = 50
	var wins, lost atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.Create(ctx, bucket, "claim", []byte(strconv.Itoa(i)), PutOptions{})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrPrecondition):
				lost.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if wins.Load() != 1 || lost.Load() != n-1 {
		t.Fatalf("wins %d, preconditions %d: want exactly one winner", wins.Load(), lost.Load())
	}
}

func TestSwap(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	v1 := mustPut(t, s, "champion", "v1")
	v2, err := s.Swap(ctx, bucket, "champion", v1.ETag, []byte("v2"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Stale etag: someone else moved the pointer.
	_, err = s.Swap(ctx, bucket, "champion", `"`+v1.ETag+`"`, []byte("v3"), PutOptions{})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("stale Swap: %v, want ErrPrecondition", err)
	}
	body, info, _ := s.ReadAll(ctx, bucket, "champion")
	if string(body) != "v2" || info.ETag != v2.ETag {
		t.Fatalf("after stale swap: %q %s", body, info.ETag)
	}
	// AWS answers 404 for If-Match on a missing key; gofakes3 answers 412.
	_, err = s.Swap(ctx, bucket, "missing", v1.ETag, []byte("x"), PutOptions{})
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrPrecondition) {
		t.Fatalf("Swap on missing: %v, want ErrNotFound", err)
	}
	_, err = s.Put(ctx, bucket, "missing", []byte("x"), PutOptions{IfMatch: v1.ETag})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Put IfMatch on missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Swap(ctx, bucket, "champion", "", nil, PutOptions{}); err == nil {
		t.Fatal("Swap with empty etag succeeded")
	}
}

// TestSwapConcurrentCounter: 20 writers increment one counter by CAS,
// re-reading on ErrPrecondition. Lost updates would leave it below 20.
func TestSwapConcurrentCounter(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	mustPut(t, s, "counter", "0")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			for attempt := 0; ; attempt++ {
				if attempt > 1000 {
					errs <- errors.New("too many CAS attempts")
					return
				}
				body, info, err := s.ReadAll(ctx, bucket, "counter")
				if err != nil {
					errs <- err
					return
				}
				v, err := strconv.Atoi(string(body))
				if err != nil {
					errs <- err
					return
				}
				_, err = s.Swap(ctx, bucket, "counter", info.ETag, []byte(strconv.Itoa(v+1)), PutOptions{})
				if errors.Is(err, ErrPrecondition) {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
					continue
				}
				if err != nil {
					errs <- err
				}
				return
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantCounter(t, s, n)
}

// wantCounter checks that the counter the concurrent-writer tests increment
// reached n: a lost update would leave it below.
func wantCounter(t *testing.T, s *Store, n int) {
	t.Helper()
	body, _, err := s.ReadAll(context.Background(), bucket, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != strconv.Itoa(n) {
		t.Fatalf("counter = %s, want %d", body, n)
	}
}

func TestGetIfMatchStale(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	v1 := mustPut(t, s, "k", "one")
	mustPut(t, s, "k", "two")
	_, _, err := s.Get(ctx, bucket, "k", GetOptions{IfMatch: v1.ETag})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("Get stale IfMatch: %v, want ErrPrecondition", err)
	}
}

func TestReadAllIfChanged(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	v1 := mustPut(t, s, "k", "one")
	if _, _, err := s.ReadAllIfChanged(ctx, bucket, "k", v1.ETag); !errors.Is(err, ErrNotModified) {
		t.Fatalf("unchanged: %v, want ErrNotModified", err)
	}
	v2 := mustPut(t, s, "k", "two")
	b, info, err := s.ReadAllIfChanged(ctx, bucket, "k", v1.ETag)
	if err != nil || string(b) != "two" || info.ETag != v2.ETag {
		t.Fatalf("changed: %q %+v %v, want \"two\" with ETag %s", b, info, err, v2.ETag)
	}
	if _, _, err := s.ReadAllIfChanged(ctx, bucket, "missing", v1.ETag); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
}

// patterned is a deterministic stream of n bytes that is not a multiple of
// the part size, read in odd-sized chunks like a network body.
type patterned struct{ n, off int }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(len(b), p.n-p.off, 100_003)]
	for i := range b {
		x := uint32(p.off + i)
		b[i] = byte(x*2654435761>>13) ^ byte(x>>20)
	}
	p.off += len(b)
	return len(b), nil
}

func TestUploadMultipartRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{PartSize: 5 << 20, Concurrency: 3})
	const size = 40<<20 + 12345
	want := sha256.New()
	if _, err := io.Copy(want, &patterned{n: size}); err != nil {
		t.Fatal(err)
	}
	info, err := f.store.Upload(ctx, bucket, "datasets/big", &patterned{n: size}, PutOptions{ContentType: "text/csv"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("Size %d, want %d", info.Size, size)
	}
	if got := f.count("POST?uploads"); got != 1 {
		t.Fatalf("CreateMultipartUpload calls: %d, want 1", got)
	}
	if got := f.count("PUT?partNumber"); got != 9 {
		t.Fatalf("UploadPart calls: %d, want 9", got)
	}
	if got := f.count("POST?uploadId"); got != 1 {
		t.Fatalf("CompleteMultipartUpload calls: %d, want 1", got)
	}
	head, err := f.store.Head(ctx, bucket, "datasets/big")
	if err != nil {
		t.Fatal(err)
	}
	if head.ETag != info.ETag {
		// gofakes3 deviation: CompleteMultipartUpload answers AWS's multipart
		// ETag (md5-of-part-md5s "-N") but the stored object reports the plain
		// MD5 of its bytes. AWS reports the multipart ETag on both.
		t.Logf("gofakes3: Complete ETag %s, object ETag %s", info.ETag, head.ETag)
	}
	rc, got, err := f.store.Get(ctx, bucket, "datasets/big", GetOptions{IfMatch: head.ETag})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("round trip: %d bytes, sha256 differs=%v", n, !bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
	if got.ETag != head.ETag || got.ContentType != "text/csv" {
		t.Fatalf("Get info %+v, upload info %+v", got, info)
	}
}

func TestUploadSmallIsOnePut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{PartSize: 5 << 20})
	for _, size := range []int{0, 1000, 5 << 20} {
		key := fmt.Sprintf("small/%d", size)
		info, err := f.store.Upload(ctx, bucket, key, &patterned{n: size}, PutOptions{IfNoneMatch: true})
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if info.Size != int64(size) {
			t.Fatalf("size %d: info.Size %d", size, info.Size)
		}
		_, err = f.store.Upload(ctx, bucket, key, &patterned{n: size}, PutOptions{IfNoneMatch: true})
		if !errors.Is(err, ErrPrecondition) {
			t.Fatalf("size %d: second Upload IfNoneMatch: %v", size, err)
		}
	}
	if got := f.count("POST?uploads"); got != 0 {
		t.Fatalf("CreateMultipartUpload calls: %d, want 0", got)
	}
}

func TestUploadMultipartConditions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{PartSize: 5 << 20})
	old := mustPut(t, f.store, "big", "old")
	_, err := f.store.Upload(ctx, bucket, "big", &patterned{n: 11 << 20}, PutOptions{IfNoneMatch: true})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("Upload IfNoneMatch on existing: %v", err)
	}
	_, err = f.store.Upload(ctx, bucket, "gone", &patterned{n: 11 << 20}, PutOptions{IfMatch: old.ETag})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Upload IfMatch on missing: %v", err)
	}
	if got := f.count("POST?uploads"); got != 0 {
		t.Fatalf("a refused upload still started %d multipart uploads", got)
	}
	info, err := f.store.Upload(ctx, bucket, "big", &patterned{n: 11 << 20}, PutOptions{IfMatch: old.ETag})
	if err != nil {
		t.Fatalf("Upload IfMatch current: %v", err)
	}
	if info.Size != 11<<20 {
		t.Fatalf("size %d", info.Size)
	}
}

// failingReader yields n good bytes, then an error.
type failingReader struct {
	patterned
	err error
}

func (r *failingReader) Read(b []byte) (int, error) {
	n, err := r.patterned.Read(b)
	if err == io.EOF {
		return 0, r.err
	}
	return n, err
}

func TestUploadFailureAborts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{PartSize: 5 << 20})
	boom := errors.New("connection reset by upstream")
	_, err := f.store.Upload(ctx, bucket, "half", &failingReader{patterned: patterned{n: 17 << 20}, err: boom}, PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("Upload error %v, want it to wrap the reader's", err)
	}
	if f.count("POST?uploads") != 1 || f.count("DELETE?uploadId") != 1 {
		t.Fatalf("create %d, abort %d: want one of each", f.count("POST?uploads"), f.count("DELETE?uploadId"))
	}
	assertNoUploads(t, f.client)
	if _, err := f.store.Head(ctx, bucket, "half"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-written object visible: %v", err)
	}
}

func TestUploadCancelledAborts(t *testing.T) {
	f := newFixture(t, Options{PartSize: 5 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{patterned: patterned{n: 30 << 20}, at: 12 << 20, cancel: cancel}
	_, err := f.store.Upload(ctx, bucket, "cancelled", r, PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Upload error %v, want context.Canceled", err)
	}
	assertNoUploads(t, f.client)
}

// cancelAfter cancels the upload's context once `at` bytes were read.
type cancelAfter struct {
	patterned
	at     int
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(b []byte) (int, error) {
	if r.off >= r.at {
		r.cancel()
	}
	return r.patterned.Read(b)
}

func assertNoUploads(t *testing.T, client *s3.Client) {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left dangling", len(out.Uploads))
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	const n = 1100 // > 1000, S3's page size, so the listing spans pages
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// Not mustPut: t.Fatal must not run outside the test's goroutine.
			if _, err := s.Put(ctx, bucket, fmt.Sprintf("logs/%05d", i), []byte("x"), PutOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mustPut(t, s, "other/1", "x")
	var keys []string
	err := s.List(ctx, bucket, "logs/", func(o ObjectInfo) error {
		if o.Size != 1 || o.ETag == "" {
			return fmt.Errorf("bad entry %+v", o)
		}
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("listed %d keys, want %d", len(keys), n)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("logs/%05d", i); k != want {
			t.Fatalf("keys[%d] = %s, want %s", i, k, want)
		}
	}
	stop := errors.New("stop")
	seen := 0
	err = s.List(ctx, bucket, "logs/", func(ObjectInfo) error {
		seen++
		if seen == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 3 {
		t.Fatalf("early stop: %v after %d", err, seen)
	}
	if err := s.List(ctx, "nobucket", "", func(ObjectInfo) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("List missing bucket: %v", err)
	}
}

func TestListDirs(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	for _, k := range []string{
		"runs/a/claim.json", "runs/a/bundle/model.json", "runs/b/claim.json", "runs/c", "runsx/d/e",
	} {
		mustPut(t, s, k, "x")
	}
	dirs, err := s.ListDirs(ctx, bucket, "runs/")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dirs, ","); got != "runs/a/,runs/b/" {
		t.Fatalf("ListDirs = %s", got)
	}
	dirs, err = s.ListDirs(ctx, bucket, "nothing/")
	if err != nil || len(dirs) != 0 {
		t.Fatalf("ListDirs empty = %v, %v", dirs, err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	v1 := mustPut(t, s, "k", "one")
	if err := s.Delete(ctx, bucket, "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, bucket, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, bucket, "k", ""); err != nil {
		t.Fatalf("unconditional delete of a missing key: %v", err)
	}
	if err := s.Delete(ctx, "nobucket", "k", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete in missing bucket: %v", err)
	}
	if err := s.Delete(ctx, bucket, "k", v1.ETag); !errors.Is(err, ErrNotFound) {
		t.Fatalf("conditional delete of a missing key: %v", err)
	}
	mustPut(t, s, "k", "two")
	if err := s.Delete(ctx, bucket, "k", v1.ETag); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("conditional delete, stale etag: %v", err)
	}
	if _, err := s.Head(ctx, bucket, "k"); err != nil {
		t.Fatalf("stale conditional delete removed the object: %v", err)
	}
	cur, _ := s.Head(ctx, bucket, "k")
	if err := s.Delete(ctx, bucket, "k", `"`+cur.ETag+`"`); err != nil {
		t.Fatalf("conditional delete, current etag: %v", err)
	}
	if _, err := s.Head(ctx, bucket, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after conditional delete: %v", err)
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	src := mustPut(t, s, "incoming/credit data+v1.csv", "a,b\n1,2\n")
	dst := "datasets/credit/objects/sha"
	info, err := s.Copy(ctx, CopySource{Bucket: bucket, Key: "incoming/credit data+v1.csv", IfMatch: src.ETag},
		bucket, dst, PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != src.ETag {
		t.Fatalf("copy ETag %s, source %s", info.ETag, src.ETag)
	}
	body, _, err := s.ReadAll(ctx, bucket, dst)
	if err != nil || string(body) != "a,b\n1,2\n" {
		t.Fatalf("copied body %q, %v", body, err)
	}
	// Create-once at the destination.
	_, err = s.Copy(ctx, CopySource{Bucket: bucket, Key: "incoming/credit data+v1.csv"}, bucket, dst, PutOptions{IfNoneMatch: true})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("second create-once copy: %v", err)
	}
	// Stale source.
	mustPut(t, s, "incoming/credit data+v1.csv", "changed")
	_, err = s.Copy(ctx, CopySource{Bucket: bucket, Key: "incoming/credit data+v1.csv", IfMatch: src.ETag}, bucket, "other", PutOptions{})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("copy of a changed source: %v", err)
	}
	_, err = s.Copy(ctx, CopySource{Bucket: bucket, Key: "nope"}, bucket, "other", PutOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("copy of a missing source: %v", err)
	}
}

func TestETagQuoting(t *testing.T) {
	for in, want := range map[string]string{`abc`: `"abc"`, `"abc"`: `"abc"`, `W/"abc"`: `"abc"`, ``: ``, `*`: `*`} {
		if got := quoteETag(in); got != want {
			t.Errorf("quoteETag(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{PartSize: 1}.withDefaults()
	if o.PartSize != 5<<20 || o.ConflictRetries != 5 || o.Concurrency != 2 {
		t.Fatalf("%+v", o)
	}
	if o := (Options{}).withDefaults(); o.PartSize != 16<<20 {
		t.Fatalf("default PartSize %d", o.PartSize)
	}
	if o := (Options{ConflictRetries: -1}).withDefaults(); o.ConflictRetries != 0 {
		t.Fatalf("negative retries: %d", o.ConflictRetries)
	}
}

package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// A GET that overlaps overwrites of its key gets one version whole, with that version's ETag:
// never a mix of two bodies, a truncated one, or one body with the other's ETag.
func TestOverwriteIsAtomicForReaders(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	b, k := aws.String(testBucket), aws.String("models/m/pointer")
	bodies := [][]byte{bytes.Repeat([]byte{'a'}, 64<<10), bytes.Repeat([]byte{'b'}, 100<<10)}
	etags := map[string]int{}
	for i, body := range bodies {
		sum := md5.Sum(body)
		etags[`"`+hex.EncodeToString(sum[:])+`"`] = i
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: bytes.NewReader(bodies[0])}); err != nil {
		t.Fatal(err)
	}

	const writes, readers = 200, 4
	var (
		done     atomic.Bool
		reads    atomic.Int64
		condOK   atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	// check reports whether a response is one of the two versions, whole, under its own ETag.
	check := func(what string, etag *string, raw []byte) {
		i, ok := etags[aws.ToString(etag)]
		switch {
		case !ok:
			fail("%s: unknown ETag %s for %d bytes", what, aws.ToString(etag), len(raw))
		case !bytes.Equal(raw, bodies[i]):
			fail("%s: ETag of body %d, but %d bytes that are not it (%q...)", what, i, len(raw), raw[:min(len(raw), 8)])
		}
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last *string // an ETag seen before, for If-Match reads
			for n := 0; !done.Load() || n < 5; n++ {
				in := &awss3.GetObjectInput{Bucket: b, Key: k}
				if last != nil && n%2 == 1 {
					in.IfMatch = last
				}
				get, err := c.GetObject(ctx, in)
				if in.IfMatch != nil && errCode(err) == "PreconditionFailed" {
					continue // overwritten since: fine
				}
				if err != nil {
					fail("get: %v", err)
					return
				}
				raw, err := io.ReadAll(get.Body)
				get.Body.Close()
				if err != nil {
					fail("reading body: %v", err)
					return
				}
				reads.Add(1)
				check("get", get.ETag, raw)
				if in.IfMatch != nil {
					condOK.Add(1)
					if aws.ToString(get.ETag) != aws.ToString(in.IfMatch) {
						fail("get If-Match %s served %s", *in.IfMatch, aws.ToString(get.ETag))
					}
				}
				last = get.ETag
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		body := bodies[i%2]
		put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: bytes.NewReader(body)})
		if err != nil {
			done.Store(true)
			wg.Wait()
			t.Fatalf("put %d: %v", i, err)
		}
		if etags[aws.ToString(put.ETag)] != i%2 {
			t.Errorf("put %d: ETag %s", i, aws.ToString(put.ETag))
		}
	}
	done.Store(true)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d writes, %d reads (%d with If-Match) checked", writes, reads.Load(), condOK.Load())
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(get.Body)
	get.Body.Close()
	check("final get", get.ETag, raw)
	if !bytes.Equal(raw, bodies[writes%2]) {
		t.Fatalf("final body is not the last one written")
	}
}

// A PUT whose body fails or comes short leaves the previous object, bytes and metadata, and
// nothing behind in the temporary directory.
func TestFailedWriteKeepsObject(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	b, k := aws.String(testBucket), aws.String("keep/me")
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("old body"), Metadata: map[string]string{"v": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]io.Reader{
		"read error": io.MultiReader(strings.NewReader("new"), iotest.ErrReader(errors.New("client went away"))),
		"short body": strings.NewReader("new"),
	} {
		if _, err := s.backend.PutObject(testBucket, "keep/me", map[string]string{"Content-Type": "text/plain"}, body, 100, nil); err == nil {
			t.Fatalf("%s: put succeeded", name)
		}
		get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if string(raw) != "old body" || *get.ETag != *put.ETag || get.Metadata["v"] != "1" {
			t.Fatalf("%s: object now %q etag=%s meta=%v", name, raw, *get.ETag, get.Metadata)
		}
	}
	if left, _ := os.ReadDir(s.tmpDir); len(left) != 0 {
		t.Fatalf("left in %s: %v", s.tmpDir, left)
	}
}

// Overwriting an object does not leave a file of its previous version open (gofakes3's
// MergeMetadata opens it and never closes it).
func TestOverwriteClosesFiles(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	put := func() {
		t.Helper()
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("fd"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	put()                                            // the client's connection is open from here on
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a leaked *os.File is only closed by its finalizer
	open := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	before := open()
	for i := 0; i < 50; i++ {
		put()
	}
	time.Sleep(10 * time.Millisecond)
	if after := open(); after > before+5 {
		t.Fatalf("%d files open after 50 overwrites, %d before", after, before)
	}
}

// Close does not wait for connections that never sent a request. HTTP clients leave some
// behind when they run requests concurrently, and http.Server.Shutdown waits 5 s for them.
func TestCloseIsPrompt(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.connMu.Lock()
		n := len(s.fresh)
		s.connMu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was not accepted")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

// A conditional GET whose object is replaced between getObject's check and gofakes3's read
// is answered for the version gofakes3 read.
func TestConditionalGetRechecksServedVersion(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	serve := func(cond http.Header) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/b/k", nil)
		rw := &etagRewriter{ResponseWriter: rec, requestID: "ID", s: s, r: r, checked: "old", cond: cond}
		// What gofakes3 writes for the version it read, "new":
		rw.Header().Set("ETag", `"new"`)
		rw.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		rw.Header().Set("X-Amz-Meta-Secret", "of the new version")
		if _, err := rw.Write([]byte("new body")); err != nil && !errors.Is(err, errResponseReplaced) {
			t.Fatal(err)
		}
		rw.fix(http.StatusOK)
		return rec
	}
	rec := serve(http.Header{"If-Match": {`"old"`}})
	if rec.Code != http.StatusPreconditionFailed || strings.Contains(rec.Body.String(), "new body") || rec.Header().Get("X-Amz-Meta-Secret") != "" {
		t.Fatalf("If-Match on a replaced version: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = serve(http.Header{"If-None-Match": {`"new"`}})
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != `"new"` {
		t.Fatalf("If-None-Match matching the new version: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = serve(http.Header{"If-None-Match": {`"old"`}})
	if rec.Code != http.StatusOK || rec.Body.String() != "new body" {
		t.Fatalf("If-None-Match of the old version: %d %q", rec.Code, rec.Body)
	}
}

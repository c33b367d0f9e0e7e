package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	s3srv "github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/store"
)

const (
	uploads  = "mlops-uploads"
	platform = "mlops-platform"
)

// env is an embedded S3 endpoint reached through the real SDK, with a publisher
// that records what ingest announced.
type env struct {
	t     testing.TB
	st    *store.Store
	pub   *recorder
	svc   *ingest.Service
	clock *clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	srv, err := s3srv.New(s3srv.Config{Dir: filepath.Join(dir, "s3"), Addr: "127.0.0.1:0", AccessKeyID: "AKTEST",
		SecretAccessKey: "secret-test-key", Buckets: []string{uploads, platform}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKTEST", "secret-test-key", "")}
	st := store.New(store.NewClient(cfg, srv.URL(), true), store.Options{PartSize: 5 << 20})
	e := &env{t: t, st: st, pub: &recorder{}, clock: &clock{now: time.Now().UTC()}}
	e.svc = e.service(st)
	return e
}

func (e *env) service(st ingest.Store) *ingest.Service {
	return ingest.New(st, e.pub, ingest.Config{UploadsBucket: uploads, PlatformBucket: platform,
		TempDir: e.t.TempDir(), Now: e.clock.Now})
}

// applyContract stores a contract the way `mlops contract apply` does.
func (e *env) applyContract(c *contract.Contract) string {
	e.t.Helper()
	h, _, err := ingest.ApplyContract(context.Background(), e.st, platform, c, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// upload puts body at key and returns the event ingest would receive.
func (e *env) upload(key string, body []byte) ingest.Upload {
	e.t.Helper()
	info, err := e.st.Put(context.Background(), uploads, key, body, store.PutOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ingest.Upload{Bucket: uploads, Key: key, ETag: info.ETag, Size: int64(len(body)), Requester: "tester",
		SourceIP: "127.0.0.1", EventTime: e.clock.Now()}
}

func (e *env) readJSON(bucket, key string, v any) {
	e.t.Helper()
	b, _, err := e.st.ReadAll(context.Background(), bucket, key)
	if err != nil {
		e.t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("decode %s/%s: %v", bucket, key, err)
	}
}

func (e *env) exists(bucket, key string) bool {
	e.t.Helper()
	_, err := e.st.Head(context.Background(), bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

func (e *env) keys(bucket, prefix string) []string {
	e.t.Helper()
	var ks []string
	if err := e.st.List(context.Background(), bucket, prefix, func(o store.ObjectInfo) error {
		ks = append(ks, o.Key)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return ks
}

func creditCSV(testing.TB) []byte { return credit.CSV() }

// recorder is an event.Publisher that keeps what it was given; fail makes the next
// n calls fail, as a throttled or unreachable bus would.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
	fail   int
}

func (r *recorder) Publish(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("publish: bus unavailable")
	}
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) of(detailType string) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, e := range r.events {
		if e.DetailType == detailType {
			out = append(out, e)
		}
	}
	return out
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// faultyStore fails the n-th write (counting from 1) and every write after it
// until healed: a process that crashes mid-way and never comes back.
type faultyStore struct {
	ingest.Store
	mu     sync.Mutex
	writes int
	failAt int
	failed bool
}

var errCrash = errors.New("injected crash")

func (f *faultyStore) tick(op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.failAt > 0 && f.writes >= f.failAt {
		f.failed = true
		return fmt.Errorf("%s %s: %w", op, key, errCrash)
	}
	return nil
}

func (f *faultyStore) Put(ctx context.Context, b, k string, body []byte, o store.PutOptions) (store.ObjectInfo, error) {
	if err := f.tick("put", k); err != nil {
		return store.ObjectInfo{}, err
	}
	return f.Store.Put(ctx, b, k, body, o)
}

func (f *faultyStore) Create(ctx context.Context, b, k string, body []byte, o store.PutOptions) (store.ObjectInfo, error) {
	if err := f.tick("create", k); err != nil {
		return store.ObjectInfo{}, err
	}
	return f.Store.Create(ctx, b, k, body, o)
}

func (f *faultyStore) Swap(ctx context.Context, b, k, etag string, body []byte, o store.PutOptions) (store.ObjectInfo, error) {
	if err := f.tick("swap", k); err != nil {
		return store.ObjectInfo{}, err
	}
	return f.Store.Swap(ctx, b, k, etag, body, o)
}

func (f *faultyStore) Copy(ctx context.Context, src store.CopySource, b, k string, o store.PutOptions) (store.ObjectInfo, error) {
	if err := f.tick("copy", k); err != nil {
		return store.ObjectInfo{}, err
	}
	return f.Store.Copy(ctx, src, b, k, o)
}

func (f *faultyStore) Delete(ctx context.Context, b, k, ifMatch string) error {
	if err := f.tick("delete", k); err != nil {
		return err
	}
	return f.Store.Delete(ctx, b, k, ifMatch)
}

func (f *faultyStore) Upload(ctx context.Context, b, k string, r io.Reader, o store.PutOptions) (store.ObjectInfo, error) {
	if err := f.tick("upload", k); err != nil {
		return store.ObjectInfo{}, err
	}
	return f.Store.Upload(ctx, b, k, r, o)
}

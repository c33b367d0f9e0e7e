// Package s3 is the embedded S3-compatible endpoint of local mode: gofakes3 over a
// directory, with SigV4 authentication, on-disk multipart uploads, AWS's conditional-write
// semantics, and EventBridge "Object Created" events for every committed write.
//
// On disk, under Config.Dir: buckets/<bucket>/<key> and metadata/<bucket>/ (s3afero's
// layout) for keys that are a clean relative path; encoded/<bucket>/<hex of the key>.object
// for every other key (keypath.go); .multipart/ and .tmp/ for uploads and spooled bodies.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"

	"github.com/openmlops/mlops/shared/event"
)

// Config configures the endpoint.
type Config struct {
	Dir             string // root directory of the object data; survives restarts
	Addr            string // listen address, e.g. "127.0.0.1:9000"; "127.0.0.1:0" in tests
	AccessKeyID     string
	SecretAccessKey string
	Region          string   // default "us-east-1"
	Account         string   // 12-digit account id used in events, default "000000000000"
	Buckets         []string // created at start if missing
	// OnObjectCreated is called after every successful PutObject, CompleteMultipartUpload and
	// CopyObject with an EventBridge "Object Created" envelope as AWS delivers it. It is called
	// synchronously after the object is committed, before the response is written; the callee
	// queues and returns fast.
	OnObjectCreated func(ctx context.Context, ev event.Envelope)
	Logger          *slog.Logger
}

// Server is the endpoint. Its zero value is not usable; build one with New.
type Server struct {
	cfg       Config
	log       *slog.Logger
	backend   backend
	fake      http.Handler // gofakes3, for everything we do not intercept
	locks     *keyLocks
	uploads   *multipartStore
	tmpDir    string
	sequencer atomic.Uint64
	requests  atomic.Uint64
	now       func() time.Time

	mu      sync.Mutex
	httpSrv *http.Server
	url     string

	connMu  sync.Mutex
	closing bool
	fresh   map[net.Conn]struct{} // connections that have not sent a byte yet
}

// Hidden directories under Dir; the buckets themselves live in Dir/buckets (s3afero's layout)
// and Dir/encoded (keys that are no clean path, see keypath.go), so none of these can show
// up as a bucket.
const (
	multipartDir = ".multipart"
	tmpDirName   = ".tmp"
)

// New opens (or creates) the data directory and the configured buckets.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("s3: Config.Dir is required")
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("s3: Config.AccessKeyID and SecretAccessKey are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3: resolving %q: %w", cfg.Dir, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, locks: newKeyLocks(), tmpDir: filepath.Join(dir, tmpDirName), now: time.Now}
	for _, d := range []string{dir, s.tmpDir, filepath.Join(dir, multipartDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("s3: creating %s: %w", d, err)
		}
	}
	// Spooled bodies of requests that died with a previous process.
	if entries, err := os.ReadDir(s.tmpDir); err == nil {
		for _, e := range entries {
			_ = os.Remove(filepath.Join(s.tmpDir, e.Name()))
		}
	}
	fs := newAtomicFs(afero.NewOsFs(), s.tmpDir)
	mb, err := s3afero.MultiBucket(afero.NewBasePathFs(fs, dir))
	if err != nil {
		return nil, fmt.Errorf("s3: opening the filesystem backend in %s: %w", dir, err)
	}
	s.backend = backend{MultiBucketBackend: mb, fs: fs, root: dir, locks: newKeyLocks(), writes: &sync.Mutex{}, log: cfg.Logger, folds: foldsNames(s.tmpDir),
		enc: &encodedStore{dir: filepath.Join(dir, encodedDir), tmpDir: s.tmpDir, sync: true, log: cfg.Logger}}
	s.uploads = &multipartStore{dir: filepath.Join(dir, multipartDir), tmpDir: s.tmpDir}
	for _, b := range cfg.Buckets {
		if err := gofakes3.ValidateBucketName(b); err != nil {
			return nil, fmt.Errorf("s3: bucket %q: %w", b, err)
		}
		ok, err := s.backend.BucketExists(b)
		if err != nil {
			return nil, fmt.Errorf("s3: checking bucket %q: %w", b, err)
		}
		if !ok {
			if err := s.backend.CreateBucket(b); err != nil {
				return nil, fmt.Errorf("s3: creating bucket %q: %w", b, err)
			}
		}
	}
	// Skew is checked (against the signed time) by authenticate; gofakes3 would only look at x-amz-date.
	s.fake = gofakes3.New(s.backend, gofakes3.WithTimeSkewLimit(0)).Server()
	return s, nil
}

// Start listens on Addr and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return errors.New("s3: server already started")
	}
	addr := s.cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("s3: listening on %s: %w", addr, err)
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second, ConnState: s.trackConn}
	s.url = "http://" + ln.Addr().String()
	srv := s.httpSrv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("s3 endpoint stopped", "err", err)
		}
	}()
	s.log.Info("s3 endpoint listening", "url", s.url, "dir", s.cfg.Dir)
	return nil
}

// URL is the endpoint's base URL once started, e.g. "http://127.0.0.1:9000".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Handler serves the S3 API; Start serves it too, but tests and other servers may mount it.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the listener and waits for requests in flight, up to ctx's deadline.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// http.Server.Shutdown closes idle connections at once but waits 5 s before it counts as
	// idle a connection that has not sent its first request (net/http issue 22682). HTTP
	// clients leave such connections behind whenever requests run concurrently: the
	// transport dials for a request that a connection freed meanwhile then serves, and parks
	// the new one unused. Those carry nothing in flight: close them now.
	s.connMu.Lock()
	s.closing = true
	for c := range s.fresh {
		_ = c.Close()
	}
	s.connMu.Unlock()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("s3: shutting down: %w", err)
	}
	return nil
}

// trackConn keeps the set of connections that have not started a request (http.Server.ConnState).
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st != http.StateNew {
		delete(s.fresh, c)
		return
	}
	if s.closing {
		_ = c.Close()
		return
	}
	if s.fresh == nil {
		s.fresh = map[net.Conn]struct{}{}
	}
	s.fresh[c] = struct{}{}
}

type ctxKey struct{}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	id := fmt.Sprintf("%016X", s.requests.Add(1))
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	rw := &responseWriter{ResponseWriter: w}
	h := rw.Header()
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", id)
	h.Set("Server", "AmazonS3")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving s3 request", "method", r.Method, "path", r.URL.Path, "panic", v)
			if !rw.wrote {
				s.writeError(rw, r, fmt.Errorf("panic: %v", v))
			}
		}
	}()
	sig, err := s.authenticate(r, s.now())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	body, err := newPayloadReader(r, sig)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if err := s.route(rw, r, body); err != nil {
		s.writeError(rw, r, err)
	}
}

// route dispatches what we implement ourselves (writes, conditions, multipart) and hands
// the rest to gofakes3 with the verified body.
func (s *Server) route(w *responseWriter, r *http.Request, body *payloadReader) error {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	_, hasUploads := q["uploads"]
	uploadID := q.Get("uploadId")
	if key != "" {
		// Before anything looks the key up: an invalid one is refused whatever the operation.
		if err := validKey(key); err != nil {
			return err
		}
	}
	switch {
	case bucket != "" && (uploadID != "" || hasUploads):
		return s.routeMultipart(w, r, body, bucket, key, uploadID)
	case bucket != "" && key != "" && q.Has("versionId") && q.Get("versionId") != "null":
		return newError(http.StatusNotImplemented, "NotImplemented", "Versioning is not supported by this endpoint.")
	case bucket != "" && key != "" && r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return s.copyObject(w, r, body, bucket, key)
	case bucket != "" && key != "" && r.Method == http.MethodPut:
		return s.putObject(w, r, body, bucket, key)
	case bucket != "" && key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return s.getObject(w, r, bucket, key)
	case bucket != "" && key != "" && r.Method == http.MethodDelete:
		return s.deleteObject(w, r, bucket, key)
	}
	// Bucket-level calls carry at most small XML bodies (DeleteObjects, CreateBucket):
	// read and verify them whole before gofakes3 acts on them.
	buf, err := readSmall(body, maxXMLBody)
	if err != nil {
		return err
	}
	if bucket != "" && key == "" && isListObjects(r) {
		return s.listObjects(w, r, bucket)
	}
	s.passThrough(w, r, buf)
	return nil
}

// responseWriter remembers whether anything was written, so a recovered panic does not
// append an error to a half-written response.
type responseWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

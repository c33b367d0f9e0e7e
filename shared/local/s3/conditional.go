package s3

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// keyLocks serializes the check and the commit of writes to one bucket/key, so that a
// conditional write is atomic: of fifty If-None-Match:* PUTs exactly one wins. backend keeps
// a second set, for which readers take the shared side.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.RWMutex
	refs int
}

func newKeyLocks() *keyLocks { return &keyLocks{locks: map[string]*keyLock{}} }

// lock blocks until the key is ours alone and returns the unlock function.
func (k *keyLocks) lock(bucket, key string) func() {
	l, release := k.get(bucket, key)
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		release()
	}
}

// rlock blocks until no one holds the key exclusively and returns the unlock function.
func (k *keyLocks) rlock(bucket, key string) func() {
	l, release := k.get(bucket, key)
	l.mu.RLock()
	return func() {
		l.mu.RUnlock()
		release()
	}
}

func (k *keyLocks) get(bucket, key string) (*keyLock, func()) {
	id := bucket + "/" + key
	k.mu.Lock()
	l := k.locks[id]
	if l == nil {
		l = &keyLock{}
		k.locks[id] = l
	}
	l.refs++
	k.mu.Unlock()
	return l, func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, id)
		}
		k.mu.Unlock()
	}
}

// current looks the object up for a condition: nil when the key does not exist.
func (s *Server) current(bucket, key string) (*gofakes3.Object, error) {
	obj, err := s.backend.HeadObject(bucket, key)
	if isNoSuchKey(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// checkWrite applies a write's If-None-Match / If-Match as AWS does for PutObject,
// CompleteMultipartUpload and CopyObject (destination). The caller holds the key's lock.
func (s *Server) checkWrite(bucket, key string, h http.Header) error {
	ifNone, ifMatch := h.Get("If-None-Match"), h.Get("If-Match")
	if ifNone == "" && ifMatch == "" {
		return nil
	}
	if ifNone != "" && ifNone != "*" {
		return newError(http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented: If-None-Match accepts only '*'")
	}
	obj, err := s.current(bucket, key)
	if err != nil {
		return err
	}
	if ifNone == "*" && obj != nil {
		return errPrecondition()
	}
	if ifMatch != "" {
		if obj == nil {
			return errNoSuchKey(key) // gofakes3 says 412 here; AWS says 404
		}
		if !etagMatches(ifMatch, objectETag(obj)) {
			return errPrecondition()
		}
	}
	return nil
}

// checkDelete applies DeleteObject's If-Match: 412 on a different ETag, 404 when the key is gone.
func (s *Server) checkDelete(bucket, key string, h http.Header) error {
	ifMatch := h.Get("If-Match")
	if ifMatch == "" {
		return nil
	}
	obj, err := s.current(bucket, key)
	if err != nil {
		return err
	}
	if obj == nil {
		return errNoSuchKey(key)
	}
	if !etagMatches(ifMatch, objectETag(obj)) {
		return errPrecondition()
	}
	return nil
}

// readPreconditions is RFC 7232's evaluation order as S3 applies it to GET and HEAD: a
// failed If-Match (or If-Unmodified-Since without If-Match) is 412; a matching If-None-Match
// (or If-Modified-Since without If-None-Match) is 304.
func readPreconditions(obj *gofakes3.Object, h http.Header) (notModified bool, err error) {
	return evalReadPreconditions(objectETag(obj), obj.Metadata["Last-Modified"], h)
}

// evalReadPreconditions is readPreconditions on an ETag (unquoted) and a Last-Modified header.
func evalReadPreconditions(etag, lastModified string, h http.Header) (notModified bool, err error) {
	modified, _ := http.ParseTime(lastModified)
	if v := h.Get("If-Match"); v != "" {
		if !etagMatches(v, etag) {
			return false, errPrecondition()
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !modified.IsZero() && modified.After(t) {
			return false, errPrecondition()
		}
	}
	if v := h.Get("If-None-Match"); v != "" {
		return etagMatches(v, etag), nil
	}
	if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !modified.IsZero() && !modified.After(t) {
			return true, nil
		}
	}
	return false, nil
}

// copySourcePreconditions applies x-amz-copy-source-if-* to the source object (412 on failure).
func copySourcePreconditions(obj *gofakes3.Object, h http.Header) error {
	etag := objectETag(obj)
	modified, _ := http.ParseTime(obj.Metadata["Last-Modified"])
	after := func(name string) (time.Time, bool) {
		t, err := http.ParseTime(h.Get(name))
		return t, err == nil && !modified.IsZero()
	}
	if v := h.Get("X-Amz-Copy-Source-If-Match"); v != "" {
		if !etagMatches(v, etag) {
			return errPrecondition()
		}
	} else if t, ok := after("X-Amz-Copy-Source-If-Unmodified-Since"); ok && modified.After(t) {
		return errPrecondition()
	}
	if v := h.Get("X-Amz-Copy-Source-If-None-Match"); v != "" {
		if etagMatches(v, etag) {
			return errPrecondition()
		}
	} else if t, ok := after("X-Amz-Copy-Source-If-Modified-Since"); ok && !modified.After(t) {
		return errPrecondition()
	}
	return nil
}

// etagMatches compares a header's list of (quoted or bare, possibly weak) ETags with one
// unquoted ETag; "*" matches any existing object.
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

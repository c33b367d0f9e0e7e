package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
)

const (
	maxKeyLength     = 1024
	maxUserMetadata  = 2 << 10
	maxXMLBody       = 16 << 20
	defaultMediaType = "binary/octet-stream"
)

// spooled is a request body verified and written to disk before anything is committed,
// so a bad digest or a client that hangs up never leaves a truncated object behind.
type spooled struct {
	path string
	size int64
	md5  []byte
}

func (s *Server) spool(body io.Reader) (*spooled, error) {
	f, err := os.CreateTemp(s.tmpDir, "body-")
	if err != nil {
		return nil, fmt.Errorf("creating spool file: %w", err)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing spool file: %w", cerr)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &spooled{path: f.Name(), size: n, md5: h.Sum(nil)}, nil
}

func (sp *spooled) remove() { _ = os.Remove(sp.path) }

// checkContentMD5 compares a Content-MD5 header, if any, with the received bytes.
func checkContentMD5(h http.Header, sum []byte) error {
	v, ok := h["Content-Md5"]
	if !ok {
		return nil
	}
	want, err := base64.StdEncoding.DecodeString(v[0])
	if err != nil || len(want) != md5.Size {
		return newError(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
	}
	if !bytes.Equal(want, sum) {
		return errBadDigest("The Content-MD5 you specified did not match what was received.")
	}
	return nil
}

// objectMeta is the metadata S3 keeps from a write request's headers.
func objectMeta(h http.Header, now time.Time) (map[string]string, error) {
	meta := map[string]string{}
	user := 0
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "X-Amz-Meta-"):
			meta[k] = v[0]
			user += len(k) - len("X-Amz-Meta-") + len(v[0])
		case k == "Content-Type" || k == "Content-Disposition" || k == "Cache-Control" ||
			k == "Content-Language" || k == "Expires" || k == "X-Amz-Website-Redirect-Location":
			meta[k] = v[0]
		case k == "Content-Encoding":
			// aws-chunked describes this request's framing, not the object.
			var kept []string
			for _, enc := range strings.Split(v[0], ",") {
				if enc = strings.TrimSpace(enc); enc != "" && enc != "aws-chunked" {
					kept = append(kept, enc)
				}
			}
			if len(kept) > 0 {
				meta[k] = strings.Join(kept, ",")
			}
		}
	}
	if user > maxUserMetadata {
		return nil, newError(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	}
	if meta["Content-Type"] == "" {
		meta["Content-Type"] = defaultMediaType
	}
	meta["Last-Modified"] = now.UTC().Format(http.TimeFormat)
	return meta, nil
}

func (s *Server) ensureBucket(bucket string) error {
	ok, err := s.backend.BucketExists(bucket)
	if err != nil {
		return fmt.Errorf("checking bucket %q: %w", bucket, err)
	}
	if !ok {
		return errNoSuchBucket(bucket)
	}
	return nil
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, body io.Reader, bucket, key string) error {
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	if err := validKey(key); err != nil {
		return err
	}
	meta, err := objectMeta(r.Header, s.now())
	if err != nil {
		return err
	}
	sp, err := s.spool(body)
	if err != nil {
		return err
	}
	defer sp.remove()
	if err := checkContentMD5(r.Header, sp.md5); err != nil {
		return err
	}
	unlock := s.locks.lock(bucket, key)
	defer unlock()
	if err := s.checkWrite(bucket, key, r.Header); err != nil {
		return err
	}
	if err := s.commitFile(bucket, key, meta, sp); err != nil {
		return err
	}
	etag := hex.EncodeToString(sp.md5)
	s.objectCreated(r, reasonPut, bucket, key, sp.size, etag)
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) commitFile(bucket, key string, meta map[string]string, sp *spooled) error {
	f, err := os.Open(sp.path)
	if err != nil {
		return fmt.Errorf("opening spooled body: %w", err)
	}
	defer f.Close()
	if _, err := s.backend.PutObject(bucket, key, meta, f, sp.size, nil); err != nil {
		return fmt.Errorf("storing %s/%s: %w", bucket, key, err)
	}
	return nil
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

func parseCopySource(v string) (bucket, key string, err error) {
	raw, version, _ := strings.Cut(v, "?")
	if version != "" && version != "versionId=null" {
		return "", "", newError(http.StatusNotImplemented, "NotImplemented", "Versioning is not supported by this endpoint.")
	}
	src, err := url.PathUnescape(raw)
	if err != nil {
		return "", "", errInvalidArgument("Invalid copy source encoding: %v", err)
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return "", "", errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, nil
}

func (s *Server) copyObject(w http.ResponseWriter, r *http.Request, body io.Reader, bucket, key string) error {
	if _, err := io.Copy(io.Discard, body); err != nil { // a copy has no payload, but its digest must still hold
		return err
	}
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	if err := validKey(key); err != nil {
		return err
	}
	unlock := s.locks.lock(bucket, key)
	defer unlock()

	src, err := s.backend.HeadObject(srcBucket, srcKey)
	if err != nil {
		return err
	}
	if err := copySourcePreconditions(src, r.Header); err != nil {
		return err
	}
	if err := s.checkWrite(bucket, key, r.Header); err != nil {
		return err
	}
	now := s.now()
	var meta map[string]string
	switch d := r.Header.Get("X-Amz-Metadata-Directive"); d {
	case "REPLACE":
		if meta, err = objectMeta(r.Header, now); err != nil {
			return err
		}
	case "", "COPY":
		if srcBucket == bucket && srcKey == key {
			return newError(http.StatusBadRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
		meta = map[string]string{}
		for k, v := range src.Metadata {
			if k != etagMetaKey {
				meta[k] = v
			}
		}
		meta["Last-Modified"] = now.UTC().Format(http.TimeFormat)
	default:
		return errInvalidArgument("Unknown metadata directive %q", d)
	}

	obj, err := s.backend.GetObject(srcBucket, srcKey, nil)
	if err != nil {
		return err
	}
	// Through a spool file: when source and destination are one key, s3afero would
	// truncate the file it is reading from.
	sp, err := s.spool(obj.Contents)
	_ = obj.Contents.Close()
	if err != nil {
		return fmt.Errorf("reading copy source %s/%s: %w", srcBucket, srcKey, err)
	}
	defer sp.remove()
	if err := s.commitFile(bucket, key, meta, sp); err != nil {
		return err
	}
	etag := hex.EncodeToString(sp.md5)
	s.objectCreated(r, reasonCopy, bucket, key, sp.size, etag)
	s.writeXML(w, copyObjectResult{LastModified: now.UTC().Format("2006-01-02T15:04:05.000Z"), ETag: `"` + etag + `"`})
	return nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		return err
	}
	notModified, err := readPreconditions(obj, r.Header)
	if err != nil {
		return err
	}
	if notModified {
		w.Header().Set("ETag", `"`+objectETag(obj)+`"`)
		if lm := obj.Metadata["Last-Modified"]; lm != "" {
			w.Header().Set("Last-Modified", lm)
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	// gofakes3 gets the request without the conditions (it evaluates them differently) and
	// reads the object again: the rewriter checks that it served the version checked here.
	rw := &etagRewriter{ResponseWriter: w, requestID: requestID(r), s: s, r: r, checked: objectETag(obj)}
	for _, h := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if v := r.Header.Values(h); len(v) > 0 {
			if rw.cond == nil {
				rw.cond = http.Header{}
			}
			rw.cond[h] = v
		}
		r.Header.Del(h)
	}
	s.passThrough(rw, r, nil)
	rw.fix(http.StatusOK) // a HEAD may never write: the headers still go out when the handler returns
	return nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	unlock := s.locks.lock(bucket, key)
	defer unlock()
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	if err := s.checkDelete(bucket, key, r.Header); err != nil {
		return err
	}
	s.passThrough(w, r, nil)
	return nil
}

// passThrough hands a request to gofakes3 with the body already verified and decoded,
// and without the signing headers (gofakes3 would store x-amz-* headers as metadata).
func (s *Server) passThrough(w http.ResponseWriter, r *http.Request, body []byte) {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r2.TransferEncoding = nil
	for _, h := range []string{"Authorization", "X-Amz-Content-Sha256", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer", "X-Amz-Date", "Content-Encoding"} {
		r2.Header.Del(h)
	}
	for k := range r2.Header {
		if strings.HasPrefix(k, "X-Amz-Checksum-") || strings.HasPrefix(k, "X-Amz-Sdk-Checksum") {
			r2.Header.Del(k)
		}
	}
	s.fake.ServeHTTP(w, r2)
}

func readSmall(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, newError(http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big.")
	}
	return b, nil
}

// etagRewriter swaps in the stored ETag of a multipart object (see etagMetaKey) and keeps our
// request id, as gofakes3's GET/HEAD responses go out.
//
// It also keeps a conditional GET/HEAD honest. getObject evaluates the conditions (cond) on
// the version of the object it looked up (ETag checked); gofakes3 then looks the object up
// again to serve it, and a write may have replaced it in between. The version gofakes3
// serves is consistent in itself (see backend); if it is not the one checked, the conditions
// are evaluated again on it, and where they fail the response becomes that 412 or 304, so
// that what a client gets always satisfies what it asked for.
type etagRewriter struct {
	http.ResponseWriter
	requestID string

	s       *Server
	r       *http.Request
	checked string
	cond    http.Header

	done     bool
	replaced bool // the response is our 412/304: gofakes3's is dropped
}

// errResponseReplaced stops gofakes3 from copying a body that will not be sent.
var errResponseReplaced = errors.New("response replaced")

func (e *etagRewriter) fix(code int) {
	if e.done {
		return
	}
	e.done = true
	h := e.Header()
	if v := h.Get(etagMetaKey); v != "" {
		h.Set("ETag", `"`+v+`"`)
	}
	h.Del(etagMetaKey)
	h.Set("x-amz-request-id", e.requestID)
	h.Set("x-amz-id-2", e.requestID)
	if len(e.cond) == 0 || (code != http.StatusOK && code != http.StatusPartialContent) {
		return
	}
	etag, lastModified := strings.Trim(h.Get("ETag"), `"`), h.Get("Last-Modified")
	if etag == e.checked {
		return
	}
	notModified, err := evalReadPreconditions(etag, lastModified, e.cond)
	if err == nil && !notModified {
		return
	}
	e.replaced = true
	for k := range h {
		if k != "X-Amz-Request-Id" && k != "X-Amz-Id-2" && k != "Server" {
			delete(h, k)
		}
	}
	if err != nil {
		e.s.writeError(e.ResponseWriter, e.r, err)
		return
	}
	h.Set("ETag", `"`+etag+`"`)
	if lastModified != "" {
		h.Set("Last-Modified", lastModified)
	}
	e.ResponseWriter.WriteHeader(http.StatusNotModified)
}

func (e *etagRewriter) WriteHeader(code int) {
	e.fix(code)
	if !e.replaced {
		e.ResponseWriter.WriteHeader(code)
	}
}

func (e *etagRewriter) Write(b []byte) (int, error) {
	e.fix(http.StatusOK)
	if e.replaced {
		return 0, errResponseReplaced
	}
	return e.ResponseWriter.Write(b)
}

// backend must stay a drop-in gofakes3.Backend.
var _ gofakes3.Backend = backend{}

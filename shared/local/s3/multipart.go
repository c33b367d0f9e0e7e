package s3

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	minPartSize = 5 << 20
	maxParts    = 10000
)

// multipartStore keeps uploads on disk: Dir/.multipart/<uploadId>/upload.json plus one
// file and one JSON record per part. Nothing of a part is held in memory.
type multipartStore struct {
	dir    string
	tmpDir string
}

type uploadInfo struct {
	Bucket    string            `json:"bucket"`
	Key       string            `json:"key"`
	Meta      map[string]string `json:"meta"`
	Initiated time.Time         `json:"initiated"`
}

type partInfo struct {
	Number       int       `json:"number"`
	ETag         string    `json:"etag"` // hex MD5, unquoted
	Size         int64     `json:"size"`
	LastModified time.Time `json:"lastModified"`
}

func (m *multipartStore) uploadDir(id string) (string, error) {
	// The id names a directory: only our own hex ids may reach the filesystem.
	if len(id) != 48 || !isHex(id) {
		return "", errNoSuchUpload()
	}
	return filepath.Join(m.dir, id), nil
}

func (m *multipartStore) create(info uploadInfo) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating upload id: %w", err)
	}
	id := hex.EncodeToString(b[:])
	dir := filepath.Join(m.dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating upload dir: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, "upload.json"), info); err != nil {
		return "", err
	}
	return id, nil
}

// load returns the upload, checking that it belongs to bucket/key as S3 does.
func (m *multipartStore) load(id, bucket, key string) (string, *uploadInfo, error) {
	dir, err := m.uploadDir(id)
	if err != nil {
		return "", nil, err
	}
	var info uploadInfo
	if err := readJSON(filepath.Join(dir, "upload.json"), &info); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, errNoSuchUpload()
		}
		return "", nil, err
	}
	if info.Bucket != bucket || (key != "" && info.Key != key) {
		return "", nil, errNoSuchUpload()
	}
	return dir, &info, nil
}

func (m *multipartStore) parts(dir string) ([]partInfo, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "part-*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing parts: %w", err)
	}
	parts := make([]partInfo, 0, len(matches))
	for _, p := range matches {
		var pi partInfo
		if err := readJSON(p, &pi); err != nil {
			return nil, err
		}
		parts = append(parts, pi)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

func partFile(dir string, n int) string { return filepath.Join(dir, fmt.Sprintf("part-%05d", n)) }

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

func (s *Server) routeMultipart(w http.ResponseWriter, r *http.Request, body io.Reader, bucket, key, uploadID string) error {
	switch {
	case uploadID == "" && r.Method == http.MethodPost && key != "":
		return s.createUpload(w, r, bucket, key)
	case uploadID == "" && r.Method == http.MethodGet:
		return s.listUploads(w, r, bucket)
	case uploadID != "" && r.Method == http.MethodPut:
		return s.uploadPart(w, r, body, bucket, key, uploadID)
	case uploadID != "" && r.Method == http.MethodPost:
		return s.completeUpload(w, r, body, bucket, key, uploadID)
	case uploadID != "" && r.Method == http.MethodDelete:
		return s.abortUpload(w, bucket, key, uploadID)
	case uploadID != "" && r.Method == http.MethodGet:
		return s.listParts(w, bucket, key, uploadID)
	}
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
}

type initiateResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
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
	id, err := s.uploads.create(uploadInfo{Bucket: bucket, Key: key, Meta: meta, Initiated: s.now().UTC()})
	if err != nil {
		return err
	}
	s.writeXML(w, initiateResult{Bucket: bucket, Key: key, UploadID: id})
	return nil
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, body io.Reader, bucket, key, uploadID string) error {
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return newError(http.StatusNotImplemented, "NotImplemented", "UploadPartCopy is not supported by this endpoint.")
	}
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	dir, _, err := s.uploads.load(uploadID, bucket, key)
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
	// Rename, then record: a part is only listed once its bytes are in place, and a
	// re-upload of the same number replaces both.
	if err := os.Rename(sp.path, partFile(dir, n)); err != nil {
		return fmt.Errorf("storing part %d: %w", n, err)
	}
	etag := hex.EncodeToString(sp.md5)
	if err := writeJSON(partFile(dir, n)+".json", partInfo{Number: n, ETag: etag, Size: sp.size, LastModified: s.now().UTC()}); err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(http.StatusOK)
	return nil
}

type completeRequest struct {
	Parts []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request, body io.Reader, bucket, key, uploadID string) error {
	raw, err := readSmall(body, maxXMLBody)
	if err != nil {
		return err
	}
	var req completeRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		return newError(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	if len(req.Parts) == 0 {
		return newError(http.StatusBadRequest, "InvalidRequest", "You must specify at least one part")
	}
	unlock := s.locks.lock(bucket, key)
	defer unlock()
	dir, info, err := s.uploads.load(uploadID, bucket, key)
	if err != nil {
		return err
	}
	stored, err := s.uploads.parts(dir)
	if err != nil {
		return err
	}
	byNumber := make(map[int]partInfo, len(stored))
	for _, p := range stored {
		byNumber[p.Number] = p
	}
	etags := md5.New()
	files := make([]string, len(req.Parts))
	var size int64
	for i, p := range req.Parts {
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return newError(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
	}
	for i, p := range req.Parts {
		sp, ok := byNumber[p.PartNumber]
		if !ok || strings.Trim(strings.TrimSpace(p.ETag), `"`) != sp.ETag {
			return newError(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
		}
		if i < len(req.Parts)-1 && sp.Size < minPartSize {
			return newError(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
		}
		sum, _ := hex.DecodeString(sp.ETag)
		etags.Write(sum)
		files[i] = partFile(dir, p.PartNumber)
		size += sp.Size
	}
	if err := s.checkWrite(bucket, key, r.Header); err != nil {
		return err
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(etags.Sum(nil)), len(req.Parts))
	meta := make(map[string]string, len(info.Meta)+1)
	for k, v := range info.Meta {
		meta[k] = v
	}
	meta[etagMetaKey] = etag
	meta["Last-Modified"] = s.now().UTC().Format(http.TimeFormat)
	concat := &partsReader{files: files}
	defer concat.Close()
	if _, err := s.backend.PutObject(bucket, key, meta, concat, size, nil); err != nil {
		return fmt.Errorf("storing %s/%s from %d parts: %w", bucket, key, len(files), err)
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("removing completed upload", "upload", uploadID, "err", err)
	}
	s.objectCreated(r, reasonComplete, bucket, key, size, etag)
	s.writeXML(w, completeResult{Location: fmt.Sprintf("http://%s/%s%s", r.Host, bucket, uriEncode("/"+key, false)), Bucket: bucket, Key: key, ETag: `"` + etag + `"`})
	return nil
}

// partsReader streams the parts one file at a time, so completing an upload costs one
// open file and one copy buffer, whatever its size.
type partsReader struct {
	files []string
	cur   *os.File
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if len(p.files) == 0 {
				return 0, io.EOF
			}
			f, err := os.Open(p.files[0])
			if err != nil {
				return 0, fmt.Errorf("opening part: %w", err)
			}
			p.cur, p.files = f, p.files[1:]
		}
		n, err := p.cur.Read(b)
		if errors.Is(err, io.EOF) {
			_ = p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (p *partsReader) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}

func (s *Server) abortUpload(w http.ResponseWriter, bucket, key, uploadID string) error {
	unlock := s.locks.lock(bucket, key)
	defer unlock()
	dir, _, err := s.uploads.load(uploadID, bucket, key)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing upload %s: %w", uploadID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listPartsResult struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket      string   `xml:"Bucket"`
	Key         string   `xml:"Key"`
	UploadID    string   `xml:"UploadId"`
	MaxParts    int      `xml:"MaxParts"`
	IsTruncated bool     `xml:"IsTruncated"`
	Parts       []xmlPart
}

type xmlPart struct {
	XMLName      xml.Name `xml:"Part"`
	PartNumber   int      `xml:"PartNumber"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Size         int64    `xml:"Size"`
}

func (s *Server) listParts(w http.ResponseWriter, bucket, key, uploadID string) error {
	dir, _, err := s.uploads.load(uploadID, bucket, key)
	if err != nil {
		return err
	}
	parts, err := s.uploads.parts(dir)
	if err != nil {
		return err
	}
	out := listPartsResult{Bucket: bucket, Key: key, UploadID: uploadID, MaxParts: maxParts}
	for _, p := range parts {
		out.Parts = append(out.Parts, xmlPart{PartNumber: p.Number, LastModified: p.LastModified.Format("2006-01-02T15:04:05.000Z"), ETag: `"` + p.ETag + `"`, Size: p.Size})
	}
	s.writeXML(w, out)
	return nil
}

type listUploadsResult struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket      string   `xml:"Bucket"`
	Prefix      string   `xml:"Prefix"`
	MaxUploads  int      `xml:"MaxUploads"`
	IsTruncated bool     `xml:"IsTruncated"`
	Uploads     []xmlUpload
}

type xmlUpload struct {
	XMLName   xml.Name `xml:"Upload"`
	Key       string   `xml:"Key"`
	UploadID  string   `xml:"UploadId"`
	Initiated string   `xml:"Initiated"`
}

// listUploads lists every upload in progress in the bucket (no paging: local mode has few).
func (s *Server) listUploads(w http.ResponseWriter, r *http.Request, bucket string) error {
	if err := s.ensureBucket(bucket); err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	entries, err := os.ReadDir(s.uploads.dir)
	if err != nil {
		return fmt.Errorf("listing uploads: %w", err)
	}
	out := listUploadsResult{Bucket: bucket, Prefix: prefix, MaxUploads: 1000}
	for _, e := range entries {
		_, info, err := s.uploads.load(e.Name(), bucket, "")
		if err != nil || !strings.HasPrefix(info.Key, prefix) {
			continue
		}
		out.Uploads = append(out.Uploads, xmlUpload{Key: info.Key, UploadID: e.Name(), Initiated: info.Initiated.Format("2006-01-02T15:04:05.000Z")})
	}
	sort.Slice(out.Uploads, func(i, j int) bool {
		if out.Uploads[i].Key != out.Uploads[j].Key {
			return out.Uploads[i].Key < out.Uploads[j].Key
		}
		return out.Uploads[i].Initiated < out.Uploads[j].Initiated
	})
	s.writeXML(w, out)
	return nil
}

package s3

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// encodedStore keeps the objects whose key is not a nested path (see keypath.go) under
// Dir/encoded/<bucket>/. An object is one file: its bytes, then a JSON trailer (the key, the
// MD5, the metadata), then the trailer's length as 8 bytes big-endian. One file per object
// makes a write a single rename (atomic for readers, and across a crash) and lets a reader
// serve one version from the handle it opened, whatever writes follow.
type encodedStore struct {
	dir    string // Dir/encoded
	tmpDir string // on the same filesystem, for the rename
	sync   bool   // fsync before the rename
	log    *slog.Logger
}

type encodedTrailer struct {
	Key  string            `json:"key"`
	MD5  []byte            `json:"md5"`
	Meta map[string]string `json:"meta"`
}

const maxTrailer = 1 << 20

func (e *encodedStore) path(bucket, key string) (string, error) {
	dir, err := bucketPath(e.dir, bucket)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.FromSlash(encodeKey(key)))
	if err := within(dir, p); err != nil {
		return "", err
	}
	return p, nil
}

// has reports whether the store holds key.
func (e *encodedStore) has(bucket, key string) (bool, error) {
	p, err := e.path(bucket, key)
	if err != nil {
		return false, err
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s/%q: %w", bucket, key, err)
	}
	return st.Mode().IsRegular(), nil
}

// put stores the object; a body that does not hold exactly size bytes is not committed.
func (e *encodedStore) put(bucket, key string, meta map[string]string, body io.Reader, size int64) error {
	p, err := e.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("creating the directory of %s/%q: %w", bucket, key, err)
	}
	f, err := os.CreateTemp(e.tmpDir, "write-")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s/%q: %w", bucket, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%w: %d of %d bytes", errDiscarded, n, size)
	}
	tr, err := json.Marshal(encodedTrailer{Key: key, MD5: h.Sum(nil), Meta: meta})
	if err != nil {
		return fmt.Errorf("encoding metadata of %s/%q: %w", bucket, key, err)
	}
	tr = binary.BigEndian.AppendUint64(tr, uint64(len(tr)))
	if _, err := f.Write(tr); err != nil {
		return err
	}
	if e.sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("storing %s/%q: %w", bucket, key, err)
	}
	committed = true
	return nil
}

// readTrailer reads the trailer of an object file of total bytes; size is the object's.
func readTrailer(r io.ReaderAt, total int64) (tr *encodedTrailer, size int64, err error) {
	var n [8]byte
	if total < 8 {
		return nil, 0, errors.New("no metadata trailer")
	}
	if _, err := r.ReadAt(n[:], total-8); err != nil {
		return nil, 0, fmt.Errorf("reading metadata length: %w", err)
	}
	l := binary.BigEndian.Uint64(n[:])
	if l > maxTrailer || int64(l) > total-8 {
		return nil, 0, errors.New("no metadata trailer")
	}
	size = total - 8 - int64(l)
	buf := make([]byte, l)
	if _, err := r.ReadAt(buf, size); err != nil {
		return nil, 0, fmt.Errorf("reading metadata: %w", err)
	}
	tr = &encodedTrailer{}
	if err := json.Unmarshal(buf, tr); err != nil {
		return nil, 0, fmt.Errorf("decoding metadata: %w", err)
	}
	return tr, size, nil
}

// open returns the object's file, its trailer and its size; NoSuchKey when it is not stored.
func (e *encodedStore) open(bucket, key string) (*os.File, *encodedTrailer, int64, error) {
	p, err := e.path(bucket, key)
	if err != nil {
		return nil, nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, 0, gofakes3.KeyNotFound(key)
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("opening %s/%q: %w", bucket, key, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var tr *encodedTrailer
	var size int64
	if err == nil {
		tr, size, err = readTrailer(f, st.Size())
	}
	if err == nil && tr.Key != key {
		err = fmt.Errorf("file holds key %q", tr.Key)
	}
	if err != nil {
		// Not written by put (put renames whole files into place): no object, as S3 would
		// say, rather than an error on every request for the key.
		_ = f.Close()
		e.log.Warn("s3: a file in the data directory is not an object", "path", p, "err", err)
		return nil, nil, 0, gofakes3.KeyNotFound(key)
	}
	return f, tr, size, nil
}

func (e *encodedStore) head(bucket, key string) (*gofakes3.Object, error) {
	f, tr, size, err := e.open(bucket, key)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	return &gofakes3.Object{Name: key, Hash: tr.MD5, Metadata: tr.Meta, Size: size, Contents: io.NopCloser(eofReader{})}, nil
}

func (e *encodedStore) get(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	f, tr, size, err := e.open(bucket, key)
	if err != nil {
		return nil, err
	}
	r, err := rng.Range(size)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	start, length := int64(0), size
	if r != nil {
		start, length = r.Start, r.Length
	}
	return &gofakes3.Object{Name: key, Hash: tr.MD5, Metadata: tr.Meta, Size: size, Range: r,
		Contents: sectionFile{SectionReader: io.NewSectionReader(f, start, length), f: f}}, nil
}

// remove deletes the object, if stored, and the directories its removal leaves empty.
func (e *encodedStore) remove(bucket, key string) error {
	p, err := e.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s/%q: %w", bucket, key, err)
	}
	top := filepath.Join(e.dir, bucket) // valid: path checked it
	for d := filepath.Dir(p); d != top && within(top, d) == nil; d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// encodedEntry is one object of a listing.
type encodedEntry struct {
	key     string
	size    int64
	modTime time.Time
	trailer *encodedTrailer
}

// list calls fn for every object of the bucket, and bad for every file that is not one
// (listings go on without it).
func (e *encodedStore) list(bucket string, fn func(encodedEntry), bad func(path string, err error)) error {
	top, err := bucketPath(e.dir, bucket)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(top, p)
		if err != nil {
			return err
		}
		key, err := decodeKey(filepath.ToSlash(rel))
		if err != nil {
			bad(p, err)
			return nil
		}
		ent, err := readEntry(p, key)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // deleted since the directory was read
				bad(p, err)
			}
			return nil
		}
		fn(ent)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", top, err)
	}
	return nil
}

func readEntry(p, key string) (encodedEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return encodedEntry{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return encodedEntry{}, err
	}
	if !st.Mode().IsRegular() {
		return encodedEntry{}, errors.New("not a regular file")
	}
	tr, size, err := readTrailer(f, st.Size())
	if err != nil {
		return encodedEntry{}, err
	}
	if tr.Key != key {
		return encodedEntry{}, fmt.Errorf("file holds key %q", tr.Key)
	}
	return encodedEntry{key: key, size: size, modTime: st.ModTime(), trailer: tr}, nil
}

// empty reports whether the bucket holds no encoded object.
func (e *encodedStore) empty(bucket string) (bool, error) {
	top, err := bucketPath(e.dir, bucket)
	if err != nil {
		return false, err
	}
	found := errors.New("found")
	err = filepath.WalkDir(top, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return found
		}
		return nil
	})
	switch {
	case errors.Is(err, found):
		return false, nil
	case err == nil || errors.Is(err, fs.ErrNotExist):
		return true, nil
	}
	return false, fmt.Errorf("checking %s: %w", top, err)
}

func (e *encodedStore) removeBucket(bucket string) error {
	top, err := bucketPath(e.dir, bucket)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(top); err != nil {
		return fmt.Errorf("removing %s: %w", top, err)
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// sectionFile serves a range of an open file and closes the file.
type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s sectionFile) Close() error { return s.f.Close() }

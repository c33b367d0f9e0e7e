package s3

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// etagMetaKey stores an ETag that is not the MD5 of the bytes (a multipart upload's
// "md5-of-md5s-N"). gofakes3 only knows ETag = hex(MD5), so the stored value is swapped in on
// the way out: in listings here, in GET/HEAD headers by etagRewriter. Clients cannot set it:
// gofakes3 only keeps X-Amz-* and Content-* request headers as metadata.
const etagMetaKey = "X-Mlops-Etag"

// backend is s3afero's filesystem backend with the places where it differs from S3 fixed:
// a new PUT inherits the old object's metadata there (S3 replaces it), listings carry the
// MD5 even for multipart objects, and (with atomicFs under it) an overwrite is atomic for
// readers.
//
// s3afero also stores a key as a path (path.Join(bucket, key)), which resolves "..", so
// "../x" would land outside the bucket, "a//b" and "a/b" would be one object, and "a" and
// "a/b" could not both exist. Here s3afero only ever sees the keys that are a clean
// relative path and whose place is free (nestedKey, nestedFree); every other key goes to
// encodedStore, stored literally (keypath.go). An object lives in one of the two: a key
// already in encodedStore is written there again, and is looked up there first.
//
// Consistency of an object's bytes and its metadata (ETag, headers): s3afero keeps them in
// two files, writes both under its one backend-wide mutex, and reads both (opening the data
// file, then reading the metadata) under it too. With atomicFs each file is replaced by a
// rename, so a reader gets an open handle on one version's bytes and that same version's
// metadata, and keeps reading those bytes however many overwrites follow. encodedStore
// keeps both in one file.
type backend struct {
	*s3afero.MultiBucketBackend
	fs    *atomicFs
	root  string    // the directory fs sees s3afero's files under: Config.Dir
	locks *keyLocks // readers (shared) against PutObject (exclusive), per key: see atomicFs.expectPut
	enc   *encodedStore
	// writes serializes where a write goes with the write itself (a put of "a/b" must not
	// turn "a" into a directory while a put of "a" decides "a" is free). s3afero holds one
	// mutex for a whole put anyway.
	writes *sync.Mutex
	log    *slog.Logger
	folds  bool // the filesystem folds case or normalization: see foldsNames
}

// nestedPath is where s3afero keeps a nested key: buckets/<bucket>/<key>.
func (b backend) nestedPath(bucket, key string) (string, error) {
	dir, err := bucketPath(filepath.Join(b.root, "buckets"), bucket)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.FromSlash(key))
	if !nestedKey(key) || filepath.ToSlash(p) != filepath.ToSlash(dir)+"/"+key {
		return "", fmt.Errorf("key %q has no nested path", key)
	}
	if err := within(dir, p); err != nil {
		return "", err
	}
	return p, nil
}

// nestedFree reports whether a nested key's path can hold its file: it is no directory,
// and no file stands where one of its parent directories must be.
func (b backend) nestedFree(bucket, key string) bool {
	p, err := b.nestedPath(bucket, key)
	if err != nil {
		return false
	}
	top := filepath.Join(b.root, "buckets", bucket) // valid: nestedPath checked it
	if st, err := os.Lstat(p); err == nil {
		return st.Mode().IsRegular() && (!b.folds || exactNames(top, p))
	}
	for d := filepath.Dir(p); d != top; d = filepath.Dir(d) {
		if st, err := os.Lstat(d); err == nil {
			return st.IsDir() && (!b.folds || exactNames(top, d))
		}
	}
	return true
}

// nestedStored reports whether s3afero holds key: its file and its metadata are there. A file
// without metadata was not written by s3afero (s3afero would fail on it): it is no object.
func (b backend) nestedStored(bucket, key string) bool {
	p, err := b.nestedPath(bucket, key)
	if err != nil {
		return false
	}
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
		return false
	}
	if b.folds && !exactNames(filepath.Join(b.root, "buckets", bucket), p) {
		return false
	}
	_, err = os.Stat(filepath.Join(b.root, "metadata", bucket, s3aferoMetaName(key)))
	return err == nil
}

// BucketExists is true for a directory only: earlier versions could leave a file in
// buckets/ (a key "../x" of any bucket), and a file is no bucket.
func (b backend) BucketExists(bucket string) (bool, error) {
	dir, err := bucketPath(filepath.Join(b.root, "buckets"), bucket)
	if err != nil {
		return false, nil
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking bucket %q: %w", bucket, err)
	}
	return st.IsDir(), nil
}

func (b backend) ListBuckets() ([]gofakes3.BucketInfo, error) {
	all, err := b.MultiBucketBackend.ListBuckets()
	if err != nil {
		return nil, err
	}
	var buckets []gofakes3.BucketInfo
	for _, bi := range all {
		if ok, err := b.BucketExists(bi.Name); err == nil && ok {
			buckets = append(buckets, bi)
		}
	}
	return buckets, nil
}

func (b backend) bucketExists(bucket string) error {
	ok, err := b.BucketExists(bucket)
	if err != nil {
		return fmt.Errorf("checking bucket %q: %w", bucket, err)
	}
	if !ok {
		return gofakes3.BucketNotFound(bucket)
	}
	return nil
}

// PutObject replaces the object whole: no metadata of the old one leaks through s3afero's
// merge (atomicFs hides the old object from it), and a body that comes short is not committed.
func (b backend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	var res gofakes3.PutObjectResult
	if err := validKey(key); err != nil {
		return res, err
	}
	unlock := b.locks.lock(bucket, key)
	defer unlock()
	b.writes.Lock()
	defer b.writes.Unlock()
	if err := b.bucketExists(bucket); err != nil {
		return res, err
	}
	encoded, err := b.enc.has(bucket, key)
	if err != nil {
		return res, err
	}
	if encoded || !b.nestedFree(bucket, key) {
		if cond != nil {
			return res, errors.New("put conditions are not supported") // gofakes3 never sets them: Server checks its own
		}
		return res, b.enc.put(bucket, key, meta, input, size)
	}
	p, err := b.nestedPath(bucket, key)
	if err != nil {
		return res, err
	}
	done := b.fs.expectPut(p, size)
	defer done()
	return b.MultiBucketBackend.PutObject(bucket, key, meta, input, size, cond)
}

// lookup says which store holds key: the encoded one, or s3afero; NoSuchKey when neither does.
func (b backend) lookup(bucket, key string) (encoded bool, err error) {
	if err := b.bucketExists(bucket); err != nil {
		return false, err
	}
	if validKey(key) != nil {
		return false, gofakes3.KeyNotFound(key)
	}
	if ok, err := b.enc.has(bucket, key); err != nil || ok {
		return ok, err
	}
	if !b.nestedStored(bucket, key) {
		return false, gofakes3.KeyNotFound(key)
	}
	return false, nil
}

func (b backend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	if encoded, err := b.lookup(bucket, key); err != nil || encoded {
		if err != nil {
			return nil, err
		}
		return b.enc.head(bucket, key)
	}
	obj, err := b.MultiBucketBackend.HeadObject(bucket, key)
	if err == nil {
		dropBlank(obj.Metadata)
	}
	return obj, err
}

func (b backend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	unlock := b.locks.rlock(bucket, key)
	defer unlock() // the object's file is open: later writes replace the file, not what it holds
	if encoded, err := b.lookup(bucket, key); err != nil || encoded {
		if err != nil {
			return nil, err
		}
		return b.enc.get(bucket, key, rng)
	}
	obj, err := b.MultiBucketBackend.GetObject(bucket, key, rng)
	if err == nil {
		dropBlank(obj.Metadata)
	}
	return obj, err
}

func (b backend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	unlock := b.locks.lock(bucket, key)
	defer unlock()
	b.writes.Lock()
	defer b.writes.Unlock()
	if err := b.bucketExists(bucket); err != nil {
		return gofakes3.ObjectDeleteResult{}, err
	}
	return gofakes3.ObjectDeleteResult{}, b.deleteLocked(bucket, key)
}

// deleteLocked removes key from both stores (S3 answers a delete of a missing key with success).
func (b backend) deleteLocked(bucket, key string) error {
	if validKey(key) != nil {
		return nil
	}
	if err := b.enc.remove(bucket, key); err != nil {
		return err
	}
	p, err := b.nestedPath(bucket, key)
	if err != nil {
		return nil // never nested
	}
	if st, err := os.Lstat(p); err == nil && !st.Mode().IsRegular() {
		return nil // a directory of other keys: s3afero would try to remove it
	}
	_, err = b.MultiBucketBackend.DeleteObject(bucket, key)
	return err
}

func (b backend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var res gofakes3.MultiDeleteResult
	if err := b.bucketExists(bucket); err != nil {
		return res, err
	}
	for _, key := range keys {
		// In PutObject's order (key, then writes), or the two could wait on each other.
		unlock := b.locks.lock(bucket, key)
		b.writes.Lock()
		err := b.deleteLocked(bucket, key)
		b.writes.Unlock()
		unlock()
		if err != nil {
			b.log.Error("deleting object", "bucket", bucket, "key", key, "err", err)
			res.Error = append(res.Error, gofakes3.ErrorResult{Code: gofakes3.ErrInternal, Message: gofakes3.ErrInternal.Message(), Key: key})
			continue
		}
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: key})
	}
	return res, nil
}

func (b backend) DeleteBucket(bucket string) error {
	b.writes.Lock()
	defer b.writes.Unlock()
	empty, err := b.enc.empty(bucket)
	if err != nil {
		return err
	}
	if !empty {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, bucket)
	}
	if err := b.MultiBucketBackend.DeleteBucket(bucket); err != nil {
		return err
	}
	return b.enc.removeBucket(bucket)
}

func (b backend) ForceDeleteBucket(bucket string) error {
	b.writes.Lock()
	defer b.writes.Unlock()
	if err := b.MultiBucketBackend.ForceDeleteBucket(bucket); err != nil {
		return err
	}
	return b.enc.removeBucket(bucket)
}

// ListBucket lists both stores with S3's prefix and delimiter rules, in key order (UTF-8
// bytes). A file that is no object (no metadata beside it, not an encoded key) is logged and
// left out: it must not take every listing of its bucket down.
func (b backend) ListBucket(bucket string, prefix *gofakes3.Prefix, _ gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if err := b.bucketExists(bucket); err != nil {
		return nil, err
	}
	var pre, delim string
	if prefix != nil {
		pre, delim = prefix.Prefix, prefix.Delimiter
	}
	var contents []*gofakes3.Content
	prefixes := map[string]bool{}
	add := func(key string, c func() *gofakes3.Content) {
		if !strings.HasPrefix(key, pre) {
			return
		}
		if delim != "" {
			if i := strings.Index(key[len(pre):], delim); i >= 0 {
				prefixes[key[:len(pre)+i+len(delim)]] = true
				return
			}
		}
		if item := c(); item != nil {
			contents = append(contents, item)
		}
	}
	bad := func(p string, err error) {
		b.log.Warn("s3: a file in the data directory is not an object; left out of listings", "path", p, "err", err)
	}
	if err := b.listNested(bucket, pre, add, bad); err != nil {
		return nil, err
	}
	err := b.enc.list(bucket, func(e encodedEntry) {
		add(e.key, func() *gofakes3.Content {
			etag := e.trailer.Meta[etagMetaKey]
			if etag == "" {
				etag = hex.EncodeToString(e.trailer.MD5)
			}
			return &gofakes3.Content{Key: e.key, LastModified: gofakes3.NewContentTime(e.modTime), ETag: `"` + etag + `"`, Size: e.size}
		})
	}, bad)
	if err != nil {
		return nil, err
	}
	list := gofakes3.NewObjectList()
	sort.Slice(contents, func(i, j int) bool { return contents[i].Key < contents[j].Key })
	list.Contents = contents
	for _, p := range slices.Sorted(maps.Keys(prefixes)) {
		list.AddPrefix(p)
	}
	return list, nil
}

// listNested walks s3afero's files of the bucket, skipping directories that cannot hold a
// key with the prefix.
func (b backend) listNested(bucket, pre string, add func(string, func() *gofakes3.Content), bad func(string, error)) error {
	top, err := bucketPath(filepath.Join(b.root, "buckets"), bucket)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != top && errors.Is(err, fs.ErrNotExist) {
				return nil // removed since its parent was read
			}
			return err
		}
		if p == top {
			return nil
		}
		rel, err := filepath.Rel(top, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if dir := key + "/"; !strings.HasPrefix(dir, pre) && !strings.HasPrefix(pre, dir) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !nestedKey(key) {
			bad(p, errors.New("not an object file"))
			return nil
		}
		add(key, func() *gofakes3.Content {
			return b.nestedContent(bucket, key, p, bad)
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing bucket %q: %w", bucket, err)
	}
	return nil
}

func (b backend) nestedContent(bucket, key, p string, bad func(string, error)) *gofakes3.Content {
	if !b.nestedStored(bucket, key) {
		if _, err := os.Stat(p); err == nil {
			bad(p, errors.New("no metadata beside it"))
		}
		return nil
	}
	obj, err := b.MultiBucketBackend.HeadObject(bucket, key)
	if err != nil {
		if !isNoSuchKey(err) { // else deleted since the listing was read
			bad(p, err)
		}
		return nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil
	}
	return &gofakes3.Content{Key: key, LastModified: gofakes3.NewContentTime(st.ModTime()), ETag: `"` + objectETag(obj) + `"`, Size: obj.Size}
}

// CopyObject must not go through gofakes3's helper: it writes through the embedded
// backend and would skip the metadata fix above. Copies are served by Server.copyObject.
func (b backend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// dropBlank removes the blank values that earlier versions of this package wrote to shadow
// inherited metadata; objects stored by them still carry some.
func dropBlank(meta map[string]string) {
	for k, v := range meta {
		if v == "" {
			delete(meta, k)
		}
	}
}

// objectETag is the ETag S3 would report, without quotes.
func objectETag(obj *gofakes3.Object) string {
	if v := obj.Metadata[etagMetaKey]; v != "" {
		return v
	}
	return hex.EncodeToString(obj.Hash)
}

func isNoSuchKey(err error) bool {
	var ge gofakes3.Error
	return errors.As(err, &ge) && ge.ErrorCode() == gofakes3.ErrNoSuchKey
}

package s3

import (
	"encoding/hex"
	"errors"
	"io"
	"path"
	"path/filepath"

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
// Consistency of an object's bytes and its metadata (ETag, headers): s3afero keeps them in
// two files, writes both under its one backend-wide mutex, and reads both (opening the data
// file, then reading the metadata) under it too. With atomicFs each file is replaced by a
// rename, so a reader gets an open handle on one version's bytes and that same version's
// metadata, and keeps reading those bytes however many overwrites follow.
type backend struct {
	*s3afero.MultiBucketBackend
	fs    *atomicFs
	root  string    // the directory fs sees s3afero's files under: Config.Dir
	locks *keyLocks // readers (shared) against PutObject (exclusive), per key: see atomicFs.expectPut
}

// objectPath is the path atomicFs sees for an object: s3afero stores it at buckets/<bucket>/<key>.
func (b backend) objectPath(bucket, key string) string {
	return filepath.Join(b.root, "buckets", filepath.FromSlash(path.Join(bucket, key)))
}

// PutObject replaces the object whole: no metadata of the old one leaks through s3afero's
// merge (atomicFs hides the old object from it), and a body that comes short is not committed.
func (b backend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	unlock := b.locks.lock(bucket, key)
	defer unlock()
	done := b.fs.expectPut(b.objectPath(bucket, key), size)
	defer done()
	return b.MultiBucketBackend.PutObject(bucket, key, meta, input, size, cond)
}

func (b backend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	obj, err := b.MultiBucketBackend.HeadObject(bucket, key)
	if err == nil {
		dropBlank(obj.Metadata)
	}
	return obj, err
}

func (b backend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	unlock := b.locks.rlock(bucket, key)
	obj, err := b.MultiBucketBackend.GetObject(bucket, key, rng)
	unlock() // the object's file is open: later writes replace the file, not what it holds
	if err == nil {
		dropBlank(obj.Metadata)
	}
	return obj, err
}

func (b backend) ListBucket(bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	list, err := b.MultiBucketBackend.ListBucket(bucket, prefix, page)
	if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket) {
		// s3afero answers NoSuchBucket when a prefix names a folder that does not
		// exist; S3 answers an empty listing unless the bucket itself is missing.
		if ok, berr := b.MultiBucketBackend.BucketExists(bucket); berr == nil && ok {
			return gofakes3.NewObjectList(), nil
		}
	}
	if err != nil {
		return nil, err
	}
	for _, c := range list.Contents {
		obj, err := b.MultiBucketBackend.HeadObject(bucket, c.Key)
		if err != nil {
			continue // deleted since the listing was read
		}
		if v := obj.Metadata[etagMetaKey]; v != "" {
			c.ETag = `"` + v + `"`
		}
	}
	return list, nil
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

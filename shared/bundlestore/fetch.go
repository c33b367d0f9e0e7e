// Package bundlestore reads model bundles from S3: shared/bundle's checks
// (bundle.Open) over the objects under a prefix, each streamed from S3 into
// them. The bundle format itself does no I/O; this adapter is where it meets
// the store.
package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/store"
)

// Source is what Fetch needs from S3: *store.Store satisfies it.
type Source interface {
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
}

// Fetch reads and verifies the bundle under bucket/prefix (e.g.
// "runs/<run-id>/bundle/"), streaming each object straight into the checks
// bundle.Open makes, with no temporary directory: the manifest first (refused over
// bundle.MaxManifestBytes), then each file it lists (refused when S3's size
// differs from the manifest's, so nothing over bundle.MaxFileBytes is read).
//
// A missing manifest (no bundle, or not yet: it is written last) gives an
// error matching both fs.ErrNotExist and store.ErrNotFound; a listed object
// that is missing makes the bundle invalid (bundle.ErrInvalid).
func Fetch(ctx context.Context, src Source, bucket, prefix string) (*bundle.Bundle, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	b, err := bundle.Open(&objectFS{ctx: ctx, src: src, bucket: bucket, prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
	}
	return b, nil
}

// objectFS presents the objects under a prefix as an fs.FS, so that bundle.Open's
// checks serve a directory, an fstest.MapFS and S3 alike. Open is the only
// operation it needs; each file is one GetObject, streamed.
type objectFS struct {
	ctx            context.Context
	src            Source
	bucket, prefix string
}

func (o *objectFS) Open(name string) (fs.File, error) {
	if err := bundle.CheckPath(name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	key := o.prefix + name
	body, info, err := o.src.Get(o.ctx, o.bucket, key, store.GetOptions{})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFound{err}
		}
		// The store's error names the bucket and key already.
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &object{ReadCloser: body, info: info, name: name}, nil
}

// notFound is a store.ErrNotFound that also matches fs.ErrNotExist, which is
// how Open recognises a missing file.
type notFound struct{ err error }

func (e notFound) Error() string        { return e.err.Error() }
func (e notFound) Unwrap() error        { return e.err }
func (e notFound) Is(target error) bool { return target == fs.ErrNotExist }

type object struct {
	io.ReadCloser
	info store.ObjectInfo
	name string
}

func (o *object) Stat() (fs.FileInfo, error) { return objectInfo{o.info, o.name}, nil }

type objectInfo struct {
	info store.ObjectInfo
	name string
}

func (i objectInfo) Name() string {
	return i.name[strings.LastIndex(i.name, "/")+1:]
}
func (i objectInfo) Size() int64        { return i.info.Size }
func (i objectInfo) Mode() fs.FileMode  { return 0o444 }
func (i objectInfo) ModTime() time.Time { return i.info.LastModified }
func (i objectInfo) IsDir() bool        { return false }
func (i objectInfo) Sys() any           { return i.info }

// FetchVerified is Fetch, then the checks everything that acts on a bundle
// makes before trusting it: its manifest hashes to sha256 (the one the
// registry or training recorded), and the Go evaluator reproduces the
// trainer's sample predictions. A bundle that fails a check is invalid
// (bundle.ErrInvalid).
func FetchVerified(ctx context.Context, src Source, bucket, prefix, sha256 string) (*bundle.Bundle, error) {
	b, err := Fetch(ctx, src, bucket, prefix)
	if err != nil {
		return nil, err
	}
	if b.SHA256 != sha256 {
		return nil, fmt.Errorf("s3://%s/%s: %w: the manifest hashes to %s, but %s was recorded", bucket, prefix, bundle.ErrInvalid, b.SHA256, sha256)
	}
	if err := b.CheckSamples(); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
	}
	return b, nil
}

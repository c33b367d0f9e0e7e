// Package bundlestore reads model bundles from S3: shared/bundle's checks
// (bundle.Open) over the objects under a prefix, each streamed from S3 into
// them. The bundle format itself does no I/O; this adapter is where it meets
// the store.
package bundlestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/xgboost"
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
	return fetch(ctx, src, bucket, prefix, bundle.Options{})
}

func fetch(ctx context.Context, src Source, bucket, prefix string, opt bundle.Options) (*bundle.Bundle, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	b, err := bundle.OpenWith(&objectFS{ctx: ctx, src: src, bucket: bucket, prefix: prefix}, opt)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
	}
	return b, nil
}

// Manifest reads and checks the manifest of the bundle under bucket/prefix
// alone (bundle.ReadManifest), none of the files it lists.
func Manifest(ctx context.Context, src Source, bucket, prefix string) (bundle.Manifest, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	m, err := bundle.ReadManifest(&objectFS{ctx: ctx, src: src, bucket: bucket, prefix: prefix})
	if err != nil {
		return m, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
	}
	return m, nil
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

// Options says what FetchVerifiedWith reads.
type Options struct {
	// Files are the files to read besides the manifest and the model (nil:
	// all); see bundle.Options.
	Files []string
	// Compiled, when set, is the model's compiled form to load instead of
	// parsing model.json: it is read from the same bucket, at the same time
	// as the bundle's files, and used only if it has the recorded size and
	// SHA-256, was compiled from the model.json the verified manifest lists,
	// and loads. Otherwise model.json is fetched and parsed, as without it,
	// and OnCompiledError (if set) is told why.
	Compiled        *Compiled
	OnCompiledError func(error)
}

// Compiled names a compiled model (xgboost.ParseCompiled's input) and what
// it must be: its size and SHA-256, and the SHA-256 of the model.json it was
// compiled from.
type Compiled struct {
	Key         string
	SHA256      string
	Bytes       int64
	ModelSHA256 string
}

// FetchVerifiedWith is FetchVerified, reading what opt says.
func FetchVerifiedWith(ctx context.Context, src Source, bucket, prefix, sha256 string, opt Options) (*bundle.Bundle, error) {
	if opt.Compiled == nil {
		return fetchVerified(ctx, src, bucket, prefix, sha256, bundle.Options{Files: opt.Files})
	}
	c := *opt.Compiled
	type result struct {
		data []byte
		err  error
	}
	// The compiled model is read while the manifest is, not after it.
	fetched := make(chan result, 1)
	go func() {
		data, err := readCompiled(ctx, src, bucket, c)
		fetched <- result{data, err}
	}()
	var compiledErr error
	b, err := fetchVerified(ctx, src, bucket, prefix, sha256, bundle.Options{Files: opt.Files,
		Model: func(modelJSON bundle.File) (*xgboost.Model, error) {
			r := <-fetched
			if r.err == nil && modelJSON.SHA256 != c.ModelSHA256 {
				r.err = fmt.Errorf("compiled from model.json %s, but the bundle's is %s", c.ModelSHA256, modelJSON.SHA256)
			}
			var m *xgboost.Model
			if r.err == nil {
				m, r.err = xgboost.ParseCompiled(r.data)
			}
			if r.err != nil {
				compiledErr = fmt.Errorf("s3://%s/%s: %w", bucket, c.Key, r.err)
				return nil, compiledErr
			}
			return m, nil
		}})
	if err == nil || compiledErr == nil {
		return b, err
	}
	// The bundle may be sound where its compiled model is not: it decides.
	if opt.OnCompiledError != nil {
		opt.OnCompiledError(compiledErr)
	}
	return fetchVerified(ctx, src, bucket, prefix, sha256, bundle.Options{Files: opt.Files})
}

// readCompiled reads a compiled model and checks its size and hash.
func readCompiled(ctx context.Context, src Source, bucket string, c Compiled) ([]byte, error) {
	body, info, err := src.Get(ctx, bucket, c.Key, store.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if info.Size != c.Bytes || c.Bytes > bundle.MaxFileBytes {
		return nil, fmt.Errorf("%d bytes, %d recorded", info.Size, c.Bytes)
	}
	// Hashed as it arrives rather than after.
	h := sha256.New()
	data := make([]byte, c.Bytes)
	if _, err := io.ReadFull(io.TeeReader(body, h), data); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != c.SHA256 {
		return nil, fmt.Errorf("sha256 %s, %s recorded", got, c.SHA256)
	}
	return data, nil
}

// FetchVerified is Fetch, then the checks everything that acts on a bundle
// makes before trusting it: its manifest hashes to sha256 (the one the
// registry or training recorded), and the Go evaluator reproduces the
// trainer's sample predictions. A bundle that fails a check is invalid
// (bundle.ErrInvalid).
func FetchVerified(ctx context.Context, src Source, bucket, prefix, sha256 string) (*bundle.Bundle, error) {
	return fetchVerified(ctx, src, bucket, prefix, sha256, bundle.Options{})
}

func fetchVerified(ctx context.Context, src Source, bucket, prefix, sha256 string, opt bundle.Options) (*bundle.Bundle, error) {
	b, err := fetch(ctx, src, bucket, prefix, opt)
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

package bundlestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/store"
)

// objects is a Source over bodies by "bucket/key", answering as the store
// does. The tests against the real SDK and the embedded S3 endpoint are
// shared/bundle's fetch_test.go, beside the fixtures and their helpers.
type objects map[string][]byte

func (o objects) Get(_ context.Context, bucket, key string, _ store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	b, ok := o[bucket+"/"+key]
	if !ok {
		return nil, store.ObjectInfo{}, fmt.Errorf("get s3://%s/%s: %w", bucket, key, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), store.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(b))}, nil
}

func TestFetchPrefixAndMissing(t *testing.T) {
	dir := "../bundle/testdata/bundles/binary"
	src := objects{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path.Join(dir, name))
		src["platform/runs/r1/bundle/"+name] = body
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := bundle.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The prefix with or without its slash.
	for _, prefix := range []string{"runs/r1/bundle", "runs/r1/bundle/"} {
		b, err := bundlestore.Fetch(context.Background(), src, "platform", prefix)
		if err != nil || b.SHA256 != want.SHA256 {
			t.Fatalf("%s: %v", prefix, err)
		}
	}
	// No manifest: no bundle, in the terms of fs and of the store, named.
	_, err = bundlestore.Fetch(context.Background(), src, "platform", "runs/r2/bundle")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, store.ErrNotFound) || errors.Is(err, bundle.ErrInvalid) ||
		!strings.HasPrefix(err.Error(), "s3://platform/runs/r2/bundle/: ") {
		t.Fatalf("no manifest: %v", err)
	}
}

package bundle_test

// The tests of shared/bundlestore's Fetch live here, beside the bundle fixtures
// and helpers they share with the format's own tests.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
)

// countingSource records the keys Fetch reads.
type countingSource struct {
	bundlestore.Source
	mu   sync.Mutex
	keys []string
}

func (c *countingSource) Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	return c.Source.Get(ctx, bucket, key, opt)
}

// Fetch through the real SDK against the embedded S3 endpoint (gofakes3 with
// SigV4 checks), as the train function and the gate will.
func TestFetch(t *testing.T) {
	_, st := lambdatest.S3(t, "platform")
	ctx := context.Background()
	const prefix = "runs/run-binary/bundle/"
	fsys := fixtureFS(t, "binary")
	upload := func(prefix string) {
		t.Helper()
		for name, f := range fsys {
			if name == bundle.ManifestFile {
				continue
			}
			if _, err := st.Put(ctx, "platform", prefix+name, f.Data, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Manifest last, as trainers write it.
		if _, err := st.Put(ctx, "platform", prefix+bundle.ManifestFile, fsys[bundle.ManifestFile].Data, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	upload(prefix)
	local, err := bundle.OpenDir(fixtureDir("binary"))
	if err != nil {
		t.Fatal(err)
	}

	src := &countingSource{Source: st}
	b, err := bundlestore.Fetch(ctx, src, "platform", strings.TrimSuffix(prefix, "/"))
	if err != nil {
		t.Fatal(err)
	}
	if b.SHA256 != local.SHA256 || b.Model.NumTrees() != local.Model.NumTrees() || len(b.Samples.Rows) != len(local.Samples.Rows) {
		t.Fatalf("fetched %s, local %s", b, local)
	}
	if err := b.CheckSamples(); err != nil {
		t.Fatal(err)
	}
	// The manifest first, then each listed file once (in any order: they
	// are read concurrently); nothing else.
	var want []string
	for _, f := range b.Manifest.Files {
		want = append(want, prefix+f.Path)
	}
	got := slices.Sorted(slices.Values(src.keys[1:]))
	if src.keys[0] != prefix+bundle.ManifestFile || !slices.Equal(got, want) {
		t.Fatalf("read %q, want the manifest then %q", src.keys, want)
	}

	// A changed object is caught, and named.
	model := bytes.Replace(fsys[bundle.ModelFile].Data, []byte(`"num_feature":"7"`), []byte(`"num_feature":"8"`), 1)
	if bytes.Equal(model, fsys[bundle.ModelFile].Data) {
		t.Fatal("the edit did not apply")
	}
	if _, err := st.Put(ctx, "platform", prefix+bundle.ModelFile, model, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = bundlestore.Fetch(ctx, st, "platform", prefix)
	wantInvalid(t, err, bundle.ManifestFile, "s3://platform/runs/run-binary/bundle/: bundle manifest.json: file model.json: sha256")

	// A listed object that is missing makes the bundle invalid.
	if err := st.Delete(ctx, "platform", prefix+bundle.ModelFile, ""); err != nil {
		t.Fatal(err)
	}
	_, err = bundlestore.Fetch(ctx, st, "platform", prefix)
	wantInvalid(t, err, bundle.ManifestFile, "file model.json is listed but missing")

	// No manifest: no bundle (yet), which both error families recognise.
	_, err = bundlestore.Fetch(ctx, st, "platform", "runs/nothing/bundle/")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, store.ErrNotFound) || errors.Is(err, bundle.ErrInvalid) {
		t.Fatalf("no manifest: %v", err)
	}

	// A manifest over the limit is refused on its size, before it is read.
	big := append(slices.Clone(fsys[bundle.ManifestFile].Data), bytes.Repeat([]byte(" "), bundle.MaxManifestBytes)...)
	if _, err := st.Put(ctx, "platform", "runs/big/bundle/manifest.json", big, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = bundlestore.Fetch(ctx, st, "platform", "runs/big/bundle/")
	wantInvalid(t, err, bundle.ManifestFile, "over the limit of 1048576")

	// A cancelled context is a failed read, not a bad bundle.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	upload("runs/again/bundle/")
	_, err = bundlestore.Fetch(cctx, st, "platform", "runs/again/bundle/")
	if err == nil || errors.Is(err, bundle.ErrInvalid) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

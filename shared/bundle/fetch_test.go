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
	"github.com/openmlops/mlops/shared/hashid"
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

// FetchVerifiedWith with a compiled model, through the real SDK: the compiled
// model is used in place of model.json (which is not read), only the files
// asked for are read, and a compiled model that is not the one recorded, or
// not compiled from this bundle's model.json, is refused for model.json.
func TestFetchCompiled(t *testing.T) {
	_, st := lambdatest.S3(t, "platform")
	ctx := context.Background()
	const prefix = "runs/run-binary/bundle/"
	fsys := fixtureFS(t, "binary")
	for name, f := range fsys {
		if _, err := st.Put(ctx, "platform", prefix+name, f.Data, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	local, err := bundle.OpenDir(fixtureDir("binary"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := local.Model.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	const key = "models/m/compiled/run-binary/x.xgbm"
	if _, err := st.Put(ctx, "platform", key, data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	entry, _ := local.Manifest.File(bundle.ModelFile)
	good := bundlestore.Compiled{Key: key, SHA256: hashid.Of(data), Bytes: int64(len(data)), ModelSHA256: entry.SHA256}
	files := []string{bundle.EncodingFile, bundle.SamplesFile, bundle.LineageFile}

	fetch := func(c bundlestore.Compiled) (*bundle.Bundle, []string, []error) {
		t.Helper()
		src := &countingSource{Source: st}
		var refused []error
		b, err := bundlestore.FetchVerifiedWith(ctx, src, "platform", prefix, local.SHA256, bundlestore.Options{
			Files: files, Compiled: &c, OnCompiledError: func(err error) { refused = append(refused, err) }})
		if err != nil {
			t.Fatal(err)
		}
		if b.SHA256 != local.SHA256 || b.Lineage.RunID != local.Lineage.RunID || len(b.Samples.Rows) != len(local.Samples.Rows) ||
			b.Encoder == nil || len(b.TestRows.Rows) != 0 {
			t.Fatalf("fetched %+v", b)
		}
		slices.Sort(src.keys)
		return b, src.keys, refused
	}
	b, keys, refused := fetch(good)
	want := []string{key}
	for _, f := range append([]string{bundle.ManifestFile}, files...) {
		want = append(want, prefix+f)
	}
	slices.Sort(want)
	if len(refused) != 0 || !slices.Equal(keys, want) {
		t.Fatalf("read %q (refused %v), want %q", keys, refused, want)
	}
	row := make([]float32, b.Model.NumFeatures())
	p, q := make([]float32, 1), make([]float32, 1)
	if b.Model.Predict(row, p) != nil || local.Model.Predict(row, q) != nil || p[0] != q[0] {
		t.Fatalf("compiled model predicts %v, model.json %v", p, q)
	}

	tampered := slices.Clone(data)
	tampered[len(tampered)-1] ^= 1
	if _, err := st.Put(ctx, "platform", key+".bad", tampered, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*bundlestore.Compiled)
		want string
	}{
		{"other bytes", func(c *bundlestore.Compiled) { c.Key += ".bad" }, "sha256"},
		{"other size", func(c *bundlestore.Compiled) { c.Bytes-- }, "recorded"},
		{"missing", func(c *bundlestore.Compiled) { c.Key += ".none" }, "not found"},
		{"other model.json", func(c *bundlestore.Compiled) { c.ModelSHA256 = strings.Repeat("0", 64) }, "compiled from model.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			_, keys, refused := fetch(c)
			if len(refused) != 1 || !strings.Contains(refused[0].Error(), tc.want) {
				t.Fatalf("refused %v, want one error containing %q", refused, tc.want)
			}
			if !slices.Contains(keys, prefix+bundle.ModelFile) {
				t.Fatalf("model.json was not read in its place: %q", keys)
			}
		})
	}
}

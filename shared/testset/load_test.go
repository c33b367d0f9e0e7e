package testset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/testset"
	"github.com/openmlops/mlops/trainer/trainertest"
)

// parts builds gzip canonical CSV partitions of a table with columns id and v,
// where row r (numbered over all partitions) has id "r<r>".
func parts(t *testing.T, sizes ...int) [][]byte {
	t.Helper()
	var out [][]byte
	row := 0
	for _, n := range sizes {
		rows := [][]string{{"id", "v"}}
		for i := 0; i < n; i++ {
			rows = append(rows, []string{fmt.Sprintf("r%d", row), fmt.Sprint(row * 10)})
			row++
		}
		out = append(out, trainertest.GzipCSV(t, rows))
	}
	return out
}

func readers(ps [][]byte) []io.Reader {
	var rs []io.Reader
	for _, p := range ps {
		rs = append(rs, bytes.NewReader(p))
	}
	return rs
}

func ids(r *testset.Rows) []string {
	var out []string
	for _, rec := range r.Records {
		out = append(out, rec[slices.Index(r.Header, "id")])
	}
	return out
}

func TestLoadNumbersRowsAcrossPartitions(t *testing.T) {
	// Three partitions of 3, 0 (header only) and 4 rows: rows 0..6.
	ps := parts(t, 3, 0, 4)
	r, err := testset.Load(readers(ps), []int64{0, 2, 3, 6})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(r); !slices.Equal(got, []string{"r0", "r2", "r3", "r6"}) {
		t.Errorf("rows %q", got)
	}
	if !slices.Equal(r.Header, []string{"id", "v"}) || !slices.Equal(r.Numbers, []int64{0, 2, 3, 6}) {
		t.Errorf("header %q numbers %v", r.Header, r.Numbers)
	}

	// A later partition with its columns in another order is read by name.
	swapped := trainertest.GzipCSV(t, [][]string{{"v", "id"}, {"70", "r7"}, {"80", "r8"}})
	r, err = testset.Load(readers(append(slices.Clone(ps), swapped)), []int64{1, 8})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Records[1], []string{"r8", "80"}) {
		t.Errorf("reordered partition: %q", r.Records)
	}

	// Nothing after the last test row is read.
	r, err = testset.Load([]io.Reader{bytes.NewReader(ps[0]), iotest.ErrReader(errors.New("read"))}, []int64{1})
	if err != nil || !slices.Equal(ids(r), []string{"r1"}) {
		t.Errorf("reading past the last row: %v", err)
	}

	for _, tc := range []struct {
		name  string
		parts [][]byte
		rows  []int64
		want  string
	}{
		{"beyond the data", ps, []int64{2, 7}, "test row 7 is beyond the data, which has 7 rows"},
		{"not ascending", ps, []int64{3, 2}, "ascending"},
		{"negative", ps, []int64{-1}, "non-negative"},
		{"other columns", [][]byte{ps[0], trainertest.GzipCSV(t, [][]string{{"id", "w"}, {"x", "y"}})}, []int64{0, 3}, "differ"},
		{"not gzip", [][]byte{[]byte("id,v\n1,2\n")}, []int64{0}, "partition 0"},
		{"no partitions", nil, []int64{0}, "no partitions"},
	} {
		_, err := testset.Load(readers(tc.parts), tc.rows)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// memStore is a map of keys to objects, standing in for S3.
type memStore map[string][]byte

func (m memStore) ReadAll(_ context.Context, bucket, key string) ([]byte, store.ObjectInfo, error) {
	b, ok := m[bucket+"/"+key]
	if !ok {
		return nil, store.ObjectInfo{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, store.ErrNotFound)
	}
	return b, store.ObjectInfo{Size: int64(len(b))}, nil
}

func (m memStore) Get(ctx context.Context, bucket, key string, _ store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	b, info, err := m.ReadAll(ctx, bucket, key)
	if err != nil {
		return nil, info, err
	}
	return io.NopCloser(bytes.NewReader(b)), info, nil
}

// List and ListDirs complete ingest.Reader; these tests read known keys only.
func (m memStore) List(context.Context, string, string, func(store.ObjectInfo) error) error {
	return nil
}
func (m memStore) ListDirs(context.Context, string, string) ([]string, error) { return nil, nil }

func TestFetchManifest(t *testing.T) {
	ps := parts(t, 5, 4)
	st := memStore{}
	man := ingest.Manifest{Dataset: "toy", VersionID: "v1", Mode: "append"}
	for i, p := range ps {
		key := fmt.Sprintf("datasets/toy/objects/p%d.canonical.csv.gz", i)
		st["platform/"+key] = p
		man.Partitions = append(man.Partitions, ingest.Partition{CanonicalKey: key, Rows: int64(5 - i)})
	}
	raw, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	st["platform/"+ingest.ManifestKey("toy", "v1")] = raw

	ds := ingest.NewDatasets(st, "platform", "")
	m, err := ds.Manifest(context.Background(), "toy", "v1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := testset.FetchManifest(context.Background(), ds, m, []int64{4, 5, 8})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(r); !slices.Equal(got, []string{"r4", "r5", "r8"}) || r.DatasetVersion != "v1" {
		t.Errorf("rows %q of version %q", got, r.DatasetVersion)
	}
	if _, err := ds.Manifest(context.Background(), "toy", "v2"); err == nil {
		t.Error("a missing version reads")
	}
	delete(st, "platform/"+man.Partitions[1].CanonicalKey)
	if _, err := testset.FetchManifest(context.Background(), ds, m, []int64{4, 5}); err == nil ||
		!strings.Contains(err.Error(), "p1.canonical") {
		t.Errorf("a missing partition: %v", err)
	}
	// A partition after the last test row is never fetched.
	if _, err := testset.FetchManifest(context.Background(), ds, m, []int64{4}); err != nil {
		t.Errorf("a partition after the last test row was fetched: %v", err)
	}
}

// TestFetchBundle reads a trained bundle's test rows through the store, by
// the dataset version its lineage names, and scores it.
func TestFetchBundle(t *testing.T) {
	t.Parallel()
	m := get(t, "binary")
	st := memStore{}
	man := ingest.Manifest{Dataset: m.b.Lineage.Dataset, VersionID: m.b.TestRows.DatasetVersion}
	for i, p := range m.parts {
		key := fmt.Sprintf("datasets/credit/objects/%d.csv.gz", i)
		st["platform/"+key] = p
		man.Partitions = append(man.Partitions, ingest.Partition{CanonicalKey: key})
	}
	raw, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	st["platform/"+ingest.ManifestKey(man.Dataset, man.VersionID)] = raw
	rows, err := testset.Fetch(context.Background(), ingest.NewDatasets(st, "platform", ""), m.b)
	if err != nil {
		t.Fatal(err)
	}
	res := scoreOn(t, m.b, rows)
	checkMetrics(t, res.Metrics, m.b.Metrics.Test)
}

package ingest_test

import (
	"testing"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/ingest"
)

// FuzzParseUploads: no event payload makes the parser panic, and whatever it
// accepts names a bucket and a key. Seeds: testdata/fuzz/FuzzParseUploads and the
// samples in events/.
func FuzzParseUploads(f *testing.F) {
	for _, n := range events.Names() {
		f.Add(events.Sample(n))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ups, err := ingest.ParseUploads(payload)
		if err != nil {
			return
		}
		for _, u := range ups {
			if u.Bucket == "" || u.Key == "" {
				t.Fatalf("accepted an upload without bucket or key: %+v", u)
			}
			_, _, _ = ingest.DatasetOf(u.Key)
		}
	})
}

// FuzzDatasetOf: any key is either ignored, refused with a reason, or names a
// valid dataset; never a panic.
func FuzzDatasetOf(f *testing.F) {
	for _, k := range []string{"incoming/credit/a.csv", "incoming/../x", "incoming/credit//x", "incoming/Bad/x", "x", "incoming/c/\x00"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		d, problem, ok := ingest.DatasetOf(key)
		if ok && problem == "" && !ingest.ValidDataset(d) {
			t.Fatalf("%q accepted with invalid dataset %q", key, d)
		}
	})
}

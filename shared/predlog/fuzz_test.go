package predlog_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/openmlops/mlops/shared/predlog"
)

// FuzzDecodeRecord feeds arbitrary lines to the decoder (the seeds are in
// testdata/fuzz/FuzzDecodeRecord: valid records of each shape, a newer
// schema, records end to end, broken JSON). A record it accepts is valid and
// survives a write and a read unchanged; the stream decoder over the same
// bytes never panics and reports every bad line, as a *DecodeError, to OnBad.
func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := predlog.DecodeRecord(b)
		if err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted an invalid record: %v", err)
			}
			w := &calls{}
			if err := predlog.NewLines(w).Write(context.Background(), []predlog.Record{r}); err != nil {
				// Only the size bound may refuse what the decoder took.
				if len(b) < predlog.MaxRecordBytes/2 {
					t.Fatalf("cannot write back a record read: %v", err)
				}
				return
			}
			again, err := predlog.DecodeRecord(w.calls[0])
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, again, r)
			}
		}
		err = predlog.Decode(bytes.NewReader(b), "fuzz", predlog.ReadOptions{OnBad: func(e *predlog.DecodeError) error {
			if e.Key != "fuzz" || e.Line < 0 {
				t.Fatalf("a bad line reported as %+v", e)
			}
			return nil
		}}, func(r predlog.Record) error {
			if err := r.Validate(); err != nil {
				t.Fatalf("the stream decoder passed an invalid record: %v", err)
			}
			return nil
		})
		var verr *predlog.VersionError
		if err != nil && !errors.As(err, &verr) {
			t.Fatalf("the stream decoder stopped with %v", err)
		}
	})
}

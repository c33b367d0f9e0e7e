package predlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/store"
)

// lines is recs as the Lines sink writes them.
func lines(t testing.TB, recs ...predlog.Record) []byte {
	t.Helper()
	w := &calls{}
	if err := predlog.NewLines(w).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return bytes.Join(w.calls, nil)
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// Read streams back, day by day and object by object, what the Batcher
// wrote and what Firehose delivers: gzip or plain objects, whatever their
// names and headers, and records joined on one line when the stream adds no
// delimiter; the records come back equal to what was written.
func TestReadRoundTrip(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	ctx := context.Background()
	rows := creditRows(t)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 50, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	day1 := day0.AddDate(0, 0, 1)
	var want []predlog.Record
	for i := range 120 {
		at := day0
		if i >= 100 {
			at = day1
		}
		r := record(fmt.Sprintf("b%03d", i), 0, at, rows[i])
		if i%7 == 0 {
			r.Shadow = &predlog.Shadow{Version: 4, BundleSHA256: bundleSHA, Outputs: map[string]any{"p_bad": 0.5, "label": "bad"}}
		}
		want = append(want, r)
	}
	if err := b.Write(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Firehose's objects on the second day: one gzip with no headers, one
	// plain, one whose records sit end to end on one line.
	fh := []predlog.Record{record("f1", 0, day1, rows[200]), record("f1", 1, day1, rows[201]), record("f2", 0, day1, rows[202])}
	puts := map[string][]byte{
		"predictions/credit/dt=2026-03-15/credit-logs-1-2026-03-15-10-00-00-a1b2.jsonl.gz": gz(lines(t, fh[0])),
		"predictions/credit/dt=2026-03-15/credit-logs-1-2026-03-15-10-05-00-c3d4.jsonl":    lines(t, fh[1]),
		"predictions/credit/dt=2026-03-15/credit-logs-1-2026-03-15-10-10-00-e5f6":          bytes.ReplaceAll(lines(t, fh[2], fh[2]), []byte("\n{"), []byte("{")),
	}
	for k, body := range puts {
		if _, err := st.Put(ctx, bucket, k, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, fh[0], fh[1], fh[2], fh[2])
	// Another model's records are in its own folder, not read.
	if _, err := st.Put(ctx, bucket, "predictions/other/dt=2026-03-14/x.jsonl", lines(t, other(record("o", 0, day0, rows[0]))), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	got := readAll(t, st, "credit", day0, day1.Add(23*time.Hour))
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	byID := map[string][]predlog.Record{}
	for _, r := range want {
		r.Schema = predlog.RecordSchema
		byID[id(r)] = append(byID[id(r)], r)
	}
	for i, r := range got {
		if i > 0 && r.Time.Before(got[i-1].Time) {
			t.Errorf("%s read before an earlier day's record", id(r))
		}
		if !reflect.DeepEqual(byID[id(r)][0], r) {
			t.Errorf("%s read back\n%+v\nwant\n%+v", id(r), r, byID[id(r)][0])
		}
	}
	if n := len(readAll(t, st, "credit", day1, day1)); n != 24 {
		t.Errorf("%d records on the second day, want 24", n)
	}
	if n := len(readAll(t, st, "credit", day0.AddDate(0, 0, 7), day0.AddDate(0, 0, 7))); n != 0 {
		t.Errorf("%d records on a day with none", n)
	}
	stop := errors.New("enough")
	n := 0
	err = predlog.ReadDay(ctx, st, bucket, "credit", day0, func(predlog.Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("fn's error: %v after %d records", err, n)
	}
	for _, tc := range []struct {
		model    string
		from, to time.Time
		want     string
	}{
		{"Credit", day0, day0, "not a model name"},
		{"credit", day1, day0, "before the start"},
	} {
		err := predlog.Read(ctx, st, bucket, tc.model, tc.from, tc.to, predlog.ReadOptions{}, func(predlog.Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v..%v: %v", tc.model, tc.from, tc.to, err)
		}
	}
}

func other(r predlog.Record) predlog.Record {
	r.Model = "other"
	return r
}

// A line that holds no valid record stops the read with an error naming the
// object and the line, or, with OnBad, is passed to it to count and skip; a
// record of a newer schema stops the read either way.
func TestReadBadLines(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	ctx := context.Background()
	rows := creditRows(t)
	good := lines(t, record("g", 0, day0, rows[0]))
	newer := bytes.Replace(good, []byte("mlops.prediction/1"), []byte("mlops.prediction/2"), 1)
	misplaced := lines(t, record("m", 0, day0.AddDate(0, 0, 1), rows[1]))
	long := append(append([]byte(`{"schema":"mlops.prediction/1","pad":"`), bytes.Repeat([]byte("x"), predlog.MaxLineBytes)...), "\"}\n"...)
	truncated := gz(bytes.Repeat(good, 50))
	truncated = truncated[:len(truncated)-30]
	key := func(n string) string { return predlog.Prefix("credit", day0) + n }
	objs := []struct {
		name string
		body []byte
		want []string // the bad lines, as OnBad sees them
	}{
		{"a.jsonl", bytes.Join([][]byte{good, []byte("{not json\n"), good, []byte("\n"), []byte(`{"schema":"mlops.prediction/1"}` + "\r\n"), good}, nil),
			[]string{key("a.jsonl") + " line 2: not a JSON record", key("a.jsonl") + " line 5: requestId: empty"}},
		{"b.jsonl", misplaced, []string{key("b.jsonl") + " line 1: a record of model credit on 2026-03-15 in the folder of credit on 2026-03-14"}},
		{"c.jsonl", append(long, good...), []string{key("c.jsonl") + " line 1: longer than"}},
		{"d.jsonl.gz", truncated, []string{key("d.jsonl.gz") + ": after line"}},
		{"e.jsonl.gz", []byte{0x1f, 0x8b, 1}, []string{key("e.jsonl.gz") + ": gzip"}},
	}
	for _, o := range objs {
		if _, err := st.Put(ctx, bucket, key(o.name), o.body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Without OnBad the first bad line stops the read.
	err := predlog.ReadDay(ctx, st, bucket, "credit", day0, func(predlog.Record) error { return nil })
	var de *predlog.DecodeError
	if !errors.As(err, &de) || de.Key != key("a.jsonl") || de.Line != 2 || !strings.HasPrefix(err.Error(), objs[0].want[0]) {
		t.Fatalf("first bad line: %v", err)
	}

	var bad []string
	read := 0
	err = predlog.Read(ctx, st, bucket, "credit", day0, day0, predlog.ReadOptions{OnBad: func(e *predlog.DecodeError) error {
		bad = append(bad, e.Error())
		return nil
	}}, func(predlog.Record) error { read++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range objs {
		want = append(want, o.want...)
	}
	if len(bad) != len(want) {
		t.Fatalf("OnBad saw %d lines, want %d:\n%s", len(bad), len(want), strings.Join(bad, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(bad[i], want[i]) {
			t.Errorf("bad line %d: %s\nwant %s…", i, bad[i], want[i])
		}
	}
	// a.jsonl's 3 good lines, c.jsonl's 1, and what the truncated gzip gave
	// before it ended.
	if read < 4 || read >= 4+50 {
		t.Errorf("%d good records read", read)
	}

	// An OnBad error stops the read with it.
	halt := errors.New("too many bad lines")
	err = predlog.Read(ctx, st, bucket, "credit", day0, day0, predlog.ReadOptions{OnBad: func(*predlog.DecodeError) error { return halt }},
		func(predlog.Record) error { return nil })
	if err != halt {
		t.Errorf("OnBad's error: %v", err)
	}

	// A newer schema stops the read, OnBad or not.
	if _, err := st.Put(ctx, bucket, key("0-newer.jsonl"), append(append([]byte{}, good...), newer...), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err = predlog.Read(ctx, st, bucket, "credit", day0, day0, predlog.ReadOptions{OnBad: func(*predlog.DecodeError) error { return nil }},
		func(predlog.Record) error { return nil })
	var verr *predlog.VersionError
	if !errors.As(err, &verr) || !errors.As(err, &de) || de.Line != 2 || !strings.Contains(err.Error(), key("0-newer.jsonl")+" line 2") {
		t.Errorf("newer schema: %v", err)
	}
}

// Decode reads one object's bytes, as a downloaded Firehose file.
func TestDecodePlainAndGzip(t *testing.T) {
	rows := creditRows(t)
	body := lines(t, record("d", 0, day0, rows[0]), record("d", 1, day0.AddDate(0, 1, 0), rows[1]))
	for name, b := range map[string][]byte{"plain": body, "gzip": gz(body), "crlf": bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))} {
		n := 0
		if err := predlog.Decode(bytes.NewReader(b), name, predlog.ReadOptions{}, func(predlog.Record) error { n++; return nil }); err != nil || n != 2 {
			t.Errorf("%s: %d records, %v", name, n, err)
		}
	}
}

// Decoders running ahead hand fn and OnBad exactly what one reader does, in
// the same order; an error from fn stops them all.
func TestReadParallelKeepsOrder(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	ctx := context.Background()
	rows := creditRows(t)
	for o := range 7 {
		var buf bytes.Buffer
		for i := range 1000 {
			buf.Write(lines(t, record(fmt.Sprintf("r%d-%d", o, i), 0, day0, rows[i%len(rows)])))
			if i%300 == 7 {
				buf.WriteString("{bad\n")
			}
		}
		body := buf.Bytes()
		if o%2 == 1 {
			body = gz(body)
		}
		if _, err := st.Put(ctx, bucket, predlog.Prefix("credit", day0)+fmt.Sprintf("%02d.jsonl", o), body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(workers int, stopAt int) ([]string, error) {
		var seen []string
		err := predlog.Read(ctx, st, bucket, "credit", day0, day0, predlog.ReadOptions{Workers: workers,
			OnBad: func(e *predlog.DecodeError) error { seen = append(seen, e.Error()); return nil }},
			func(r predlog.Record) error {
				seen = append(seen, id(r))
				if len(seen) == stopAt {
					return errors.New("stop here")
				}
				return nil
			})
		return seen, err
	}
	one, err := run(1, -1)
	if err != nil || len(one) != 7*1000+7*4 {
		t.Fatalf("one reader: %d items, %v", len(one), err)
	}
	for _, w := range []int{2, 3, 8} {
		many, err := run(w, -1)
		if err != nil || !slices.Equal(one, many) {
			t.Fatalf("%d workers: %v; same order: %v", w, err, slices.Equal(one, many))
		}
		part, err := run(w, 2500)
		if err == nil || err.Error() != "stop here" || !slices.Equal(part, one[:2500]) {
			t.Fatalf("%d workers stopped: %v, %d items", w, err, len(part))
		}
	}
}

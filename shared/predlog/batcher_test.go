package predlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/store"
)

// Many goroutines write while Close is called: every Write that returned nil
// is read back exactly once, and every other one failed with ErrClosed.
func TestBatcherCloseMidStream(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	rows := creditRows(t)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 97, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		refused  int
		wg       sync.WaitGroup
	)
	started := make(chan struct{}, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				req := fmt.Sprintf("w%d-%05d", w, n)
				recs := []predlog.Record{record(req, 0, day0, rows[n%len(rows)]), record(req, 1, day0, rows[(n+1)%len(rows)])}
				err := b.Write(ctx, recs)
				if n == 50 {
					started <- struct{}{}
				}
				mu.Lock()
				switch {
				case err == nil:
					accepted[id(recs[0])], accepted[id(recs[1])] = true, true
				case errors.Is(err, predlog.ErrClosed):
					refused++
				default:
					t.Errorf("write %s: %v", req, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	for range 8 {
		<-started
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if refused != 8 {
		t.Errorf("%d writers saw ErrClosed, want 8 (each stops at its first)", refused)
	}
	got := readAll(t, st, "credit", day0, day0)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[id(r)] {
			t.Errorf("%s read twice", id(r))
		}
		seen[id(r)] = true
		if !accepted[id(r)] {
			t.Errorf("%s read back but its Write failed", id(r))
		}
	}
	for k := range accepted {
		if !seen[k] {
			t.Errorf("%s accepted before Close but not in the store", k)
		}
	}
	if len(accepted) < 8*51*2 {
		t.Errorf("only %d records accepted", len(accepted))
	}
	t.Logf("%d records in %d objects", len(got), len(objects(t, st, predlog.Prefix("credit", day0))))
}

// A model's day is written once it holds MaxRecords records, or MaxBytes
// bytes, without waiting for the interval or Close; each object is gzip JSON
// Lines under its folder, named to sort by time.
func TestBatcherFlushOnSize(t *testing.T) {
	rows := creditRows(t)
	// Records of one size, so that MaxBytes cuts at a known count.
	var line lambdatest.SyncBuffer
	if err := predlog.NewLines(&line).Write(context.Background(), []predlog.Record{record("r00", 0, day0, rows[0])}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  predlog.BatcherConfig
	}{
		{"records", predlog.BatcherConfig{MaxRecords: 10}},
		{"bytes", predlog.BatcherConfig{MaxBytes: 10 * len(line.String())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st := lambdatest.S3(t, bucket)
			cfg := tc.cfg
			cfg.Bucket, cfg.Interval = bucket, time.Hour
			b, err := predlog.NewBatcher(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range 25 {
				if err := b.Write(ctx, []predlog.Record{record(fmt.Sprintf("r%02d", i), 0, day0, rows[0])}); err != nil {
					t.Fatal(err)
				}
			}
			prefix := predlog.Prefix("credit", day0)
			waitFor(t, "two objects", func() bool { return len(objects(t, st, prefix)) == 2 })
			if n := len(readAll(t, st, "credit", day0, day0)); n != 20 {
				t.Errorf("%d records in the first two objects", n)
			}
			if err := b.Close(ctx); err != nil {
				t.Fatal(err)
			}
			objs := objects(t, st, prefix)
			if len(objs) != 3 {
				t.Fatalf("%d objects after Close, want 3", len(objs))
			}
			key := regexp.MustCompile(`^predictions/credit/dt=2026-03-14/\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{8}-\d{8}\.jsonl\.gz$`)
			for i, o := range objs {
				if !key.MatchString(o.Key) {
					t.Errorf("key %s", o.Key)
				}
				if i > 0 && o.Key <= objs[i-1].Key {
					t.Errorf("keys out of order: %s after %s", o.Key, objs[i-1].Key)
				}
				head, err := st.Head(ctx, bucket, o.Key)
				if err != nil || head.ContentEncoding != "gzip" || head.ContentType != "application/x-ndjson" {
					t.Errorf("%s: %+v %v", o.Key, head, err)
				}
			}
			if n := len(readAll(t, st, "credit", day0, day0)); n != 25 {
				t.Errorf("%d records read back, want 25", n)
			}
		})
	}
}

// A record waits at most about an interval: it is in the store with no Close.
func TestBatcherFlushOnTime(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	rows := creditRows(t)
	if err := b.Write(context.Background(), []predlog.Record{record("timed", 0, day0, rows[0])}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the interval's flush", func() bool { return len(objects(t, st, predlog.Prefix("credit", day0))) == 1 })
	if got := readAll(t, st, "credit", day0, day0); len(got) != 1 || got[0].RequestID != "timed" {
		t.Fatalf("read %+v", got)
	}
}

// Flush writes what is held and returns once it is in the store.
func TestBatcherFlush(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	ctx := context.Background()
	for i := range 3 {
		if err := b.Write(ctx, []predlog.Record{record(fmt.Sprint("f", i), 0, day0, rows[i])}); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(readAll(t, st, "credit", day0, day0)); n != i+1 {
			t.Fatalf("after flush %d: %d records in the store", i, n)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, []predlog.Record{record("late", 0, day0, rows[0])}); !errors.Is(err, predlog.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// A failed write is retried with backoff and logged; nothing is lost or
// written twice.
func TestBatcherRetriesFailedWrites(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	f := &flaky{st: st, n: 4}
	var logs lambdatest.SyncBuffer
	b, err := predlog.NewBatcher(f, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 5, Interval: time.Hour,
		Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	ctx := context.Background()
	for i := range 12 {
		if err := b.Write(ctx, []predlog.Record{record(fmt.Sprint("x", i), 0, day0, rows[i])}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.failed != 4 {
		t.Errorf("%d failed puts, want 4", f.failed)
	}
	got := readAll(t, st, "credit", day0, day0)
	if len(got) != 12 {
		t.Errorf("%d records read back, want 12", len(got))
	}
	if n := strings.Count(logs.String(), "write failed, retrying"); n != 4 {
		t.Errorf("%d retries logged, want 4:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), errInjected.Error()) || !strings.Contains(logs.String(), "written after retries") {
		t.Errorf("the log does not name the failure and the recovery:\n%s", logs.String())
	}
}

// While the store is down the buffer fills to MaxBuffered, and then Write
// waits (and fails when its context ends) rather than drop anything; once the
// store is back everything held is written.
func TestBatcherFullBufferWaits(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	f := &flaky{st: st, down: true}
	var logs lambdatest.SyncBuffer
	b, err := predlog.NewBatcher(f, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 2, MaxBuffered: 6, Interval: time.Hour,
		Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	ctx := context.Background()
	for i := range 6 {
		if err := b.Write(ctx, []predlog.Record{record(fmt.Sprint("h", i), 0, day0, rows[i])}); err != nil {
			t.Fatal(err)
		}
	}
	// The error names the store's failure once a write has failed (on a busy
	// machine the writers may not have tried within the short wait).
	waitFor(t, "a failed write", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.failed > 0
	})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = b.Write(short, []predlog.Record{record("over", 0, day0, rows[6])})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "buffer full") ||
		!strings.Contains(err.Error(), errInjected.Error()) {
		t.Fatalf("write to a full buffer: %v", err)
	}
	if !strings.Contains(logs.String(), "buffer full") {
		t.Errorf("the full buffer was not logged:\n%s", logs.String())
	}

	// A writer that waits gets in once the store is back.
	waited := make(chan error, 1)
	go func() { waited <- b.Write(ctx, []predlog.Record{record("waited", 0, day0, rows[7])}) }()
	select {
	case err := <-waited:
		t.Fatalf("a write to a full buffer returned while the store is down: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	f.setDown(false)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, st, "credit", day0, day0)
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.RequestID] = true
	}
	if len(got) != 7 || ids["over"] || !ids["waited"] {
		t.Errorf("read back %d records: %v", len(got), ids)
	}
}

// Close with a context that ends while the store is down says how many
// records it could not write, and logs it; a Write waiting for room gets
// ErrClosed.
func TestBatcherCloseGivesUp(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	f := &flaky{st: st, down: true}
	var logs lambdatest.SyncBuffer
	b, err := predlog.NewBatcher(f, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 2, MaxBuffered: 3, Interval: time.Hour,
		Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	if err := b.Write(context.Background(), []predlog.Record{record("a", 0, day0, rows[0]), record("a", 1, day0, rows[1]),
		record("b", 0, day0, rows[2])}); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- b.Write(context.Background(), []predlog.Record{record("c", 0, day0, rows[3])}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = b.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 records in 2 objects not written") || !strings.Contains(err.Error(), errInjected.Error()) {
		t.Fatalf("close: %v", err)
	}
	if !strings.Contains(logs.String(), "not written") {
		t.Errorf("the loss was not logged:\n%s", logs.String())
	}
	if err := <-waiting; !errors.Is(err, predlog.ErrClosed) {
		t.Errorf("the waiting write: %v", err)
	}
}

// Records go to the folder of their time's UTC day: one Write across
// midnight UTC makes one object on each side, and a time given in another
// zone counts by its UTC day.
func TestBatcherMidnightUTC(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	newYork := time.FixedZone("EST", -5*3600)
	before := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC)
	after := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	evening := time.Date(2026, 12, 31, 20, 30, 0, 0, newYork) // 01:30 UTC on 1 January
	recs := []predlog.Record{record("m", 0, before, rows[0]), record("m", 1, after, rows[1]), record("m", 2, evening, rows[2])}
	if err := b.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(objects(t, st, "predictions/credit/dt=2026-12-31/")); n != 1 {
		t.Errorf("%d objects on 31 December", n)
	}
	if n := len(objects(t, st, "predictions/credit/dt=2027-01-01/")); n != 1 {
		t.Errorf("%d objects on 1 January", n)
	}
	dec31 := readAll(t, st, "credit", before, before)
	jan1 := readAll(t, st, "credit", after, after)
	if len(dec31) != 1 || dec31[0].Index != 0 || !dec31[0].Time.Equal(before) {
		t.Errorf("31 December: %+v", dec31)
	}
	if len(jan1) != 2 || jan1[0].Index+jan1[1].Index != 3 {
		t.Errorf("1 January: %+v", jan1)
	}
	for _, r := range jan1 {
		if r.Time.Location() != time.UTC {
			t.Errorf("time %v not in UTC", r.Time)
		}
	}
	// Read across both days sees all three, in day order.
	if all := readAll(t, st, "credit", before, evening); len(all) != 3 || all[0].Index != 0 {
		t.Errorf("both days: %+v", all)
	}
}

// A record the schema refuses fails the whole Write; nothing of it is taken.
func TestBatcherRefusesBadRecords(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	bad := record("bad", 1, day0, rows[1])
	bad.Model = "Credit Model"
	err = b.Write(context.Background(), []predlog.Record{record("bad", 0, day0, rows[0]), bad})
	if err == nil || !strings.Contains(err.Error(), "model") || !strings.Contains(err.Error(), "bad[1]") {
		t.Fatalf("write: %v", err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if objs := objects(t, st, "predictions/"); len(objs) != 0 {
		t.Errorf("objects written: %v", objs)
	}
	if _, err := predlog.NewBatcher(st, predlog.BatcherConfig{}); err == nil {
		t.Error("a Batcher with no bucket")
	}
}

// stalling holds every Put of a key it has been told to stall until released,
// and passes the others to the store.
type stalling struct {
	st      *store.Store
	stalled chan string   // each stalled key, as its Put starts
	release chan struct{} // closed to let stalled Puts through
	first   sync.Once
}

func (s *stalling) Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	stall := false
	s.first.Do(func() { stall = true })
	if stall {
		s.stalled <- key
		select {
		case <-s.release:
		case <-ctx.Done():
			return store.ObjectInfo{}, ctx.Err()
		}
	}
	return s.st.Put(ctx, bucket, key, body, opt)
}

// One write that hangs (a slow PUT) holds up none of the others: the other
// writers go on with the objects cut after it, Flush waits for it too, and
// Close finds everything in the store.
func TestBatcherSlowWriteHoldsUpNoOther(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	s := &stalling{st: st, stalled: make(chan string, 1), release: make(chan struct{})}
	b, err := predlog.NewBatcher(s, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 1, Writers: 2, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rows := creditRows(t)
	ctx := context.Background()
	if err := b.Write(ctx, []predlog.Record{record("slow", 0, day0, rows[0])}); err != nil {
		t.Fatal(err)
	}
	<-s.stalled
	for i := range 5 {
		if err := b.Write(ctx, []predlog.Record{record(fmt.Sprint("after", i), 0, day0, rows[i+1])}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := predlog.Prefix("credit", day0)
	waitFor(t, "the five objects cut after the stalled one", func() bool { return len(objects(t, st, prefix)) == 5 })
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush returned %v with an object still being written", err)
	}
	close(s.release)
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, st, "credit", day0, day0); len(got) != 6 {
		t.Errorf("%d records read back, want 6", len(got))
	}
}

// The buffer is bounded in bytes as well as records: with the store down, a
// Write that would take the bytes held past MaxBufferedBytes waits.
func TestBatcherBoundedInBytes(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	f := &flaky{st: st, down: true}
	rows := creditRows(t)
	var line lambdatest.SyncBuffer
	if err := predlog.NewLines(&line).Write(context.Background(), []predlog.Record{record("r0", 0, day0, rows[0])}); err != nil {
		t.Fatal(err)
	}
	b, err := predlog.NewBatcher(f, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 2, MaxBufferedBytes: 3*len(line.String()) + 10,
		Interval: time.Hour, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if err := b.Write(ctx, []predlog.Record{record(fmt.Sprint("r", i), 0, day0, rows[0])}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Write(short, []predlog.Record{record("r3", 0, day0, rows[0])}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write past the bytes bound: %v", err)
	}
	f.setDown(false)
	if err := b.Write(ctx, []predlog.Record{record("r4", 0, day0, rows[0])}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, st, "credit", day0, day0); len(got) != 4 {
		t.Errorf("%d records read back, want 4", len(got))
	}
}

package predlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/openmlops/mlops/shared/predlog"
)

// calls records each Write call separately.
type calls struct {
	mu    sync.Mutex
	calls [][]byte
	fail  bool
}

func (c *calls) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return 0, errors.New("stdout closed")
	}
	c.calls = append(c.calls, bytes.Clone(p))
	return len(p), nil
}

// Each record is exactly one Write of one whole line, whatever the
// concurrency, and the lines decode back to the records.
func TestLinesOneWritePerRecord(t *testing.T) {
	rows := creditRows(t)
	w := &calls{}
	l := predlog.NewLines(w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				req := fmt.Sprintf("g%d-%d", g, n)
				recs := []predlog.Record{record(req, 0, day0, rows[n]), record(req, 1, day0, rows[n+1]), record(req, 2, day0, rows[n+2])}
				if err := l.Write(context.Background(), recs); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(w.calls) != 8*50*3 {
		t.Fatalf("%d Write calls, want %d", len(w.calls), 8*50*3)
	}
	seen := map[string]bool{}
	for _, c := range w.calls {
		if bytes.Count(c, []byte("\n")) != 1 || c[len(c)-1] != '\n' {
			t.Fatalf("a Write that is not one line: %q", c)
		}
		if !bytes.HasPrefix(c, []byte(`{"schema":"mlops.prediction/1",`)) {
			t.Errorf("the subscription filter matches $.schema; line starts %q", c[:40])
		}
		r, err := predlog.DecodeRecord(c)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id(r)] {
			t.Errorf("%s twice", id(r))
		}
		seen[id(r)] = true
	}
}

// A record the schema refuses, or one over MaxRecordBytes, fails the call
// before any line is written; a failing writer's error names the record.
func TestLinesRefusals(t *testing.T) {
	rows := creditRows(t)
	w := &calls{}
	l := predlog.NewLines(w)
	ctx := context.Background()
	big := record("big", 1, day0, map[string]any{"Home": strings.Repeat("x", predlog.MaxRecordBytes)})
	for _, recs := range [][]predlog.Record{
		{record("ok", 0, day0, rows[0]), big},
		{record("ok", 0, day0, rows[0]), {RequestID: "ok", Index: 1}},
	} {
		if err := l.Write(ctx, recs); err == nil {
			t.Errorf("write of %+v accepted", recs[1])
		}
	}
	if len(w.calls) != 0 {
		t.Errorf("%d lines written by refused calls", len(w.calls))
	}
	w.fail = true
	err := l.Write(ctx, []predlog.Record{record("down", 0, day0, rows[0])})
	if err == nil || !strings.Contains(err.Error(), "down[0]") || !strings.Contains(err.Error(), "stdout closed") {
		t.Errorf("failing writer: %v", err)
	}
	_ = l.Close(ctx)
	if err := l.Write(ctx, []predlog.Record{record("late", 0, day0, rows[0])}); !errors.Is(err, predlog.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

package predlog

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Lines writes each record as one JSON line to w, with one Write call per
// record, synchronously: in Lambda w is stdout, and a line the runtime has
// taken is CloudWatch Logs' to deliver even if the environment is frozen right
// after, so nothing waits in a buffer for a timer. A subscription filter
// (SubscriptionFilterPattern) and Firehose carry the lines to the store.
type Lines struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

// NewLines returns a sink writing to w. Other writers of w (a logger on
// stdout) must write whole lines with one Write call too, or lines interleave.
func NewLines(w io.Writer) *Lines { return &Lines{w: w} }

// Write writes recs, one line each, in order. A record that breaks the schema
// or exceeds MaxRecordBytes fails the call before anything is written. ctx is
// not consulted: a request whose caller has gone was scored all the same, and
// a line takes microseconds.
func (l *Lines) Write(_ context.Context, recs []Record) error {
	e := getEncoder()
	defer e.release()
	if err := e.encodeAll(recs); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	for i := range recs {
		// One line per Write: the Lambda runtime makes one log event of
		// each line, and lines of two goroutines must not interleave.
		if _, err := l.w.Write(e.line(i)); err != nil {
			return fmt.Errorf("prediction log: write record %s[%d]: %w (%d of %d written)",
				recs[i].RequestID, recs[i].Index, err, i, len(recs))
		}
	}
	return nil
}

// Close refuses later writes. Nothing is buffered, so there is nothing to
// flush.
func (l *Lines) Close(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

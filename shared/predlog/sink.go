package predlog

import (
	"context"
	"errors"
)

// Sink makes records durable. Write returns nil only once its records are
// either durable (Lines) or held by a sink that guarantees to store them by
// the time Close returns nil (Batcher); when it returns an error, none of its
// records were taken. Write keeps nothing of recs after it returns (the
// endpoint reuses their memory for the next request's records). Both sinks
// are safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, recs []Record) error
	Close(ctx context.Context) error
}

// ErrClosed is Write's error after Close.
var ErrClosed = errors.New("prediction log closed")

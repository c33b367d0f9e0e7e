// Package eventtest holds a publisher for tests: it keeps what it is given.
package eventtest

import (
	"context"
	"slices"
	"sync"

	"github.com/openmlops/mlops/shared/event"
)

// Recorder is a publisher that keeps every event it is given, in order.
type Recorder struct {
	events []event.Event // guarded by mu
	mu     sync.Mutex
}

// Publish keeps evs.
func (r *Recorder) Publish(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

// Events is what was published so far.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

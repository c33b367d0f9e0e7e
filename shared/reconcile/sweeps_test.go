package reconcile

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// owner records each sweep call with the grace it was given.
type owner struct{ calls []string }

func (o *owner) note(name string, d time.Duration) (int, error) {
	o.calls = append(o.calls, fmt.Sprintf("%s %s", name, d))
	return len(o.calls), nil
}
func (o *owner) SweepPending(_ context.Context, g time.Duration) (int, error) {
	return o.note("pending", g)
}
func (o *owner) SweepIncoming(_ context.Context, g time.Duration) (int, error) {
	return o.note("incoming", g)
}
func (o *owner) SweepStaging(_ context.Context, g time.Duration) (int, error) {
	return o.note("staging", g)
}
func (o *owner) Sweep(_ context.Context, g time.Duration) (int, error) { return o.note("runs", g) }
func (o *owner) ReconcileAll(context.Context) (int, error)             { return o.note("registry", 0) }
func (o *owner) SweepAnnouncements(_ context.Context, g time.Duration) (int, error) {
	return o.note("decision-events", g)
}

func TestSweeps(t *testing.T) {
	g := Graces{Pending: time.Minute, Incoming: 5 * time.Minute, Runs: 2 * time.Minute}
	for _, c := range []struct {
		runs  bool
		names []string
		calls []string
	}{
		{true, []string{"dataset-events", "stray-uploads", "stale-staging", "runs", "registry", "decision-events"},
			[]string{"pending 1m0s", "incoming 5m0s", "staging 24h0m0s", "runs 2m0s", "registry 0s", "decision-events 1m0s"}},
		{false, []string{"dataset-events", "stray-uploads", "stale-staging", "registry", "decision-events"},
			[]string{"pending 1m0s", "incoming 5m0s", "staging 24h0m0s", "registry 0s", "decision-events 1m0s"}},
	} {
		o := &owner{}
		var runs Runs
		if c.runs {
			runs = o
		}
		sweeps := Sweeps(o, runs, o, o, g)
		var names []string
		for _, sw := range sweeps {
			names = append(names, sw.Name)
			if _, err := sw.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(names, c.names) || !slices.Equal(o.calls, c.calls) {
			t.Errorf("runs %v: sweeps %q calling %q, want %q calling %q", c.runs, names, o.calls, c.names, c.calls)
		}
	}
}

package parallel_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/openmlops/mlops/shared/parallel"
)

func TestEachBoundsAndJoins(t *testing.T) {
	var running, peak atomic.Int32
	var done atomic.Int32
	err := parallel.Each(context.Background(), 50, 3, func(_ context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer running.Add(-1)
		done.Add(1)
		if i%20 == 7 {
			return fmt.Errorf("item %d", i)
		}
		return nil
	})
	if done.Load() != 50 || peak.Load() > 3 {
		t.Fatalf("%d calls, %d at once: want 50, at most 3", done.Load(), peak.Load())
	}
	if err == nil || err.Error() != "item 7\nitem 27\nitem 47" {
		t.Fatalf("errors %q: want every failure, in index order", err)
	}
	if err := parallel.Each(context.Background(), 0, 0, func(context.Context, int) error { return errors.New("never") }); err != nil {
		t.Fatal(err)
	}
}

// Package parallel runs independent work on a bounded number of goroutines.
package parallel

import (
	"context"
	"errors"
	"sync"
)

// Each calls fn for 0..n-1 with at most workers calls running at once (at
// least one), waits for all of them, and returns their errors joined in
// index order (nil when none failed). Unlike errgroup it does not stop at
// the first error: a caller that reads many records reports every one that
// failed.
func Each(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	workers = max(1, workers)
	errs := make([]error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrContended is Retry's and Update's error when other writers kept winning
// until the loop's bound: the caller may try again later.
var ErrContended = errors.New("too much contention")

// RetryLimit bounds how long Retry keeps going, whatever its attempts: a
// request behind API Gateway has 30 s in all, and the work around the loop
// needs some of it. Up to it, N concurrent writers need about N rounds.
const RetryLimit = 20 * time.Second

// Lost reports whether a conditional write lost to another writer: the object
// changed (or was created) since it was read (ErrPrecondition), or another
// conditional write on it is in flight (ErrConflict). Read again and retry.
func Lost(err error) bool {
	return errors.Is(err, ErrPrecondition) || errors.Is(err, ErrConflict)
}

// Retry runs round until it is done or fails, at most attempts times and
// until RetryLimit has passed, with a short jittered pause before each round
// after the first, growing with the attempt, so that writers that just
// collided do not collide again. round returns done false (and no error) to
// go round again: it lost a race, and what it read is stale. When the rounds
// run out, Retry returns ErrContended; when ctx ends, its error.
func Retry(ctx context.Context, attempts int, round func() (done bool, err error)) error {
	start := time.Now()
	for attempt := range attempts {
		if attempt > 0 {
			if time.Since(start) > RetryLimit {
				break
			}
			if err := pause(ctx, attempt); err != nil {
				return err
			}
		}
		done, err := round()
		if err != nil || done {
			return err
		}
	}
	return ErrContended
}

// pause waits 1 to 2^attempt ms, capped at 64 ms: long enough to let the
// winner's write land, short enough that 200 rounds fit well inside RetryLimit.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(1+rand.IntN(1<<min(attempt, 6))) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// CAS is what Update needs of S3 (*Store has it).
type CAS interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt PutOptions) (ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt PutOptions) (ObjectInfo, error)
}

// Update changes one small object by compare-and-swap. It reads the object
// and calls change with its content (exists false and cur nil when it is
// missing); change returns the next content, nil to leave the object as it is
// (the change is already there), or an error (say, for a missing object that
// must exist) that Update returns as is. The next content is written only if
// nobody wrote in between: Create where the object was missing, Swap on the
// ETag read otherwise. If another writer got there first, or deleted the
// object, Update reads again and calls change again, within Retry's bounds.
// It reports whether it wrote.
func Update(ctx context.Context, st CAS, bucket, key string, opt PutOptions, attempts int,
	change func(cur []byte, exists bool) ([]byte, error)) (wrote bool, err error) {
	err = Retry(ctx, attempts, func() (bool, error) {
		cur, info, err := st.ReadAll(ctx, bucket, key)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return false, err
		}
		next, err := change(cur, exists)
		if err != nil || next == nil {
			return true, err
		}
		if exists {
			_, err = st.Swap(ctx, bucket, key, info.ETag, next, opt)
		} else {
			_, err = st.Create(ctx, bucket, key, next, opt)
		}
		switch {
		case err == nil:
			wrote = true
			return true, nil
		case Lost(err), errors.Is(err, ErrNotFound):
			return false, nil
		}
		return false, err
	})
	return wrote, err
}

package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
)

// TestUpdateConcurrentCounter: 20 writers increment one counter, starting
// from no object, through Update. A lost update would leave it below 20, and
// writers racing to create it must not fail.
func TestUpdateConcurrentCounter(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			wrote, err := Update(ctx, s, bucket, "counter", PutOptions{}, 200, func(cur []byte, exists bool) ([]byte, error) {
				v := 0
				if exists {
					var err error
					if v, err = strconv.Atoi(string(cur)); err != nil {
						return nil, err
					}
				}
				return []byte(strconv.Itoa(v + 1)), nil
			})
			if err == nil && !wrote {
				err = errors.New("no error, but not written")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantCounter(t, s, n)
}

func TestUpdateNoChangeAndErrors(t *testing.T) {
	ctx := context.Background()
	s := newFixture(t, Options{}).store
	mustPut(t, s, "k", "v1")
	wrote, err := Update(ctx, s, bucket, "k", PutOptions{}, 5, func(cur []byte, exists bool) ([]byte, error) {
		if !exists || string(cur) != "v1" {
			t.Errorf("change saw %q, %v", cur, exists)
		}
		return nil, nil
	})
	if err != nil || wrote {
		t.Fatalf("no change: wrote %v, %v", wrote, err)
	}
	errMissing := errors.New("must exist")
	_, err = Update(ctx, s, bucket, "missing", PutOptions{}, 5, func(cur []byte, exists bool) ([]byte, error) {
		if exists {
			return []byte("x"), nil
		}
		return nil, errMissing
	})
	if err != errMissing {
		t.Fatalf("change's error: %v", err)
	}
	if _, _, err := s.ReadAll(ctx, bucket, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused change was written: %v", err)
	}
	wrote, err = Update(ctx, s, bucket, "k", PutOptions{ContentType: "text/plain"}, 5, func(cur []byte, _ bool) ([]byte, error) {
		return append(cur, '!'), nil
	})
	if b, info, _ := s.ReadAll(ctx, bucket, "k"); err != nil || !wrote || string(b) != "v1!" || info.ContentType != "text/plain" {
		t.Fatalf("update: %v %v %q %+v", wrote, err, b, info)
	}
}

// losing is a CAS whose writes always lose, as under writers that always win.
type losing struct {
	reads, writes int
	writeErr      error
}

func (l *losing) ReadAll(context.Context, string, string) ([]byte, ObjectInfo, error) {
	l.reads++
	return []byte("x"), ObjectInfo{ETag: "e"}, nil
}

func (l *losing) Create(context.Context, string, string, []byte, PutOptions) (ObjectInfo, error) {
	l.writes++
	return ObjectInfo{}, l.writeErr
}

func (l *losing) Swap(context.Context, string, string, string, []byte, PutOptions) (ObjectInfo, error) {
	l.writes++
	return ObjectInfo{}, l.writeErr
}

func TestUpdateGivesUp(t *testing.T) {
	ctx := context.Background()
	next := func([]byte, bool) ([]byte, error) { return []byte("y"), nil }
	for _, lost := range []error{ErrPrecondition, ErrConflict, ErrNotFound} {
		l := &losing{writeErr: &Error{Op: "swap", Err: lost}}
		if _, err := Update(ctx, l, bucket, "k", PutOptions{}, 7, next); !errors.Is(err, ErrContended) {
			t.Errorf("%v: %v, want ErrContended", lost, err)
		}
		if l.reads != 7 || l.writes != 7 {
			t.Errorf("%v: %d reads, %d writes, want 7 each", lost, l.reads, l.writes)
		}
	}
	// Any other failure ends the loop at once.
	l := &losing{writeErr: errors.New("access denied")}
	if _, err := Update(ctx, l, bucket, "k", PutOptions{}, 7, next); err != l.writeErr || l.writes != 1 {
		t.Errorf("other error: %v after %d writes", err, l.writes)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	l = &losing{writeErr: ErrPrecondition}
	if _, err := Update(cctx, l, bucket, "k", PutOptions{}, 7, next); !errors.Is(err, context.Canceled) || l.writes != 1 {
		t.Errorf("cancelled: %v after %d writes", err, l.writes)
	}
}

func TestRetry(t *testing.T) {
	rounds := 0
	err := Retry(context.Background(), 10, func() (bool, error) {
		rounds++
		return rounds == 3, nil
	})
	if err != nil || rounds != 3 {
		t.Fatalf("%v after %d rounds", err, rounds)
	}
	if !Lost(&Error{Err: ErrConflict}) || !Lost(ErrPrecondition) || Lost(ErrNotFound) || Lost(nil) {
		t.Fatal("Lost")
	}
}

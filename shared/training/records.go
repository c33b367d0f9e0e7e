package training

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/openmlops/mlops/shared/store"
)

// Reading run records: one run, the attempts of one run, every run.

// Get reads a run record and its ETag.
func (s *Service) Get(ctx context.Context, id string) (*Run, string, error) {
	return GetRun(ctx, s.st, s.cfg.Bucket, id)
}

// GetRun reads a run record and its ETag (for clients such as the CLI).
func GetRun(ctx context.Context, st interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
}, bucket, id string) (*Run, string, error) {
	b, info, err := st.ReadAll(ctx, bucket, RunKey(id))
	if err != nil {
		return nil, "", fmt.Errorf("run %s: %w", id, err)
	}
	r, err := ParseRun(b)
	if err != nil {
		return nil, "", fmt.Errorf("run %s (s3://%s/%s): %w", id, bucket, RunKey(id), err)
	}
	if r.RunID != id {
		return nil, "", fmt.Errorf("run %s (s3://%s/%s): %w: it names run %q", id, bucket, RunKey(id), ErrDamagedRun, r.RunID)
	}
	return r, info.ETag, nil
}

// lastAttempt returns the highest attempt of a run base, or nil.
func (s *Service) lastAttempt(ctx context.Context, model, base string) (*Run, error) {
	best := 0
	err := s.st.List(ctx, s.cfg.Bucket, attemptsPrefix(model, base), func(o store.ObjectInfo) error {
		if !strings.HasSuffix(o.Key, "/run.json") {
			return nil
		}
		if m, b, n, err := ParseRunID(runIDOfKey(o.Key)); err == nil && m == model && b == base && n > best {
			best = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list attempts of %s-%s: %w", model, base, err)
	}
	if best == 0 {
		return nil, nil
	}
	r, _, err := s.Get(ctx, RunID(model, base, best))
	return r, err
}

// ListRuns reads every run record (of one model, if model is not empty), newest first.
func ListRuns(ctx context.Context, st interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
}, bucket, model string) ([]*Run, error) {
	prefix := RunsPrefix
	if model != "" {
		prefix += model + "-"
	}
	var ids []string
	if err := st.List(ctx, bucket, prefix, func(o store.ObjectInfo) error {
		// Only runs/<run-id>/run.json: other records live under runs/ too.
		if id := runIDOfKey(o.Key); o.Key == RunKey(id) && validRunID(id) {
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var runs []*Run
	var damaged []error
	for _, id := range ids {
		r, _, err := GetRun(ctx, st, bucket, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if errors.Is(err, ErrDamagedRun) {
			damaged = append(damaged, err) // one bad record hides no other run
			continue
		}
		if err != nil {
			return nil, err
		}
		if model == "" || r.Model == model {
			runs = append(runs, r)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		if a.Base == b.Base {
			return a.Attempt > b.Attempt
		}
		return a.RunID < b.RunID
	})
	if len(damaged) > 0 {
		return runs, &DamagedRunsError{Errs: damaged}
	}
	return runs, nil
}

// DamagedRunsError is ListRuns' error when some run records could not be read
// as runs: the runs it returns are the others, all of them.
type DamagedRunsError struct{ Errs []error }

func (e *DamagedRunsError) Error() string {
	return fmt.Sprintf("%d damaged run record(s): %v", len(e.Errs), errors.Join(e.Errs...))
}

func (e *DamagedRunsError) Unwrap() []error { return e.Errs }

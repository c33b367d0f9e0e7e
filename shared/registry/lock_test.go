package registry_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// lockSpy records the options of every create.
type lockSpy struct {
	*store.Store
	mu   sync.Mutex
	opts map[string]store.PutOptions
}

func (s *lockSpy) Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	s.mu.Lock()
	s.opts[key] = opt
	s.mu.Unlock()
	return s.Store.Create(ctx, bucket, key, body, opt)
}

// Every audit record and its checkpoint is created with the configured
// Object Lock retention, counted from its creation; nothing else is locked
// (pointers such as the head are rewritten in place).
func TestAuditRecordsAreLocked(t *testing.T) {
	_, st := lambdatest.S3(t, bucket)
	spy := &lockSpy{Store: st, opts: map[string]store.PutOptions{}}
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	signer, err := registry.NewHMACSigner(bytes.Repeat([]byte("k"), registry.MinHMACKey))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(spy, registry.Config{Bucket: bucket, Now: func() time.Time { return now }, Signer: signer,
		Lock: registry.Lock{Mode: "COMPLIANCE", Days: 3650}})
	v := register(t, reg, "credit", 1)
	approve(t, reg, v)
	records, checkpoints := 0, 0
	for key, opt := range spy.opts {
		isCheckpoint := strings.HasPrefix(key, registry.CheckpointsPrefix("credit"))
		isRecord := !isCheckpoint && strings.HasPrefix(key, registry.TrailPrefix("credit")) && !strings.HasSuffix(key, "/head")
		switch {
		case isRecord || isCheckpoint:
			if opt.LockMode != "COMPLIANCE" || !opt.LockUntil.Equal(now.AddDate(0, 0, 3650)) {
				t.Errorf("%s: lock %q until %v, want COMPLIANCE until %v", key, opt.LockMode, opt.LockUntil, now.AddDate(0, 0, 3650))
			}
			if isRecord {
				records++
			} else {
				checkpoints++
			}
		case opt.LockMode != "":
			t.Errorf("%s is locked, but it is not an audit record", key)
		}
	}
	if records < 3 || checkpoints < 3 {
		t.Errorf("%d records and %d checkpoints created, want the registration, the check and the approval", records, checkpoints)
	}
	for _, bad := range []registry.Lock{{Mode: "governance", Days: 1}, {Mode: "GOVERNANCE"}, {Days: 3}} {
		if bad.Check() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if (registry.Lock{}).Check() != nil || (registry.Lock{Mode: "GOVERNANCE", Days: 1}).Check() != nil {
		t.Error("a valid lock refused")
	}
}

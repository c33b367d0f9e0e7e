package store

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// conflictServer is a fake, not an S3 implementation: it answers every PUT
// with 409 ConditionalRequestConflict (in AWS's error body) `conflicts` times,
// then 200. gofakes3 never answers 409, so the retry path needs this.
func conflictServer(t *testing.T, conflicts int32) (*Store, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "unexpected", http.StatusNotImplemented)
			return
		}
		if calls.Add(1) <= conflicts {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource. Please try again.</Message><RequestId>R1</RequestId></Error>`))
			return
		}
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	s := New(NewClient(testConfig(), srv.URL, true), Options{ConflictRetries: 3, ConflictBackoff: time.Millisecond})
	return s, &calls
}

func TestConflictRetried(t *testing.T) {
	s, calls := conflictServer(t, 2)
	info, err := s.Create(context.Background(), bucket, "claim", []byte("x"), PutOptions{})
	if err != nil {
		t.Fatalf("Create after two 409s: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d PUTs, want 3 (two conflicts, one success)", calls.Load())
	}
	if info.ETag != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("ETag %q", info.ETag)
	}
}

func TestConflictExhausted(t *testing.T) {
	s, calls := conflictServer(t, 100)
	_, err := s.Swap(context.Background(), bucket, "pointer", "abc", []byte("x"), PutOptions{})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	if calls.Load() != 4 {
		t.Fatalf("%d PUTs, want 4 (1 + ConflictRetries)", calls.Load())
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != 409 || e.Code != "ConditionalRequestConflict" {
		t.Fatalf("error fields: %#v", err)
	}
	if !strings.Contains(err.Error(), bucket+"/pointer") {
		t.Fatalf("message %q does not name bucket/key", err)
	}
}

func TestConflictStopsOnCancel(t *testing.T) {
	s, _ := conflictServer(t, 100)
	s.opt.ConflictBackoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Create(ctx, bucket, "claim", []byte("x"), PutOptions{})
	if !errors.Is(err, ErrConflict) || time.Since(start) > 10*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

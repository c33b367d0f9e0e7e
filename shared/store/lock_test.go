package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A write with a retention carries S3's Object Lock headers (what AWS needs
// to lock the object); one without carries none.
func TestPutSendsObjectLockHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	s := New(NewClient(testConfig(), srv.URL, true), Options{})
	until := time.Date(2036, 12, 4, 8, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if _, err := s.Create(ctx, "b", "audit/credit/000001-registered.json", []byte("{}"), PutOptions{LockMode: "GOVERNANCE", LockUntil: until}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "b", "audit/credit/head", []byte("{}"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	if m, u := got[0].Get("X-Amz-Object-Lock-Mode"), got[0].Get("X-Amz-Object-Lock-Retain-Until-Date"); m != "GOVERNANCE" || u != "2036-12-04T08:00:00Z" {
		t.Errorf("locked write: mode %q, until %q", m, u)
	}
	if got[0].Get("If-None-Match") != "*" {
		t.Error("the locked create lost its If-None-Match")
	}
	if m := got[1].Get("X-Amz-Object-Lock-Mode"); m != "" || got[1].Get("X-Amz-Object-Lock-Retain-Until-Date") != "" {
		t.Errorf("unlocked write carries a lock: %q", m)
	}
}

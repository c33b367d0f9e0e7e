package main

import (
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"testing"
)

// The collector is off from pauseGC until the first request has been
// answered, under a memory limit of half the function's memory, and the
// process's own settings are back afterwards.
func TestGCPausedUntilFirstAnswer(t *testing.T) {
	percent := debug.SetGCPercent(50)
	limit := debug.SetMemoryLimit(1 << 40)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	env := map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
	restore := pauseGC(func(k string) string { return env[k] })
	var during, limitDuring int64
	h := afterFirst(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		during = int64(debug.SetGCPercent(-1))
		debug.SetGCPercent(int(during))
		limitDuring = debug.SetMemoryLimit(-1) // -1 reads it
		w.WriteHeader(http.StatusNoContent)
	}), restore)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if during != -1 || limitDuring != 512<<20 {
		t.Fatalf("during the first request: GC percent %d, memory limit %d; want -1 and %d", during, limitDuring, 512<<20)
	}
	if p, l := debug.SetGCPercent(50), debug.SetMemoryLimit(-1); p != 50 || l != 1<<40 {
		t.Fatalf("after it: GC percent %d, memory limit %d; want 50 and %d", p, l, int64(1<<40))
	}
	// A second request leaves the settings alone.
	debug.SetGCPercent(70)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if p := debug.SetGCPercent(50); p != 70 {
		t.Fatalf("a later request changed the GC percent to %d", p)
	}
}

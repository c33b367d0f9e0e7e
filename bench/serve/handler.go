package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/predict"
)

// handlerCPU measures the prediction route in this process, without the
// network, TLS or wrk: one request after another through the route's
// handler, with the platform's service and prediction log, answers written
// to a writer that keeps only their size. It prints this process's CPU a
// request (the log's writers and the embedded S3 endpoint included, the log
// flushed before the clock stops): the figure to compare two builds by, which
// the load test's, shared with the kernel's network work and wrk's, is too
// noisy for.
func handlerCPU(ctx context.Context, st *stage, d time.Duration, rounds int) error {
	mux := http.NewServeMux()
	principal := func(*http.Request) string { return "bench" }
	for pattern, h := range predict.Routes(st.p.Serving, principal, slog.New(slog.DiscardHandler), predict.Limits{}) {
		mux.Handle(pattern, h)
	}
	fmt.Printf("\nThe prediction route in process (no network, no TLS): %d turns of %s a size, CPU a request with the log's work\n", rounds, d)
	for _, n := range []int{1, 32} {
		body, err := creditBody(n, false)
		if err != nil {
			return err
		}
		url := "https://localhost" + predict.PredictPath(creditModel)
		call := func() error {
			req, err := http.NewRequestWithContext(api.WithPrincipal(ctx, "bench"), http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return err
			}
			w := &sizeWriter{header: http.Header{}}
			mux.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				return fmt.Errorf("%d instances: status %d", n, w.status)
			}
			return nil
		}
		for range 1000 { // warm the pools and the caches
			if err := call(); err != nil {
				return err
			}
		}
		if err := st.p.PredictionLog.Flush(ctx); err != nil {
			return err
		}
		fmt.Printf("  %2d instance(s):", n)
		for range rounds {
			cpu0, t0, k := processCPU(), time.Now(), 0
			for time.Since(t0) < d {
				if err := call(); err != nil {
					return err
				}
				k++
			}
			if err := st.p.PredictionLog.Flush(ctx); err != nil {
				return err
			}
			fmt.Printf(" %.1f", float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(k))
		}
		fmt.Println(" µs")
	}
	return nil
}

// sizeWriter is an http.ResponseWriter that keeps an answer's status and size.
type sizeWriter struct {
	header http.Header
	status int
	n      int
}

func (w *sizeWriter) Header() http.Header { return w.header }

func (w *sizeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *sizeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}

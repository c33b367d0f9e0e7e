package main

import (
	"context"
	"fmt"
	"time"
)

// explainLatency times one-instance requests through the local endpoint,
// with and without "explain", one after another on one connection: what an
// explanation adds to an answer. TreeSHAP itself against xgboost's
// pred_contribs is bench/predict's comparison.
func explainLatency(ctx context.Context, st *stage) error {
	const n = 100
	body, err := creditBody(1, false)
	if err != nil {
		return err
	}
	explained, err := creditBody(1, true)
	if err != nil {
		return err
	}
	fmt.Printf("\nExplanations through the endpoint: 1 instance, HTTPS, one request at a time, median of %d\n", n)
	fmt.Printf("  %-14s %12s %12s %12s\n", "model", "plain", "explain", "difference")
	for _, model := range []string{creditModel, deepModel} {
		var med [2]time.Duration
		for k, b := range [][]byte{body, explained} {
			resp, err := st.post(ctx, model, b)
			if err != nil {
				return err
			}
			if got := resp.Predictions[0].Explanation != nil; got != (k == 1) {
				return fmt.Errorf("%s: explanation present %v, want %v", model, got, k == 1)
			}
			times := make([]time.Duration, n)
			for i := range times {
				t0 := time.Now()
				if _, err := st.post(ctx, model, b); err != nil {
					return err
				}
				times[i] = time.Since(t0)
			}
			med[k] = median(times)
		}
		fmt.Printf("  %-14s %12s %12s %12s\n", model, fmtMS(med[0]), fmtMS(med[1]), fmtMS(med[1]-med[0]))
	}
	return nil
}

package local_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// While version 2 waits for a person's approval, the endpoint scores it in
// the champion's shadow on live requests, many at once, each with its own
// applicants: every answer is version 1's, and every logged instance carries
// version 1's outputs and version 2's for that same instance, never another
// request's (a request's memory is reused once it is answered; the shadow
// reads it afterwards).
func TestShadowScoresTheCandidateOnLiveRequests(t *testing.T) {
	p := servedCredit(t, local.Config{})
	ctx := context.Background()
	pol, err := credit.Policy() // a person approves: version 2 waits
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(credit.CSV()), "\n")
	fewer := strings.Join(append(lines[:1], lines[200:]...), "") // another dataset version, another model
	if _, err := p.Store.Upload(ctx, p.Endpoint.Buckets.Uploads, "incoming/credit/fewer.csv", strings.NewReader(fewer), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIdleFor(t, p, 5*time.Minute)
	if v, err := p.Registry.Get(ctx, "credit", 2); err != nil || v.State != registry.StatePendingApproval {
		t.Fatalf("version 2: %+v %v", v, err)
	}

	header := strings.Split(strings.ReplaceAll(strings.TrimSpace(lines[0]), `"`, ""), ",")
	scorer := func(version int) *bundle.Scorer {
		_, b := creditVersion(t, p, version)
		sc, err := b.Scorer(header)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	want := map[int]*bundle.Scorer{1: scorer(1), 2: scorer(2)}
	// p_bad of version v for data row r (1-based, as in lines). A scorer is
	// not for concurrent use: the requests' goroutines take turns.
	var scoring sync.Mutex
	pBad := func(v, r int) string {
		scoring.Lock()
		defer scoring.Unlock()
		sc := want[v]
		cells := strings.Split(strings.ReplaceAll(strings.TrimSpace(lines[r]), `"`, ""), ",")
		for i, c := range cells {
			if c == "NA" { // the credit data's missing value: "" in the canonical CSV
				cells[i] = ""
			}
		}
		out, err := sc.Score(cells)
		if err != nil {
			t.Fatal(err)
		}
		text := make([]string, len(sc.Columns()))
		sc.Cells(out, text)
		for k, c := range sc.Columns() {
			if c == "p_bad" {
				return text[k]
			}
		}
		t.Fatal("no p_bad output")
		return ""
	}

	// Requests of 1 to 8 applicants from different rows, 16 at a time, until
	// the candidate (loaded off the request path) has shadowed some.
	c := predictClient(t, p, "")
	rowsOf := map[string]int{} // request id → its first data row
	sent := 0                  // instances answered
	var mu sync.Mutex
	shadowed := 0
	deadline := time.Now().Add(90 * time.Second)
	for round := 0; shadowed == 0; round++ {
		if time.Now().After(deadline) {
			t.Fatal("no record shadowed by version 2 within 90 s")
		}
		var wg sync.WaitGroup
		for k := range 16 {
			first := 1 + (round*16+k)*9%400
			n := 1 + k%8
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := predict.RequestFromCSV(strings.NewReader(lines[0] + strings.Join(lines[first:first+n], "")))
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := c.Predict(ctx, "credit", req)
				if err != nil {
					t.Error(err)
					return
				}
				if resp.ModelVersion != 1 || len(resp.Predictions) != n {
					t.Errorf("answer of version %d with %d predictions, want version 1 with %d", resp.ModelVersion, len(resp.Predictions), n)
				}
				for i, pr := range resp.Predictions {
					if raw, _ := pr.Output("p_bad"); string(raw) != pBad(1, first+i) {
						t.Errorf("row %d: p_bad %s, version 1 gives %s", first+i, raw, pBad(1, first+i))
					}
				}
				mu.Lock()
				rowsOf[resp.RequestID] = first
				sent += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if err := p.SettleLog(ctx); err != nil {
			t.Fatal(err)
		}
		shadowed = 0
		records := 0
		if err := predlog.ReadDay(ctx, p.Store, p.Endpoint.Buckets.Monitoring, "credit", time.Now().UTC(), func(r predlog.Record) error {
			records++
			first, ok := rowsOf[r.RequestID]
			if !ok {
				return fmt.Errorf("a record of request %s, which was never answered", r.RequestID)
			}
			row := first + r.Index
			if got := numberText(r.Outputs["p_bad"]); got != pBad(1, row) {
				return fmt.Errorf("request %s instance %d (row %d): logged p_bad %s, version 1 gives %s", r.RequestID, r.Index, row, got, pBad(1, row))
			}
			if r.Shadow == nil {
				return nil
			}
			if r.Shadow.Version != 2 || r.Shadow.Error != "" {
				return fmt.Errorf("request %s instance %d: shadow %+v", r.RequestID, r.Index, r.Shadow)
			}
			if got := numberText(r.Shadow.Outputs["p_bad"]); got != pBad(2, row) {
				return fmt.Errorf("request %s instance %d (row %d): the shadow's p_bad %s, version 2 gives %s for that row", r.RequestID, r.Index, row, got, pBad(2, row))
			}
			shadowed++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if records != sent {
			t.Fatalf("%d records for %d answered instances", records, sent)
		}
	}
}

// numberText is a logged number's text as the scorer's cells write it.
func numberText(v any) string {
	f, ok := v.(float64)
	if !ok {
		return fmt.Sprintf("%v (not a number)", v)
	}
	return bundle.FormatOutput(float32(f))
}

package gate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/registry"
)

// flaky refuses every event while down, as a bus that is unreachable or an
// entry over PutEvents' limit would.
type flaky struct {
	mu     sync.Mutex
	down   bool
	events []event.Event
}

func (f *flaky) Publish(_ context.Context, evs ...event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("the bus refused the event")
	}
	f.events = append(f.events, evs...)
	return nil
}

func (f *flaky) of(detailType string) []event.ModelDetail {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event.ModelDetail
	for _, e := range f.events {
		if e.DetailType == detailType {
			out = append(out, e.Detail.(event.ModelDetail))
		}
	}
	return out
}

// A decision committed but never announced (the bus refused its event) is
// announced by the reconcile sweep, once, in order; what was announced
// already is not announced again (issue 10, item 3).
func TestCommittedDecisionsAreAnnouncedBySweep(t *testing.T) {
	_, st := lambdatest.S3(t, "platform")
	ctx := context.Background()
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := policystore.Apply(ctx, st, "platform", pol, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st, registry.Config{Bucket: "platform"})
	bus := &flaky{}
	now := time.Now().Add(time.Minute) // the gate's clock runs ahead of the records' (the registry's)
	svc := gate.New(st, bus, reg, gate.Config{Bucket: "platform", Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	for pattern, h := range svc.Routes(func(*http.Request) string { return "local:alice" }) {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	v, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0123456789abcdef-1",
		BundleSHA256: strings.Repeat("1", 64), BundlePrefix: "runs/credit-0123456789abcdef-1/bundle/", Principal: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: 1, PolicyHash: applied.Hash, Verdict: registry.VerdictPass,
		Checks: []map[string]any{{"name": "auc", "pass": true}}, Principal: "gate", Reason: "policy evaluated"}); err != nil {
		t.Fatal(err)
	}
	// Everything before the outage was announced (or announces nothing).
	if n, err := svc.SweepAnnouncements(ctx, 0); err != nil || n != 1 || len(bus.of(event.ModelRegistered)) != 1 {
		t.Fatalf("first sweep: %d %v", n, err)
	}
	bus.mu.Lock()
	bus.down = true
	bus.mu.Unlock()
	c := decisions.NewClient(srv.URL+"/", srv.Client(), nil)
	if _, err := c.Approve(ctx, "credit", 1, decisions.Decision{Reason: "reviewed", BundleSHA256: v.BundleSHA256}); !decisions.IsCode(err, decisions.CodeInternal) {
		t.Fatalf("approve while the bus is down: %v", err)
	}
	if got, _ := reg.Get(ctx, "credit", 1); got.State != registry.StateChampion {
		t.Fatalf("the decision was not committed: %s", got.State)
	}
	bus.mu.Lock()
	bus.down = false
	bus.mu.Unlock()
	// Young records are left to the path that wrote them; then announced once.
	if n, err := svc.SweepAnnouncements(ctx, 2*time.Minute); err != nil || n != 0 {
		t.Fatalf("sweep within the grace: %d %v", n, err)
	}
	n, err := svc.SweepAnnouncements(ctx, 0)
	promoted := bus.of(event.ModelPromoted)
	if err != nil || n != 1 || len(promoted) != 1 || promoted[0].Version != 1 || promoted[0].AuditKey == "" || promoted[0].State != "champion" {
		t.Fatalf("sweep after the outage: %d %v %+v", n, err, promoted)
	}
	if n, err := svc.SweepAnnouncements(ctx, 0); err != nil || n != 0 || len(bus.of(event.ModelPromoted)) != 1 {
		t.Fatalf("a second sweep announced again: %d %v", n, err)
	}
}

package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
)

// recorder keeps what was published; while down it refuses every event, as
// a bus that is unreachable or an entry over PutEvents' limit would.
type recorder struct {
	mu     sync.Mutex
	down   bool
	events []event.Event
}

func (r *recorder) Publish(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("the bus refused the event")
	}
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

func (r *recorder) of(detailType string) []event.ModelDetail {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.ModelDetail
	for _, e := range r.events {
		if e.DetailType == detailType {
			out = append(out, e.Detail.(event.ModelDetail))
		}
	}
	return out
}

// routes is the gate's decisions API over a real registry and store, under the
// credit example's policy; principal says who a request is from.
type routes struct {
	st     *store.Store
	reg    *registry.Registry
	pub    *recorder
	svc    *gate.Service
	srv    *httptest.Server
	policy string // the policy in force
}

func newRoutes(t *testing.T, now func() time.Time, principal func(*http.Request) string) *routes {
	t.Helper()
	pub := &recorder{}
	a := lambdatest.StartDecisionsAPI(t, lambdatest.DecisionsOptions{Publisher: pub, Now: now, Principal: principal})
	return &routes{st: a.Store, reg: a.Registry, pub: pub, svc: a.Gate, srv: a.Server, policy: a.Policy}
}

// The decision routes, as a person reaches them through the API: the caller is
// the verified principal (here a test header stands in for the API's token or
// API Gateway's IAM authorizer), approvals are bound to the bundle and to the
// policy's approvers, and every refusal is audited.
func TestDecisionRoutes(t *testing.T) {
	ctx := context.Background()
	rt := newRoutes(t, nil, func(r *http.Request) string { return r.Header.Get("X-Test-Principal") })
	st, reg, pub, srv, policyHash := rt.st, rt.reg, rt.pub, rt.srv, rt.policy

	sha := strings.Repeat("ab", 32)
	for i, run := range []string{"credit-0123456789abcdef-1", "credit-0123456789abcdef-2"} {
		v, _, err := reg.Register(ctx, registry.RegisterInput{Model: "credit", RunID: run, BundleSHA256: sha[:62] + "0" + string(rune('1'+i)),
			BundlePrefix: "runs/" + run + "/bundle/", Principal: "gate"})
		if err != nil {
			t.Fatal(err)
		}
		// As the gate leaves it: passed the policy in force, waiting for a person.
		if _, err := reg.RecordChecks(ctx, registry.ChecksInput{Model: "credit", Version: v.Version, PolicyHash: policyHash,
			Verdict: registry.VerdictPass, Checks: []map[string]any{{"name": "auc", "pass": true}}, Principal: "gate", Reason: "policy evaluated"}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.MarkPending(ctx, registry.DecisionInput{Model: "credit", Version: v.Version, Principal: "gate", Reason: "needs a person"}); err != nil {
			t.Fatal(err)
		}
	}
	v1, _ := reg.Get(ctx, "credit", 1)

	call := func(who, method, path string, body any) (int, map[string]any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		if who != "" {
			req.Header.Set("X-Test-Principal", who)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	approve := "/v1/models/credit/versions/1/approve"
	for _, c := range []struct {
		who, path string
		body      any
		status    int
		want      string
	}{
		{"", approve, decisions.Decision{Reason: "x", BundleSHA256: v1.BundleSHA256}, 401, "no verified caller"},
		{"local:alice", approve, decisions.Decision{BundleSHA256: v1.BundleSHA256}, 400, "a reason is required"},
		{"local:alice", approve, decisions.Decision{Reason: "x"}, 400, "bundleSha256"},
		{"local:alice", approve, map[string]any{"reason": "x", "bogus": 1}, 400, "unknown field"},
		{"local:alice", "/v1/models/credit/versions/x/approve", decisions.Decision{Reason: "x"}, 400, "expected a number"},
		{"local:alice", "/v1/models/Credit!/versions/1/approve", decisions.Decision{Reason: "x"}, 400, "not a model name"},
		{"local:alice", "/v1/models/credit/versions/9/approve", decisions.Decision{Reason: "x", BundleSHA256: sha}, 404, "not found"},
		{"arn:aws:iam::1:user/mallory", approve, decisions.Decision{Reason: "trust me", BundleSHA256: v1.BundleSHA256}, 403, "may not approve"},
		{"local:alice", approve, decisions.Decision{Reason: "looks fine", BundleSHA256: sha}, 409, "does not match"},
		{"local:alice", "/v1/models/credit/versions/1/promote", decisions.Decision{Reason: "x"}, 409, "cannot promote"},
	} {
		status, m := call(c.who, "POST", c.path, c.body)
		if status != c.status || !strings.Contains(strings.ToLower(m["error"].(string)), strings.ToLower(c.want)) {
			t.Errorf("%s %s %v: %d %v, want %d %q", c.who, c.path, c.body, status, m, c.status, c.want)
		}
	}
	h, _ := reg.History(ctx, "credit")
	refused := 0
	for _, e := range h {
		if e.Kind == registry.KindRefused {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d refusals audited, want 2 (the approver not allowed, the other bundle)", refused)
	}

	// An allowed approver with the version's bundle: approved and promoted at once.
	status, m := call("local:alice", "POST", approve, decisions.Decision{Reason: "reviewed the card", BundleSHA256: v1.BundleSHA256})
	if status != 200 || m["promoted"] != true || m["champion"].(float64) != 1 {
		t.Fatalf("approve: %d %v", status, m)
	}
	v2, _ := reg.Get(ctx, "credit", 2)
	// The longest reason allowed is recorded whole; its event carries a clipped
	// copy and names the audit record that has it all.
	long := strings.Repeat("ok ", decisions.MaxReasonBytes/3)
	if status, m := call("local:bob", "POST", "/v1/models/credit/versions/2/approve", decisions.Decision{Reason: long, BundleSHA256: v2.BundleSHA256}); status != 200 || m["champion"].(float64) != 2 {
		t.Fatalf("approve v2: %d %v", status, m)
	}
	pub.mu.Lock()
	last := pub.events[len(pub.events)-1]
	pub.mu.Unlock()
	if d := last.Detail.(event.ModelDetail); last.DetailType != event.ModelPromoted || len(d.Reason) > 256 || !strings.HasSuffix(d.Reason, "…") || d.AuditKey == "" {
		t.Fatalf("the promotion's event: %s %+v", last.DetailType, d)
	}
	if status, m := call("local:bob", "POST", "/v1/models/credit/rollback", decisions.Decision{Reason: "v2 misbehaves", From: 2}); status != 200 || m["champion"].(float64) != 1 {
		t.Fatalf("rollback: %d %v", status, m)
	}
	if status, m := call("local:bob", "POST", "/v1/models/credit/versions/1/retire", decisions.Decision{Reason: "old"}); status != 409 {
		t.Fatalf("retiring the champion without force: %d %v", status, m)
	}
	// Retiring the archived v2 keeps its artifacts, tagged for archival:
	// the manifest and what it lists, not what else lies beside them.
	putBundle(t, st, "credit-0123456789abcdef-2", "runs/credit-0123456789abcdef-2/bundle/", "scratch.bin")
	if status, m := call("local:bob", "POST", "/v1/models/credit/versions/2/retire", decisions.Decision{Reason: "superseded"}); status != 200 {
		t.Fatalf("retire v2: %d %v", status, m)
	}
	for _, f := range []string{"manifest.json", "model.json"} {
		tags, err := st.Tags(ctx, "platform", "runs/credit-0123456789abcdef-2/bundle/"+f)
		if err != nil || tags[rules.RetiredTag] != "true" || tags["mlops:version"] != "2" {
			t.Fatalf("%s tags %v %v", f, tags, err)
		}
	}
	if tags, err := st.Tags(ctx, "platform", "runs/credit-0123456789abcdef-2/bundle/scratch.bin"); err != nil || len(tags) != 0 {
		t.Fatalf("a file the manifest does not list was tagged: %v %v", tags, err)
	}
	for _, path := range []string{"/v1/models/nope/history", "/v1/models/nope/verify"} {
		if status, m := call("local:bob", "GET", path, nil); status != 404 {
			t.Fatalf("%s: %d %v", path, status, m)
		}
	}
	if status, _ := call("local:bob", "GET", "/v1/models/credit/verify", nil); status != 200 {
		t.Fatalf("verify: %d", status)
	}
	kinds := map[string]int{}
	for _, e := range pub.events {
		kinds[e.DetailType]++
	}
	if kinds[event.ModelPromoted] != 2 || kinds[event.ModelRolledBack] != 1 {
		t.Fatalf("events %v", kinds)
	}
}

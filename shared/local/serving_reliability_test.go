package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// decisionsClient decides through p's HTTPS API with its token, as a person
// with the mlops CLI does.
func decisionsClient(t *testing.T, p *local.Platform) *decisions.Client {
	t.Helper()
	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return decisions.NewClient(p.Endpoint.API.URL, hc, decisions.BearerToken(p.Endpoint.API.Token))
}

// approve approves credit version n through the decisions API, bound to its
// bundle; under the credit policy that promotes it at once.
func approve(t *testing.T, p *local.Platform, dc *decisions.Client, n int) {
	t.Helper()
	ctx := context.Background()
	v, err := p.Registry.Get(ctx, "credit", n)
	if err != nil {
		t.Fatal(err)
	}
	res, err := dc.Approve(ctx, "credit", n, decisions.Decision{Reason: "reviewed for the reliability tests", BundleSHA256: v.BundleSHA256})
	if err != nil || !res.Promoted || res.Champion != n {
		t.Fatalf("approve credit v%d: %+v %v", n, res, err)
	}
}

// approvedCredit is a platform under the credit policy (a person approves
// each version, and the approval promotes it) whose version 1 was approved
// through the decisions API and is champion.
func approvedCredit(t *testing.T, cfg local.Config) (*local.Platform, *decisions.Client) {
	t.Helper()
	needXGBoost(t)
	p := creditPlatform(t, cfg)
	pol, err := credit.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(context.Background(), p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	uploadCredit(t, p, "credit.csv", credit.CSV())
	waitIdleFor(t, p, 5*time.Minute)
	dc := decisionsClient(t, p)
	approve(t, p, dc, 1)
	return p, dc
}

// waitServed waits until the endpoint answers with version want.
func waitServed(t *testing.T, c *predict.Client, want int, within time.Duration) {
	t.Helper()
	req := creditRows(t, 1)
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Predict(context.Background(), "credit", req)
		if err == nil && resp.ModelVersion == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint does not serve version %d after %s: %+v %v", want, within, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The load test's numbers. The issue asks for a minute of load; the TTL is
// short so that the bound below is tight, and the champion moves every
// swapEvery, longer than the bound, so that a response from a version
// replaced before the bound would name a version that was not champion.
const (
	loadFor   = 60 * time.Second
	swapTTL   = time.Second
	swapEvery = 4 * time.Second
)

// answer is one request of the Go client that runs beside wrk.
type answer struct {
	sent, received time.Time
	version        int
}

// reign is a version's time as champion: it became champion during the
// decision that started at from and stopped during the one that ended at
// until (zero: still champion). Known to the decision calls' precision, a
// reign is taken at its widest.
type reign struct {
	version     int
	from, until time.Time
}

// Swap under load: a minute of wrk on the HTTPS endpoint while a person
// rolls the champion back and forth every few seconds through the decisions
// API. No request fails, and every answer comes from a version that was
// champion during its request, within the staleness bound: the version that
// answers a request resolved at t was champion at some moment in
// [t − 2·TTL, t] (shared/serving's resolve; docs/serving.md, "Hot swap and
// staleness"). The request is resolved between its sending and its answer,
// so the test checks that the answering version reigned at some moment in
// [sent − 2·TTL, received]. Locally the bus also tells the endpoint of each
// decision at once, so it usually swaps within a bundle's load time.
func TestSwapUnderLoad(t *testing.T) {
	wrk := wrkPath(t)
	p, dc := approvedCredit(t, local.Config{Serving: local.Serving{ModelTTL: swapTTL}})
	ctx := context.Background()
	retrainVersion(t, p, "second", "a second version to swap with", 2)
	approve(t, p, dc, 2)
	c := predictClient(t, p, "")
	waitServed(t, c, 2, 30*time.Second)

	body, err := json.Marshal(creditRows(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "predict.lua")
	if err := os.WriteFile(script, []byte(wrkScript(p.Endpoint.API.Token, string(body))), 0o600); err != nil {
		t.Fatal(err)
	}
	history := []reign{{version: 2}}
	started := time.Now()
	cmd := exec.Command(wrk, "-t2", "-c8", fmt.Sprintf("-d%ds", int(loadFor/time.Second)), "--timeout", "10s", "--latency",
		"-s", script, p.Endpoint.API.URL+predict.PredictPath("credit"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup

	// The Go client: two callers, each recording when it sent, when it was
	// answered and which version answered.
	var mu sync.Mutex
	var answers []answer
	var failures []error
	req := creditRows(t, 1)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				resp, err := c.Predict(ctx, "credit", req)
				received := time.Now()
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					answers = append(answers, answer{sent: sent, received: received, version: resp.ModelVersion})
				}
				mu.Unlock()
			}
		}()
	}

	// The person: a rollback every swapEvery, from the champion they see.
	var swapErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		cur := 2
		for {
			select {
			case <-stop:
				return
			case <-time.After(swapEvery):
			}
			from := time.Now()
			res, err := dc.Rollback(ctx, "credit", decisions.Decision{Reason: "swap under load", From: cur})
			until := time.Now()
			if err != nil || res.Champion == cur || res.Champion == 0 {
				swapErr = fmt.Errorf("rollback from v%d: %+v %v", cur, res, err)
				return
			}
			mu.Lock()
			history[len(history)-1].until = until
			history = append(history, reign{version: res.Champion, from: from})
			mu.Unlock()
			cur = res.Champion
		}
	}()

	waitErr := cmd.Wait()
	close(stop)
	stopped := time.Now()
	wg.Wait()
	took := stopped.Sub(started)
	if waitErr != nil {
		t.Fatalf("wrk: %v\n%s", waitErr, out.String())
	}
	if swapErr != nil {
		t.Fatal(swapErr)
	}
	stats := parseWrk(t, out.String())
	t.Logf("wrk, %s of load, -t2 -c8, one instance a request, over HTTPS, while the champion moved %d times:\n%s",
		took.Round(time.Second), len(history)-1, out.String())
	t.Logf("wrk: %.0f requests/s; latency mean %s, p50 %s, p99 %s, max %s; %d requests",
		stats.rps, stats.latency["mean"], stats.latency["50%"], stats.latency["99%"], stats.latency["max"], stats.requests)

	if stats.socketErrors != 0 || stats.non2xx != 0 || stats.scriptNon2xx != 0 || stats.noVersion != 0 {
		t.Errorf("wrk saw socket errors %d, non-2xx %d (its script counted %d), answers without modelVersion %d",
			stats.socketErrors, stats.non2xx, stats.scriptNon2xx, stats.noVersion)
	}
	if stats.requests == 0 || stats.scriptResponses != stats.requests || len(stats.versions) != 2 {
		t.Errorf("wrk: %d requests, its script saw %d responses from versions %v: want every one from v1 or v2, both seen",
			stats.requests, stats.scriptResponses, stats.versions)
	}
	if len(failures) > 0 {
		t.Errorf("the Go client had %d failed requests, the first: %v", len(failures), failures[0])
	}
	// A decision takes a while on two busy cores under -race (up to 4 s
	// measured): five swaps is the least that is still "every few seconds".
	if len(history)-1 < 5 {
		t.Errorf("only %d swaps in %s", len(history)-1, loadFor)
	}
	checkReigns(t, answers, history, 2*swapTTL, started, stopped)

	// Idle, and moved with nothing to tell the endpoint (the registry
	// directly, as in AWS where nothing tells a Lambda): after 2·TTL without a
	// request, the first request reads the pointer itself and is answered by
	// the new champion, not the one in memory.
	cur := history[len(history)-1].version
	time.Sleep(2 * swapTTL)
	waitServed(t, c, cur, 10*time.Second)
	res, err := p.Registry.Rollback(ctx, registry.RollbackInput{Model: "credit", From: cur, Principal: local.LocalPrincipal(),
		Reason: "moved while the endpoint is idle"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2*swapTTL + 100*time.Millisecond)
	resp, err := c.Predict(ctx, "credit", req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ModelVersion != res.Version.Version {
		t.Fatalf("the first request after %s idle was answered by v%d, want v%d, champion since before it", 2*swapTTL, resp.ModelVersion, res.Version.Version)
	}
}

// checkReigns checks that each answer's version reigned at some moment in
// [sent − bound, received], that every reign but a short last one answered
// some request sent within it, and logs how soon after each decision the
// endpoint followed. The load ran from started to stopped.
func checkReigns(t *testing.T, answers []answer, history []reign, bound time.Duration, started, stopped time.Time) {
	t.Helper()
	stale := staleAnswers(answers, history, bound)
	for _, a := range stale[:min(5, len(stale))] {
		t.Errorf("a request sent at +%s, answered at +%s by v%d, which was not champion in that time or the %s before it",
			a.sent.Sub(started), a.received.Sub(started), a.version, bound)
	}
	if len(stale) > 0 {
		t.Errorf("%d of %d answers came from a version that was not champion within the bound; champions: %v", len(stale), len(answers), history)
	}
	// How long after each decision returned the old version still took new
	// requests, and how long until the new one first answered: over the
	// requests sent after the decision returned and before the next began.
	var maxOld, maxFirst time.Duration
	for i, r := range history[1:] {
		decided, end := history[i].until, stopped
		if i+2 < len(history) {
			end = history[i+2].from
		}
		if end.Sub(decided) < swapEvery/2 {
			continue // the load stopped soon after the last swap
		}
		first := time.Duration(-1)
		for _, a := range answers {
			switch {
			case a.sent.Before(decided) || a.sent.After(end):
			case a.version == r.version:
				if d := a.received.Sub(decided); first < 0 || d < first {
					first = d
				}
			default:
				maxOld = max(maxOld, a.sent.Sub(decided))
			}
		}
		if first < 0 {
			t.Errorf("v%d was champion from +%s for %s and answered no request sent then", r.version, r.from.Sub(started), end.Sub(decided))
			continue
		}
		maxFirst = max(maxFirst, first)
	}
	t.Logf("the Go client: %d answers during %d swaps; the new champion answered at most %s after its decision returned; "+
		"the old one took requests sent at most %s after it (bound %s)",
		len(answers), len(history)-1, maxFirst.Round(time.Millisecond), maxOld.Round(time.Millisecond), bound)
}

// staleAnswers are the answers whose version did not reign at any moment in
// [sent − bound, received].
func staleAnswers(answers []answer, history []reign, bound time.Duration) []answer {
	var stale []answer
	for _, a := range answers {
		if !slices.ContainsFunc(history, func(r reign) bool {
			return r.version == a.version && !r.from.After(a.received) && (r.until.IsZero() || !r.until.Before(a.sent.Add(-bound)))
		}) {
			stale = append(stale, a)
		}
	}
	return stale
}

// The swap test's check finds what it is there to find: an answer from a
// version whose reign ended more than the bound before the request.
func TestStaleAnswersAreFound(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	history := []reign{{version: 2, until: at(4.1)}, {version: 1, from: at(4), until: at(8.1)}, {version: 2, from: at(8)}}
	answers := []answer{
		{sent: at(1), received: at(1.01), version: 2},  // v2's first reign
		{sent: at(5), received: at(5.01), version: 2},  // v2 ended at 4.1: within 2 s
		{sent: at(6.2), received: at(6.3), version: 2}, // v2 ended 2.1 s before the request: stale
		{sent: at(7), received: at(8.05), version: 2},  // answered once v2 reigned again
		{sent: at(3.9), received: at(4), version: 1},   // v1's reign began as it was answered
		{sent: at(3), received: at(3.95), version: 1},  // answered before v1 reigned: stale
		{sent: at(9), received: at(9.01), version: 7},  // never champion
		{sent: at(20), received: at(20.1), version: 2}, // v2 still reigns
	}
	stale := staleAnswers(answers, history, 2*time.Second)
	if len(stale) != 3 || stale[0] != answers[2] || stale[1] != answers[5] || stale[2] != answers[6] {
		t.Fatalf("stale answers %v, want 3, 6 and 7 of %v", stale, answers)
	}
}

// wrkPath is Debian's wrk (scripts/setup.sh installs it for the tests).
func wrkPath(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/wrk"
	if _, err := os.Stat(path); err != nil {
		if testing.Short() {
			t.Skip("wrk not installed (CI installs Debian's wrk)")
		}
		t.Fatal("wrk is required for the load test: apt-get install wrk (scripts/setup.sh test)")
	}
	return path
}

// wrkScript POSTs body with the token, and counts in each thread the
// answers that were not 2xx or named no modelVersion, and the answers of
// each version; done prints the totals on lines of their own.
func wrkScript(token, body string) string {
	return `wrk.method = "POST"
wrk.body = [==[` + body + `]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ` + token + `"

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  responses, non2xx, noversion, versions = 0, 0, 0, {}
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  local v = string.match(body, '"modelVersion":%s*(%d+)')
  if v then versions[v] = (versions[v] or 0) + 1 else noversion = noversion + 1 end
end

function done(summary, latency, requests)
  local r, n, nv, vs = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    n = n + t:get("non2xx")
    nv = nv + t:get("noversion")
    for k, c in pairs(t:get("versions")) do vs[k] = (vs[k] or 0) + c end
  end
  io.write(string.format("mlops: responses %d non2xx %d noversion %d\n", r, n, nv))
  for k, c in pairs(vs) do io.write(string.format("mlops: version %s %d\n", k, c)) end
end
`
}

// wrkStats is what the test reads from wrk's report.
type wrkStats struct {
	rps                                      float64
	requests, socketErrors, non2xx           int
	latency                                  map[string]string // mean, max, 50%, 75%, 90%, 99%
	scriptResponses, scriptNon2xx, noVersion int
	versions                                 map[int]int
}

func parseWrk(t *testing.T, out string) wrkStats {
	t.Helper()
	s := wrkStats{latency: map[string]string{}, versions: map[int]int{}}
	find := func(re string) []string {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("wrk's report has no %q:\n%s", re, out)
		}
		return m
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("wrk's report: %v", err)
		}
		return n
	}
	var err error
	if s.rps, err = strconv.ParseFloat(find(`Requests/sec:\s+([0-9.]+)`)[1], 64); err != nil {
		t.Fatal(err)
	}
	s.requests = atoi(find(`(\d+) requests in`)[1])
	m := find(`Latency\s+(\S+)\s+(\S+)\s+(\S+)`)
	s.latency["mean"], s.latency["max"] = m[1], m[3]
	for _, q := range []string{"50%", "75%", "90%", "99%"} {
		s.latency[q] = find(`\s` + q + `\s+(\S+)`)[1]
	}
	// wrk prints these lines only when they are not zero.
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(out); m != nil {
		s.socketErrors = atoi(m[1]) + atoi(m[2]) + atoi(m[3]) + atoi(m[4])
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(out); m != nil {
		s.non2xx = atoi(m[1])
	}
	m = find(`mlops: responses (\d+) non2xx (\d+) noversion (\d+)`)
	s.scriptResponses, s.scriptNon2xx, s.noVersion = atoi(m[1]), atoi(m[2]), atoi(m[3])
	for _, m := range regexp.MustCompile(`mlops: version (\d+) (\d+)`).FindAllStringSubmatch(out, -1) {
		s.versions[atoi(m[1])] = atoi(m[2])
	}
	return s
}

// A champion whose bundle was tampered with after the gate registered it is
// refused by the endpoint: approved and promoted, it never answers; the
// previous champion keeps answering, the refusal is logged and announced
// (Model Load Failed). Its version retired with force, the model has no
// champion: 503 unavailable, and the message says so.
func TestTamperedChampionIsRefused(t *testing.T) {
	logs := &lambdatest.SyncBuffer{}
	p, dc := approvedCredit(t, local.Config{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Serving: local.Serving{ModelTTL: 200 * time.Millisecond}})
	ctx := context.Background()
	c := predictClient(t, p, "")
	waitServed(t, c, 1, 30*time.Second)

	// What ops would subscribe to: every Model Load Failed event.
	var mu sync.Mutex
	var announced []event.ModelLoadFailedDetail
	p.Bus.Register("test-load-failed", func(_ context.Context, payload json.RawMessage) error {
		var env event.Envelope
		var d event.ModelLoadFailedDetail
		if err := json.Unmarshal(payload, &env); err != nil {
			return err
		}
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return err
		}
		mu.Lock()
		announced = append(announced, d)
		mu.Unlock()
		return nil
	})
	if err := p.Bus.AddRule("test-load-failed", `{"source":["mlops"],"detail-type":["`+event.ModelLoadFailed+`"]}`, "test-load-failed"); err != nil {
		t.Fatal(err)
	}

	v2 := retrainVersion(t, p, "second", "a version to tamper with", 2)
	if v2.State != registry.StatePendingApproval {
		t.Fatalf("v2 is %s, want it waiting for approval", v2.State)
	}
	// One byte of model.json changed in the platform bucket, after the gate
	// verified and registered the bundle and before a person approves it:
	// the manifest, and so the bundle's SHA-256 the approval binds to, are
	// unchanged. And one byte of the model's compiled form, which serving
	// would load in its place: refused for its hash, it sends serving back to
	// model.json.
	key := v2.BundlePrefix + bundle.ModelFile
	model, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, key)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(model, []byte("base_score"))
	model[i] = 'B'
	if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Platform, key, model, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if v2.Compiled == nil {
		t.Fatal("the gate compiled no model for v2")
	}
	compiled, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, v2.Compiled.Key)
	if err != nil {
		t.Fatal(err)
	}
	compiled[len(compiled)-1] ^= 1
	if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Platform, v2.Compiled.Key, compiled, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	approve(t, p, dc, 2)
	waitIdleFor(t, p, time.Minute)
	if ch, err := p.Registry.Champion(ctx, "credit"); err != nil || ch.Version != 2 {
		t.Fatalf("the registry's champion: %+v %v, want v2", ch, err)
	}

	// Over many TTLs the endpoint keeps answering with v1.
	req := creditRows(t, 3)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		resp, err := c.Predict(ctx, "credit", req)
		if err != nil || resp.ModelVersion != 1 {
			t.Fatalf("with v2's bundle tampered: %+v %v, want v1's answer", resp, err)
		}
	}
	mu.Lock()
	var d *event.ModelLoadFailedDetail
	for i := range announced {
		if announced[i].Role == "champion" {
			d = &announced[i]
		}
	}
	mu.Unlock()
	if d == nil || d.Model != "credit" || d.Version != 2 || d.Serving != 1 || d.BundleSHA256 != v2.BundleSHA256 ||
		d.BundlePrefix != v2.BundlePrefix || !strings.Contains(d.Reason, bundle.ModelFile) {
		t.Fatalf("Model Load Failed: %+v (all: %+v), want champion v2 refused naming %s, v1 serving", d, announced, bundle.ModelFile)
	}
	refusal := ""
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "model refused: still serving the previous one") && strings.Contains(line, "role=champion") {
			refusal = line
		}
	}
	if !strings.Contains(refusal, "version=2") || !strings.Contains(refusal, "serving=1") || !strings.Contains(refusal, bundle.ModelFile) {
		t.Fatalf("the refusal is not logged: %q", refusal)
	}
	t.Logf("refused and logged: %s", refusal)
	if !strings.Contains(logs.String(), "compiled model refused: parsing model.json instead") {
		t.Fatal("the tampered compiled model's refusal is not logged")
	}

	// Retired with force, v2 leaves the model with no champion.
	if _, err := dc.Retire(ctx, "credit", 2, decisions.Decision{Reason: "its bundle was tampered with", Force: true}); err != nil {
		t.Fatal(err)
	}
	waitIdleFor(t, p, time.Minute)
	_, err = c.Predict(ctx, "credit", req)
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != apierror.CodeUnavailable ||
		!strings.Contains(ae.Message, "no champion") || ae.RequestID == "" {
		t.Fatalf("no champion: %v, want 503 unavailable saying there is no champion", err)
	}
	if _, err := c.Metadata(ctx, "credit"); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("metadata with no champion: %v, want 503", err)
	}
}

// The server stopped under load: every request answered 200 before the
// stop has its records, by request id and instance index, in the
// monitoring bucket when the platform is back up on the same directory.
func TestPredictionLogSurvivesStopUnderLoad(t *testing.T) {
	p := servedCredit(t, local.Config{})
	ctx := context.Background()
	reqs := map[int]*predict.Request{1: creditRows(t, 1), 2: creditRows(t, 2), 3: creditRows(t, 3)}
	type answered struct {
		id string
		n  int
	}
	var mu sync.Mutex
	var got []answered
	var closing time.Time
	afterStop, failed := 0, 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const callers = 16
	for i := range callers {
		c := predictClient(t, p, "") // a connection pool of its own: a client of its own
		n := 1 + i%3
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Predict(ctx, "credit", reqs[n])
				mu.Lock()
				switch {
				case err == nil && len(resp.Predictions) == n:
					got = append(got, answered{resp.RequestID, n})
					if !closing.IsZero() {
						afterStop++
					}
				case err == nil:
					t.Errorf("%d predictions for %d instances", len(resp.Predictions), n)
				default:
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // stopped: the callers wait for the test to tell them
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	mu.Lock()
	closing = time.Now()
	before := len(got)
	mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	closed := time.Since(closing)
	close(stop)
	wg.Wait()
	if before == 0 || failed == 0 {
		t.Fatalf("%d requests answered before the stop, %d failed: the test did not stop the server under load", before, failed)
	}

	p2 := start(t, p.Endpoint.Dir)
	t.Cleanup(func() { p2.Close(context.Background()) })
	logged := map[string]map[int]int{}
	records := 0
	if err := predlog.Read(ctx, p2.Store, p2.Endpoint.Buckets.Monitoring, "credit", closing.Add(-time.Hour), time.Now(), predlog.ReadOptions{},
		func(r predlog.Record) error {
			if logged[r.RequestID] == nil {
				logged[r.RequestID] = map[int]int{}
			}
			logged[r.RequestID][r.Index]++
			records++
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	missing, instances := 0, 0
	for _, a := range got {
		for i := range a.n {
			instances++
			if logged[a.id][i] == 0 {
				if missing++; missing <= 5 {
					t.Errorf("request %s instance %d was answered and has no record", a.id, i)
				}
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered instances have no record", missing, instances)
	}
	t.Logf("%d requests (%d instances) answered by %d callers, %d of them while the server was stopping (it took %s); "+
		"%d records in the monitoring bucket, one for every answered instance",
		len(got), instances, callers, afterStop, closed.Round(time.Millisecond), records)
}

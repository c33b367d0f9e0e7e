package main

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/predict"
)

// The load test's bodies are what a client sends: the credit data's
// applicants with numbers as JSON numbers, NA as null, and no label, and
// "explain" only when asked.
func TestCreditBody(t *testing.T) {
	c, err := credit.Contract()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 32} {
		for _, explain := range []bool{false, true} {
			b, err := creditBody(n, explain)
			if err != nil {
				t.Fatal(err)
			}
			var req predict.Request
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatalf("%d instances: %v\n%s", n, err, b)
			}
			if len(req.Instances) != n || req.Explain != explain {
				t.Fatalf("%d instances, explain %v: got %d, %v", n, explain, len(req.Instances), req.Explain)
			}
			for i, in := range req.Instances {
				if len(in.Fields) != len(c.Features) {
					t.Fatalf("instance %d: %d fields, want the contract's %d features", i, len(in.Fields), len(c.Features))
				}
				for _, f := range in.Fields {
					if f.Name == c.Target {
						t.Fatalf("instance %d carries the label %s", i, f.Name)
					}
					if f.Name == "Seniority" && !strings.ContainsAny(string(f.Value[:1]), "0123456789") {
						t.Fatalf("instance %d: Seniority %s, want a JSON number", i, f.Value)
					}
				}
			}
		}
	}
	// Row 30 of credit_data.csv has Income NA: it goes as null.
	b, err := creditBody(32, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Income":null`) {
		t.Fatalf("no NA income in the first 32 applicants as null:\n%s", b)
	}
}

func TestSamePredictions(t *testing.T) {
	parse := func(s string) *predict.Response {
		t.Helper()
		var r predict.Response
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	ours := parse(`{"predictions":[{"p_bad":0.25,"label":"good"},{"p_bad":0.75,"label":"bad"}],"model":"credit","modelVersion":1,"requestId":"a"}`)
	for _, c := range []struct {
		peer string
		ok   bool
	}{
		{`{"predictions":[{"p_bad":0.25000000001,"label":"good"},{"p_bad":0.75,"label":"bad"}]}`, true},
		{`{"predictions":[{"p_bad":0.2501,"label":"good"},{"p_bad":0.75,"label":"bad"}]}`, false},
		{`{"predictions":[{"p_bad":0.25,"label":"bad"},{"p_bad":0.75,"label":"bad"}]}`, false},
		{`{"predictions":[{"label":"good","p_bad":0.25},{"p_bad":0.75,"label":"bad"}]}`, false},
		{`{"predictions":[{"p_bad":0.25,"label":"good"}]}`, false},
	} {
		if err := samePredictions(ours, parse(c.peer)); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.peer, err, c.ok)
		}
	}
}

func TestInitTrace(t *testing.T) {
	stderr := "init internal/bytealg @0.004 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init github.com/aws/aws-sdk-go-v2/service/ssm/schemas @12 ms, 6.5 ms clock, 3964336 bytes, 48130 allocs\n" +
		"something else\n" +
		"init main @20 ms, 1.25 ms clock, 10 bytes, 1 allocs\n"
	sum, top := initTrace(stderr)
	if sum != 7750*time.Microsecond {
		t.Errorf("sum %v, want 7.75ms", sum)
	}
	if !strings.HasPrefix(top, "github.com/aws/aws-sdk-go-v2/service/ssm/schemas 6.5 ms, main 1.2") {
		t.Errorf("top %q", top)
	}
}

func TestLogTime(t *testing.T) {
	logs := []byte(`not json
{"time":"2026-12-03T23:55:01.123456789Z","level":"INFO","msg":"other"}
{"time":"2026-12-03T23:55:01.5Z","level":"INFO","msg":"champion loaded","model":"credit"}
`)
	at, err := logTime(logs, "champion loaded")
	if err != nil || !at.Equal(time.Date(2026, 12, 3, 23, 55, 1, 5e8, time.UTC)) {
		t.Fatalf("%v %v", at, err)
	}
	if _, err := logTime(logs, "missing"); err == nil {
		t.Fatal("a missing line was found")
	}
}

// The event is API Gateway's payload 2.0 for the {proxy+} route, with an IAM
// caller (the routes refuse a request without one) and the body as sent.
func TestPredictEvent(t *testing.T) {
	b, err := predictEvent("credit-deep", []byte(`{"instances":[{}]}`), 3)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Version, RouteKey, RawPath, Body string
		RequestContext                   struct {
			RequestID  string
			Authorizer struct{ IAM struct{ UserARN string } }
			HTTP       struct{ Method, Path string }
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Version != "2.0" || ev.RawPath != "/v1/models/credit-deep:predict" || ev.RequestContext.HTTP.Method != "POST" ||
		ev.RequestContext.Authorizer.IAM.UserARN == "" || ev.Body != `{"instances":[{}]}` || ev.RequestContext.RequestID != "bench-cold-3" {
		t.Fatalf("event %s", b)
	}
}

// Warnings are counted by message, ports and counts aside, and each take
// starts afresh.
func TestWarningsCounted(t *testing.T) {
	w := newWarnings()
	log := slog.New(w).With("component", "api")
	log.Warn("http: TLS handshake error from 127.0.0.1:46134: EOF")
	log.Warn("http: TLS handshake error from 127.0.0.1:51000: EOF")
	log.Info("not counted")
	if got := w.take(); got != `"http: TLS handshake error from N.N.N.N:N: EOF" ×2` {
		t.Fatalf("take: %s", got)
	}
	if got := w.take(); got != "none" {
		t.Fatalf("second take: %s", got)
	}
}

// The percentiles of several wrk runs together are drawn from each run's
// thousand quantiles, weighed by its requests: two runs of equal weight and
// disjoint latencies put the median between them and the 99th percentile in
// the slower; a run with few requests moves them little.
func TestPooledPercentile(t *testing.T) {
	run := func(requests int64, from, to float64) wrkResult {
		r := wrkResult{Requests: requests, DurationUS: 1e6}
		for k := range 1000 {
			r.Quantiles = append(r.Quantiles, from+(to-from)*(float64(k)+0.5)/1000)
		}
		return r
	}
	var sum wrkResult
	sum.add(run(1000, 0, 1000))
	sum.add(run(1000, 1000, 2000))
	if sum.Requests != 2000 || sum.P50 < 999 || sum.P50 > 1001 || sum.P99 < 1975 || sum.P99 > 1985 {
		t.Fatalf("equal runs: %d requests, p50 %v, p99 %v", sum.Requests, sum.P50, sum.P99)
	}
	var skew wrkResult
	skew.add(run(9950, 0, 1000))
	skew.add(run(50, 5000, 6000))
	if skew.P50 < 490 || skew.P50 > 510 || skew.P99 < 990 || skew.P99 > 1000 {
		t.Fatalf("a small slow run: p50 %v, p99 %v", skew.P50, skew.P99)
	}
	one := wrkResult{Requests: 5, DurationUS: 1e6, P50: 7, P90: 8, P99: 9}
	var single wrkResult
	single.add(one)
	if single.P50 != 7 || single.P99 != 9 {
		t.Fatalf("one run: p50 %v, p99 %v", single.P50, single.P99)
	}
}

package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/predict"
)

//go:embed peer.py
var peerPy []byte

// loadTest runs wrk against the local endpoint and the FastAPI peer, with
// the same settings, for single-instance and 32-instance requests of the
// credit model, and prints the figures and the ratios.
func loadTest(ctx context.Context, st *stage, o options) error {
	m := st.models[creditModel]
	peerURL, stopPeer, err := startPeer(ctx, st, m, o)
	if err != nil {
		return err
	}
	defer stopPeer()

	ours := st.p.Endpoint.API.URL + predict.PredictPath(creditModel)
	theirs := peerURL + predict.PredictPath(creditModel)
	token := st.p.Endpoint.API.Token
	fmt.Printf("\nEndpoint vs FastAPI: %s v%d (%d trees), HTTPS with a bearer token on both, same certificate\n",
		creditModel, m.version.Version, m.bundle.Model.NumTrees())
	fmt.Printf("  ours: the local platform's HTTPS API in this process (contract check, prediction log of %g%% of requests)\n", o.logSample*100)
	route := "async route"
	if o.peerSync {
		route = "sync route (thread pool)"
	}
	fmt.Printf("  peer: FastAPI %s (%s) + uvicorn %s, %d workers, xgboost %s inplace_predict (nthread=1 each)\n",
		pyVersion(o.python, "fastapi"), route, pyVersion(o.python, "uvicorn"), o.workers, pyVersion(o.python, "xgboost"))
	turns := fmt.Sprintf("%s in %d turns of %s, ours and the peer's alternating", o.duration, o.rounds, o.duration/time.Duration(o.rounds))
	if o.rounds == 1 {
		turns = o.duration.String() + ", one server after the other"
	}
	if o.wrkCPUs == "" {
		fmt.Printf("  load: wrk -t%d -c%d --latency (after a %s warm-up), %s, all on the same %d cores\n",
			o.threads, o.conns, o.warmup, turns, runtime.NumCPU())
	} else {
		fmt.Printf("  load: wrk -t%d -c%d --latency (after a %s warm-up), %s; wrk on cores %s, the servers on this process's %d (GOMAXPROCS %d)\n",
			o.threads, o.conns, o.warmup, turns, o.wrkCPUs, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}

	type row struct {
		n          int
		ours, peer wrkResult
		bodyBytes  int
		warnings   string        // the platform's, during the measured turns
		settled    time.Duration // the longest wait for our log's last records after one of our turns
		turns      []float64     // each turn's throughput ratio
	}
	var rows []row
	for _, n := range []int{1, 32} {
		body, err := creditBody(n, false)
		if err != nil {
			return err
		}
		// Both answer the same predictions before either is timed.
		a, err := st.post(ctx, creditModel, body)
		if err != nil {
			return fmt.Errorf("ours: %w", err)
		}
		b, err := postPredict(ctx, st.hc, theirs, token, body)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		if err := samePredictions(a, b); err != nil {
			return fmt.Errorf("%d instances: ours and the peer disagree: %w", n, err)
		}
		r := row{n: n, bodyBytes: len(body)}
		for _, url := range []string{ours, theirs} {
			if _, err := runWrk(ctx, o, url, token, body, o.warmup); err != nil {
				return err
			}
		}
		// The measured run in turns, ours then the peer's: the machine's
		// other jobs change its speed within a minute, by more than the
		// servers differ, and alternating lets that fall on both alike.
		turn := o.duration / time.Duration(o.rounds)
		st.warnings.take()
		for k := range o.rounds {
			for _, side := range []struct {
				url string
				res *wrkResult
			}{{ours, &r.ours}, {theirs, &r.peer}} {
				// The profile is of our first turn.
				stopProfile, err := profile(o.cpuProfile, n, side.res == &r.ours && k == 0)
				if err != nil {
					return err
				}
				cpu := processCPU()
				res, err := runWrk(ctx, o, side.url, token, body, turn)
				res.ServerCPU = processCPU() - cpu
				stopProfile()
				if err != nil {
					return err
				}
				if side.res == &r.ours {
					// Our log's last records are written before the peer's
					// turn, so that their gzip and PUTs do not run beside it.
					t0 := time.Now()
					if err := st.p.SettleLog(ctx); err != nil {
						return fmt.Errorf("ours: settle the prediction log: %w", err)
					}
					r.settled = max(r.settled, time.Since(t0))
				}
				side.res.add(res)
			}
			r.turns = append(r.turns, r.ours.lastRPS/r.peer.lastRPS)
		}
		r.warnings = st.warnings.take()
		rows = append(rows, r)
	}

	fmt.Printf("\n  %-22s %12s %12s %9s   %10s %10s %9s   %10s %10s %9s\n", "request", "ours req/s", "peer req/s", "ratio",
		"ours p50", "peer p50", "ratio", "ours p99", "peer p99", "ratio")
	for _, r := range rows {
		fmt.Printf("  %-22s %12.0f %12.0f %8.1fx   %10s %10s %8.1fx   %10s %10s %8.1fx\n",
			fmt.Sprintf("%d instance(s), %d B", r.n, r.bodyBytes),
			r.ours.rps(), r.peer.rps(), r.ours.rps()/r.peer.rps(),
			fmtUS(r.ours.P50), fmtUS(r.peer.P50), r.peer.P50/r.ours.P50,
			fmtUS(r.ours.P99), fmtUS(r.peer.P99), r.peer.P99/r.ours.P99)
	}
	for _, r := range rows {
		fmt.Printf("  %d instance(s): instances/s ours %.0f, peer %.0f; requests ours %d, peer %d; errors ours %s, peer %s;\n"+
			"    the platform's warnings during the measured turns: %s\n",
			r.n, r.ours.rps()*float64(r.n), r.peer.rps()*float64(r.n), r.ours.Requests, r.peer.Requests,
			r.ours.errors(), r.peer.errors(), r.warnings)
		// Where the cores went in our run: unless wrk has its own, it shares
		// them with the server.
		rest := ""
		if o.wrkCPUs == "" {
			cores := time.Duration(float64(runtime.NumCPU()) * r.ours.DurationUS * float64(time.Microsecond))
			rest = fmt.Sprintf(", the rest of the %d cores (the kernel's work for both, other jobs, idle) %s",
				runtime.NumCPU(), r.ours.perRequest(cores-r.ours.ServerCPU-r.ours.WrkCPU))
		}
		fmt.Printf("    CPU a request in our run: this process (the platform) %s, wrk %s%s; our log settled within %s after each turn\n",
			r.ours.perRequest(r.ours.ServerCPU), r.ours.perRequest(r.ours.WrkCPU), rest, r.settled.Round(time.Millisecond))
		if o.wrkCPUs == "" {
			// wrk's own work grows with the rate it drives: sharing the
			// servers' cores, it takes ten times as much from a server ten
			// times as fast.
			share := func(w wrkResult) float64 {
				return 100 * w.WrkCPU.Seconds() / (float64(runtime.NumCPU()) * w.DurationUS / 1e6)
			}
			fmt.Printf("    wrk's share of the %d cores it shares with the servers: %.0f%% in our turns, %.0f%% in the peer's\n",
				runtime.NumCPU(), share(r.ours), share(r.peer))
		}
		if len(r.turns) > 1 {
			ratios := make([]string, len(r.turns))
			for k, x := range r.turns {
				ratios[k] = fmt.Sprintf("%.1fx", x)
			}
			fmt.Printf("    throughput ratio turn by turn (%d turns of %s each): %s\n", len(r.turns), o.duration/time.Duration(o.rounds), strings.Join(ratios, " "))
		}
	}
	fmt.Printf("  goal (issue 11): throughput ratio >= 10x with a lower p99 (p99 ratio > 1x), judged with wrk on cores of its own\n")
	if o.wrkCPUs == "" {
		fmt.Printf("  (this run's wrk shares the servers' cores: make bench runs it again apart, taskset -c 1 ... -wrk-cpus 0)\n")
	}
	return nil
}

// creditBody is a request of the credit data's first n applicants as a client
// sends it: numbers as JSON numbers, categories as strings, NA as null, and
// no label; with explain, asking for explanations.
func creditBody(n int, explain bool) ([]byte, error) {
	c, err := credit.Contract()
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(credit.CSV()))
	header, err := r.Read()
	if err != nil {
		return nil, err
	}
	req := predict.Request{Explain: explain}
	for len(req.Instances) < n {
		rec, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("credit data: %w", err)
		}
		var in predict.Instance
		for i, name := range header {
			col := c.Column(name)
			if name == c.Target || col == nil {
				continue
			}
			var v []byte
			switch {
			case rec[i] == "NA" || rec[i] == "":
				v = []byte("null")
			case col.Type == contract.Integer || col.Type == contract.Number:
				v = []byte(rec[i])
			default:
				v, _ = json.Marshal(rec[i])
			}
			in.Fields = append(in.Fields, predict.Field{Name: name, Value: v})
		}
		req.Instances = append(req.Instances, in)
	}
	return json.Marshal(req)
}

// samePredictions checks that two answers carry the same outputs: the same
// labels, and probabilities within the tolerance bench/predict holds the
// evaluator to against xgboost.
func samePredictions(a, b *predict.Response) error {
	if len(a.Predictions) != len(b.Predictions) {
		return fmt.Errorf("%d predictions, the peer %d", len(a.Predictions), len(b.Predictions))
	}
	for i := range a.Predictions {
		pa, pb := &a.Predictions[i], &b.Predictions[i]
		if len(pa.Outputs) != len(pb.Outputs) {
			return fmt.Errorf("instance %d: outputs %v, the peer %v", i, pa.Outputs, pb.Outputs)
		}
		for k, f := range pa.Outputs {
			g := pb.Outputs[k]
			if f.Name != g.Name {
				return fmt.Errorf("instance %d: output %d is %s, the peer's %s", i, k, f.Name, g.Name)
			}
			x, errA := strconv.ParseFloat(string(f.Value), 64)
			y, errB := strconv.ParseFloat(string(g.Value), 64)
			switch {
			case errA == nil && errB == nil:
				if math.Abs(x-y) > 1e-6*math.Max(1, math.Abs(y)) {
					return fmt.Errorf("instance %d: %s %v, the peer %v", i, f.Name, x, y)
				}
			case string(f.Value) != string(g.Value):
				return fmt.Errorf("instance %d: %s %s, the peer %s", i, f.Name, f.Value, g.Value)
			}
		}
	}
	return nil
}

// startPeer starts peer.py under uvicorn, serving m's bundle with the local
// API's certificate, key and token, and waits until it answers. stop ends it.
func startPeer(ctx context.Context, st *stage, m *served, o options) (url string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "mlops-bench-peer-")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	// The bundle's own files, as the peer would deploy them.
	for _, name := range []string{bundle.ModelFile, bundle.EncodingFile} {
		b, _, err := st.p.Store.ReadAll(ctx, st.bucket(), m.version.BundlePrefix+name)
		if err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "peer.py"), peerPy, 0o600); err != nil {
		return "", nil, err
	}
	// The platform's certificate and key (LoadOrCreate reads them from its
	// directory), so that both servers do the same TLS work.
	creds, err := api.LoadOrCreate(st.p.Endpoint.Dir, time.Now())
	if err != nil {
		return "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(creds.TLS.Certificates[0].PrivateKey)
	if err != nil {
		return "", nil, err
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(o.python, "-m", "uvicorn", "peer:app", "--app-dir", dir,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--workers", strconv.Itoa(o.workers),
		"--ssl-keyfile", keyFile, "--ssl-certfile", creds.CertFile, "--log-level", "warning", "--no-access-log")
	cmd.Env = append(os.Environ(), "PEER_BUNDLE="+dir, "PEER_TOKEN="+st.p.Endpoint.API.Token,
		"PEER_MODEL="+m.version.Model, "PEER_VERSION="+strconv.Itoa(m.version.Version), "OMP_NUM_THREADS=1")
	if o.peerSync {
		cmd.Env = append(cmd.Env, "PEER_SYNC=1")
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start the peer: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		// uvicorn's supervisor stops its workers on SIGTERM.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	url = fmt.Sprintf("https://127.0.0.1:%d", port)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		resp, herr := st.hc.Do(req)
		if herr == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop, nil
			}
		}
		select {
		case werr := <-exited:
			exited <- werr
			stop()
			return "", nil, fmt.Errorf("the peer exited before it answered: %v", werr)
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the peer did not answer %s/healthz within 2 minutes: %v", url, herr)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// wrkResult is what wrk's done() hook in the script reports (latencies in
// µs), or the sum of several runs' (add).
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS float64 `json:"duration_us"`
	P50        float64 `json:"p50_us"`
	P90        float64 `json:"p90_us"`
	P99        float64 `json:"p99_us"`
	Max        float64 `json:"max_us"`
	// Quantiles are the run's latencies at the quantiles (k+0.5)/1000, k =
	// 0..999: a run's distribution in a thousand equal parts, from which
	// the percentiles of several runs together are drawn.
	Quantiles []float64 `json:"q"`
	Connect   int64     `json:"connect"`
	Read      int64     `json:"read"`
	Write     int64     `json:"write"`
	Status    int64     `json:"status"`
	Timeout   int64     `json:"timeout"`
	// WrkCPU is wrk's own CPU time (user and system) in the run, and
	// ServerCPU this process's (ours: the platform runs in it), measured
	// for our runs only.
	WrkCPU, ServerCPU time.Duration `json:"-"`

	runs    []wrkResult // the runs added, for the percentiles of all of them
	lastRPS float64     // the requests a second of the run added last
}

// add sums run into r: requests, time, errors and CPU, and the percentiles
// of all the runs' requests together (each run's thousand quantiles weighed
// by its requests).
func (r *wrkResult) add(run wrkResult) {
	r.runs = append(r.runs, run)
	r.lastRPS = run.rps()
	r.Requests += run.Requests
	r.DurationUS += run.DurationUS
	r.Max = max(r.Max, run.Max)
	r.Connect, r.Read, r.Write, r.Status, r.Timeout = r.Connect+run.Connect, r.Read+run.Read, r.Write+run.Write,
		r.Status+run.Status, r.Timeout+run.Timeout
	r.WrkCPU += run.WrkCPU
	r.ServerCPU += run.ServerCPU
	r.P50, r.P90, r.P99 = pooledPercentile(r.runs, 0.50), pooledPercentile(r.runs, 0.90), pooledPercentile(r.runs, 0.99)
}

// pooledPercentile is the latency below which a share p of all the runs'
// requests fell, each run's quantiles standing for equal shares of its
// requests. A single run's is its own percentile.
func pooledPercentile(runs []wrkResult, p float64) float64 {
	if len(runs) == 1 || len(runs[0].Quantiles) == 0 {
		switch p {
		case 0.50:
			return runs[0].P50
		case 0.90:
			return runs[0].P90
		}
		return runs[0].P99
	}
	type point struct{ v, w float64 }
	var pts []point
	total := 0.0
	for _, r := range runs {
		w := float64(r.Requests) / float64(len(r.Quantiles))
		for _, v := range r.Quantiles {
			pts = append(pts, point{v, w})
		}
		total += float64(r.Requests)
	}
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.v, b.v) })
	acc := 0.0
	for _, pt := range pts {
		acc += pt.w
		if acc >= p*total {
			return pt.v
		}
	}
	return pts[len(pts)-1].v
}

// perRequest is a CPU time's share of one request of r.
func (r wrkResult) perRequest(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d.Microseconds())/float64(r.Requests))
}

// processCPU is this process's CPU time so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r wrkResult) rps() float64 { return float64(r.Requests) / (r.DurationUS / 1e6) }

func (r wrkResult) errors() string {
	if r.Connect+r.Read+r.Write+r.Status+r.Timeout == 0 {
		return "none"
	}
	return fmt.Sprintf("connect %d, read %d, write %d, non-2xx %d, timeout %d", r.Connect, r.Read, r.Write, r.Status, r.Timeout)
}

// wrkScript POSTs the body with the token, and reports the run as one JSON
// line.
const wrkScript = `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  local q = {}
  for k = 0, 999 do
    q[#q + 1] = string.format("%%d", latency:percentile((k + 0.5) / 10))
  end
  io.write(string.format('\nRESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d,"q":[%%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(q, ",")))
end
`

func runWrk(ctx context.Context, o options, url, token string, body []byte, d time.Duration) (wrkResult, error) {
	if bytes.Contains(body, []byte("]==]")) {
		return wrkResult{}, errors.New("the body cannot be quoted in the wrk script")
	}
	f, err := os.CreateTemp("", "mlops-bench-wrk-*.lua")
	if err != nil {
		return wrkResult{}, err
	}
	defer os.Remove(f.Name())
	if _, err := fmt.Fprintf(f, wrkScript, token, body); err != nil {
		f.Close()
		return wrkResult{}, err
	}
	if err := f.Close(); err != nil {
		return wrkResult{}, err
	}
	secs := strconv.Itoa(max(1, int(d.Round(time.Second).Seconds())))
	args := []string{o.wrk, "-t" + strconv.Itoa(o.threads), "-c" + strconv.Itoa(o.conns), "-d" + secs + "s",
		"--latency", "--timeout", "10s", "-s", f.Name(), url}
	if o.wrkCPUs != "" {
		// The load generator on cores of its own (taskset is util-linux's).
		args = append([]string{"taskset", "-c", o.wrkCPUs}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s%s", url, err, out, stderr.Bytes())
	}
	_, line, ok := strings.Cut(string(out), "\nRESULT ")
	if !ok {
		return wrkResult{}, fmt.Errorf("wrk %s: no result in its output:\n%s", url, out)
	}
	line, _, _ = strings.Cut(line, "\n")
	var r wrkResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %q: %w", url, line, err)
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("wrk %s: no request completed:\n%s", url, out)
	}
	r.WrkCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

func pyVersion(python, module string) string {
	out, err := exec.Command(python, "-c", "import "+module+"; print("+module+".__version__)").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func fmtUS(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

// profile starts a CPU profile into prefix-<n>.prof when on and prefix is
// set; the function it returns stops it. It also writes the allocations so
// far to prefix-<n>.allocs-before and, when stopped, prefix-<n>.allocs: the
// run's own are their difference (go tool pprof -diff_base).
func profile(prefix string, n int, on bool) (func(), error) {
	if prefix == "" || !on {
		return func() {}, nil
	}
	allocs := func(name string) {
		if f, err := os.Create(name); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	allocs(fmt.Sprintf("%s-%d.allocs-before", prefix, n))
	f, err := os.Create(fmt.Sprintf("%s-%d.prof", prefix, n))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		allocs(fmt.Sprintf("%s-%d.allocs", prefix, n))
	}, nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/serving"
	"github.com/openmlops/mlops/shared/xgboost"
)

// coldStart times functions/predict from exec to its first successful
// prediction, runs times for the deep model and for the small credit model
// (the floor under it), and breaks both down.
func coldStart(ctx context.Context, st *stage, runs int, extraEnv []string) error {
	dir, err := os.MkdirTemp("", "mlops-bench-cold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bootstrap")
	// As the Makefile builds it for Lambda, for this machine's architecture.
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin,
		"github.com/openmlops/mlops/functions/predict")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions/predict: %v\n%s", err, out)
	}
	binInfo, err := os.Stat(bin)
	if err != nil {
		return err
	}
	body, err := creditBody(1, false)
	if err != nil {
		return err
	}
	ep := st.p.Endpoint
	env := []string{"AWS_LAMBDA_FUNCTION_NAME=predict", "AWS_REGION=" + ep.S3.Region, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + ep.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.S3.SecretAccessKey, "HOME=" + dir,
		"UPLOADS_BUCKET=" + ep.Buckets.Uploads, "PLATFORM_BUCKET=" + ep.Buckets.Platform,
		"MONITORING_BUCKET=" + ep.Buckets.Monitoring, "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + ep.S3.URL, "MLOPS_S3_PATH_STYLE=true",
		// Nothing is announced unless a bundle is refused; nothing listens here.
		"MLOPS_EVENTS_ENDPOINT=http://127.0.0.1:1"}
	env = append(env, extraEnv...)
	fmt.Printf("\nCold start: functions/predict (%.1f MB, %s/%s, CGO_ENABLED=0) under shared/local/runtimeapi, its S3 the platform's embedded endpoint;\n"+
		"  one API Gateway HTTP API event of 1 instance per process, %d processes per model, one at a time\n",
		float64(binInfo.Size())/1e6, runtime.GOOS, runtime.GOARCH, runs)
	if len(extraEnv) > 0 {
		fmt.Printf("  the function's extra environment: %s\n", strings.Join(extraEnv, " "))
	}
	fmt.Printf("  exec→ready: exec to the first GET /invocation/next (runtime start, package init, AWS configuration, wiring);\n" +
		"  ready→loaded: to the function's \"champion loaded\" log line (the first request resolves and loads the champion);\n" +
		"  loaded→answer: the rest of that request (scoring, the log record to stdout, the answer; the shadow candidate\n" +
		"  is looked for in the background)\n")
	for _, name := range []string{deepModel, creditModel} {
		m := st.models[name]
		fmt.Printf("\n  %s v%d: %d trees of depth %d (%d nodes), %.1f MB model.json\n",
			name, m.version.Version, m.shape.Trees, m.shape.MaxDepth, m.shape.TotalNodes, m.modelMB)
		fmt.Printf("  %-6s %14s %14s %14s %12s\n", "run", "exec→ready", "ready→loaded", "loaded→answer", "total")
		var totals, inits, loads, rests []time.Duration
		for i := range runs {
			t, _, err := coldRun(ctx, bin, env, name, body, i, m.version.Version, nil)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", name, i+1, err)
			}
			totals, inits, loads, rests = append(totals, t.total), append(inits, t.init), append(loads, t.load), append(rests, t.rest)
			fmt.Printf("  %-6d %14s %14s %14s %12s\n", i+1, fmtMS(t.init), fmtMS(t.load), fmtMS(t.rest), fmtMS(t.total))
		}
		fmt.Printf("  %-6s %14s %14s %14s %12s\n", "median", fmtMS(median(inits)), fmtMS(median(loads)), fmtMS(median(rests)), fmtMS(median(totals)))
		fmt.Printf("  %-6s %14s %14s %14s %12s\n", "min", fmtMS(slices.Min(inits)), fmtMS(slices.Min(loads)), fmtMS(slices.Min(rests)), fmtMS(slices.Min(totals)))
		if name == deepModel {
			fmt.Printf("  goal (issue 11): total < 100 ms\n")
		}
	}

	// Package initialisation, from the runtime's own trace in one more run.
	t, stderr, err := coldRun(ctx, bin, env, deepModel, body, runs, st.models[deepModel].version.Version, []string{"GODEBUG=inittrace=1"})
	if err != nil {
		return fmt.Errorf("inittrace run: %w", err)
	}
	initSum, top := initTrace(stderr)
	fmt.Printf("\n  package init (GODEBUG=inittrace=1, one more run, whose exec→ready was %s): %s in all; largest: %s\n",
		fmtMS(t.init), fmtMS(initSum), top)

	for _, name := range []string{deepModel, creditModel} {
		if err := loadBreakdown(ctx, st, name); err != nil {
			return err
		}
	}
	return nil
}

type coldTimes struct{ init, load, rest, total time.Duration }

// coldRun starts bin under a fresh Runtime API server, hands it a
// prediction request of model with body at once,
// and times exec, the first poll for an event (init done), the champion's
// load (from the function's own log) and the answer, which must be a 200
// from version.
func coldRun(ctx context.Context, bin string, env []string, model string, body []byte, i, version int, extraEnv []string) (coldTimes, string, error) {
	ev, err := predictEvent(model, body, i)
	if err != nil {
		return coldTimes{}, "", err
	}
	rt, err := runtimeapi.Start("arn:aws:lambda:us-east-1:123456789012:function:predict", time.Minute)
	if err != nil {
		return coldTimes{}, "", err
	}
	defer rt.Close()
	// A proxy in front of the Runtime API notes when the function first asks
	// for an event: its initialisation is done.
	var ready atomic.Int64
	target := &url.URL{Scheme: "http", Host: rt.Addr()}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// The function is killed while it waits for its next event: that
	// request's end is no error to print.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return coldTimes{}, "", err
	}
	psrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/invocation/next") {
			ready.CompareAndSwap(0, time.Now().UnixNano())
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = psrv.Serve(ln) }()
	defer psrv.Close()

	cmd := exec.Command(bin)
	cmd.Env = append(append([]string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String()}, env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return coldTimes{}, "", err
	}
	ictx, cancel := context.WithTimeout(ctx, time.Minute)
	out, ierr := rt.Invoke(ictx, ev)
	end := time.Now()
	cancel()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	logs := stdout.String() + stderr.String()
	if ierr != nil {
		return coldTimes{}, "", fmt.Errorf("invoke: %w\nfunction output:\n%s", ierr, logs)
	}
	var resp lambdaevents.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return coldTimes{}, "", fmt.Errorf("answer %s: %w", out, err)
	}
	respBody := resp.Body
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return coldTimes{}, "", err
		}
		respBody = string(b)
	}
	var pr predict.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(respBody), &pr) != nil || pr.ModelVersion != version || len(pr.Predictions) != 1 {
		return coldTimes{}, "", fmt.Errorf("answer %d %s, want 200 with one prediction of version %d\nfunction output:\n%s",
			resp.StatusCode, respBody, version, logs)
	}
	loaded, err := logTime(stdout.Bytes(), "champion loaded")
	if err != nil {
		return coldTimes{}, "", fmt.Errorf("%w\nfunction output:\n%s", err, logs)
	}
	r := time.Unix(0, ready.Load())
	if ready.Load() == 0 || loaded.Before(r) {
		return coldTimes{}, "", fmt.Errorf("inconsistent times: ready %v, loaded %v\nfunction output:\n%s", r, loaded, logs)
	}
	return coldTimes{init: r.Sub(t0), load: loaded.Sub(r), rest: end.Sub(loaded), total: end.Sub(t0)}, stderr.String(), nil
}

// logTime is the time of the function's first JSON log line with msg.
func logTime(stdout []byte, msg string) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	for sc.Scan() {
		var l struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			return l.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("no %q line in the function's log", msg)
}

// predictEvent is the API Gateway HTTP API (payload 2.0) event of a
// prediction request of model with body: events/apigw-predict.json (the
// {proxy+} route, an IAM caller) with the path, the body and the request id
// made this one's.
func predictEvent(model string, body []byte, i int) ([]byte, error) {
	var ev lambdaevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(events.Sample("apigw-predict"), &ev); err != nil {
		return nil, err
	}
	path := predict.PredictPath(model)
	now := time.Now().UTC()
	ev.RawPath, ev.RequestContext.HTTP.Path = path, path
	ev.PathParameters = map[string]string{"proxy": strings.TrimPrefix(path, "/")}
	ev.Body, ev.IsBase64Encoded = string(body), false
	ev.Headers["content-length"] = strconv.Itoa(len(body))
	ev.RequestContext.RequestID = fmt.Sprintf("bench-cold-%d", i)
	ev.RequestContext.Time, ev.RequestContext.TimeEpoch = now.Format("02/Jan/2006:15:04:05 -0700"), now.UnixMilli()
	return json.Marshal(ev)
}

var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock`)

// initTrace sums the clock time of GODEBUG=inittrace=1's lines and names
// the three largest packages.
func initTrace(stderr string) (time.Duration, string) {
	type pkg struct {
		name string
		d    time.Duration
	}
	var all []pkg
	var sum time.Duration
	for _, line := range strings.Split(stderr, "\n") {
		m := initLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(ms * float64(time.Millisecond))
		sum += d
		all = append(all, pkg{m[1], d})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d > all[j].d })
	var top []string
	for _, p := range all[:min(3, len(all))] {
		top = append(top, fmt.Sprintf("%s %s", p.name, fmtMS(p.d)))
	}
	return sum, strings.Join(top, ", ")
}

// loadBreakdown repeats, in this process, the steps with which the serving
// use case loads a champion, timing each: where ready→loaded goes.
func loadBreakdown(ctx context.Context, st *stage, model string) error {
	const reps = 5
	var all []loadTimes
	for range reps {
		t, err := loadSteps(ctx, st, model)
		if err != nil {
			return err
		}
		all = append(all, t)
	}
	med := func(f func(loadTimes) time.Duration) time.Duration {
		ds := make([]time.Duration, len(all))
		for i, t := range all {
			ds[i] = f(t)
		}
		return median(ds)
	}
	last := all[len(all)-1]
	m := st.models[model]
	lines := []struct {
		name string
		d    time.Duration
		part bool // of the line before it, not added to the sum
	}{
		{"champion pointer + version record (2 GETs)", med(func(t loadTimes) time.Duration { return t.registry }), false},
		{fmt.Sprintf("S3 fetch of %d files (%.1f MB)", last.files, float64(last.bytes)/1e6), med(func(t loadTimes) time.Duration { return t.fetch }), false},
		{"bundle.OpenWith in memory (hashes, load, decoding, checks)", med(func(t loadTimes) time.Duration { return t.open }), false},
		{"  of which SHA-256 of every file (timed alone)", med(func(t loadTimes) time.Duration { return t.sha }), true},
		{fmt.Sprintf("  of which %s (timed alone; allocates %.0f MB)", parseName(last.compiled), float64(last.parseAlloc)/1e6),
			med(func(t loadTimes) time.Duration { return t.parse }), true},
		{fmt.Sprintf("sample check (%d rows through the evaluator)", len(m.bundle.Samples.Rows)), med(func(t loadTimes) time.Duration { return t.samples }), false},
		{"contract + input checker", med(func(t loadTimes) time.Duration { return t.contract }), false},
	}
	fmt.Printf("\n  Where ready→loaded goes (%s): the same steps in this process, warm, median of %d:\n", model, reps)
	var sum time.Duration
	for _, l := range lines {
		if !l.part {
			sum += l.d
		}
		fmt.Printf("    %-68s %10s\n", l.name, fmtMS(l.d))
	}
	fmt.Printf("    %-68s %10s\n", "sum", fmtMS(sum))
	fresh, later, err := freshParse(ctx, st, model, reps)
	if err != nil {
		return err
	}
	fmt.Printf("    %-68s %10s\n", parseName(last.compiled)+" as a fresh process's first work (median)", fmtMS(fresh))
	fmt.Printf("    %-68s %10s\n", fmt.Sprintf("  and as its parse number %d in that process", parseRepeats), fmtMS(later))
	return nil
}

func parseName(compiled bool) string {
	if compiled {
		return "xgboost.ParseCompiled of the compiled model"
	}
	return "xgboost.Parse of model.json"
}

// parseFileFlag is the hidden mode freshParse runs this binary in: parse
// the file's model parseRepeats times, print the nanoseconds each took, and
// exit.
const parseFileFlag = "parse-file"

const parseRepeats = 4

// freshParse times xgboost.Parse of model's model.json as the first work of
// a new process (this binary with -parse-file), n times, and the last of
// parseRepeats parses in the same process: what the cold function pays, its
// heap not yet grown, against the warm figure.
func freshParse(ctx context.Context, st *stage, model string, n int) (first, last time.Duration, err error) {
	m := st.models[model]
	key := m.version.BundlePrefix + bundle.ModelFile
	if c := m.version.Compiled; c != nil {
		key = c.Key
	}
	b, _, err := st.p.Store.ReadAll(ctx, st.bucket(), key)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.CreateTemp("", "mlops-bench-model-*.json")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	var firsts, lasts []time.Duration
	for range n {
		out, err := exec.CommandContext(ctx, self, "-"+parseFileFlag, f.Name()).Output()
		if err != nil {
			return 0, 0, fmt.Errorf("%s -%s: %w", self, parseFileFlag, err)
		}
		fields := strings.Fields(string(out))
		if len(fields) != parseRepeats {
			return 0, 0, fmt.Errorf("%s -%s: %q: want %d times", self, parseFileFlag, out, parseRepeats)
		}
		var ds []time.Duration
		for _, f := range fields {
			ns, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("%s -%s: %q: %w", self, parseFileFlag, out, err)
			}
			ds = append(ds, time.Duration(ns))
		}
		firsts, lasts = append(firsts, ds[0]), append(lasts, ds[len(ds)-1])
	}
	return median(firsts), median(lasts), nil
}

// parseOnce is the -parse-file mode: the model parsed parseRepeats times in
// this new process, each time printed in nanoseconds.
func parseOnce(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var times []string
	for range parseRepeats {
		t0 := time.Now()
		parse := xgboost.Parse
		if bytes.HasPrefix(b, []byte("mlopsxgb")) {
			parse = xgboost.ParseCompiled
		}
		if _, err := parse(b); err != nil {
			return err
		}
		times = append(times, strconv.FormatInt(time.Since(t0).Nanoseconds(), 10))
	}
	fmt.Println(strings.Join(times, " "))
	return nil
}

type loadTimes struct {
	registry, fetch, open, sha, parse, samples, contract time.Duration
	files                                                int
	bytes                                                int64
	parseAlloc                                           uint64 // bytes xgboost.Parse allocated
	compiled                                             bool   // the version has a compiled model: the parse is xgboost.ParseCompiled
}

// loadSteps times one load of model's champion, step by step, as
// serving.Service does it (registry, bundlestore.FetchVerified, contract),
// and SHA-256 and the parse on their own.
func loadSteps(ctx context.Context, st *stage, model string) (t loadTimes, err error) {
	reg, bucket := st.p.Registry, st.bucket()
	at := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d = now.Sub(at)
		at = now
	}
	c, _, err := reg.ChampionIfChanged(ctx, model, "")
	if err != nil {
		return t, err
	}
	v, err := reg.Get(ctx, model, c.Version)
	if err != nil {
		return t, err
	}
	lap(&t.registry)
	raw, _, err := st.p.Store.ReadAll(ctx, bucket, v.BundlePrefix+bundle.ManifestFile)
	if err != nil {
		return t, err
	}
	var man bundle.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return t, err
	}
	// What serving reads: with a compiled model, it and the files serving
	// needs; without, every file. In parallel, as bundle.OpenWith reads.
	keys := map[string]string{}
	for _, f := range man.Files {
		if v.Compiled == nil || slices.Contains(serving.ServedFiles, f.Path) {
			keys[f.Path] = v.BundlePrefix + f.Path
		}
	}
	const compiledName = "compiled.xgbm"
	if v.Compiled != nil {
		keys[compiledName] = v.Compiled.Key
	}
	fsys := fstest.MapFS{bundle.ManifestFile: {Data: raw}}
	t.bytes = int64(len(raw))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var fetchErr error
	for name, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _, err := st.p.Store.ReadAll(ctx, bucket, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fetchErr = err
				return
			}
			fsys[name] = &fstest.MapFile{Data: b}
			t.bytes += int64(len(b))
		}()
	}
	wg.Wait()
	if fetchErr != nil {
		return t, fetchErr
	}
	t.files = len(fsys)
	lap(&t.fetch)
	opt := bundle.Options{}
	if v.Compiled != nil {
		opt = bundle.Options{Files: serving.ServedFiles, Model: func(bundle.File) (*xgboost.Model, error) {
			data := fsys[compiledName].Data
			if fmt.Sprintf("%x", sha256.Sum256(data)) != v.Compiled.SHA256 {
				return nil, errors.New("the compiled model is not the version's")
			}
			return xgboost.ParseCompiled(data)
		}}
	}
	b, err := bundle.OpenWith(fsys, opt)
	if err != nil {
		return t, err
	}
	if b.SHA256 != v.BundleSHA256 {
		return t, errors.New("the bundle is not the version's")
	}
	lap(&t.open)
	if err := b.CheckSamples(); err != nil {
		return t, err
	}
	lap(&t.samples)
	ct, err := ingest.NewDatasets(st.p.Store, bucket, st.p.Endpoint.Buckets.Uploads).ContractAt(ctx, b.Lineage.Dataset, b.Lineage.ContractHash)
	if err != nil {
		return t, err
	}
	if _, err := predict.NewChecker(ct.Contract, b.Encoder.Features(), predict.CheckOptions{}); err != nil {
		return t, err
	}
	lap(&t.contract)
	for _, f := range fsys {
		sha256.Sum256(f.Data)
	}
	lap(&t.sha)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	at = time.Now()
	if v.Compiled != nil {
		t.compiled = true
		if _, err := xgboost.ParseCompiled(fsys[compiledName].Data); err != nil {
			return t, err
		}
	} else if _, err := xgboost.Parse(fsys[bundle.ModelFile].Data); err != nil {
		return t, err
	}
	lap(&t.parse)
	runtime.ReadMemStats(&after)
	t.parseAlloc = after.TotalAlloc - before.TotalAlloc
	return t, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	return (s[(n-1)/2] + s[n/2]) / 2
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

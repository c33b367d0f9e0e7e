// Command serve benchmarks the prediction endpoint in one run, on one machine:
//
//		go run ./bench/serve [-duration 20s] [-rounds 5] [-threads 2] [-conns 32] [-cold-runs 7] [-state DIR]
//		taskset -c 1 go run ./bench/serve -wrk-cpus 0    # wrk on core 0, both servers on core 1
//		taskset -c 1 go run ./bench/serve -skip-load -skip-cold -handler 2s    # the route's CPU a request, in process
//
//	 1. The local endpoint (`mlops up`'s HTTPS API with its bearer token,
//	    started in this process with shared/local.Start) against a FastAPI +
//	    uvicorn + xgboost server (peer.py, one worker per core) serving the
//	    same bundle's model.json and encoding.json over HTTPS with the same
//	    certificate and token: wrk at a fixed concurrency, single-instance and
//	    32-instance requests; requests/s, p50 and p99, and the ratios.
//	 2. Cold start of functions/predict: the Lambda binary run under the
//	    Runtime API test server (shared/local/runtimeapi) against the platform's
//	    embedded S3, from exec to the first successful prediction of a
//	    1000-tree, depth-8 model (an API Gateway HTTP API event), and where the
//	    time goes.
//	 3. Explanations through the endpoint: one instance of that model with and
//	    without "explain". TreeSHAP against xgboost's pred_contribs on the same
//	    rows is bench/predict's (make bench runs both).
//
// The models are trained through the platform, as a user's would be: the
// credit contract and spec (examples/credit) and deep.model.yaml (the same
// data, 1000 trees of depth 8), one upload of the credit data, the reference
// trainer, the gate, and an approval through the decisions API. That takes a
// minute or two; -state DIR keeps the platform's state to reuse.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	benchstage "github.com/openmlops/mlops/bench/internal/stage"
)

type options struct {
	duration, warmup time.Duration
	threads, conns   int
	rounds           int
	coldRuns         int
	python, wrk      string
	workers          int
	state            string
	skipLoad         bool
	skipCold         bool
	logSample        float64
	cpuProfile       string
	peerSync         bool
	coldEnv          []string
	wrkCPUs          string
	handler          time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "each measured wrk run")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "an unmeasured wrk run before each measured one")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.conns, "conns", 32, "wrk connections (the fixed concurrency)")
	flag.IntVar(&o.rounds, "rounds", 5, "split each measured run into this many turns, ours and the peer's alternating, so that a change in the machine's speed falls on both alike")
	flag.IntVar(&o.coldRuns, "cold-runs", 7, "cold starts to time")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the Python with fastapi, uvicorn and xgboost")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk binary")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "uvicorn workers (one per core)")
	flag.StringVar(&o.state, "state", "", "keep the platform's state here and reuse its champions (default: a temporary directory)")
	flag.BoolVar(&o.skipLoad, "skip-load", false, "skip the endpoint-vs-FastAPI load test")
	flag.BoolVar(&o.skipCold, "skip-cold", false, "skip the cold start")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write this process's CPU profile during the local endpoint's measured runs to `PREFIX`-1.prof and PREFIX-32.prof")
	flag.BoolVar(&o.peerSync, "peer-sync", false, "serve the peer's route as a plain function in FastAPI's thread pool rather than async")
	flag.Func("cold-env", "extra environment of the cold-started function, e.g. GOGC=400 or GOMAXPROCS=1 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q: expected NAME=VALUE", v)
		}
		o.coldEnv = append(o.coldEnv, v)
		return nil
	})
	flag.StringVar(&o.wrkCPUs, "wrk-cpus", "", "run wrk on these cores (`LIST`, as taskset -c takes it), apart from the servers: start the benchmark itself on the others, e.g. taskset -c 1 go run ./bench/serve -wrk-cpus 0")
	flag.DurationVar(&o.handler, "handler", 0, "also measure the prediction route in this process, without the network: `TURN`s of one request after another at each size, CPU a request (to compare builds by; 0: skip), e.g. -handler 2s")
	flag.Float64Var(&o.logSample, "log-sample", 1, "the share of requests the local endpoint logs (the platform's default: 1)")
	parseFile := flag.String(parseFileFlag, "", "(internal) parse this model.json once, print the nanoseconds, exit")
	flag.Parse()
	log.SetFlags(0)
	if *parseFile != "" {
		if err := parseOnce(*parseFile); err != nil {
			log.Fatalf("bench/serve: %v", err)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("bench/serve: %v", err)
	}
}

func run(ctx context.Context, o options) error {
	if !o.skipLoad {
		if _, err := exec.LookPath(o.wrk); err != nil {
			return fmt.Errorf("wrk is required (make setup installs it: apt-get install wrk): %w", err)
		}
	}
	if o.rounds < 1 || o.duration < time.Duration(o.rounds)*time.Second {
		return fmt.Errorf("-rounds %d: expected at least 1, and at most one a second of -duration %s", o.rounds, o.duration)
	}
	if !(o.logSample > 0 && o.logSample <= 1) {
		return fmt.Errorf("-log-sample %g: expected a share above 0 and at most 1", o.logSample)
	}
	dir := o.state
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mlops-bench-serve-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	fmt.Printf("bench/serve: %d CPUs (GOMAXPROCS %d), shared by the load generator, the servers and the S3 endpoint; load average %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), benchstage.LoadAverage())
	defer func() { fmt.Printf("\nload average at the end: %s\n", benchstage.LoadAverage()) }()
	t0 := time.Now()
	st, err := startStage(ctx, dir, o.python, o.logSample)
	if err != nil {
		return err
	}
	defer st.close()
	fmt.Printf("platform ready in %.1f s (%s)\n", time.Since(t0).Seconds(), st.describe())

	if !o.skipLoad {
		if err := loadTest(ctx, st, o); err != nil {
			return fmt.Errorf("load test: %w", err)
		}
	}
	if o.handler > 0 {
		if err := handlerCPU(ctx, st, o.handler, o.rounds); err != nil {
			return fmt.Errorf("route in process: %w", err)
		}
	}
	if err := explainLatency(ctx, st); err != nil {
		return fmt.Errorf("explanations: %w", err)
	}
	if !o.skipCold {
		if err := coldStart(ctx, st, o.coldRuns, o.coldEnv); err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
	}
	return nil
}

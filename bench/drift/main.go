// Command drift benchmarks the nightly drift run against the same statistics
// computed with pandas and scipy, in one run, on one machine:
//
//	go run ./bench/drift [-rows 1000000,10000000] [-state DIR] [-cpuprofile FILE]
//
// It starts the local platform (shared/local.Start), trains the credit model
// through it (examples/credit, the reference trainer, the gate, an approval)
// so that it has a champion, and scores the credit data twice through the
// endpoint: as it is and shifted as the demo shifts it (ages +15 years,
// incomes doubled). Those logged records, features as the endpoint logged
// them and the champion's outputs, are the pool: for each size it writes that
// many records of one UTC day, a seeded resample of the pool (-shifted of
// them from the shifted half), through predlog's Batcher in objects of
// -per-object records, as `mlops up` writes them. Then, on that day:
//
//   - ours: drift.Service.Run, the drift function's use case (the log read
//     from the embedded S3 through the SDK, the statistics, the report
//     written), timed, with the Go heap's peak (runtime/metrics, sampled)
//     and the process's peak RSS over the run (VmHWM, reset before it; the
//     process also runs the embedded S3 server that serves the objects);
//   - the peer (peer.py, /usr/bin/python3): the day's objects downloaded to
//     a temporary directory first, untimed, then read with pandas and the
//     same statistics per feature computed against the training rows with
//     scipy (ks_2samp, wasserstein_distance normed by the training std, PSI
//     on the training deciles, Jensen–Shannon, chi2_contingency, null-rate
//     change, Benjamini–Hochberg), timed inside the script from the first
//     read to the last statistic.
//
// It prints both times and their ratio (the goal: ours at least 10× faster),
// the memory at each size (the goal: flat), and which features each side
// calls drifted, which must agree.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

type options struct {
	rows       []int
	perObject  int
	shifted    float64
	seed       uint64
	state      string
	python     string
	peerMax    int
	cpuProfile string
}

func main() {
	o := options{rows: []int{1_000_000}}
	flag.Func("rows", "records of one day to compare, a comma-separated list of sizes (default 1000000)", func(v string) error {
		o.rows = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1000 {
				return fmt.Errorf("%q: expected a number of records, at least 1000", f)
			}
			o.rows = append(o.rows, n)
		}
		return nil
	})
	flag.IntVar(&o.perObject, "per-object", 100_000, "records per log object")
	flag.Float64Var(&o.shifted, "shifted", 0.5, "the share of records drawn from the shifted credit data")
	flag.Uint64Var(&o.seed, "seed", 1, "the resample's seed")
	flag.StringVar(&o.state, "state", "", "keep the platform's state here and reuse its champion (default: a temporary directory)")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the Python with pandas and scipy")
	flag.IntVar(&o.peerMax, "peer-max-rows", 10_000_000, "run the peer only at sizes up to this many records")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the CPU profile of our drift runs to `FILE`")
	flag.Parse()
	log.SetFlags(0)
	if o.perObject < 1 || !(o.shifted >= 0 && o.shifted <= 1) {
		log.Fatalf("bench/drift: -per-object %d, -shifted %g: expected at least 1 record and a share in [0, 1]", o.perObject, o.shifted)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("bench/drift: %v", err)
	}
}

func run(ctx context.Context, o options) error {
	dir := o.state
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mlops-bench-drift-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	fmt.Printf("bench/drift: %d CPUs (GOMAXPROCS %d), shared by both sides and the S3 endpoint; load average %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAverage())
	b, err := newBench(ctx, dir, o)
	if err != nil {
		return err
	}
	defer b.close()
	var results []*result
	for i, n := range o.rows {
		r, err := b.size(ctx, n, i)
		if err != nil {
			return fmt.Errorf("%d records: %w", n, err)
		}
		results = append(results, r)
	}
	summary(results)
	fmt.Printf("\nload average at the end: %s\n", loadAverage())
	return nil
}

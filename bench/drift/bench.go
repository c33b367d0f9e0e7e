package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "embed"

	benchstage "github.com/openmlops/mlops/bench/internal/stage"
	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/store"
)

//go:embed peer.py
var peerPy []byte

const model = "credit"

// firstDay is the day of the first size's records; each size has its own.
var firstDay = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

type bench struct {
	o        options
	p        *local.Platform
	svc      *drift.Service
	bundle   *bundle.Bundle
	features []peerFeature
	normal   []predlog.Record // the pool, as the endpoint logged it
	shifted  []predlog.Record
	tmp      string
	prof     *os.File
}

// peerFeature is what the peer needs to know of a feature: its name and
// whether it is numeric.
type peerFeature struct {
	Name    string   `json:"name"`
	Numeric bool     `json:"numeric"`
	Min     *float64 `json:"min"` // the contract's bounds
	Max     *float64 `json:"max"`
}

// result is one size's figures.
type result struct {
	rows                int
	objects             int
	gzBytes             int64
	ours, peer          time.Duration
	peerWall            time.Duration
	peerRan             bool
	heapPeak, rssPeak   uint64
	oursDrift, peerDrft []string
}

// discard is the publisher of the benchmark's drift service: a report's
// Drift Detected goes nowhere (the platform's own bus would start work that
// competes with the peer for the CPUs).
type discard struct{}

func (discard) Publish(context.Context, ...event.Event) error { return nil }

func newBench(ctx context.Context, dir string, o options) (*bench, error) {
	t0 := time.Now()
	p, err := local.Start(ctx, local.Config{Dir: dir, S3Addr: "127.0.0.1:0", ReconcileEvery: -1, Python: o.python,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, p: p}
	if err := b.prepare(ctx); err != nil {
		b.close()
		return nil, err
	}
	fmt.Printf("platform ready, %s v%d champion, pool of %d + %d logged records, in %.1f s\n", model,
		b.versionOf(), len(b.normal), len(b.shifted), time.Since(t0).Seconds())
	return b, nil
}

func (b *bench) versionOf() int {
	if len(b.normal) > 0 {
		return b.normal[0].Version
	}
	return 0
}

func (b *bench) close() {
	if b.prof != nil {
		pprof.StopCPUProfile()
		_ = b.prof.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = b.p.Close(ctx)
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}

func (b *bench) prepare(ctx context.Context) error {
	hc, err := benchstage.APIClient(b.p)
	if err != nil {
		return err
	}
	if !benchstage.HaveChampions(ctx, b.p, model) {
		m, err := benchstage.CreditModel()
		if err != nil {
			return err
		}
		if err := benchstage.Train(ctx, b.p, hc, []benchstage.Model{m}, "bench/drift"); err != nil {
			return err
		}
	}
	_, bd, err := benchstage.Champion(ctx, b.p, model)
	if err != nil {
		return err
	}
	b.bundle = bd
	c, err := credit.Contract()
	if err != nil {
		return err
	}
	for _, f := range bd.Encoding.Features {
		cc := c.Column(f.Name)
		if cc == nil {
			return fmt.Errorf("feature %s is not in the credit contract", f.Name)
		}
		num := cc.Type == contract.Integer || cc.Type == contract.Number
		b.features = append(b.features, peerFeature{Name: f.Name, Numeric: num, Min: cc.Min, Max: cc.Max})
	}
	bk := b.p.Endpoint.Buckets
	b.svc, err = drift.New(b.p.Store, b.p.Registry, ingest.NewDatasets(b.p.Store, bk.Platform, bk.Uploads), discard{},
		drift.Config{PlatformBucket: bk.Platform, MonitoringBucket: bk.Monitoring, UploadsBucket: bk.Uploads})
	if err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "mlops-bench-drift-peer-"); err != nil {
		return err
	}
	return b.pool(ctx, hc)
}

// pool scores the credit data, as it is and shifted as the demo shifts it,
// through the endpoint, and reads back what the endpoint logged: the
// records the benchmark resamples.
func (b *bench) pool(ctx context.Context, hc *http.Client) error {
	shifted, err := shift(credit.CSV())
	if err != nil {
		return err
	}
	cl := predict.NewClient(b.p.Endpoint.API.URL, hc, decisions.BearerToken(b.p.Endpoint.API.Token))
	ids := map[string]bool{} // request id → shifted
	for _, data := range []struct {
		csv     []byte
		shifted bool
	}{{credit.CSV(), false}, {shifted, true}} {
		req, err := predict.RequestFromCSV(bytes.NewReader(data.csv))
		if err != nil {
			return err
		}
		for _, part := range req.Split(predict.DefaultMaxInstances) {
			resp, err := cl.Predict(ctx, model, part)
			if err != nil {
				return fmt.Errorf("score the pool: %w", err)
			}
			ids[resp.RequestID] = data.shifted
		}
	}
	if err := b.p.SettleLog(ctx); err != nil {
		return err
	}
	err = predlog.ReadDay(ctx, b.p.Store, b.p.Endpoint.Buckets.Monitoring, model, time.Now(), func(r predlog.Record) error {
		sh, ok := ids[r.RequestID]
		switch {
		case !ok:
		case sh:
			b.shifted = append(b.shifted, r)
		default:
			b.normal = append(b.normal, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the pool back: %w", err)
	}
	if len(b.normal) == 0 || len(b.shifted) == 0 {
		return errors.New("the endpoint logged none of the pool's records")
	}
	return nil
}

// shift is the credit data with ages 15 years older and incomes doubled.
func shift(data []byte) ([]byte, error) {
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, err
	}
	age, income := slices.Index(rows[0], "Age"), slices.Index(rows[0], "Income")
	if age < 0 || income < 0 {
		return nil, errors.New("the credit data has no Age or Income")
	}
	for _, r := range rows[1:] {
		if v, err := strconv.ParseFloat(r[age], 64); err == nil {
			r[age] = strconv.FormatFloat(v+15, 'f', -1, 64)
		}
		if v, err := strconv.ParseFloat(r[income], 64); err == nil {
			r[income] = strconv.FormatFloat(2*v, 'f', -1, 64)
		}
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// write logs n records of day: the pool resampled, through predlog's
// Batcher, and returns the objects' count and bytes.
func (b *bench) write(ctx context.Context, n int, day time.Time, seed uint64) (int, int64, error) {
	// A day kept from an earlier run (-state) is written again.
	mon := b.p.Endpoint.Buckets.Monitoring
	err := b.p.Store.List(ctx, mon, predlog.Prefix(model, day), func(o store.ObjectInfo) error {
		return b.p.Store.Delete(ctx, mon, o.Key, "")
	})
	if err != nil {
		return 0, 0, err
	}
	bt, err := predlog.NewBatcher(b.p.Store, predlog.BatcherConfig{Bucket: b.p.Endpoint.Buckets.Monitoring,
		MaxRecords: b.o.perObject, MaxBytes: 1 << 30, Interval: time.Hour, MaxBuffered: 2 * b.o.perObject})
	if err != nil {
		return 0, 0, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const batch = 1000
	recs := make([]predlog.Record, 0, batch)
	step := 24 * time.Hour / time.Duration(n)
	for i := range n {
		pool := b.normal
		if rng.Float64() < b.o.shifted {
			pool = b.shifted
		}
		r := pool[rng.IntN(len(pool))]
		r.RequestID = fmt.Sprintf("bench-%016x-%08d", seed, i)
		r.Index = 0
		r.Time = day.Add(time.Duration(i) * step)
		recs = append(recs, r)
		if len(recs) == batch || i == n-1 {
			if err := bt.Write(ctx, recs); err != nil {
				return 0, 0, err
			}
			recs = recs[:0]
		}
	}
	if err := bt.Close(ctx); err != nil {
		return 0, 0, err
	}
	objects, size := 0, int64(0)
	err = b.p.Store.List(ctx, b.p.Endpoint.Buckets.Monitoring, predlog.Prefix(model, day), func(o store.ObjectInfo) error {
		objects++
		size += o.Size
		return nil
	})
	return objects, size, err
}

// size runs both sides on n records of the i'th size's day.
func (b *bench) size(ctx context.Context, n, i int) (*result, error) {
	day := firstDay.AddDate(0, 0, i)
	res := &result{rows: n}
	fmt.Printf("\n== %d records (%s) ==\n", n, day.Format(time.DateOnly))
	t0 := time.Now()
	var err error
	if res.objects, res.gzBytes, err = b.write(ctx, n, day, b.o.seed+uint64(i)); err != nil {
		return nil, fmt.Errorf("write the log: %w", err)
	}
	fmt.Printf("logged in %.1f s: %d objects, %.1f MB of gzip JSON Lines\n", time.Since(t0).Seconds(), res.objects, float64(res.gzBytes)/1e6)

	rep, err := b.ours(ctx, day, res)
	if err != nil {
		return nil, err
	}
	for _, f := range rep.Features {
		if f.Drifted {
			res.oursDrift = append(res.oursDrift, f.Feature)
		}
	}
	fmt.Printf("ours:  %.2f s (%.0f records/s), Go heap peak %.0f MB, process RSS peak %.0f MB; %d rows, %d corrupt\n",
		res.ours.Seconds(), float64(n)/res.ours.Seconds(), mb(res.heapPeak), mb(res.rssPeak), rep.Rows, rep.CorruptLines)
	if rep.Rows != int64(n) || rep.CorruptLines != 0 {
		return nil, fmt.Errorf("our run read %d records (%d corrupt lines), not the %d written", rep.Rows, rep.CorruptLines, n)
	}
	if n > b.o.peerMax {
		fmt.Printf("peer:  not run (-peer-max-rows %d)\n", b.o.peerMax)
		return res, nil
	}
	peer, err := b.peer(ctx, day, res)
	if err != nil {
		return nil, err
	}
	res.peerRan = true
	fmt.Printf("peer:  %.2f s (pandas and scipy; %.2f s of it reading), %.1f s with the interpreter's start and imports\n",
		res.peer.Seconds(), peer.ReadSeconds, res.peerWall.Seconds())
	fmt.Printf("ratio: ours %.1f× faster (goal: 10×)\n", res.peer.Seconds()/res.ours.Seconds())
	compareFeatures(rep, peer, res)
	return res, nil
}

// ours runs the drift use case on day, measuring its time and memory.
func (b *bench) ours(ctx context.Context, day time.Time, res *result) (*drift.Report, error) {
	runtime.GC()
	debug.FreeOSMemory()
	// The kernel's peak RSS of this process starts again from now (Linux's
	// clear_refs 5), so the peak is the run's, not the log writer's.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	stop := sampleHeap(&res.heapPeak)
	if b.o.cpuProfile != "" && b.prof == nil {
		f, err := os.Create(b.o.cpuProfile)
		if err != nil {
			return nil, err
		}
		b.prof = f
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	if b.prof != nil {
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	out, err := b.svc.Run(ctx, model, drift.Day(day))
	res.ours = time.Since(t0)
	stop()
	if b.prof != nil {
		pprof.StopCPUProfile()
		b.prof = nil // one profile: the first size's run
	}
	if err != nil {
		return nil, fmt.Errorf("drift run: %w", err)
	}
	res.rssPeak = peakRSS()
	return out.Report, nil
}

// sampleHeap records the Go heap's peak (live and unswept objects) until
// the returned function is called.
func sampleHeap(peak *uint64) func() {
	const name = "/memory/classes/heap/objects:bytes"
	s := []metrics.Sample{{Name: name}}
	read := func() {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > *peak {
			*peak = v
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait(); read() }
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// peerOut is what peer.py prints.
type peerOut struct {
	Seconds     float64    `json:"seconds"`
	ReadSeconds float64    `json:"readSeconds"`
	Rows        int        `json:"rows"`
	Features    []peerStat `json:"features"`
}

// peerStat is one feature's statistics by the peer.
type peerStat struct {
	Name        string   `json:"name"`
	Drifted     bool     `json:"drifted"`
	Reason      string   `json:"reason"`
	KS          *float64 `json:"ks"`
	Wasserstein *float64 `json:"wasserstein"`
	PSI         *float64 `json:"psi"`
	JS          *float64 `json:"js"`
	Chi2        *float64 `json:"chi2"`
	NullChange  float64  `json:"nullRateChange"`
	PCorrected  float64  `json:"pValueCorrected"`
}

// peer downloads the day's objects and the training data (untimed) and runs
// peer.py on them.
func (b *bench) peer(ctx context.Context, day time.Time, res *result) (*peerOut, error) {
	dir := filepath.Join(b.tmp, day.Format(time.DateOnly))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	err := b.p.Store.List(ctx, b.p.Endpoint.Buckets.Monitoring, predlog.Prefix(model, day), func(o store.ObjectInfo) error {
		body, _, err := b.p.Store.Get(ctx, b.p.Endpoint.Buckets.Monitoring, o.Key, store.GetOptions{})
		if err != nil {
			return err
		}
		defer body.Close()
		f, err := os.Create(filepath.Join(dir, filepath.Base(o.Key)))
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("download the log: %w", err)
	}
	train := filepath.Join(b.tmp, "train.csv")
	script := filepath.Join(b.tmp, "peer.py")
	feats, _ := json.Marshal(b.features)
	for name, body := range map[string][]byte{train: credit.CSV(), script: peerPy} {
		if err := os.WriteFile(name, body, 0o644); err != nil {
			return nil, err
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.o.python, script, "--logs", dir, "--train", train, "--features", string(feats))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("peer.py: %w: %s", err, stderr.Bytes())
	}
	res.peerWall = time.Since(t0)
	var out peerOut
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("peer.py's output: %w: %.300s", err, stdout.Bytes())
	}
	if out.Rows != res.rows {
		return nil, fmt.Errorf("peer.py read %d records, not the %d written", out.Rows, res.rows)
	}
	res.peer = time.Duration(out.Seconds * float64(time.Second))
	return &out, nil
}

// compareFeatures prints each feature's verdict and effect on both sides.
func compareFeatures(rep *drift.Report, peer *peerOut, res *result) {
	fmt.Printf("%-10s %-24s %-24s\n", "feature", "ours: drifted (effect)", "peer: drifted (effect)")
	for _, pf := range peer.Features {
		if pf.Drifted {
			res.peerDrft = append(res.peerDrft, pf.Name)
		}
	}
	for _, f := range rep.Features {
		var pf *peerStat
		for i := range peer.Features {
			if peer.Features[i].Name == f.Feature {
				pf = &peer.Features[i]
			}
		}
		theirs := "missing"
		if pf != nil {
			e := pf.Wasserstein
			if e == nil {
				e = pf.JS
			}
			theirs = fmt.Sprintf("%-5t (%s %s)", pf.Drifted, effectName(pf.Wasserstein != nil), num(e))
		}
		fmt.Printf("%-10s %-24s %-24s\n", f.Feature,
			fmt.Sprintf("%-5t (%s %s)", f.Drifted, effectName(f.EffectSizeName == driftstat.EffectWasserstein), num(f.EffectSize)), theirs)
	}
	agree := slices.Equal(res.oursDrift, sorted(res.peerDrft))
	fmt.Printf("drifted: ours [%s], peer [%s]: %s\n", strings.Join(res.oursDrift, " "), strings.Join(sorted(res.peerDrft), " "),
		map[bool]string{true: "agree", false: "DISAGREE"}[agree])
}

func effectName(wasserstein bool) string {
	if wasserstein {
		return "W"
	}
	return "JS"
}

func num(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// summary prints one line per size: both times, the ratio, our memory.
func summary(rs []*result) {
	fmt.Printf("\n%-11s %-8s %-9s %-9s %-7s %-13s %-13s\n", "records", "objects", "ours s", "peer s", "ratio", "Go heap peak", "RSS peak")
	for _, r := range rs {
		peer, ratio := "-", "-"
		if r.peerRan {
			peer = fmt.Sprintf("%.2f", r.peer.Seconds())
			ratio = fmt.Sprintf("%.1f×", r.peer.Seconds()/r.ours.Seconds())
		}
		fmt.Printf("%-11d %-8d %-9.2f %-9s %-7s %-13s %-13s\n", r.rows, r.objects, r.ours.Seconds(), peer, ratio,
			fmt.Sprintf("%.0f MB", mb(r.heapPeak)), fmt.Sprintf("%.0f MB", mb(r.rssPeak)))
	}
}

func loadAverage() string { return benchstage.LoadAverage() }

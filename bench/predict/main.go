// Command predict benchmarks shared/xgboost against xgboost's Python
// inplace_predict on the same models and inputs, in one run.
//
//	go run ./bench/predict [-dir /tmp/mlops-bench-predict] [-quick]
//
// It runs /usr/bin/python3 bench/predict/train_and_time.py DIR, which trains the
// models (if not already in DIR), writes their inputs and xgboost's batch
// predictions, and times xgboost with nthread=1. It then checks that this
// project's evaluator agrees with xgboost on every batch row, times it on one
// goroutine, and prints a table per model. It does the same for the per-feature
// contributions (TreeSHAP, xgboost's predict(pred_contribs=True)) on the first
// rows (200, or 50 with -quick: they take milliseconds a row on a large model).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/openmlops/mlops/shared/xgboost"
)

type pyResult struct {
	Version string `json:"xgboost_version"`
	Models  []struct {
		Name        string  `json:"name"`
		NumFeature  int     `json:"num_feature"`
		Rows        int     `json:"rows"`
		SingleNS    float64 `json:"single_ns"`
		SingleCalls int     `json:"single_calls"`
		BatchNS     float64 `json:"batch_ns"`
		ShapRows    int     `json:"shap_rows"`
		ShapNS      float64 `json:"shap_ns"`
	} `json:"models"`
}

func main() {
	dir := flag.String("dir", "/tmp/mlops-bench-predict", "directory for models, inputs and xgboost outputs")
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	log.SetFlags(0)

	args := []string{"bench/predict/train_and_time.py", *dir}
	if *quick {
		args = append(args, "--quick")
	}
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("train_and_time.py: %v", err)
	}
	var py pyResult
	if err := json.Unmarshal(out, &py); err != nil {
		log.Fatalf("parsing train_and_time.py output %q: %v", out, err)
	}

	singleCalls, batchRuns := 2000, 5
	if *quick {
		singleCalls, batchRuns = 300, 2
	}
	fmt.Printf("xgboost %s (Python inplace_predict, nthread=1) vs shared/xgboost (one goroutine)\n", py.Version)
	for _, r := range py.Models {
		m := loadModel(filepath.Join(*dir, r.Name+".model.json"))
		x := readF32(filepath.Join(*dir, r.Name+".x.f32"))
		want := readF32(filepath.Join(*dir, r.Name+".xgb.f32"))
		f := m.NumFeatures()
		if m.NumOutputs() != 1 || f != r.NumFeature || len(x) != r.Rows*f || len(want) != r.Rows {
			log.Fatalf("%s: shapes do not fit (features %d/%d, outputs %d, %d values, %d predictions)",
				r.Name, f, r.NumFeature, m.NumOutputs(), len(x), len(want))
		}

		got := make([]float32, r.Rows)
		if err := m.PredictFlat(x, got); err != nil {
			log.Fatal(err)
		}
		for i := range got {
			d := math.Abs(float64(got[i]) - float64(want[i]))
			if d > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
				log.Fatalf("%s: row %d: ours %v, xgboost %v", r.Name, i, got[i], want[i])
			}
		}

		one := make([]float32, 1)
		for i := range 100 { // warm-up
			_ = m.Predict(x[i*f:(i+1)*f], one)
		}
		times := make([]time.Duration, singleCalls)
		for i := range times {
			row := x[(i%r.Rows)*f : (i%r.Rows+1)*f]
			t0 := time.Now()
			_ = m.Predict(row, one)
			times[i] = time.Since(t0)
		}
		slices.Sort(times)
		single := float64(times[len(times)/2]+times[(len(times)-1)/2]) / 2

		batch := math.Inf(1)
		for range batchRuns {
			t0 := time.Now()
			_ = m.PredictFlat(x, got)
			batch = math.Min(batch, float64(time.Since(t0)))
		}

		ours, xgbRate := float64(r.Rows)/batch*1e9, float64(r.Rows)/r.BatchNS*1e9
		fmt.Printf("\n%s: %d trees, %d features, %d rows; all %d predictions within 1e-6 of xgboost\n",
			r.Name, m.NumTrees(), f, r.Rows, r.Rows)
		fmt.Printf("  %-32s %14s %14s %10s\n", "", "ours", "xgboost", "ratio")
		fmt.Printf("  %-32s %14s %14s %9.1fx   (goal >= 20x lower)\n",
			fmt.Sprintf("single-row latency (median/%d)", singleCalls),
			fmtNS(single), fmtNS(r.SingleNS), r.SingleNS/single)
		fmt.Printf("  %-32s %14.0f %14.0f %9.2fx   (goal >= 1x per core)\n",
			fmt.Sprintf("batch rows/s (best of %d)", batchRuns), ours, xgbRate, ours/xgbRate)

		shap := timeContributions(m, x, readF32(filepath.Join(*dir, r.Name+".contribs.f32")), r.ShapRows, batchRuns)
		fmt.Printf("  %-32s %14s %14s %9.2fx   (all %d rows' contributions within 1e-5 of xgboost)\n",
			fmt.Sprintf("TreeSHAP per row (best of %d)", batchRuns),
			fmtNS(shap), fmtNS(r.ShapNS/float64(r.ShapRows)), r.ShapNS/float64(r.ShapRows)/shap, r.ShapRows)
	}
}

// timeContributions checks the contributions of x's first n rows against
// xgboost's (want) and returns the best time per row over runs passes.
func timeContributions(m *xgboost.Model, x, want []float32, n, runs int) float64 {
	f, k := m.NumFeatures(), m.NumContributions()
	if len(want) != n*k || len(x) < n*f {
		log.Fatalf("contributions: %d values for %d rows of %d", len(want), n, k)
	}
	e, err := m.NewExplainer()
	if err != nil {
		log.Fatal(err)
	}
	got := make([]float32, k)
	for i := range n {
		if err := e.Contributions(x[i*f:(i+1)*f], got); err != nil {
			log.Fatal(err)
		}
		for j, v := range got {
			w := float64(want[i*k+j])
			if d := math.Abs(float64(v) - w); d > 1e-5*math.Max(1, math.Abs(w)) {
				log.Fatalf("contributions row %d value %d: ours %v, xgboost %v", i, j, v, w)
			}
		}
	}
	best := math.Inf(1)
	for range runs {
		t0 := time.Now()
		for i := range n {
			_ = e.Contributions(x[i*f:(i+1)*f], got)
		}
		best = math.Min(best, float64(time.Since(t0))/float64(n))
	}
	return best
}

func loadModel(path string) *xgboost.Model {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := xgboost.Load(f)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return m
}

// readF32 reads a raw little-endian float32 file.
func readF32(path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if len(b)%4 != 0 {
		log.Fatalf("%s: %d bytes is not a whole number of float32s", path, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func fmtNS(ns float64) string {
	if ns >= 1e6 {
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	if ns >= 1000 {
		return fmt.Sprintf("%.2f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

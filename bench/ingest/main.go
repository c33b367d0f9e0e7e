// Command ingest benchmarks shared/validate against pandas on credit-shaped CSV files
// of about 1 GB and 4 GB: time, throughput and peak resident memory, each side in its
// own child process so that rusage's Maxrss is that side's alone.
//
//	go run ./bench/ingest [-sizes 1GB,4GB] [-dir /tmp/mlops-bench] [-skip-pandas]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/table"
	"github.com/openmlops/mlops/shared/validate"
)

// childFlag is the hidden subcommand the program re-executes itself with.
const childFlag = "-child-scan"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-dump-result" {
		// Debugging aid: the whole result (profile included) as JSON, to compare
		// implementations.
		f, err := os.Open(os.Args[2])
		var c *contract.Contract
		if err == nil {
			c, err = credit.Contract()
		}
		if err == nil {
			var res *validate.Result
			res, err = validate.Scan(context.Background(), f, c, validate.Options{TempDir: os.TempDir()})
			if err == nil {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", " ")
				err = enc.Encode(res)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dump:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == childFlag {
		if err := child(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "scan:", err)
			os.Exit(1)
		}
		return
	}
	sizes := flag.String("sizes", "1GB,4GB", "comma-separated file sizes to generate and scan")
	dir := flag.String("dir", "/tmp/mlops-bench", "where the generated files live")
	skipPandas := flag.Bool("skip-pandas", false, "do not run the pandas side")
	sample := flag.String("sample", "examples/credit/credit_data.csv", "the CSV whose rows are sampled")
	flag.Parse()
	if err := run(*sizes, *dir, *sample, *skipPandas); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			mult, s = u.m, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: expected a number with GB, MB or KB", s)
	}
	return int64(n * float64(mult)), nil
}

type measure struct {
	secs   float64
	cpu    float64 // user + system seconds: less sensitive than wall time to a busy machine
	maxRSS int64   // bytes
	out    string
}

func runChild(name string, args ...string) (measure, error) {
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measure{}, fmt.Errorf("%s %v: %w", name, args, err)
	}
	m := measure{secs: time.Since(start).Seconds(), out: out.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return m, nil
}

func run(sizes, dir, sample string, skipPandas bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script, err := filepath.Abs(filepath.Join("bench", "ingest", "pandas_ingest.py"))
	if err != nil {
		return err
	}
	type row struct {
		size       int64
		ours, pand measure
	}
	var rows []row
	for _, s := range strings.Split(sizes, ",") {
		size, err := parseSize(s)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("credit-%s.csv", strings.ToLower(strings.TrimSpace(s))))
		if err := generate(path, sample, size); err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		dropCache(path)
		ours, err := runChild(self, childFlag, path)
		if err != nil {
			return err
		}
		fmt.Printf("ours   %s: %s", filepath.Base(path), ours.out)
		r := row{size: st.Size(), ours: ours}
		if !skipPandas {
			dropCache(path)
			p, err := runChild("/usr/bin/python3", script, path)
			if err != nil {
				return err
			}
			fmt.Printf("pandas %s: %.300s\n", filepath.Base(path), p.out)
			r.pand = p
		}
		rows = append(rows, r)
	}
	fmt.Printf("\n%-10s | %8s %7s %6s %10s | %8s %7s %6s %10s | %s\n", "file", "ours s", "cpu s", "MB/s", "peak RSS", "pandas s", "cpu s", "MB/s", "peak RSS", "pandas/ours (wall, cpu)")
	for _, r := range rows {
		mb := float64(r.size) / 1e6
		line := fmt.Sprintf("%-10s | %8.2f %7.2f %6.0f %7.0f MB", fmt.Sprintf("%.2f GB", float64(r.size)/1e9), r.ours.secs, r.ours.cpu, mb/r.ours.secs, float64(r.ours.maxRSS)/1e6)
		if r.pand.secs > 0 {
			line += fmt.Sprintf(" | %8.2f %7.2f %6.0f %7.0f MB | %.1fx, %.1fx", r.pand.secs, r.pand.cpu, mb/r.pand.secs, float64(r.pand.maxRSS)/1e6, r.pand.secs/r.ours.secs, r.pand.cpu/r.ours.cpu)
		}
		fmt.Println(line)
	}
	fmt.Printf("(GOMAXPROCS %d; times are wall-clock of each child process, file read included)\n", runtime.GOMAXPROCS(0))
	return nil
}

// dropCache is a best-effort hint; the files are read from the page cache otherwise,
// the same for both sides.
func dropCache(string) {}

func child(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if pf := os.Getenv("MLOPS_CPUPROFILE"); pf != "" {
		out, err := os.Create(pf)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	c, err := credit.Contract()
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := validate.Scan(context.Background(), f, c, validate.Options{Name: filepath.Base(path), TempDir: os.TempDir()})
	if err != nil {
		return err
	}
	inc := res.Profile.Column("Income")
	out := map[string]any{"seconds": time.Since(start).Seconds(), "rows": res.Rows, "bytes": res.Bytes, "valid": res.Valid(),
		"violations": len(res.Violations), "meanIncome": inc.Mean, "p50Income": inc.Quantiles["p50"]}
	if !res.Valid() {
		out["first"] = res.Violations[0].Message
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// generate writes about size bytes of rows sampled from the sample CSV, numbers
// jittered by up to ±10% (NA kept), unless the file is already there.
func generate(path, sample string, size int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() >= size*9/10 {
		return nil
	}
	sf, err := os.Open(sample)
	if err != nil {
		return err
	}
	defer sf.Close()
	r := table.NewReader(sf, table.Dialect{}, true)
	header, err := r.Read()
	if err != nil {
		return err
	}
	var hdr []string
	for _, h := range header {
		hdr = append(hdr, strconv.Quote(string(h)))
	}
	var recs [][]string
	for {
		f, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rec := make([]string, len(f))
		for i, b := range f {
			rec[i] = string(b)
		}
		recs = append(recs, rec)
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	w.WriteString(strings.Join(hdr, ",") + "\n")
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	var written int64
	var line []byte
	for written < size {
		rec := recs[rng.IntN(len(recs))]
		line = line[:0]
		for i, v := range rec {
			if i > 0 {
				line = append(line, ',')
			}
			if v == "NA" {
				line = append(line, "NA"...)
				continue
			}
			if n, err := strconv.Atoi(v); err == nil {
				if i >= 8 && n > 0 { // money columns: jitter
					n += int(float64(n) * (rng.Float64() - 0.5) * 0.2)
				}
				line = strconv.AppendInt(line, int64(n), 10)
				continue
			}
			line = append(line, '"')
			line = append(line, v...)
			line = append(line, '"')
		}
		line = append(line, '\n')
		w.Write(line)
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

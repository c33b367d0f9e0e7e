// Command report benchmarks the governance site's generator against Hugo, in
// one run, on one machine:
//
//	go run ./bench/report [-models 200] [-versions 10] [-runs 3] [-hugo hugo] [-keep DIR]
//
// It generates a registry of -models models with -versions versions each
// (reportgentest.Generate: runs, audit trails, check results, 14 days of
// drift reports, one dataset version per model version, profiles and
// datasheets) and stores each model's and dataset's records as a JSON file:
// the records as the platform's readers return them.
//
//   - ours, full build: read and decode every record file, render every page
//     (reportgen.Build) and write it with the assets into an empty folder;
//   - Hugo (Debian's hugo), full build: the same number of pages from
//     equivalent Markdown (each of our pages' text, headings and tables
//     converted to Markdown, chart data as its table; converted before the
//     clock starts) through a one-file layout, `hugo --quiet` into an empty
//     folder, timed around the process;
//   - ours, incremental: one model's newest version is promoted (its record
//     file rewritten), then: read that model's records, render its pages,
//     its dataset's and the index (the other models' index rows from the
//     summaries a publisher keeps), hash every page against the previous
//     build and write the changed ones. The S3 reads of a deployed report
//     function are not in this figure: there the model's records come
//     through the registry's and datasets' readers (see docs/reports.md).
//
// Each figure is the median of -runs. It prints the pages each side wrote,
// both full-build times and their ratio (the goal: ours no slower than
// Hugo), and the incremental time (the goal: under 1 second).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"

	benchstage "github.com/openmlops/mlops/bench/internal/stage"
)

func main() {
	models := flag.Int("models", 200, "models in the generated registry")
	versions := flag.Int("versions", 10, "versions per model")
	runs := flag.Int("runs", 3, "timed runs of each build; the median is reported")
	hugo := flag.String("hugo", "hugo", "the Hugo to compare with")
	keep := flag.String("keep", "", "build in this folder and keep it (default: a temporary folder)")
	flag.Parse()
	log.SetFlags(0)
	if *models < 1 || *versions < 1 || *runs < 1 {
		log.Fatal("bench/report: -models, -versions and -runs must be at least 1")
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mlops-bench-report-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	fmt.Printf("bench/report: %d models × %d versions; %d CPUs (GOMAXPROCS %d); load average %s\n",
		*models, *versions, runtime.NumCPU(), runtime.GOMAXPROCS(0), benchstage.LoadAverage())
	if err := run(dir, *models, *versions, *runs, *hugo); err != nil {
		log.Fatalf("bench/report: %v", err)
	}
	fmt.Printf("load average at the end: %s\n", benchstage.LoadAverage())
}

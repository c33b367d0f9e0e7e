package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
	"github.com/openmlops/mlops/shared/parallel"
	"github.com/openmlops/mlops/shared/registry"
)

func run(dir string, models, versions, runs int, hugo string) error {
	records := filepath.Join(dir, "records")
	site := reportgentest.Generate(models, versions, 1)
	if err := writeRecords(records, site); err != nil {
		return err
	}

	// Ours: the full build.
	var ourPages int
	var ourHashes map[string][32]byte
	ourFull, err := median(runs, func(i int) error {
		out := filepath.Join(dir, fmt.Sprintf("ours-%d", i))
		n, hashes, err := fullBuild(records, out)
		ourPages, ourHashes = n, hashes
		return err
	})
	if err != nil {
		return fmt.Errorf("ours: %w", err)
	}

	// Hugo: the same pages from equivalent Markdown.
	hugoDir := filepath.Join(dir, "hugo")
	if err := hugoSite(hugoDir, filepath.Join(dir, "ours-0")); err != nil {
		return fmt.Errorf("hugo site: %w", err)
	}
	var hugoPages int
	hugoFull, err := median(runs, func(i int) error {
		out := filepath.Join(dir, fmt.Sprintf("hugo-out-%d", i))
		cmd := exec.Command(hugo, "--quiet", "--source", hugoDir, "--destination", out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w: %s", hugo, err, stderr.String())
		}
		n, err := countHTML(out)
		hugoPages = n
		return err
	})
	if err != nil {
		return err
	}

	// Ours: one promotion, then the incremental build.
	model := site.Models[0].Name
	promote(site.Models[0])
	if err := writeJSON(filepath.Join(records, "models", model+".json"), site.Models[0]); err != nil {
		return err
	}
	summaries := make([]reportgen.ModelSummary, len(site.Models))
	for i, m := range site.Models {
		summaries[i] = m.Summary()
	}
	var datasetSummaries []reportgen.DatasetSummary
	for _, d := range site.Datasets {
		datasetSummaries = append(datasetSummaries, d.Summary())
	}
	var rendered, changed int
	incremental, err := median(runs, func(i int) error {
		out := filepath.Join(dir, "ours-0")
		r, c, err := incrementalBuild(records, out, model, site.Models[0].Spec.Dataset, summaries, datasetSummaries, ourHashes)
		rendered, changed = r, c
		return err
	})
	if err != nil {
		return fmt.Errorf("incremental: %w", err)
	}

	fmt.Printf("\npages: ours %d, hugo %d\n", ourPages, hugoPages)
	fmt.Printf("full build:   ours %8.3f s   hugo %8.3f s   hugo/ours %.2f× (goal: ≥ 1, ours no slower)\n",
		ourFull.Seconds(), hugoFull.Seconds(), hugoFull.Seconds()/ourFull.Seconds())
	fmt.Printf("incremental after one promotion: %.3f s (goal: < 1 s): %d pages rendered, %d changed and written\n",
		incremental.Seconds(), rendered, changed)
	return nil
}

// median runs fn n times and returns the median duration.
func median(n int, fn func(i int) error) (time.Duration, error) {
	var ds []time.Duration
	for i := range n {
		start := time.Now()
		if err := fn(i); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// writeRecords stores each model's and dataset's records as one JSON file.
func writeRecords(dir string, site *reportgen.Site) error {
	for _, m := range site.Models {
		if err := writeJSON(filepath.Join(dir, "models", m.Name+".json"), m); err != nil {
			return err
		}
	}
	for _, d := range site.Datasets {
		if err := writeJSON(filepath.Join(dir, "datasets", d.Name+".json"), d); err != nil {
			return err
		}
	}
	return nil
}

// readRecords reads the record files of kind (models or datasets), in parallel.
func readRecords[T any](dir, kind string, names []string) ([]*T, error) {
	if names == nil {
		entries, err := os.ReadDir(filepath.Join(dir, kind))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			names = append(names, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	out := make([]*T, len(names))
	err := parallel.Each(context.Background(), len(names), 8, func(_ context.Context, i int) error {
		b, err := os.ReadFile(filepath.Join(dir, kind, names[i]+".json"))
		if err != nil {
			return err
		}
		out[i] = new(T)
		return json.Unmarshal(b, out[i])
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fullBuild reads every record and writes the whole site into out.
func fullBuild(records, out string) (int, map[string][32]byte, error) {
	if err := os.RemoveAll(out); err != nil {
		return 0, nil, err
	}
	models, err := readRecords[reportgen.Model](records, "models", nil)
	if err != nil {
		return 0, nil, err
	}
	datasets, err := readRecords[reportgen.Dataset](records, "datasets", nil)
	if err != nil {
		return 0, nil, err
	}
	pages, err := reportgen.Build(&reportgen.Site{Models: models, Datasets: datasets}, reportgen.Scope{All: true})
	if err != nil {
		return 0, nil, err
	}
	assets, err := reportgen.Assets()
	if err != nil {
		return 0, nil, err
	}
	hashes := make(map[string][32]byte, len(pages))
	for p, b := range pages {
		hashes[p] = sha256.Sum256(b)
	}
	for p, b := range assets {
		pages[p] = b
	}
	return len(hashes), hashes, writePages(out, pages)
}

// writePages writes pages under out, in parallel.
func writePages(out string, pages map[string][]byte) error {
	dirs := map[string]bool{}
	for p := range pages {
		dirs[filepath.Dir(filepath.Join(out, filepath.FromSlash(p)))] = true
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(pages))
	for p := range pages {
		paths = append(paths, p)
	}
	return parallel.Each(context.Background(), len(paths), 8, func(_ context.Context, i int) error {
		return os.WriteFile(filepath.Join(out, filepath.FromSlash(paths[i])), pages[paths[i]], 0o644)
	})
}

// promote makes m's newest version its champion, as an approval and a
// promotion would: the audit records, the states and the pointer.
func promote(m *reportgen.Model) {
	v := m.Versions[len(m.Versions)-1]
	last := m.Trail[len(m.Trail)-1]
	at := last.Time.Add(time.Hour)
	add := func(kind registry.Kind) registry.Entry {
		e := registry.Entry{Key: registry.AuditKey(m.Name, last.Seq+1, kind), SHA256: fmt.Sprintf("%064x", last.Seq+1),
			AuditRecord: registry.AuditRecord{SchemaVersion: "1", Seq: last.Seq + 1, Kind: kind, Model: m.Name, Version: v.Version.Version,
				Principal: "arn:aws:sts::123456789012:assumed-role/risk-officer/bench", Time: at, Reason: "bench: approved after review",
				Prev: &registry.Link{Key: last.Key, SHA256: last.SHA256}}}
		m.Trail = append(m.Trail, e)
		last = e
		return e
	}
	approval := add(registry.KindApproved)
	promoted := add(registry.KindPromoted)
	if m.Champion != nil {
		m.Versions[m.Champion.Version-1].State = registry.StateArchived
	}
	v.State, v.Version.Decision, v.UpdatedAt = registry.StateChampion, approval.Key, at
	m.Champion = &registry.Champion{Model: m.Name, Version: v.Version.Version, BundleSHA256: v.BundleSHA256, Decision: promoted.Key, Seq: promoted.Seq, At: at}
	m.Verify.Records = len(m.Trail)
}

// incrementalBuild re-reads one model and its dataset, renders their pages
// and the index, and writes the pages whose bytes changed.
func incrementalBuild(records, out, model, dataset string, summaries []reportgen.ModelSummary,
	datasetSummaries []reportgen.DatasetSummary, previous map[string][32]byte) (int, int, error) {
	models, err := readRecords[reportgen.Model](records, "models", []string{model})
	if err != nil {
		return 0, 0, err
	}
	datasets, err := readRecords[reportgen.Dataset](records, "datasets", []string{dataset})
	if err != nil {
		return 0, 0, err
	}
	ms := slices.Clone(summaries)
	for i := range ms {
		if ms[i].Name == model {
			ms[i] = models[0].Summary()
		}
	}
	site := &reportgen.Site{Models: models, Datasets: datasets, ModelSummaries: ms, DatasetSummaries: datasetSummaries}
	pages, err := reportgen.Build(site, reportgen.Scope{Index: true, Models: []string{model}, Datasets: []string{dataset}})
	if err != nil {
		return 0, 0, err
	}
	changed := map[string][]byte{}
	for p, b := range pages {
		if sha256.Sum256(b) != previous[p] {
			changed[p] = b
		}
	}
	return len(pages), len(changed), writePages(out, changed)
}

func countHTML(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".html") {
			n++
		}
		return err
	})
	return n, err
}

// sortedPaths lists the .html files under dir, relative, in order.
func sortedPaths(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".html") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

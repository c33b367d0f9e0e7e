package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/store"
)

func newReportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Build the governance site: model cards, datasheets, runs, drift, audit log, lineage",
		Long: `The report function publishes the governance site into the site bucket as
the platform's records change (mlops up serves it at the address its banner
prints, --site-addr; in AWS, CloudFront serves the bucket). build renders the
same site into a folder, reading the platform through S3 like every command;
publish asks the report function for a full rebuild.`,
		Example: `  mlops report build --out site
  mlops report publish`,
	}
	cmd.AddCommand(newReportBuildCmd(g), newReportPublishCmd(g))
	return cmd
}

func newReportBuildCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build --out DIR",
		Short: "Render the whole site into DIR (open DIR/index.html; it needs no server)",
		Long: `build reads every model and dataset through S3 (registry, runs, bundles,
drift reports, datasets, datasheets, audit trail) and writes the site's pages
and assets into DIR, replacing the files it renders and leaving others alone.
The pages make no request to any other host, so they work opened from disk.

The CLI holds no audit key (mlops up keeps it in its state directory; in AWS it
never leaves KMS), so the audit pages built here verify the trail's chain of
hashes but not its signed checkpoints: they say "unanchored". The site the
platform publishes itself is verified with the key.`,
		Example: `  mlops report build --out site
  mlops report build --out /tmp/governance -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var check error
			if out == "" {
				check = usageErr("--out DIR is required")
			}
			cl, err := g.platform(check)
			if err != nil {
				return err
			}
			b := cl.ep.Buckets
			src := reportgen.Sources{Store: cl.store, Registry: registry.New(cl.store, registry.Config{Bucket: b.Platform}),
				Datasets: datasetsOf(cl), PlatformBucket: b.Platform, MonitoringBucket: b.Monitoring}
			start := time.Now()
			site, err := src.Gather(cmd.Context())
			if err != nil {
				return fmt.Errorf("report build: %w", err)
			}
			pages, err := reportgen.Build(site, reportgen.Scope{All: true})
			if err != nil {
				return fmt.Errorf("report build: %w", err)
			}
			assets, err := reportgen.Assets()
			if err != nil {
				return fmt.Errorf("report build: %w", err)
			}
			for p, body := range assets {
				pages[p] = body
			}
			if err := writeSite(out, pages); err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("report build: %w", err)}
			}
			index, _ := filepath.Abs(filepath.Join(out, filepath.FromSlash(reportgen.IndexPath)))
			problems, chainsOK := 0, 0
			for _, m := range site.Models {
				problems += len(m.Problems)
				if m.Verify != nil && m.Verify.OK {
					chainsOK++
				}
			}
			for _, d := range site.Datasets {
				problems += len(d.Problems)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"dir": out, "index": index, "objects": len(pages),
					"models": len(site.Models), "datasets": len(site.Datasets), "problems": problems, "trailsVerified": chainsOK, "auditAnchored": false})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "built %d pages and assets for %d models and %d datasets in %s\n", len(pages), len(site.Models), len(site.Datasets),
				time.Since(start).Round(time.Millisecond))
			if problems > 0 {
				fmt.Fprintf(w, "%d records could not be read: the pages name them\n", problems)
			}
			fmt.Fprintf(w, "audit trails: %d of %d models' hash chains verify; checkpoints unanchored (the CLI holds no audit key)\n",
				chainsOK, len(site.Models))
			fmt.Fprintln(w, index)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder to write the site into (created if missing)")
	return cmd
}

// writeSite writes the site's files under dir, in order of path.
func writeSite(dir string, files map[string][]byte) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !filepath.IsLocal(filepath.FromSlash(p)) {
			return fmt.Errorf("refusing to write %q outside %s", p, dir)
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func newReportPublishCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "publish",
		Short: "Ask the report function to rebuild the whole published site now",
		Long: `The report function re-renders the pages an event affects as it happens, and
the whole site every night (02:00 UTC in AWS, and at every mlops up). publish
drops a request under requests/report/ in the platform bucket: the function
rebuilds everything, uploads what changed, deletes pages no longer produced,
and invalidates the CDN for the changed paths. It returns once the request is
stored; the rebuild takes seconds.`,
		Example: `  mlops report publish`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			id := "report-" + time.Now().UTC().Format("20060102T150405.000000000Z")
			key := report.RequestKey(id)
			if _, err := cl.store.Create(cmd.Context(), cl.ep.Buckets.Platform, key, []byte(`{"full": true}`+"\n"),
				store.PutOptions{ContentType: "application/json"}); err != nil {
				return fmt.Errorf("report publish: %w", err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"request": key, "site": cl.ep.Site})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "requested a full rebuild (s3://%s/%s)\n", cl.ep.Buckets.Platform, key)
			if cl.ep.Site != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "site: %s\n", cl.ep.Site)
			}
			return nil
		},
	}
}

func newDatasetsDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME FILE.md",
		Short: "Store a dataset's datasheet (motivation, composition, collection, uses, maintenance)",
		Long: `describe stores FILE.md, the human sections of the dataset's datasheet
("Datasheets for Datasets": motivation, composition, collection process,
preprocessing, uses, distribution, maintenance), under its hash and makes it
the dataset's current one. The site's datasheet pages show it beside what
ingest measured of each version. Storing the same text again changes nothing.
The Markdown is rendered without raw HTML.`,
		Example: `  mlops datasets describe credit examples/credit/datasheet.md`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.platform(checkDataset(args[0]))
			if err != nil {
				return err
			}
			text, err := os.ReadFile(args[1])
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("datasets describe: %w", err)}
			}
			d, err := ingest.NewDatasheet(args[0], args[1], text)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			hash, changed, err := ingest.ApplyDatasheet(cmd.Context(), cl.store, cl.ep.Buckets.Platform, d, time.Now())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"dataset": args[0], "hash": hash, "changed": changed})
			}
			state := "unchanged (already current)"
			if changed {
				state = "now current"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "datasheet %s for dataset %s: %s\n", hash, args[0], state)
			return nil
		},
	}
}

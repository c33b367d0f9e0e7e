package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/store"
)

func newDatasetsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "List datasets and show their versions",
		Example: `  mlops datasets list
  mlops datasets show credit
  mlops datasets show credit@3f9a0c1d2e4b5a6978e0d1c2
  mlops datasets describe credit examples/credit/datasheet.md`,
	}
	cmd.AddCommand(newDatasetsDescribeCmd(g), &cobra.Command{
		Use:   "rejections NAME",
		Short: "List a dataset's rejected uploads with the rules they broke",
		Long: `rejections lists the uploads ingest quarantined for a dataset, newest first:
when, which file, the rules it broke, and where its report is. Read a full report
with: aws s3 cp s3://<uploads>/<report key> -`,
		Example: `  mlops datasets rejections credit
  mlops datasets rejections credit -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.platform(checkDataset(args[0]))
			if err != nil {
				return err
			}
			return listRejections(cmd, g, cl, args[0])
		},
	}, &cobra.Command{
		Use:     "list",
		Short:   "List datasets with their latest version",
		Example: `  mlops datasets list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			return listDatasets(cmd, g, cl)
		},
	}, &cobra.Command{
		Use:   "show NAME[@VERSION]",
		Short: "Show a dataset's versions, or one version's manifest and column profile",
		Example: `  mlops datasets show credit
  mlops datasets show credit@latest -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			name, version, _ := strings.Cut(args[0], "@")
			if err := checkDataset(name); err != nil {
				return err
			}
			if version == "" {
				return showVersions(cmd, g, cl, name)
			}
			return showVersion(cmd, g, cl, name, version)
		},
	})
	return cmd
}

func checkDataset(name string) error {
	if !ingest.ValidDataset(name) {
		return usageErr("%q is not a dataset name", name)
	}
	return nil
}

type datasetRow struct {
	Name    string    `json:"name"`
	Latest  string    `json:"latestVersion,omitempty"`
	Rows    int64     `json:"rows,omitempty"`
	Mode    string    `json:"mode,omitempty"`
	Created time.Time `json:"createdAt,omitzero"`
}

// datasetsOf reads datasets through ingest's reader, as every component does.
func datasetsOf(cl *client) *ingest.Datasets {
	return ingest.NewDatasets(cl.store, cl.ep.Buckets.Platform, cl.ep.Buckets.Uploads)
}

func listDatasets(cmd *cobra.Command, g *globals, cl *client) error {
	ds := datasetsOf(cl)
	names, err := ds.Names(cmd.Context())
	if err != nil {
		return err
	}
	var rows []datasetRow
	for _, name := range names {
		row := datasetRow{Name: name}
		if m, err := ds.LatestManifest(cmd.Context(), name); err == nil {
			row.Latest, row.Rows, row.Mode, row.Created = m.VersionID, m.Rows, m.Mode, m.CreatedAt
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rows = append(rows, row)
	}
	return printTable(cmd.OutOrStdout(), g, rows, "", "DATASET\tLATEST VERSION\tROWS\tMODE\tCREATED", func(r datasetRow) string {
		return fmt.Sprintf("%s\t%s\t%d\t%s\t%s", r.Name, orDash(r.Latest), r.Rows, orDash(r.Mode), when(r.Created))
	})
}

type rejectionRow struct {
	At         time.Time `json:"at"`
	SourceKey  string    `json:"sourceKey"`
	Rows       int64     `json:"rows"`
	Rules      []string  `json:"rules"`
	ReportKey  string    `json:"reportKey"`
	Quarantine string    `json:"quarantinePrefix"`
}

func listRejections(cmd *cobra.Command, g *globals, cl *client, name string) error {
	bucket := cl.ep.Buckets.Uploads
	reports, err := datasetsOf(cl).Rejections(cmd.Context(), name)
	if err != nil {
		return err
	}
	var rows []rejectionRow
	for _, rep := range reports {
		row := rejectionRow{At: rep.At, SourceKey: rep.Upload.Key, Rows: rep.Rows, ReportKey: rep.ReportKey, Quarantine: rep.Prefix}
		for _, v := range rep.Violations {
			r := v.Rule
			if v.Column != "" {
				r += ":" + v.Column
			}
			row.Rules = append(row.Rules, r)
		}
		rows = append(rows, row)
	}
	if rows == nil {
		rows = []rejectionRow{}
	}
	return printTable(cmd.OutOrStdout(), g, rows, "no rejected uploads for "+name, "WHEN\tUPLOAD\tROWS\tRULES BROKEN\tREPORT",
		func(r rejectionRow) string {
			rules := []rune(strings.Join(r.Rules, ", "))
			if len(rules) > 60 {
				rules = append(rules[:57], []rune("...")...)
			}
			return fmt.Sprintf("%s\t%s\t%d\t%s\ts3://%s/%s", when(r.At), r.SourceKey, r.Rows, string(rules), bucket, r.ReportKey)
		})
}

func showVersions(cmd *cobra.Command, g *globals, cl *client, name string) error {
	ds := datasetsOf(cl)
	ms, err := ds.Versions(cmd.Context(), name)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("dataset %q has no versions", name)}
	}
	latest := ""
	if l, err := ds.Latest(cmd.Context(), name); err == nil {
		latest = l.VersionID
	}
	if g.output == "json" {
		return printJSON(cmd.OutOrStdout(), map[string]any{"dataset": name, "latest": latest, "versions": ms})
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tROWS\tPARTITIONS\tCONTRACT\tCREATED\t")
	for _, m := range ms {
		mark := ""
		if m.VersionID == latest {
			mark = "latest"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", m.VersionID, m.Rows, len(m.Partitions), hashid.Short(m.ContractHash), when(m.CreatedAt), mark)
	}
	return tw.Flush()
}

func showVersion(cmd *cobra.Command, g *globals, cl *client, name, id string) error {
	var m *ingest.Manifest
	var err error
	if id == "latest" {
		m, err = datasetsOf(cl).LatestManifest(cmd.Context(), name)
	} else {
		m, err = datasetsOf(cl).Manifest(cmd.Context(), name, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return &exitError{code: exitFailed, err: fmt.Errorf("no version %s@%s", name, id)}
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, m)
	}
	fmt.Fprintf(out, "dataset:   %s\nversion:   %s\nmode:      %s\nrows:      %d\nbytes:     %d\ncontract:  %s\ncreated:   %s\nmanifest:  s3://%s/%s\nprofile:   s3://%s/%s\n",
		m.Dataset, m.VersionID, m.Mode, m.Rows, m.Bytes, m.ContractHash, when(m.CreatedAt),
		cl.ep.Buckets.Platform, ingest.ManifestKey(m.Dataset, m.VersionID), cl.ep.Buckets.Platform, m.ProfileKey)
	fmt.Fprintln(out, "partitions:")
	for _, p := range m.Partitions {
		fmt.Fprintf(out, "  %s  %d rows  from s3://%s/%s (by %s, %s)\n", hashid.Short(p.PayloadSHA256), p.Rows, p.SourceBucket, p.SourceKey,
			orDash(p.Requester), when(p.UploadedAt))
	}
	fmt.Fprintln(out, "columns:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tCOUNT\tNULLS\tMIN\tMAX\tMEAN\tDISTINCT")
	for _, c := range m.Columns {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%s\t%s\t~%d\n", c.Name, c.Type, c.Count, c.Nulls, num(c.Min), num(c.Max), num(c.Mean), c.Distinct)
	}
	return tw.Flush()
}

func num(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'g', 7, 64)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

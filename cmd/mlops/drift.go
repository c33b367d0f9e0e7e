package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/quality"
	"github.com/openmlops/mlops/shared/store"
)

func newDriftCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Compare live traffic with the training data: run, show, compare offline",
		Long: `Every night the drift function compares each champion's logged traffic of the
previous UTC day with the data it was trained on, feature by feature (KS,
chi-square, PSI, Wasserstein, Jensen-Shannon, null and out-of-range rates) and
its outputs with the test-set baseline, adds live quality from uploaded labels,
and writes drift/<model>/<date>.json in the monitoring bucket. run asks for a
report now; show prints one; compare works offline on two CSV files.`,
		Example: `  mlops drift run --model credit --date 2026-12-03
  mlops drift show credit --date 2026-12-03
  mlops drift compare --contract credit.odcs.yaml --baseline train.csv --current today.csv -o json`,
	}
	cmd.AddCommand(newDriftRunCmd(g), newDriftShowCmd(g), newDriftCompareCmd(g))
	return cmd
}

// windowFlags are --date, or --from and --to.
type windowFlags struct{ date, from, to string }

func (w *windowFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.date, "date", "", "one UTC day, YYYY-MM-DD (default: yesterday)")
	cmd.Flags().StringVar(&w.from, "from", "", "the first UTC day of a window, YYYY-MM-DD")
	cmd.Flags().StringVar(&w.to, "to", "", "the last UTC day of a window, YYYY-MM-DD (default: --from)")
}

func (w *windowFlags) request() (drift.Request, error) {
	if w.date != "" && (w.from != "" || w.to != "") {
		return drift.Request{}, usageErr("--date or --from/--to, not both")
	}
	r := drift.Request{From: w.from, To: w.to}
	if w.date != "" {
		r.From, r.To = w.date, w.date
	}
	if _, err := r.Window(time.Now()); err != nil {
		return r, usageErr("%v", err)
	}
	return r, nil
}

func newDriftRunCmd(g *globals) *cobra.Command {
	var model string
	var win windowFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run drift now for one model or every champion, and print the verdicts",
		Long: `run drops a request under requests/drift/ in the platform bucket; the drift
function (locally, mlops up's) writes the report and answers. A window needs
at least the policy's drift.minRows records (default 100) for a verdict: with
fewer, the report says so and gives none. Re-running a window rewrites its
report only if something changed (late logs or labels).

Exit status: 0 no drift, 1 drift or quality decay detected, 3 a run failed.`,
		Example: `  mlops drift run --model credit
  mlops drift run --model credit --date 2026-12-03
  mlops drift run --from 2026-11-27 --to 2026-12-03 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model != "" && !ingest.ValidDataset(model) {
				return usageErr("%q is not a model name", model)
			}
			req, err := win.request()
			if err != nil {
				return err
			}
			cl, err := g.platform()
			if err != nil {
				return err
			}
			req.Model = model
			req.RequestID = "drift-" + time.Now().UTC().Format("20060102T150405.000000000Z")
			body, _ := json.MarshalIndent(req, "", "  ")
			ctx := cmd.Context()
			if _, err := cl.store.Create(ctx, cl.ep.Buckets.Platform, drift.RequestKey(req.RequestID), body,
				store.PutOptions{ContentType: "application/json"}); err != nil {
				return fmt.Errorf("drift run: %w", err)
			}
			res, err := waitDriftResult(ctx, cl, req.RequestID, timeout)
			if err != nil {
				return err
			}
			if g.output == "json" {
				if err := printJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				printDriftResult(cmd.OutOrStdout(), res)
			}
			if len(res.Errors) > 0 {
				return &exitError{code: exitProblem, err: errors.New(strings.Join(res.Errors, "; "))}
			}
			for _, r := range res.Reports {
				if len(r.Alerts) > 0 {
					return &exitError{code: exitFailed, err: fmt.Errorf("drift detected for %s", r.Model)}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "only this model (default: every champion)")
	win.add(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the answer")
	return cmd
}

func waitDriftResult(ctx context.Context, cl *client, id string, timeout time.Duration) (*drift.RequestResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var res *drift.RequestResult
	err := poll(ctx, 200*time.Millisecond, func() (bool, error) {
		b, _, err := cl.store.ReadAll(ctx, cl.ep.Buckets.Monitoring, drift.ResultKey(id))
		switch {
		case err == nil:
			res = &drift.RequestResult{}
			if err := json.Unmarshal(b, res); err != nil {
				return false, fmt.Errorf("drift run: the answer s3://%s/%s: %w", cl.ep.Buckets.Monitoring, drift.ResultKey(id), err)
			}
			return true, nil
		case !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil:
			return false, fmt.Errorf("drift run: %w", err)
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("drift run: no answer within %s (is the platform running? the drift function's log says more)", timeout)
	}
	return res, err
}

func printDriftResult(w io.Writer, res *drift.RequestResult) {
	if len(res.Reports) == 0 && len(res.Errors) == 0 {
		fmt.Fprintf(w, "window %s: no model has a champion\n", res.Window)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(res.Reports) > 0 {
		fmt.Fprintln(tw, "MODEL\tWINDOW\tROWS\tVERDICT\tREPORT")
	}
	for _, r := range res.Reports {
		verdict := "no drift"
		switch {
		case !r.EnoughData:
			verdict = "too little traffic for a verdict"
		case len(r.Alerts) > 0:
			verdict = strings.Join(r.Alerts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Model, res.Window, r.Rows, verdict, r.Key)
	}
	_ = tw.Flush()
	for _, e := range res.Errors {
		fmt.Fprintln(w, "error:", e)
	}
}

func newDriftShowCmd(g *globals) *cobra.Command {
	var win windowFlags
	cmd := &cobra.Command{
		Use:   "show MODEL",
		Short: "Print a model's drift report: every feature's statistics, the verdict, live quality",
		Example: `  mlops drift show credit --date 2026-12-03
  mlops drift show credit --from 2026-11-27 --to 2026-12-03 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !ingest.ValidDataset(args[0]) {
				return usageErr("%q is not a model name", args[0])
			}
			req, err := win.request()
			if err != nil {
				return err
			}
			w, _ := req.Window(time.Now())
			cl, err := g.platform()
			if err != nil {
				return err
			}
			key := drift.ReportKey(args[0], w)
			b, _, err := cl.store.ReadAll(cmd.Context(), cl.ep.Buckets.Monitoring, key)
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: exitFailed, err: fmt.Errorf("no drift report of %s for %s (s3://%s/%s): mlops drift run --model %s makes one",
					args[0], w, cl.ep.Buckets.Monitoring, key, args[0])}
			}
			if err != nil {
				return err
			}
			rep, err := drift.ParseReport(b)
			if err != nil {
				return err
			}
			if g.output == "json" {
				_, err := cmd.OutOrStdout().Write(b)
				return err
			}
			printReport(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	win.add(cmd)
	return cmd
}

func printReport(w io.Writer, rep *drift.Report) {
	fmt.Fprintf(w, "model %s version %d, window %s to %s: %d records (%d answered by version %d), %d corrupt lines\n",
		rep.Model, rep.Version, rep.Window.From, rep.Window.To, rep.Rows, rep.ChampionRows, rep.Version, rep.CorruptLines)
	fmt.Fprintf(w, "baseline: %s@%s (contract %s)\n", rep.Dataset, rep.DatasetVersion, short(rep.ContractHash))
	if !rep.EnoughData {
		fmt.Fprintf(w, "too little traffic for a verdict: %d records, the policy asks for %d\n", rep.Rows, rep.MinRows)
	} else {
		fmt.Fprintf(w, "verdict: %s\n", rep.Verdict.Reason)
	}
	printFeatures(w, rep.Features)
	if len(rep.Prediction) > 0 {
		fmt.Fprintln(w, "\nprediction drift (outputs against the test-set baseline):")
		printFeatures(w, rep.Prediction)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "not compared: %s (%s)\n", s.Feature, s.Reason)
	}
	printQuality(w, rep.Quality)
	if len(rep.Alerts) > 0 {
		fmt.Fprintln(w, "\nalerts:")
		for _, a := range rep.Alerts {
			fmt.Fprintln(w, "  "+a)
		}
	}
	if rep.Retrain != nil {
		if rep.Retrain.Requested {
			fmt.Fprintf(w, "retraining requested: %s\n", rep.Retrain.RequestID)
		} else {
			fmt.Fprintf(w, "no retraining: %s\n", rep.Retrain.Reason)
		}
	}
}

func printFeatures(w io.Writer, fs []driftstat.Feature) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tTYPE\tTEST\tSTATISTIC\tP (BH)\tPSI\tJS\tNULL Δ\tDRIFTED")
	num := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.4g", *p)
	}
	for _, f := range fs {
		stat, p := "-", num(f.PValueCorrected)
		switch {
		case f.KS != nil:
			stat = fmt.Sprintf("KS %.4f", f.KS.Statistic)
		case f.Chi2 != nil:
			stat = fmt.Sprintf("χ² %.4g", f.Chi2.Statistic)
		}
		d := "no"
		if f.Drifted {
			d = "YES: " + f.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%+.3f\t%s\n", f.Feature, f.Type, f.Test, stat, p, num(f.PSI), num(f.JS), f.NullRateChange, d)
	}
	_ = tw.Flush()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func newDriftCompareCmd(g *globals) *cobra.Command {
	var contractPath, basePath, curPath string
	th := driftstat.DefaultThresholds()
	share := driftstat.DefaultShare
	cmd := &cobra.Command{
		Use:   "compare --contract C --baseline FILE.csv --current FILE.csv",
		Short: "Compare two CSV files under a contract, offline",
		Long: `compare reads both files as ingest reads an upload and compares every column
of the contract but personal data and free text. With no policy offline, the
defaults decide (each can be overridden by its flag):

  numeric columns: the two-sample Kolmogorov-Smirnov test; categorical ones:
  chi-square. p-values are corrected for the number of columns
  (Benjamini-Hochberg). Below 1,000 values a column drifted when its
  corrected p-value is below --p-value; from 1,000 on its effect size must
  also pass its threshold (normed Wasserstein --wasserstein for numeric,
  Jensen-Shannon --js for categorical), since at large samples every p-value
  is tiny. A missing-value rate that moved by more than --null-rate-change, or
  more than --out-of-range of the values outside the contract's range or never
  seen in the baseline, is drift by itself. PSI is reported for every column
  (--psi judges model outputs in nightly reports). The dataset drifted when at
  least --share of the columns did. With fewer than --min-rows current rows
  there is no verdict.

Exit status: 0 no drift, 1 drift, 2 usage error, 3 could not read.`,
		Example: `  mlops drift compare --contract examples/credit/credit.odcs.yaml \
      --baseline examples/credit/credit_data.csv --current today.csv
  mlops drift compare --contract c.yaml --baseline a.csv --current b.csv -o json --psi 0.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if contractPath == "" || basePath == "" || curPath == "" {
				return usageErr("--contract, --baseline and --current are required")
			}
			if err := checkThresholds(th, share); err != nil {
				return err
			}
			c, err := readContract(contractPath)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			bf, err := os.Open(basePath)
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("drift compare: %w", err)}
			}
			defer bf.Close()
			cf, err := os.Open(curPath)
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("drift compare: %w", err)}
			}
			defer cf.Close()
			cmp, err := drift.CompareTables(cmd.Context(), c, bf, basePath, cf, curPath, th, share)
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("drift compare: %w", err)}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				if err := printJSON(out, cmp); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "baseline %s (%d rows), current %s (%d rows), contract %s\n", basePath, cmp.BaselineRows, curPath, cmp.Rows, short(cmp.ContractHash))
				printFeatures(out, cmp.Features)
				for _, s := range cmp.Skipped {
					fmt.Fprintf(out, "not compared: %s (%s)\n", s.Feature, s.Reason)
				}
				fmt.Fprintf(out, "verdict: %s\n", cmp.Verdict.Reason)
			}
			if cmp.Verdict.Drifted {
				return &exitError{code: exitFailed, err: fmt.Errorf("drift: %s", strings.Join(cmp.Verdict.DriftedFeatures, ", "))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&contractPath, "contract", "", "the dataset contract (ODCS YAML)")
	f.StringVar(&basePath, "baseline", "", "the reference table (CSV, as uploads are)")
	f.StringVar(&curPath, "current", "", "the table to compare with it")
	f.Float64Var(&th.PValue, "p-value", th.PValue, "corrected p-value below which a test may call drift")
	f.Float64Var(&th.PSI, "psi", th.PSI, "population stability index above which a column drifted")
	f.Float64Var(&th.Wasserstein, "wasserstein", th.Wasserstein, "Wasserstein distance in baseline standard deviations (numeric effect size)")
	f.Float64Var(&th.JS, "js", th.JS, "Jensen-Shannon distance, base 2 (categorical effect size)")
	f.Float64Var(&th.NullRateChange, "null-rate-change", th.NullRateChange, "change of the missing-value rate that is drift by itself")
	f.Float64Var(&th.OutOfRangeRate, "out-of-range", th.OutOfRangeRate, "share of out-of-range or unseen values that is drift by itself")
	f.Int64Var(&th.MinRows, "min-rows", th.MinRows, "least current rows for a verdict")
	f.Float64Var(&share, "share", share, "share of drifted columns for a dataset verdict")
	return cmd
}

func printQuality(w io.Writer, q *drift.Quality) {
	if q == nil {
		return
	}
	fmt.Fprintf(w, "\nlive quality: %d labelled predictions of this version", q.Labels)
	if q.OtherVersions > 0 || q.Relabelled > 0 {
		fmt.Fprintf(w, " (%d labels for other versions, %d given twice)", q.OtherVersions, q.Relabelled)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if q.Binary != nil {
		fmt.Fprintln(tw, "METRIC\tLIVE\t95% INTERVAL\tTRAINING")
		for _, m := range []struct {
			name string
			e    *quality.Estimate
		}{{"auc", q.Binary.AUC}, {"accuracy", q.Binary.Accuracy}, {"precision", q.Binary.Precision}, {"recall", q.Binary.Recall}} {
			if m.e == nil {
				fmt.Fprintf(tw, "%s\t-\t-\t%s\n", m.name, trained(q, m.name))
				continue
			}
			iv := "-"
			if m.e.Lower != nil && m.e.Upper != nil {
				iv = fmt.Sprintf("%.3f to %.3f", *m.e.Lower, *m.e.Upper)
			}
			fmt.Fprintf(tw, "%s\t%.3f\t%s\t%s\n", m.name, m.e.Value, iv, trained(q, m.name))
		}
	}
	_ = tw.Flush()
	if e := q.Estimated; e != nil {
		fmt.Fprintf(w, "estimated before labels (CBPE, %d predictions):", e.N)
		if e.Accuracy != nil {
			fmt.Fprintf(w, " accuracy %.3f", *e.Accuracy)
		}
		if e.AUC != nil {
			fmt.Fprintf(w, ", AUC %.3f", *e.AUC)
		}
		fmt.Fprintln(w)
		for _, v := range q.Versus {
			if v.Difference != nil {
				fmt.Fprintf(w, "  %s: estimated %.3f, realised %.3f (%+.3f)\n", v.Metric, *v.Estimated, *v.Realized, *v.Difference)
			}
		}
	}
	for _, r := range q.Reasons {
		fmt.Fprintln(w, "quality decay:", r)
	}
}

func trained(q *drift.Quality, name string) string {
	if v, ok := q.Training[name]; ok {
		return fmt.Sprintf("%.3f", v)
	}
	return "-"
}

// checkThresholds refuses thresholds no rule can use, naming the flag.
func checkThresholds(th driftstat.Thresholds, share float64) error {
	in01 := func(v float64) bool { return v > 0 && v <= 1 }
	pos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	for _, c := range []struct {
		flag string
		ok   bool
		want string
	}{
		{"--p-value", in01(th.PValue), "a p-value above 0 and at most 1"},
		{"--js", in01(th.JS), "a distance above 0 and at most 1"},
		{"--null-rate-change", in01(th.NullRateChange), "a change above 0 and at most 1"},
		{"--out-of-range", in01(th.OutOfRangeRate), "a share above 0 and at most 1"},
		{"--share", in01(share), "a share of the columns above 0 and at most 1"},
		{"--psi", pos(th.PSI), "a finite number above 0"},
		{"--wasserstein", pos(th.Wasserstein), "a finite number above 0"},
		{"--min-rows", th.MinRows >= 1, "at least 1"},
	} {
		if !c.ok {
			return usageErr("%s: expected %s", c.flag, c.want)
		}
	}
	return nil
}

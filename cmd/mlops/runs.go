package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

func newRunsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List training runs, show one, read its log, retry or request one",
		Long: `A run trains one model on one dataset version. New dataset versions start runs
(as each model's spec says); retrain and retry start them on demand. A run is
claimed, submitted to the batch system (AWS Batch, or the local runner of
mlops up), and ends succeeded (with a verified bundle) or failed (with a reason).`,
		Example: `  mlops runs list --model credit
  mlops runs wait --model credit
  mlops runs show credit-3f9a0c1d2e4b5a69-1
  mlops runs logs credit-3f9a0c1d2e4b5a69-1
  mlops runs retry credit-3f9a0c1d2e4b5a69-1 --reason "spot capacity"
  mlops runs retrain credit --reason "new features in the spec"`,
	}
	var model string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List runs, newest first",
		Example: `  mlops runs list --model credit -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			runs, err := training.ListRuns(cmd.Context(), cl.store, cl.ep.Buckets.Platform, model)
			var damaged *training.DamagedRunsError
			if err != nil && !errors.As(err, &damaged) {
				return err
			}
			if perr := printRuns(cmd.OutOrStdout(), g, runs); perr != nil {
				return perr
			}
			if damaged != nil {
				// Every readable run is listed; the damaged records are named.
				return &exitError{code: exitFailed, err: damaged}
			}
			return nil
		},
	}
	list.Flags().StringVar(&model, "model", "", "only this model's runs")

	show := &cobra.Command{
		Use:     "show RUN",
		Short:   "Show a run: its inputs, job, history and bundle",
		Example: `  mlops runs show credit-3f9a0c1d2e4b5a69-1 -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, r, err := g.platformRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), r)
			}
			printRun(cmd.OutOrStdout(), cl, r)
			return nil
		},
	}

	logs := &cobra.Command{
		Use:   "logs RUN",
		Short: "Print a run's trainer log",
		Long: `logs prints the trainer's output. Locally the runner keeps it in the platform
bucket; in AWS it is a CloudWatch Logs stream, which this command names.`,
		Example: `  mlops runs logs credit-3f9a0c1d2e4b5a69-1 | tail -20`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, r, err := g.platformRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printLog(cmd.Context(), cmd.OutOrStdout(), cl, r)
		},
	}

	var reason string
	var wait bool
	var timeout time.Duration
	retry := &cobra.Command{
		Use:   "retry RUN",
		Short: "Start the next attempt of a failed run",
		Long: `retry asks the platform to train a failed run's inputs again, as its next
attempt. Asking twice for the same run starts one attempt. With --wait it waits
for that attempt to end and, if it succeeded, for the gate to decide its
version (as runs wait does): exit 0 if it succeeded, 1 if it failed or the
gate refused its bundle, 3 if the timeout came first.`,
		Example: `  mlops runs retry credit-3f9a0c1d2e4b5a69-1 --reason "spot capacity" --wait`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, prev, err := g.platformRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if prev.State != training.StateFailed {
				return &exitError{code: exitFailed, err: fmt.Errorf("run %s is %s: only failed runs are retried", prev.RunID, prev.State)}
			}
			req := event.RetrainRequestedDetail{SchemaVersion: event.SchemaVersion, RequestID: "retry-" + prev.RunID,
				Model: prev.Model, RetryOf: prev.RunID, Reason: reason, Principal: principal()}
			return request(cmd, g, cl, req, wait, timeout)
		},
	}
	retrain := &cobra.Command{
		Use:   "retrain MODEL",
		Short: "Train a model now on its dataset's latest (or a given) version",
		Long: `retrain asks the platform to train MODEL with its current spec. On data it has
already trained on, that is the next attempt of the same run; while such a run
is in flight, the request is satisfied by it. --wait waits as runs wait does:
for the run, and for the gate to decide its version.`,
		Example: `  mlops runs retrain credit --reason "quarterly refresh" --wait
  mlops runs retrain credit --dataset-version 3f9a0c1d2e4b5a6978e0d1c2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !ingest.ValidDataset(args[0]) {
				return usageErr("%q is not a model name", args[0])
			}
			cl, err := g.platform()
			if err != nil {
				return err
			}
			version, _ := cmd.Flags().GetString("dataset-version")
			req := event.RetrainRequestedDetail{SchemaVersion: event.SchemaVersion,
				RequestID: "retrain-" + args[0] + "-" + time.Now().UTC().Format("20060102T150405.000000000Z"),
				Model:     args[0], DatasetVersion: version, Reason: reason, Principal: principal()}
			return request(cmd, g, cl, req, wait, timeout)
		},
	}
	retrain.Flags().String("dataset-version", "", "train on this version instead of the latest")
	for _, c := range []*cobra.Command{retry, retrain} {
		c.Flags().StringVar(&reason, "reason", "", "why (kept with the run)")
		c.Flags().BoolVar(&wait, "wait", false, "wait for the run to end (and, if it succeeded, for the gate to decide its version); exit 1 if it failed")
		c.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	}

	var waitModel, waitVersion string
	waitCmd := &cobra.Command{
		Use:   "wait [RUN]",
		Short: "Wait for a run (or a model's newest run) to end, and for the gate to decide it",
		Long: `wait polls until the run is final, prints it, and exits 0 if it succeeded, 1 if
it failed. With --model it waits for that model's newest run, first for one to
appear (after an upload, training starts a moment later).

A run that succeeded is then waited for at the gate too, within the same
--timeout: until the gate has registered it as a version and its policy
checks have decided that version's state (printed as "version N (STATE)"),
so that the next command (mlops models approve MODEL N) finds it. The exit
is 0 whatever the policy decided (pending_approval, rejected, approved,
champion: the state says); 1 if the run failed or the gate refused its
bundle (with the gate's reason); 3 if the timeout came first. -o json
prints the run on stdout and the version line on stderr.`,
		Example: `  mlops upload examples/credit/credit_data.csv --dataset credit --wait
  mlops runs wait --model credit --timeout 10m
  mlops runs wait --model credit --dataset-version 3f9a0c1d2e4b5a6978e0d1c2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (waitModel != "") {
				return usageErr("give either a RUN or --model (exactly one)")
			}
			cl, err := g.platform()
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			var filters []func(*training.Run) bool
			if waitVersion != "" {
				filters = append(filters, func(r *training.Run) bool { return r.DatasetVersion == waitVersion })
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			r, err := waitRun(ctx, cl, id, waitModel, timeout, filters...)
			if err != nil {
				return err
			}
			return finish(ctx, cmd, g, cl, r, timeout)
		},
	}
	waitCmd.Flags().StringVar(&waitModel, "model", "", "wait for this model's newest run")
	waitCmd.Flags().StringVar(&waitVersion, "dataset-version", "", "with --model: the newest run on this dataset version")
	waitCmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait")

	cmd.AddCommand(list, show, logs, retry, retrain, waitCmd)
	return cmd
}

func principal() string { return local.LocalPrincipal() }

// platformRun connects to the platform (as platform does) and reads run id.
func (g *globals) platformRun(ctx context.Context, id string) (*client, *training.Run, error) {
	cl, err := g.platform()
	if err != nil {
		return nil, nil, err
	}
	r, err := getRun(ctx, cl, id)
	return cl, r, err
}

func getRun(ctx context.Context, cl *client, id string) (*training.Run, error) {
	if _, _, _, err := training.ParseRunID(id); err != nil {
		return nil, usageErr("%v", err)
	}
	r, _, err := training.GetRun(ctx, cl.store, cl.ep.Buckets.Platform, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("no run %s (mlops runs list shows them)", id)}
	}
	return r, err
}

// request drops a retrain request into the platform bucket, where its Object
// Created event reaches the train function; the same request twice is one request.
func request(cmd *cobra.Command, g *globals, cl *client, req event.RetrainRequestedDetail, wait bool, timeout time.Duration) error {
	ctx := cmd.Context()
	body, _ := json.MarshalIndent(req, "", "  ")
	key := training.RequestKey(req.RequestID)
	since := time.Now().Add(-time.Second)
	// The platform satisfies a request with a run of the same inputs that is in
	// flight when the request arrives, so those are waited for too.
	inflight := map[string]bool{}
	if wait {
		runs, err := training.ListRuns(ctx, cl.store, cl.ep.Buckets.Platform, req.Model)
		if err != nil && !errors.As(err, new(*training.DamagedRunsError)) {
			return err
		}
		for _, r := range runs {
			if !r.Final() {
				inflight[r.RunID] = true
			}
		}
	}
	_, err := cl.store.Create(ctx, cl.ep.Buckets.Platform, key, body, store.PutOptions{ContentType: "application/json"})
	switch {
	case errors.Is(err, store.ErrPrecondition):
		fmt.Fprintf(cmd.ErrOrStderr(), "already requested (s3://%s/%s)\n", cl.ep.Buckets.Platform, key)
		since = time.Time{}
	case err != nil:
		return fmt.Errorf("request: %w", err)
	default:
		fmt.Fprintf(cmd.ErrOrStderr(), "requested: s3://%s/%s\n", cl.ep.Buckets.Platform, key)
	}
	if !wait {
		return nil
	}
	_, retryBase, _, _ := training.ParseRunID(req.RetryOf)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := waitRun(ctx, cl, "", req.Model, timeout, func(r *training.Run) bool {
		switch {
		case r.Cause.RequestID == req.RequestID:
			return true // this request's run
		case req.RetryOf != "":
			return inflight[r.RunID] && r.Base == retryBase
		}
		return r.CreatedAt.After(since) || inflight[r.RunID] && (req.DatasetVersion == "" || r.DatasetVersion == req.DatasetVersion)
	})
	if err != nil {
		return err
	}
	return finish(ctx, cmd, g, cl, r, timeout)
}

// waitRun polls until the run (or the newest run of model matching every
// filter) is final, or ctx (bounded by timeout) ends.
func waitRun(ctx context.Context, cl *client, id, model string, timeout time.Duration, filters ...func(*training.Run) bool) (*training.Run, error) {
	var r *training.Run
	err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
		r = nil
		if id != "" {
			got, err := getRun(ctx, cl, id)
			if err != nil && ctx.Err() == nil {
				return false, err
			}
			r = got
		} else {
			runs, err := training.ListRuns(ctx, cl.store, cl.ep.Buckets.Platform, model)
			if err != nil && ctx.Err() == nil && !errors.As(err, new(*training.DamagedRunsError)) {
				return false, err
			}
		pick:
			for _, c := range runs {
				for _, f := range filters {
					if !f(c) {
						continue pick
					}
				}
				r = c
				break
			}
		}
		return r != nil && r.Final(), nil
	})
	if err != nil && ctx.Err() != nil {
		what := "run " + id
		if id == "" {
			what = "a run of " + model
		}
		if r != nil {
			what = fmt.Sprintf("run %s (%s, job %s)", r.RunID, r.State, orDash(r.Job.Status))
		}
		return nil, &exitError{code: exitProblem, err: fmt.Errorf("timed out after %s waiting for %s to end", timeout, what)}
	}
	return r, err
}

// finish prints a final run, after waiting (for one that succeeded) for
// the gate's outcome, and exits as the run and the gate ended.
func finish(ctx context.Context, cmd *cobra.Command, g *globals, cl *client, r *training.Run, timeout time.Duration) error {
	var v *registry.Version
	var refused *registry.AuditRecord
	var gateErr error
	if r.State == training.StateSucceeded {
		v, refused, gateErr = waitGate(ctx, cl, r, timeout)
	}
	w := cmd.OutOrStdout()
	if g.output == "json" {
		if err := printJSON(w, r); err != nil {
			return err
		}
		w = cmd.ErrOrStderr() // the run is the document: what the gate made of it goes beside it
	} else {
		printRun(w, cl, r)
	}
	switch {
	case v != nil:
		fmt.Fprintf(w, "version    %d (%s)\n", v.Version, v.State)
	case refused != nil:
		fmt.Fprintf(w, "gate       refused the bundle (%s): %s\n", registry.AuditKey(refused.Model, refused.Seq, refused.Kind), refused.Reason)
	}
	switch {
	case r.State != training.StateSucceeded:
		return &exitError{code: exitFailed, err: fmt.Errorf("run %s failed: %s", r.RunID, r.Reason)}
	case gateErr != nil:
		return gateErr
	case refused != nil:
		return &exitError{code: exitFailed, err: fmt.Errorf("run %s succeeded, but the gate refused its bundle: %s", r.RunID, refused.Reason)}
	}
	return nil
}

// waitGate polls until the gate has made a succeeded run a version and
// decided it, or refused its bundle: the gate acts on the run's event a
// moment after the run ends, and a script's next command names the version.
func waitGate(ctx context.Context, cl *client, r *training.Run, timeout time.Duration) (*registry.Version, *registry.AuditRecord, error) {
	reg := registry.New(cl.store, registry.Config{Bucket: cl.ep.Buckets.Platform})
	var v *registry.Version
	var refused *registry.AuditRecord
	err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
		got, rec, err := reg.RunOutcome(ctx, r.Model, r.RunID)
		if err != nil && ctx.Err() == nil {
			return false, fmt.Errorf("run %s at the gate: %w", r.RunID, err)
		}
		if got != nil {
			v = got
		}
		refused = rec
		return v != nil && v.State != registry.StateRegistered || refused != nil, nil
	})
	switch {
	case err != nil && ctx.Err() != nil && v != nil:
		// A gate that failed after registering (its event dead-lettered)
		// leaves the version undecided; approving it checks it.
		return nil, nil, &exitError{code: exitProblem, err: fmt.Errorf("timed out after %s: run %s succeeded and is version %d, "+
			"but the gate has not checked it against the policy (the gate function's log says why; "+
			"mlops models approve %s %d checks it)", timeout, r.RunID, v.Version, r.Model, v.Version)}
	case err != nil && ctx.Err() != nil:
		return nil, nil, &exitError{code: exitProblem, err: fmt.Errorf("timed out after %s: run %s succeeded, but the gate has not registered it "+
			"(mlops models show %s; the gate function's log says why)", timeout, r.RunID, r.Model)}
	case err != nil:
		return nil, nil, err
	}
	return v, refused, nil
}

func printRuns(w io.Writer, g *globals, runs []*training.Run) error {
	if runs == nil {
		runs = []*training.Run{}
	}
	return printTable(w, g, runs, "no runs", "RUN\tSTATE\tJOB\tDATASET VERSION\tCAUSE\tCREATED\tRESULT",
		func(r *training.Run) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", r.RunID, r.State, orDash(r.Job.Status), r.DatasetVersion,
				r.Cause.Kind, when(r.CreatedAt), runResult(r))
		})
}

func runResult(r *training.Run) string {
	switch {
	case r.Bundle != nil:
		return fmt.Sprintf("%s %.4f [%.4f, %.4f]", r.Bundle.Headline, r.Bundle.HeadlineValue, r.Bundle.HeadlineLower, r.Bundle.HeadlineUpper)
	case r.State == training.StateFailed:
		reason := []rune(r.Reason)
		if len(reason) > 70 {
			reason = append(reason[:67], []rune("...")...)
		}
		return string(reason)
	}
	return "-"
}

func printRun(w io.Writer, cl *client, r *training.Run) {
	fmt.Fprintf(w, "run        %s (attempt %d)\n", r.RunID, r.Attempt)
	fmt.Fprintf(w, "state      %s\n", r.State)
	fmt.Fprintf(w, "model      %s (spec %s)\n", r.Model, hashid.Short(r.SpecHash))
	fmt.Fprintf(w, "dataset    %s@%s (%d rows, contract %s)\n", r.Dataset, r.DatasetVersion, r.Rows, hashid.Short(r.ContractHash))
	fmt.Fprintf(w, "trainer    %s\n", r.Trainer)
	cause := r.Cause.Kind
	if r.Cause.RetryOf != "" {
		cause += " of " + r.Cause.RetryOf
	}
	if r.Cause.Principal != "" {
		cause += " by " + r.Cause.Principal
	}
	if r.Cause.Reason != "" {
		cause += ": " + r.Cause.Reason
	}
	fmt.Fprintf(w, "cause      %s\n", cause)
	fmt.Fprintf(w, "job        %s %s", orDash(r.Job.ID), orDash(r.Job.Status))
	if r.Job.ExitCode != nil {
		fmt.Fprintf(w, " (exit code %d)", *r.Job.ExitCode)
	}
	fmt.Fprintln(w)
	if r.Job.LogLocation != "" {
		fmt.Fprintf(w, "log        %s\n", r.Job.LogLocation)
	}
	if r.Reason != "" {
		fmt.Fprintf(w, "reason     %s\n", r.Reason)
	}
	if r.Bundle != nil {
		fmt.Fprintf(w, "bundle     s3://%s/%s (sha256 %s)\n", cl.ep.Buckets.Platform, r.Bundle.Prefix, r.Bundle.SHA256)
		fmt.Fprintf(w, "result     %s\n", runResult(r))
	}
	fmt.Fprintln(w, "history")
	for _, s := range r.History {
		line := "  " + s.At.Format(time.RFC3339) + "  " + s.State
		if s.Status != "" {
			line += " (" + s.Status + ")"
		}
		if s.Note != "" {
			line += "  " + s.Note
		}
		fmt.Fprintln(w, line)
	}
}

func printLog(ctx context.Context, w io.Writer, cl *client, r *training.Run) error {
	loc := r.Job.LogLocation
	if loc == "" {
		return &exitError{code: exitFailed, err: fmt.Errorf("run %s has no log yet (job %s)", r.RunID, orDash(r.Job.Status))}
	}
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return &exitError{code: exitFailed, err: fmt.Errorf("run %s logs to CloudWatch Logs stream %s: read it with "+
			"aws logs get-log-events --log-group-name /aws/batch/job --log-stream-name %s", r.RunID, loc, loc)}
	}
	bucket, key, _ := strings.Cut(rest, "/")
	body, _, err := cl.store.Get(ctx, bucket, key, store.GetOptions{})
	if err != nil {
		return fmt.Errorf("log of %s: %w", r.RunID, err)
	}
	defer body.Close()
	if _, err := io.Copy(w, body); err != nil {
		return fmt.Errorf("log of %s: %w", r.RunID, err)
	}
	return nil
}

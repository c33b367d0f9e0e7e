package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
)

// The registry commands talk to the platform only through its decisions API
// (shared/decisions, with its typed client): reads and human decisions alike,
// never straight to S3, so that every decision is stamped with the caller the
// API verified and lands in the audit trail.

// registryCommands are the `models` subcommands about the registry.
func registryCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newModelsListCmd(g), newModelsShowCmd(g), newModelsHistoryCmd(g), newModelsVerifyCmd(g),
		newModelsApproveCmd(g), newModelsRejectCmd(g), newModelsPromoteCmd(g), newModelsRollbackCmd(g),
		newModelsRetireCmd(g),
	}
}

const registryExitCodes = `Exit status: 0 done, 1 refused by the platform (unknown model or version, a
transition the state machine does not allow, an approver the policy does not
name, a bad token), 2 usage error, 3 the platform could not be reached or
failed.`

// apiErr gives an error of the decisions API its exit status: a bad request
// is a usage error (2); a refusal (unauthorized, forbidden, not found, a
// conflict) is 1, with the platform's message; a failure of the platform, or
// no answer at all, is 3.
func apiErr(err error) error {
	var e *decisions.Error
	if !errors.As(err, &e) {
		return &exitError{code: exitProblem, err: err}
	}
	switch e.Code {
	case decisions.CodeBadRequest:
		return &exitError{code: exitUsage, err: err}
	case decisions.CodeUnauthorized:
		return &exitError{code: exitFailed, err: fmt.Errorf("the API refused the token: %w", err)}
	case decisions.CodeForbidden:
		return &exitError{code: exitFailed, err: fmt.Errorf("not allowed: %w", err)}
	case decisions.CodeInternal:
		return &exitError{code: exitProblem, err: fmt.Errorf("the platform failed: %w", err)}
	}
	return &exitError{code: exitFailed, err: err}
}

func checkModel(name string) error {
	if !spec.ValidName(name) {
		return usageErr("%q is not a model name", name)
	}
	return nil
}

func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usageErr("version %q: expected a version number from 1", s)
	}
	return n, nil
}

func championText(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

// headline is a version's headline test metric: auc, rmse or macro_f1.
func headline(m map[string]float64) string {
	for _, k := range []string{"auc", "rmse", "macro_f1"} {
		if v, ok := m[k]; ok {
			return fmt.Sprintf("%s %.4f", k, v)
		}
	}
	return "-"
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newModelsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered models: champion, number of versions, latest version",
		Long: `list asks the platform's API for every model with registered versions, its
champion and its latest version with that version's state.

` + registryExitCodes,
		Example: `  mlops models list
  mlops models list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dc, err := g.api()
			if err != nil {
				return err
			}
			list, err := dc.Models(cmd.Context())
			if err != nil {
				return apiErr(err)
			}
			return printTable(cmd.OutOrStdout(), g, list, "no registered models yet: a successful training run registers one",
				"MODEL\tCHAMPION\tVERSIONS\tLATEST", func(m decisions.ModelSummary) string {
					latest := "-"
					if m.Latest != nil {
						latest = fmt.Sprintf("%d (%s)", m.Latest.Version, m.Latest.State)
					}
					return fmt.Sprintf("%s\t%s\t%d\t%s", m.Model, championText(m.Champion), m.Versions, latest)
				})
		},
	}
}

func newModelsShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME[@VERSION]",
		Short: "Show a model's versions, or one version: checks, decision, events",
		Long: `show NAME prints the model's champion and a table of its versions: state, run,
dataset version, headline test metric (auc, rmse or macro_f1), bundle SHA-256
(short) and when it was registered. show NAME@VERSION prints one version: what
it was trained from, its hashes and metrics, the policy checks' verdicts by
policy hash, the decision about it and the last audit record of each kind.

` + registryExitCodes,
		Example: `  mlops models show credit
  mlops models show credit@1
  mlops models show credit@1 -o json | jq .checks`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ver, hasVersion := strings.Cut(args[0], "@")
			n, verErr := 0, error(nil)
			if hasVersion {
				n, verErr = parseVersion(ver)
			}
			dc, err := g.api(checkModel(name), verErr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if hasVersion {
				v, err := dc.Version(cmd.Context(), name, n)
				if err != nil {
					return apiErr(err)
				}
				if g.output == "json" {
					return printJSON(out, v)
				}
				return writeVersion(out, v)
			}
			m, err := dc.Model(cmd.Context(), name)
			if err != nil {
				return apiErr(err)
			}
			if g.output == "json" {
				return printJSON(out, m)
			}
			fmt.Fprintf(out, "model %s: champion %s, %d versions\n\n", m.Model, championText(m.Champion), m.Versions)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSTATE\tRUN\tDATASET VERSION\tHEADLINE METRIC\tBUNDLE\tREGISTERED")
			for _, v := range m.All {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.State, orDash(v.RunID), orDash(v.DatasetVersion),
					headline(v.Metrics), orDash(hashid.Short(v.BundleSHA256)), timeText(v.RegisteredAt))
			}
			return tw.Flush()
		},
	}
}

// writeVersion prints one version record for a person.
func writeVersion(w io.Writer, v *registry.Version) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("model", "%s", v.Model)
	line("version", "%d", v.Version)
	line("state", "%s", v.State)
	line("run", "%s", orDash(v.RunID))
	line("dataset", "%s", orDash(v.DatasetVersion))
	line("contract", "%s", orDash(v.ContractHash))
	line("spec", "%s", orDash(v.SpecHash))
	line("bundle", "sha256 %s", orDash(v.BundleSHA256))
	if v.BundlePrefix != "" {
		line("", "%s", v.BundlePrefix)
	}
	if len(v.Metrics) > 0 {
		keys := make([]string, 0, len(v.Metrics))
		for k := range v.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %.4f", k, v.Metrics[k])
		}
		line("metrics", "%s", strings.Join(parts, ", "))
	}
	line("registered", "%s by %s", timeText(v.RegisteredAt), orDash(v.RegisteredBy))
	if len(v.Checks) == 0 {
		line("checks", "none yet")
	} else {
		hashes := make([]string, 0, len(v.Checks))
		for h := range v.Checks {
			hashes = append(hashes, h)
		}
		sort.Strings(hashes)
		for i, h := range hashes {
			c := v.Checks[h]
			k := ""
			if i == 0 {
				k = "checks"
			}
			line(k, "policy %s: %s (%s, audit record %d)", hashid.Short(h), c.Verdict, c.Key, c.Seq)
		}
	}
	line("decision", "%s", orDash(v.Decision))
	if len(v.Events) > 0 {
		kinds := make([]string, 0, len(v.Events))
		for k := range v.Events {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		for i, k := range kinds {
			key := ""
			if i == 0 {
				key = "events"
			}
			line(key, "%s: %s", k, v.Events[registry.Kind(k)])
		}
	}
	line("updated", "%s (audit record %d)", timeText(v.UpdatedAt), v.Seq)
	return tw.Flush()
}

func newModelsHistoryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "Print a model's full, ordered audit trail with hashes",
		Long: `history prints every record of the model's audit trail in order: sequence
number, time, kind, version, principal, the record's SHA-256 and the SHA-256 of
the previous record it names (each record's PREV is the row above's SHA256:
the chain that mlops models verify checks), and the reason. -o json prints the
records themselves with their keys.

` + registryExitCodes,
		Example: `  mlops models history credit
  mlops models history credit -o json | jq '.[] | {seq, kind, version, principal}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := readModel(cmd, g, args[0], (*decisions.Client).History)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, h)
			}
			if len(h) == 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("model %s has no audit trail", args[0])}
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tVERSION\tPRINCIPAL\tSHA256\tPREV\tREASON")
			for _, e := range h {
				ver, prev := "-", "-"
				if e.Version > 0 {
					ver = strconv.Itoa(e.Version)
				}
				if e.Prev != nil {
					prev = e.Prev.SHA256
				}
				reason := e.Reason
				if e.Kind == registry.KindChecked && e.Verdict != "" {
					reason = strings.TrimSpace("verdict " + string(e.Verdict) + "; " + reason)
					reason = strings.TrimSuffix(reason, ";")
				}
				reason = strings.Join(strings.Fields(reason), " ")
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, timeText(e.Time), e.Kind, ver, e.Principal,
					e.SHA256, prev, orDash(reason))
			}
			return tw.Flush()
		},
	}
}

func newModelsVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify NAME",
		Short: "Check that a model's audit trail is whole and untouched",
		Long: `verify asks the platform to walk the model's audit trail: sequence numbers
without gaps, every record linking the previous one by its SHA-256, the head
matching the last record, and the version records and champion pointer agreeing
with the trail. It prints each problem, naming the object where the chain breaks.

Exit status: 0 the trail verifies, 1 it does not (the problems are listed) or
the model is unknown, 2 usage error, 3 the platform could not be reached.`,
		Example: `  mlops models verify credit
  mlops models verify credit -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := readModel(cmd, g, args[0], (*decisions.Client).Verify)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if rep.Records == 0 && len(rep.Problems) == 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("model %s has no audit trail", args[0])}
			}
			if g.output == "json" {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else if rep.OK {
				fmt.Fprintf(out, "model %s: audit trail OK (%d records, every link verified)\n", rep.Model, rep.Records)
				if rep.Anchored {
					fmt.Fprintf(out, "  anchored by %s\n", rep.Anchor)
				} else if rep.Anchor != "" {
					fmt.Fprintf(out, "  %s\n", rep.Anchor)
				}
			} else {
				fmt.Fprintf(out, "model %s: audit trail BROKEN (%d records, %d problems):\n", rep.Model, rep.Records, len(rep.Problems))
				for _, p := range rep.Problems {
					fmt.Fprintf(out, "  - %s\n", p)
				}
			}
			if rep.OK {
				return nil
			}
			return &exitError{code: exitFailed, err: fmt.Errorf("model %s: the audit trail does not verify (%d problems)", rep.Model, len(rep.Problems))}
		},
	}
}

// readModel asks the API about the model name (checked first): a refusal
// gets its exit status (apiErr).
func readModel[T any](cmd *cobra.Command, g *globals, name string, ask func(*decisions.Client, context.Context, string) (T, error)) (T, error) {
	var zero T
	dc, err := g.api(checkModel(name))
	if err != nil {
		return zero, err
	}
	v, err := ask(dc, cmd.Context(), name)
	if err != nil {
		return zero, apiErr(err)
	}
	return v, nil
}

// decisionFlags are the flags every decision takes.
type decisionFlags struct {
	reason string
	force  bool
}

func (d *decisionFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.reason, "reason", "", "why (required: it goes into the audit trail)")
}

func (d *decisionFlags) check() error {
	if strings.TrimSpace(d.reason) == "" {
		return usageErr("--reason is required: every decision is recorded with why it was made")
	}
	if err := decisions.CheckReason(d.reason); err != nil {
		return usageErr("--reason: %v", err)
	}
	return nil
}

// decide prints what a decision did (res, or the refusal err).
func decide(cmd *cobra.Command, g *globals, res *decisions.Result, err error, describe func(w io.Writer, r *decisions.Result)) error {
	if err != nil {
		return apiErr(err)
	}
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, res)
	}
	describe(out, res)
	if !res.Created {
		fmt.Fprintln(out, "  (it had been decided before: nothing changed)")
	}
	fmt.Fprintf(out, "  audit record %s; champion: %s\n", res.AuditKey, championText(res.Champion))
	return nil
}

// decisionTarget reads NAME VERSION, checks --reason and the command's own
// checks, and connects to the API.
func decisionTarget(g *globals, args []string, d *decisionFlags, checks ...error) (string, int, *decisions.Client, error) {
	n, verErr := parseVersion(args[1])
	dc, err := g.api(append([]error{checkModel(args[0]), verErr, d.check()}, checks...)...)
	return args[0], n, dc, err
}

func stateOf(r *decisions.Result) string {
	if r.Version == nil {
		return "?"
	}
	return string(r.Version.State)
}

func newModelsApproveCmd(g *globals) *cobra.Command {
	var d decisionFlags
	var bind string
	var yes, override bool
	cmd := &cobra.Command{
		Use:   "approve NAME VERSION --reason TEXT [--bundle-sha256 HASH | --yes]",
		Short: "Approve a version waiting for a person (and promote it, unless the policy separates promotion)",
		Long: `approve binds the approval to a bundle's SHA-256: if the version's bundle is not
that one, the approval is refused. It shows what is being approved (the bundle's
hash, the run, the data, the headline metrics and the policy checks) and:

  - with --bundle-sha256, binds to the hash you name (the one you reviewed, from
    mlops models show or the model card), and asks nothing;
  - at a terminal, asks you to confirm the hash it shows (--yes skips that);
  - otherwise (a script), binds to the hash it read and prints it.

Only a version that passed the policy in force is approved. --override approves
one that did not, if the policy's approval.override names you; the approval
record says it was an override. The policy names who may approve; anyone else
is refused (and the refusal is audited). Unless the policy makes promotion a
separate step, the approved version becomes champion at once and the champion
it replaces is archived, but never a newer champion: an older version stays
approved, and promoting it is a decision of its own.

` + registryExitCodes,
		Example: `  mlops models approve credit 1 --reason "reviewed the card and the slices"
  mlops models approve credit 2 --reason "better recall" --bundle-sha256 3f1c…(64 hex) -o json
  mlops models approve credit 2 --reason "reviewed" --yes`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var bindErr error
			if bind != "" && !hashRE.MatchString(bind) {
				bindErr = usageErr("--bundle-sha256 %q: expected 64 lowercase hex digits", bind)
			}
			name, n, dc, err := decisionTarget(g, args, &d, bindErr)
			if err != nil {
				return err
			}
			v, err := dc.Version(cmd.Context(), name, n)
			if err != nil {
				return apiErr(err)
			}
			msg := cmd.OutOrStdout()
			if g.output == "json" {
				msg = cmd.ErrOrStderr()
			}
			writeApprovalSummary(msg, v)
			switch {
			case bind != "":
				if bind != v.BundleSHA256 {
					fmt.Fprintf(msg, "the version's bundle is %s, not the %s you named: the approval will be refused\n", v.BundleSHA256, bind)
				}
			case g.terminal && !yes:
				ok, err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr(),
					fmt.Sprintf("Approve %s version %d, bundle sha256 %s? [y/N] ", name, n, v.BundleSHA256))
				if err != nil {
					return err
				}
				if !ok {
					return &exitError{code: exitFailed, err: errors.New("not approved: not confirmed")}
				}
				bind = v.BundleSHA256
			default:
				bind = v.BundleSHA256
			}
			res, err := dc.Approve(cmd.Context(), name, n, decisions.Decision{Reason: d.reason, BundleSHA256: bind, Override: override})
			return decide(cmd, g, res, err,
				func(w io.Writer, r *decisions.Result) {
					switch {
					case r.Promoted:
						fmt.Fprintf(w, "%s version %d: approved and promoted: %s\n", name, n, stateOf(r))
					case r.NotPromoted != "":
						fmt.Fprintf(w, "%s version %d: approved, not promoted (%s); promote it with mlops models promote %s %d --reason ...\n",
							name, n, r.NotPromoted, name, n)
					default:
						fmt.Fprintf(w, "%s version %d: approved (%s); promote it with mlops models promote %s %d --reason ...\n",
							name, n, stateOf(r), name, n)
					}
					fmt.Fprintf(w, "approval bound to bundle sha256 %s\n", bind)
				})
		},
	}
	d.add(cmd)
	cmd.Flags().StringVar(&bind, "bundle-sha256", "", "the bundle SHA-256 you reviewed: the approval binds to it, and is refused if the version's differs")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation at a terminal")
	cmd.Flags().BoolVar(&override, "override", false, "approve a version that did not pass the policy in force (the policy must name you in approval.override; audited as an override)")
	return cmd
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// writeApprovalSummary shows what an approval binds to, before it is sent.
func writeApprovalSummary(w io.Writer, v *registry.Version) {
	fmt.Fprintf(w, "approving %s version %d (%s), bundle sha256 %s\n", v.Model, v.Version, v.State, v.BundleSHA256)
	fmt.Fprintf(w, "  run %s on %s, metrics %s\n", v.RunID, orDash(v.DatasetVersion), headline(v.Metrics))
	hashes := make([]string, 0, len(v.Checks))
	for h := range v.Checks {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		fmt.Fprintf(w, "  policy %s: %s\n", hashid.Short(h), v.Checks[h].Verdict)
	}
	if len(hashes) == 0 {
		fmt.Fprintln(w, "  no policy checks recorded")
	}
}

// confirm asks a yes/no question on a terminal; only y or yes is yes.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("read confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func newModelsRejectCmd(g *globals) *cobra.Command {
	return versionDecisionCmd(g, "reject", (*decisions.Client).Reject, "Reject a version waiting for a person",
		`reject records that the version may not be promoted, with the reason.`,
		`  mlops models reject credit 3 --reason "recall on the 18-25 slice is too low"`, "")
}

func newModelsPromoteCmd(g *globals) *cobra.Command {
	return versionDecisionCmd(g, "promote", (*decisions.Client).Promote, "Make an approved version the champion (the current champion is archived)",
		`promote makes an approved version champion, archiving the champion it
replaces. Only an approved version can be promoted (where the policy makes
promotion a step separate from approval).`,
		`  mlops models promote credit 2 --reason "approved yesterday; deploying now"`, "promoted: ")
}

// versionDecisionCmd is a decision on one version that takes only a reason
// (apply asks for it), printing "<name> version <n>: <done><state>".
func versionDecisionCmd(g *globals, action string,
	apply func(*decisions.Client, context.Context, string, int, decisions.Decision) (*decisions.Result, error),
	short, long, example, done string) *cobra.Command {
	var d decisionFlags
	cmd := &cobra.Command{
		Use:     action + " NAME VERSION --reason TEXT",
		Short:   short,
		Long:    long + "\n\n" + registryExitCodes,
		Example: example,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, dc, err := decisionTarget(g, args, &d)
			if err != nil {
				return err
			}
			res, err := apply(dc, cmd.Context(), name, n, decisions.Decision{Reason: d.reason})
			return decide(cmd, g, res, err,
				func(w io.Writer, r *decisions.Result) {
					fmt.Fprintf(w, "%s version %d: %s%s\n", name, n, done, stateOf(r))
				})
		},
	}
	d.add(cmd)
	return cmd
}

func newModelsRollbackCmd(g *globals) *cobra.Command {
	var d decisionFlags
	cmd := &cobra.Command{
		Use:   "rollback NAME --reason TEXT",
		Short: "Make the previous champion champion again (the current one is archived)",
		Long: `rollback makes the champion before the current one (now archived) champion
again and archives the current one.

` + registryExitCodes,
		Example: `  mlops models rollback credit --reason "version 2 over-declines young applicants"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			dc, err := g.api(checkModel(name), d.check())
			if err != nil {
				return err
			}
			// The champion it rolls back from, so that a concurrent change
			// is refused rather than rolled back over.
			m, err := dc.Model(cmd.Context(), name)
			if err != nil {
				return apiErr(err)
			}
			if m.Champion == 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("model %s has no champion to roll back from", name)}
			}
			from := m.Champion
			res, err := dc.Rollback(cmd.Context(), name, decisions.Decision{Reason: d.reason, From: from})
			return decide(cmd, g, res, err,
				func(w io.Writer, r *decisions.Result) {
					fmt.Fprintf(w, "%s: rolled back from version %d (archived) to version %s (champion)\n", name, from, championText(r.Champion))
				})
		},
	}
	d.add(cmd)
	return cmd
}

func newModelsRetireCmd(g *globals) *cobra.Command {
	var d decisionFlags
	cmd := &cobra.Command{
		Use:   "retire NAME VERSION --reason TEXT [--force]",
		Short: "Decommission a version: never served again (its artifacts are kept)",
		Long: `retire marks a version retired: it is never served again; its artifacts are
kept. Retiring the champion is refused unless --force, which leaves the model
with no champion (its endpoint then answers 503 "no champion").

` + registryExitCodes,
		Example: `  mlops models retire credit 2 --reason "superseded"
  mlops models retire credit 1 --reason "data licence withdrawn" --force`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, dc, err := decisionTarget(g, args, &d)
			if err != nil {
				return err
			}
			res, err := dc.Retire(cmd.Context(), name, n, decisions.Decision{Reason: d.reason, Force: d.force})
			if !d.force && decisions.IsCode(err, decisions.CodeIllegalTransition) {
				// Retiring is refused only from the champion: the state machine
				// allows it from every other state.
				err = fmt.Errorf("%w; retiring the champion needs --force, which leaves the model with no champion", err)
			}
			return decide(cmd, g, res, err,
				func(w io.Writer, r *decisions.Result) {
					fmt.Fprintf(w, "%s version %d: %s\n", name, n, stateOf(r))
					if r.Champion == 0 {
						fmt.Fprintf(w, "  model %s has no champion now\n", name)
					}
				})
		},
	}
	d.add(cmd)
	cmd.Flags().BoolVar(&d.force, "force", false, "retire the champion too, leaving the model with no champion")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
)

// newModelsCmd is the parent of everything about models: their specs now, and
// the registry (list, show, history, verify, approve, reject, promote, rollback,
// retire: registry.go), which go through the platform's API.
func newModelsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Model specs and policies, and the registry: versions, approvals, champion, audit trail",
		Long: `A model spec (YAML, see shared/spec/README.md) names the dataset a model trains
on, its target and objective, XGBoost parameters, the trainer, when to train, its
promotion policy and its model card. The platform stores each version under its
hash; every new dataset version trains the models whose spec names it.

Each trained run the gate accepts becomes a numbered model version, judged by the
promotion policy: rejected, pending a person's approval, or promoted. People
decide through the platform's authenticated API (approve, reject, promote,
rollback, retire), and every event is in the model's hash-chained audit trail.`,
		Example: `  mlops models apply examples/credit/credit.model.yaml
  mlops models show credit
  mlops models approve credit 1 --reason "reviewed the card and the slices"
  mlops models history credit
  mlops models spec credit -o json`,
	}
	cmd.AddCommand(newModelsApplyCmd(g), newModelsSpecCmd(g), newModelsSpecsCmd(g))
	cmd.AddCommand(registryCommands(g)...)
	return cmd
}

func newModelsApplyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "apply SPEC.yaml",
		Short: "Check a model spec against its dataset's contract, store it and make it current",
		Long: `apply reads the spec, the model card and the promotion policy it names (paths
relative to the spec file), checks the spec and the policy, checks it against the dataset's current contract (apply
the contract first), stores its canonical JSON under its hash, and moves the
model's current-spec pointer to it; the policy likewise (policies/<model>/).
Applying the same spec again, even with other
comments or formatting, changes nothing.

Exit status: 0 applied or already current, 2 usage error, 3 the spec is not
valid, does not fit the contract, or the platform could not be reached.`,
		Example: `  mlops models apply examples/credit/credit.model.yaml
  mlops models apply credit.model.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			path := args[0]
			data, err := os.ReadFile(path)
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("read spec: %w", err)}
			}
			// The card is read relative to the spec: Parse joins its path to
			// the spec file's directory before calling os.ReadFile.
			s, err := spec.Parse(path, data, os.ReadFile)
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("invalid model spec:\n%w", err)}
			}
			// The promotion policy the spec names (relative to the spec) is read
			// and checked before anything is stored, so a bad policy stores nothing.
			var pol *policy.Policy
			if s.Policy != "" {
				ppath := filepath.Join(filepath.Dir(path), filepath.FromSlash(s.Policy))
				pdata, err := os.ReadFile(ppath)
				if err != nil {
					return &exitError{code: exitProblem, err: fmt.Errorf("read the spec's policy: %w", err)}
				}
				if pol, err = policy.Parse(ppath, pdata); err != nil {
					return &exitError{code: exitProblem, err: fmt.Errorf("invalid promotion policy:\n%w", err)}
				}
				if pol.Model != s.Name {
					return &exitError{code: exitProblem, err: fmt.Errorf("%s is the policy of model %q, but the spec is model %q", ppath, pol.Model, s.Name)}
				}
				if pol.Objective != "" && pol.Objective != s.Objective {
					return &exitError{code: exitProblem, err: fmt.Errorf("%s is a policy for %s models, but the spec trains %s", ppath, pol.Objective, s.Objective)}
				}
			}
			cl, err := g.connect()
			if err != nil {
				return err
			}
			a, err := specstore.Apply(cmd.Context(), cl.store, datasetsOf(cl), cl.ep.Buckets.Platform, s, time.Now())
			if err != nil {
				return &exitError{code: exitProblem, err: err}
			}
			out := struct {
				specstore.Applied
				Policy *policystore.Applied `json:"policy,omitempty"`
			}{Applied: a}
			if pol != nil {
				pa, err := policystore.Apply(cmd.Context(), cl.store, cl.ep.Buckets.Platform, pol, time.Now())
				if err != nil {
					return &exitError{code: exitProblem, err: err}
				}
				out.Policy = &pa
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			state := func(changed bool) string {
				if changed {
					return "now current"
				}
				return "unchanged (already current)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model %s: spec %s (%s, checked against contract %s): %s\n",
				a.Model, a.Hash, a.Key, hashid.Short(a.ContractHash), state(a.Changed))
			if out.Policy != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "model %s: promotion policy %s (%s): %s\n",
					a.Model, out.Policy.Hash, out.Policy.Key, state(out.Policy.Changed))
			}
			return nil
		},
	}
}

func newModelsSpecCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "spec NAME",
		Short: "Show a model's current spec (a summary, or its canonical JSON with -o json)",
		Long: `spec prints a summary of the model's current spec. With -o json it prints the
canonical JSON exactly as stored, card included: what the trainer reads.`,
		Example: `  mlops models spec credit
  mlops models spec credit -o json | jq -r .card`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.platform(checkModel(args[0]))
			if err != nil {
				return err
			}
			s, ptr, raw, err := specstore.CurrentRaw(cmd.Context(), cl.store, cl.ep.Buckets.Platform, args[0])
			if errors.Is(err, specstore.ErrNoSpec) {
				return &exitError{code: exitFailed, err: err}
			} else if err != nil {
				return err
			}
			if g.output == "json" {
				_, err = cmd.OutOrStdout().Write(append(raw, '\n'))
				return err
			}
			return writeSpecSummary(cmd.OutOrStdout(), s, ptr)
		},
	}
}

func newModelsSpecsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "specs",
		Short: "List models with their current spec: hash, dataset, objective",
		Example: `  mlops models specs
  mlops models specs -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			list, err := specstore.List(cmd.Context(), cl.store, cl.ep.Buckets.Platform)
			if err != nil {
				return err
			}
			return printTable(cmd.OutOrStdout(), g, list, "no model specs yet: apply one with mlops models apply SPEC.yaml",
				"MODEL\tSPEC\tDATASET\tOBJECTIVE\tAPPLIED", func(m specstore.Summary) string {
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", m.Model, hashid.Short(m.Hash), m.Dataset, m.Objective,
						m.AppliedAt.UTC().Format(time.RFC3339))
				})
		},
	}
}

// writeSpecSummary prints a spec for a person: one line per setting, defaults
// included, so that what the trainer will do is visible without reading JSON.
func writeSpecSummary(w io.Writer, s *spec.Spec, ptr specstore.Pointer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("model", "%s", s.Name)
	line("spec", "%s (current since %s)", ptr.Hash, ptr.At.UTC().Format(time.RFC3339))
	if s.Description != "" {
		line("description", "%s", s.Description)
	}
	line("dataset", "%s", s.Dataset)
	target := s.Target.Column
	if target == "" {
		target = "the contract's target"
	}
	if s.Target.PositiveClass != "" {
		target += fmt.Sprintf(" (positive class %s)", s.Target.PositiveClass)
	}
	line("target", "%s", target)
	line("objective", "%s", s.Objective)
	line("params", "%s", formatParams(s.Params))
	stop := "off"
	if s.EarlyStoppingRounds > 0 {
		stop = fmt.Sprintf("after %d rounds without improvement", s.EarlyStoppingRounds)
	}
	line("rounds", "at most %d; early stopping %s", s.NumBoostRound, stop)
	if s.Objective == spec.BinaryLogistic {
		line("threshold", "%v", s.Threshold)
	}
	line("split", "validation %v, test %v, seed %d", s.Split.Validation, s.Split.Test, s.Split.Seed)
	t := s.Trainer
	image := t.Image
	if image == "" {
		image = "the reference trainer"
	}
	line("trainer", "%s", image)
	if len(t.Command) > 0 {
		line("command", "%s (locally)", strings.Join(t.Command, " "))
	}
	gpus := "CPU only"
	if t.GPUs > 0 {
		gpus = fmt.Sprintf("%d GPU", t.GPUs)
	}
	line("resources", "%s, %d vCPU, %d MiB, timeout %s", gpus, t.VCPUs, t.MemoryMiB, time.Duration(t.TimeoutSeconds)*time.Second)
	line("trigger", "%s", formatTrigger(s.Trigger))
	if s.Policy != "" {
		line("policy", "%s", s.Policy)
	}
	if s.Card != "" {
		line("card", "%q, %d bytes (-o json shows it)", cardTitle(s.Card), len(s.Card))
	}
	return tw.Flush()
}

func formatParams(p map[string]any) string {
	if len(p) == 0 {
		return "XGBoost defaults"
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := p[k]
		if f, ok := v.(float64); ok {
			v = strconv.FormatFloat(f, 'g', -1, 64)
		}
		parts[i] = fmt.Sprintf("%s=%v", k, v)
	}
	return strings.Join(parts, " ")
}

func formatTrigger(t spec.Trigger) string {
	if t.Manual {
		return "manual: only retrain requests train"
	}
	var conds []string
	if t.MinIntervalHours > 0 {
		conds = append(conds, fmt.Sprintf("at most every %v hours", t.MinIntervalHours))
	}
	if t.MinNewRows > 0 {
		conds = append(conds, fmt.Sprintf("after at least %d new rows", t.MinNewRows))
	}
	if len(conds) == 0 {
		return "every new dataset version"
	}
	return "new dataset versions, " + strings.Join(conds, " and ")
}

// cardTitle is the card's first heading, or its first line.
func cardTitle(card string) string {
	first := ""
	for _, l := range strings.Split(card, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			return strings.TrimSpace(strings.TrimLeft(l, "#"))
		}
		if first == "" && l != "" {
			first = l
		}
	}
	return first
}

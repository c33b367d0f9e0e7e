package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/ingest"
)

func newContractCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contract",
		Short: "Propose, store and show dataset contracts",
		Example: `  mlops contract infer data.csv --dataset credit > credit.odcs.yaml
  mlops contract apply credit.odcs.yaml --dataset credit
  mlops contract show credit`,
	}
	cmd.AddCommand(newContractInferCmd(g), newContractApplyCmd(g), newContractShowCmd(g))
	return cmd
}

func newContractInferCmd(g *globals) *cobra.Command {
	var dataset string
	cmd := &cobra.Command{
		Use:   "infer FILE [--dataset NAME]",
		Short: "Print a proposed contract (ODCS YAML) for a CSV file, for a person to edit",
		Long: `infer reads the whole file and proposes column types, null-rate limits, observed
ranges and category sets. The YAML carries what it observed as comments; review it
before you apply it.`,
		Example: `  mlops contract infer examples/credit/credit_data.csv --dataset credit > credit.odcs.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("infer: %w", err)}
			}
			defer f.Close()
			if dataset == "" {
				dataset = "dataset"
			}
			if !ingest.ValidDataset(dataset) {
				return usageErr("--dataset %q: use lower-case letters, digits, - and _", dataset)
			}
			inf, err := contract.Infer(f, dataset, contract.InferOptions{})
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("infer %s: %w", args[0], err)}
			}
			_, err = cmd.OutOrStdout().Write(inf.YAML())
			return err
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "dataset name to put in the contract")
	return cmd
}

func newContractApplyCmd(g *globals) *cobra.Command {
	var dataset string
	cmd := &cobra.Command{
		Use:   "apply FILE --dataset NAME",
		Short: "Store a contract in the platform and make it the dataset's current one",
		Long: `apply checks the contract, stores its canonical JSON under its hash, and moves the
dataset's current-contract pointer to it. Applying the same contract again (even
with other comments or formatting) changes nothing.`,
		Example: `  mlops contract apply examples/credit/credit.odcs.yaml --dataset credit`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			c, err := readContract(args[0])
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if dataset == "" {
				dataset = c.Dataset
			}
			if dataset != c.Dataset {
				return usageErr("--dataset %q does not match the contract's dataset %q", dataset, c.Dataset)
			}
			cl, err := g.connect()
			if err != nil {
				return err
			}
			hash, changed, err := ingest.ApplyContract(cmd.Context(), cl.store, cl.ep.Buckets.Platform, c, time.Now())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"dataset": dataset, "hash": hash, "changed": changed})
			}
			state := "unchanged"
			if changed {
				state = "now current"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "contract %s for dataset %s: %s\n", hash, dataset, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "dataset name (must match the contract)")
	return cmd
}

func newContractShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show DATASET",
		Short:   "Print a dataset's current contract as ODCS YAML (or its canonical JSON with -o json)",
		Example: `  mlops contract show credit`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.platform()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cur, err := datasetsOf(cl).CurrentContract(ctx, args[0])
			if errors.Is(err, ingest.ErrNoContract) {
				return &exitError{code: exitFailed, err: fmt.Errorf("dataset %q has no contract", args[0])}
			} else if err != nil {
				return err
			}
			if g.output == "json" {
				_, err = cmd.OutOrStdout().Write(append(cur.Canon, '\n'))
				return err
			}
			y, err := cur.MarshalODCS()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# contract %s (current since %s)\n", cur.Hash, cur.AppliedAt.Format(time.RFC3339))
			_, err = cmd.OutOrStdout().Write(y)
			return err
		},
	}
}

package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/validate"
)

func newValidateCmd(g *globals) *cobra.Command {
	var contractPath string
	cmd := &cobra.Command{
		Use:   "validate FILE --contract CONTRACT",
		Short: "Check a CSV file against a dataset contract, offline",
		Long: `validate reads FILE once, as ingest would, and reports every broken rule with
example rows. It needs no running platform.

Exit status: 0 valid, 1 invalid, 2 usage error, 3 could not read.`,
		Example: `  mlops validate examples/credit/credit_data.csv --contract examples/credit/credit.odcs.yaml
  mlops validate upload.csv.gz --contract credit.odcs.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if contractPath == "" {
				return usageErr("--contract is required")
			}
			c, err := readContract(contractPath)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("validate: %w", err)}
			}
			defer f.Close()
			res, err := validate.Scan(cmd.Context(), f, c, validate.Options{Name: args[0], TempDir: os.TempDir()})
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("validate %s: %w", args[0], err)}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				if err := printJSON(out, map[string]any{"file": args[0], "valid": res.Valid(), "rows": res.Rows,
					"bytes": res.Bytes, "violations": res.Violations, "profile": res.Profile}); err != nil {
					return err
				}
			} else if res.Valid() {
				fmt.Fprintf(out, "%s: valid (%d rows, %d bytes) under contract %s\n", args[0], res.Rows, res.Bytes, hashid.Short(c.Hash()))
			} else {
				fmt.Fprintln(out, strings.TrimRight(res.Text(), "\n"))
			}
			if !res.Valid() {
				return &exitError{code: exitFailed, err: fmt.Errorf("%s: invalid", args[0])}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&contractPath, "contract", "", "the dataset contract (ODCS YAML)")
	return cmd
}

func readContract(path string) (*contract.Contract, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read contract: %w", err)
	}
	c, err := contract.Parse(path, b)
	if err != nil {
		return nil, fmt.Errorf("contract %s:\n%w", path, err)
	}
	return c, nil
}

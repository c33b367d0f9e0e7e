// Command mlops is the platform's command line: it runs the local platform (`mlops
// up`) and talks to a running one (local, or deployed to AWS with --stack) through
// S3 and the APIs like any other client, never through the state directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// exitError carries the process exit status a command wants.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and the answer is "no" (invalid, rejected)
	exitUsage   = 2 // bad flags or arguments
	exitProblem = 3 // something went wrong (I/O, platform not reachable)
)

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, os.Stdin, term.IsTerminal(int(os.Stdin.Fd())), stdout, stderr)
}

// runWith runs the CLI reading stdin, which is a person at a terminal when
// terminal is true (commands that bind a decision then ask for confirmation).
func runWith(ctx context.Context, args []string, stdin io.Reader, terminal bool, stdout, stderr io.Writer) int {
	root := newRootFor(&globals{terminal: terminal})
	root.SetIn(stdin)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	code := exitProblem
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsage(err) {
		code = exitUsage
	}
	fmt.Fprintln(stderr, "mlops:", err)
	return code
}

// globals are the flags every command shares.
type globals struct {
	dir          string
	endpointFile string
	output       string
	// stack and region: --stack and --region, a platform deployed to AWS.
	stack  string
	region string
	// ctx is the running command's context; resolved the stack it names,
	// read once per command.
	ctx      context.Context
	resolved *stack
	// terminal: standard input is a person at a terminal, who can confirm.
	terminal bool
}

func newRoot() *cobra.Command { return newRootFor(&globals{}) }

func newRootFor(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "mlops",
		Short: "A serverless MLOps platform: datasets, training, promotion, serving, drift and reports",
		Long: `mlops runs the platform locally (mlops up) and talks to a running platform.

Commands find the platform through its endpoint file: --endpoint-file, else
--dir/endpoint.json, else $MLOPS_DIR/endpoint.json, else .mlops/endpoint.json.

With --stack NAME (or $MLOPS_STACK) they talk to the platform deployed to AWS
as that CloudFormation stack instead: its outputs name the buckets and APIs,
S3 is reached with AWS's default credential chain and the APIs' requests are
signed with SigV4 (region: --region, else AWS_REGION or the profile's).`,
		Example: `  mlops up --dir .mlops &
  mlops contract apply examples/credit/credit.odcs.yaml --dataset credit
  mlops upload examples/credit/credit_data.csv --dataset credit --wait
  mlops datasets show credit
  AWS_PROFILE=ops mlops --stack mlops-dev --region eu-west-1 models list`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.checkTarget(cmd) },
	}
	root.PersistentFlags().StringVar(&g.dir, "dir", "", "platform state directory (default $MLOPS_DIR or .mlops)")
	root.PersistentFlags().StringVar(&g.endpointFile, "endpoint-file", "", "endpoint file written by mlops up (wins over --dir)")
	root.PersistentFlags().StringVar(&g.stack, "stack", "", "a platform deployed to AWS: its CloudFormation stack's name (default $MLOPS_STACK)")
	root.PersistentFlags().StringVar(&g.region, "region", "", "the stack's AWS region (default AWS_REGION or the profile's)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	root.AddCommand(newUpCmd(g), newValidateCmd(g), newContractCmd(g), newUploadCmd(g), newDatasetsCmd(g), newEnvCmd(g), newRunsCmd(g))
	root.AddCommand(newModelsCmd(g))
	root.AddCommand(newScoreCmd(g), newPredictCmd(g), newDriftCmd(g), newReportCmd(g))
	return root
}

func isUsage(err error) bool {
	// cobra reports unknown commands and wrong argument counts as plain errors.
	msg := err.Error()
	for _, s := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand", "required flag"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (g *globals) checkOutput() error {
	if g.output != "text" && g.output != "json" {
		return usageErr("--output must be text or json, not %q", g.output)
	}
	return nil
}

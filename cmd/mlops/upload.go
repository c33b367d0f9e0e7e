package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/store"
)

func newUploadCmd(g *globals) *cobra.Command {
	var (
		dataset string
		wait    bool
		timeout time.Duration
		name    string
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "upload FILE --dataset NAME [--wait]",
		Short: "Upload a file to incoming/<dataset>/, with a progress bar",
		Long: `upload puts FILE at s3://<uploads>/incoming/<dataset>/<name>, which triggers
ingest exactly as any S3 client's upload would. With --wait it waits for the
decision and prints the new version, or the rejection report.

Exit status with --wait: 0 accepted, 1 rejected, 3 timed out or failed.`,
		Example: `  mlops upload examples/credit/credit_data.csv --dataset credit --wait
  mlops upload big.csv.gz --dataset credit --name 2026-11.csv.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if !ingest.ValidDataset(dataset) {
				return usageErr("--dataset %q: use lower-case letters, digits, - and _ (at most 63)", dataset)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: exitProblem, err: fmt.Errorf("upload: %w", err)}
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			cl, err := g.connect()
			if err != nil {
				return err
			}
			if name == "" {
				name = filepath.Base(args[0])
			}
			key := ingest.IncomingPrefix + dataset + "/" + name
			var r io.Reader = f
			if !quiet && g.output == "text" {
				bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionShowBytes(true), progressbar.OptionSetDescription("uploading "+name),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(cmd.ErrOrStderr()) }))
				r = io.TeeReader(f, bar)
			}
			// The decision is recorded per contract: note which one is current now.
			chash, err := currentContractHash(cmd, cl, dataset)
			if err != nil {
				return err
			}
			info, err := cl.store.Upload(cmd.Context(), cl.ep.Buckets.Uploads, key, r, store.PutOptions{})
			if err != nil {
				return fmt.Errorf("upload %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			if !wait {
				if g.output == "json" {
					return printJSON(out, map[string]any{"bucket": info.Bucket, "key": key, "etag": info.ETag, "size": st.Size()})
				}
				fmt.Fprintf(out, "uploaded s3://%s/%s (%d bytes, etag %s)\n", cl.ep.Buckets.Uploads, key, st.Size(), info.ETag)
				return nil
			}
			uid := ingest.UploadID(cl.ep.Buckets.Uploads, key, info.ETag, info.VersionID)
			rc, err := waitReceipt(cmd, cl, dataset, uid, chash, timeout)
			if err != nil {
				return err
			}
			return printOutcome(cmd, g, cl, rc)
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "dataset name (required)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for ingest's decision and print it")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	cmd.Flags().StringVar(&name, "name", "", "object name under incoming/<dataset>/ (default: the file's name)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	_ = cmd.MarkFlagRequired("dataset")
	return cmd
}

// waitReceipt polls for the receipt ingest writes once it has decided: the one
// under the contract that was current at upload, or a refusal made without a
// contract (bad key, too large, no contract).
func waitReceipt(cmd *cobra.Command, cl *client, dataset, uploadID, chash string, timeout time.Duration) (ingest.Receipt, error) {
	var rc ingest.Receipt
	deadline := time.Now().Add(timeout)
	delay := 100 * time.Millisecond
	for {
		for _, id := range []string{ingest.ReceiptID(uploadID, chash), ingest.ReceiptID(uploadID, "")} {
			got, ok, err := datasetsOf(cl).Receipt(cmd.Context(), dataset, id)
			if err != nil {
				return rc, fmt.Errorf("wait for ingest: %w", err)
			}
			if !ok {
				continue
			}
			rc = got
			// A refusal for want of a contract predates the contract seen at upload:
			// it was this same object's fate before, not now. Other refusals
			// (bad key, too large) hold whatever the contract.
			if chash != "" && rc.ContractHash == "" && rc.Rejection != nil && slices.Contains(rc.Rejection.Reasons, "no_contract") {
				continue
			}
			return rc, nil
		}
		if time.Now().After(deadline) {
			return rc, &exitError{code: exitProblem, err: fmt.Errorf("no decision after %s; check later with: mlops datasets show %s", timeout, dataset)}
		}
		select {
		case <-cmd.Context().Done():
			return rc, cmd.Context().Err()
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

func printOutcome(cmd *cobra.Command, g *globals, cl *client, rc ingest.Receipt) error {
	out := cmd.OutOrStdout()
	ctx := cmd.Context()
	if rc.Status == ingest.Accepted {
		m, err := datasetsOf(cl).Manifest(ctx, rc.Dataset, rc.VersionID)
		if err != nil {
			return fmt.Errorf("read version %s: %w", rc.VersionID, err)
		}
		if g.output == "json" {
			return printJSON(out, map[string]any{"status": rc.Status, "receipt": rc, "manifest": m})
		}
		fmt.Fprintf(out, "accepted: %s@%s (%d rows, contract %s, sha256 %s)\n",
			rc.Dataset, rc.VersionID, m.Rows, hashid.Short(rc.ContractHash), hashid.Short(rc.PayloadSHA256))
		return nil
	}
	rej := rc.Rejection
	if rej == nil {
		return fmt.Errorf("receipt has status %q and no rejection", rc.Status)
	}
	if g.output == "json" {
		b, err := datasetsOf(cl).RejectionReport(ctx, rej, false)
		if err != nil {
			return err
		}
		if err := printJSON(out, map[string]any{"status": rc.Status, "receipt": rc, "report": json.RawMessage(b)}); err != nil {
			return err
		}
	} else {
		b, err := datasetsOf(cl).RejectionReport(ctx, rej, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rejected; quarantined at s3://%s/%s\n\n%s", rej.Bucket, rej.QuarantineKey, b)
	}
	return &exitError{code: exitFailed, err: errors.New("upload rejected")}
}

// currentContractHash is the hash the dataset's contract pointer names, or "".
func currentContractHash(cmd *cobra.Command, cl *client, dataset string) (string, error) {
	ptr, err := datasetsOf(cl).ContractHash(cmd.Context(), dataset)
	if errors.Is(err, ingest.ErrNoContract) {
		return "", nil
	}
	return ptr.Hash, err
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
)

func newUpCmd(g *globals) *cobra.Command {
	var (
		s3Addr                     string
		reconcileEvery, driftEvery time.Duration
		maxUpload                  int64
		logJSON                    bool
		python                     string
		trainerCmd                 []string
		trainJobs                  int
		apiAddr                    string
		siteAddr                   string
		siteRemote                 bool
		serve                      local.Serving
	)
	cmd := &cobra.Command{
		Use:         "up",
		Annotations: map[string]string{localOnly: "it runs a platform on this machine; deploy a stack with infra/ (see the README)"},
		Short:       "Run the whole platform locally, in this process, until interrupted",
		Long: `up starts the embedded platform: an S3-compatible endpoint on 127.0.0.1 over
a directory (data survives restarts), the event bus that routes uploads to ingest
and new dataset versions to training, the local batch runner that runs the
trainer as a process (/usr/bin/python3 with Debian's python3-xgboost by
default), the reconcile timer, and the HTTPS API: people's decisions and the
prediction endpoint (POST /v1/models/MODEL:predict), behind a bearer token.
Every scored instance is logged to the monitoring bucket, with the contract's
PII columns keyed-hashed (the key is <dir>/pii-key). The report function publishes
the governance site into the site bucket as records change, and up serves it
read-only over plain HTTP at --site-addr (loopback only: the site has no
authentication). It writes <dir>/endpoint.json (endpoint and credentials)
for every other command, and removes it on exit.

Any S3 client works against it, e.g. the aws CLI with the printed credentials.`,
		Example: `  mlops up --dir .mlops
  mlops up --dir /tmp/p --s3-addr 127.0.0.1:9100
  mlops up --out-of-range flag --model-ttl 5s --pii-mode drop
  # then, in another shell:
  eval "$(mlops env)"
  aws --endpoint-url "$MLOPS_S3_URL" s3 cp credit.csv s3://mlops-uploads/incoming/credit/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
			if logJSON {
				h = slog.NewJSONHandler(os.Stderr, nil)
			}
			log := slog.New(h)
			dir := g.stateDir()
			p, err := local.Start(cmd.Context(), local.Config{Dir: dir, S3Addr: s3Addr, ReconcileEvery: reconcileEvery, DriftEvery: driftEvery,
				MaxUploadBytes: maxUpload, Logger: log, Python: python, TrainerCommand: trainerCmd, TrainConcurrency: trainJobs, APIAddr: apiAddr,
				Serving: serve, SiteAddr: siteAddr, SiteRemote: siteRemote})
			if err != nil {
				return err
			}
			ep := p.Endpoint
			if len(trainerCmd) == 0 {
				// The reference trainer needs xgboost 1.7; say so now rather than in
				// the first run's log.
				check := exec.CommandContext(cmd.Context(), p.Trainer[0], "-c", "import xgboost, numpy")
				if out, err := check.CombinedOutput(); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s cannot import xgboost and numpy (%v: %s): training runs will fail; "+
						"install Debian's python3-xgboost and python3-numpy (in the repository: make setup SETUP_GROUPS=demo, "+
						"which runs scripts/setup.sh demo), or pass --python or --trainer\n", p.Trainer[0], err, strings.TrimSpace(string(out)))
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), `mlops platform is up (state in %s)
  S3 endpoint:  %s  (region %s)
  access key:   %s
  secret key:   %s
  buckets:      uploads=%s platform=%s monitoring=%s site=%s
  trainer:      %s (%d job(s) at once)
  API:          %s  (bearer token and CA certificate in the endpoint file; %s needs none)
  predict:      POST %s/v1/models/<model>:predict  (mlops predict MODEL --data FILE)
  site:         %s
  endpoint file: %s

  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s
  aws --endpoint-url %s s3 cp FILE s3://%s/incoming/<dataset>/

Press Ctrl-C to stop.
`, dir, ep.S3.URL, ep.S3.Region, ep.S3.AccessKeyID, ep.S3.SecretAccessKey,
				ep.Buckets.Uploads, ep.Buckets.Platform, ep.Buckets.Monitoring, ep.Buckets.Site,
				strings.Join(p.Trainer, " "), max(trainJobs, 1), ep.API.URL, api.HealthPath, ep.API.URL, siteLine(ep.Site), g.endpointPath(),
				ep.S3.AccessKeyID, ep.S3.SecretAccessKey, ep.S3.Region, ep.S3.URL, ep.Buckets.Uploads)
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.OutOrStdout(), "stopping…")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return p.Close(ctx)
		},
	}
	cmd.Flags().StringVar(&s3Addr, "s3-addr", "127.0.0.1:9000", "address of the S3 endpoint (host:port)")
	cmd.Flags().DurationVar(&reconcileEvery, "reconcile-every", time.Minute, "period of the reconcile sweep (negative disables)")
	cmd.Flags().DurationVar(&driftEvery, "drift-every", 24*time.Hour, "period of the drift run over every champion's previous UTC day (24h: at 01:30 UTC, as in AWS; negative disables; mlops drift run asks at any time)")
	cmd.Flags().Int64Var(&maxUpload, "max-upload-bytes", 0, "largest upload ingest takes (0 = no limit)")
	cmd.Flags().BoolVar(&logJSON, "log-json", false, "write logs as JSON")
	cmd.Flags().StringVar(&python, "python", "", "Python that runs the reference trainer (needs xgboost 1.7; default /usr/bin/python3)")
	cmd.Flags().StringSliceVar(&trainerCmd, "trainer", nil, "a bring-your-own trainer's command, comma-separated (see trainer/README.md)")
	cmd.Flags().IntVar(&trainJobs, "train-jobs", 1, "training jobs run at once")
	cmd.Flags().StringVar(&apiAddr, "api-addr", "127.0.0.1:9443", "address of the HTTPS API (host:port)")
	cmd.Flags().StringVar(&siteAddr, "site-addr", "127.0.0.1:9080", "address the governance site is served on, read-only over plain HTTP (a loopback address: the site has no authentication; empty: not served)")
	cmd.Flags().BoolVar(&siteRemote, "site-remote", false, "allow a --site-addr that is not loopback (only behind your own authentication: the site shows governance data to anyone who reaches it)")
	cmd.Flags().DurationVar(&serve.ModelTTL, "model-ttl", 2*time.Second, "how stale a served champion may be (the pointer is re-read this often)")
	cmd.Flags().StringVar(&serve.UnknownFields, "unknown-fields", "reject", "an instance's field that is no contract column: reject or ignore")
	cmd.Flags().StringVar(&serve.OutOfRange, "out-of-range", "reject", "a value outside its column's bounds: reject, or flag (scored and flagged)")
	cmd.Flags().StringVar(&serve.PIIMode, "pii-mode", "hmac", "PII columns in the prediction log: hmac (keyed hash) or drop")
	cmd.Flags().Float64Var(&serve.SampleRate, "log-sample-rate", 1, "share of prediction requests logged")
	cmd.Flags().BoolVar(&serve.NoShadow, "no-shadow", false, "do not score the version awaiting a decision beside the champion")
	return cmd
}

// siteLine is the banner's line about the governance site.
func siteLine(url string) string {
	if url == "" {
		return "not served (--site-addr is empty); mlops report build --out DIR renders it into a folder"
	}
	return url + "  (governance reports, read-only; published by the report function)"
}

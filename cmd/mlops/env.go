package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newEnvCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Print shell exports that point S3 clients (the aws CLI, SDKs) at the local platform",
		Long: `env prints shell exports that point S3 clients (the aws CLI, SDKs) at the local
platform: its endpoint, credentials, buckets and API. With --stack it prints the
stack's region, buckets and API URLs (credentials stay the default chain's).`,
		Example: `  eval "$(mlops env)"
  eval "$(mlops env --stack mlops-dev)" && aws s3 ls "s3://$MLOPS_UPLOADS_BUCKET/incoming/"
  aws --endpoint-url "$MLOPS_S3_URL" s3 cp credit.csv "s3://$MLOPS_UPLOADS_BUCKET/incoming/credit/"
  curl --cacert "$MLOPS_API_CACERT" -H "Authorization: Bearer $MLOPS_API_TOKEN" "$MLOPS_API_URL/healthz"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.stackName() != "" {
				return g.stackEnv(cmd)
			}
			ep, err := g.readEndpoint()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_DEFAULT_REGION=%s\nexport AWS_ENDPOINT_URL_S3=%s\nexport MLOPS_S3_URL=%s\nexport MLOPS_UPLOADS_BUCKET=%s\nexport MLOPS_PLATFORM_BUCKET=%s\n",
				shellQuote(ep.S3.AccessKeyID), shellQuote(ep.S3.SecretAccessKey), shellQuote(ep.S3.Region), shellQuote(ep.S3.URL),
				shellQuote(ep.S3.URL), shellQuote(ep.Buckets.Uploads), shellQuote(ep.Buckets.Platform))
			if ep.API.URL != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "export MLOPS_API_URL=%s\nexport MLOPS_API_TOKEN=%s\nexport MLOPS_API_CACERT=%s\n",
					shellQuote(ep.API.URL), shellQuote(ep.API.Token), shellQuote(ep.API.CACert))
			}
			return nil
		},
	}
}

// stackEnv prints the stack's region, buckets and URLs: AWS clients take
// their credentials and endpoints from the default chain as usual.
func (g *globals) stackEnv(cmd *cobra.Command) error {
	s, err := g.deployed()
	if err != nil {
		return err
	}
	o := s.out
	// The stack's API URLs end in "/"; the variables do not, so that
	// "$MLOPS_DECISIONS_API_URL/v1/models" is the route and not "//v1/models".
	api := func(u string) string { return shellQuote(strings.TrimSuffix(u, "/")) }
	fmt.Fprintf(cmd.OutOrStdout(), "export AWS_REGION=%s\nexport MLOPS_STACK=%s\nexport MLOPS_UPLOADS_BUCKET=%s\nexport MLOPS_PLATFORM_BUCKET=%s\n"+
		"export MLOPS_MONITORING_BUCKET=%s\nexport MLOPS_DECISIONS_API_URL=%s\nexport MLOPS_PREDICTION_API_URL=%s\nexport MLOPS_SITE_URL=%s\n",
		shellQuote(o.Region), shellQuote(o.Stack), shellQuote(o.UploadsBucket), shellQuote(o.PlatformBucket),
		shellQuote(o.MonitoringBucket), api(o.DecisionsAPIURL), api(o.PredictionAPIURL), shellQuote(o.SiteURL))
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
			continue
		}
		out += string(r)
	}
	return out + "'"
}

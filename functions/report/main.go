// Command report is the report function: wiring only. The work is in
// shared/report, which `mlops up` runs too. It takes the platform's events
// about models and datasets, drift reports and datasheets as they are
// written, the nightly schedule (a full rebuild), and direct invocations
// ({"full": true}, {"models": ["credit"]}).
package main

import (
	"log/slog"
	"os"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the report function's: the site published from the stack's
// buckets into its site bucket.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	svc, err := wire.Report(s, c, log)
	if err != nil {
		return nil, err
	}
	return svc.Handle, nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "MONITORING_BUCKET", "SITE_BUCKET", "EVENT_BUS_NAME"}, handler)
}

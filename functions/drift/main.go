// Command drift is the drift Lambda: wiring only. The work is in shared/drift,
// which `mlops up` runs too. It takes the nightly schedule, feedback files
// uploaded under feedback/, on-demand requests under requests/drift/, and
// direct invocations ({"model": "credit", "from": "2026-12-01", "to": "2026-12-03"}).
package main

import (
	"log/slog"
	"os"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the drift function's: drift over the stack's buckets.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	svc, err := wire.Drift(s, c, log)
	if err != nil {
		return nil, err
	}
	return svc.Handle, nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "MONITORING_BUCKET", "EVENT_BUS_NAME"}, handler)
}

// Command ingest is the ingest Lambda: wiring only. The work is in shared/ingest,
// which `mlops up` runs too.
package main

import (
	"log/slog"
	"os"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the ingest function's: ingest over the stack's buckets.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	return wire.Ingest(s, c, log).Handle, nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"}, handler)
}

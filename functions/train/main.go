// Command train is the train Lambda: wiring only. The work is in shared/training,
// which `mlops up` runs too (with the local batch runner in place of AWS Batch).
package main

import (
	"log/slog"
	"os"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

// handler is the train function's: the training service over the stack's
// Batch settings.
func handler(s lambdaenv.Settings, c *lambdaenv.Clients, log *slog.Logger) (any, error) {
	t, err := lambdaenv.ReadTraining(os.Getenv)
	if err != nil {
		return nil, err
	}
	svc, err := wire.Training(s, t, c, log)
	if err != nil {
		return nil, err
	}
	return svc.Handle, nil
}

func main() {
	lambdaenv.Start(os.Getenv, []string{"PLATFORM_BUCKET", "EVENT_BUS_NAME"}, handler)
}

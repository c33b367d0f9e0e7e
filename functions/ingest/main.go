// Command ingest is the ingest Lambda: wiring only. The work is in shared/ingest,
// which `mlops up` runs too.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/wire"
)

func main() {
	log := lambdaenv.Logger()
	s, c, err := lambdaenv.Setup(context.Background(), os.Getenv, "UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	lambda.Start(wire.Ingest(s, c, log).Handle)
}

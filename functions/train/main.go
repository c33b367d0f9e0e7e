// Command train is the train Lambda: wiring only. The work is in shared/training,
// which `mlops up` runs too (with the local batch runner in place of AWS Batch).
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
	s, c, err := lambdaenv.Setup(context.Background(), os.Getenv, "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	t, err := lambdaenv.ReadTraining(os.Getenv)
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	svc, err := wire.Training(s, t, c, log)
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}

// Command gate is the promotion gate's Lambda: wiring only. The work is in
// shared/gate over shared/registry, which `mlops up` runs too.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/gate"
	"github.com/openmlops/mlops/shared/registry"
)

func main() {
	log := lambdaenv.Logger()
	s, c, err := lambdaenv.Setup(context.Background(), os.Getenv, "PLATFORM_BUCKET", "EVENT_BUS_NAME")
	if err != nil {
		log.Error("cold start", "error", err)
		os.Exit(1)
	}
	reg := registry.New(c.Store, registry.Config{Bucket: s.PlatformBucket, Logger: log})
	svc := gate.New(c.Store, c.Publisher, reg, gate.Config{Bucket: s.PlatformBucket, Logger: log})
	lambda.Start(svc.Handle)
}

// Command infra is the platform's CDK app: `cdk synth` (make synth) writes
// one template per stage under cdk.out/, `cdk deploy mlops-dev` deploys one.
// The stages' accounts, regions and options come from the cdk context
// (cdk.json, or -c key=value): see ../README.md, "Deploying to AWS".
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/openmlops/mlops/infra/platform"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if err := platform.Stages(app, func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}

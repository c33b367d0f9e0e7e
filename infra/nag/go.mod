// Not Go: the npm packages of the synth and cdk-nag checks. This file keeps
// node_modules (which holds Go templates of the CDK CLI) out of ../go.mod.
module github.com/openmlops/mlops/infra/nag

go 1.26.0

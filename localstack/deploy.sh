#!/usr/bin/env bash
# Deploys the dev stage of the platform's stack to LocalStack with cdklocal.
# Untested here: no Docker engine runs on this project's machines.
#
#   docker compose -f localstack/compose.yaml up -d
#   localstack/deploy.sh
#
# Needs: docker, make, go, node and npm (scripts/setup.sh infra installs the CDK CLI under infra/nag).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 CDK_DISABLE_CLI_TELEMETRY=true
export PATH="$root/infra/nag/node_modules/.bin:$PATH"   # cdklocal wraps this cdk

curl -fsS http://localhost:4566/_localstack/health >/dev/null || {
  echo "deploy: LocalStack is not answering on localhost:4566 (docker compose -f localstack/compose.yaml up -d)" >&2
  exit 1
}
make functions
cd infra
# dev's options, no reserved concurrency (LocalStack's account has little),
# and a stand-in trainer image: ECR and Batch are Pro features, so nothing
# builds, pushes or runs it (the digest only has to be well formed).
zeros=0000000000000000000000000000000000000000000000000000000000000000
ctx='{"account": "000000000000", "region": "'"$AWS_DEFAULT_REGION"'", "retainData": false, "reserveConcurrency": false,
  "trainerImage": "localstack/mlops-trainer@sha256:'"$zeros"'"}'
npx --yes aws-cdk-local@3.0.4 bootstrap -c "mlops:dev=$ctx" aws://000000000000/"$AWS_DEFAULT_REGION"
npx --yes aws-cdk-local@3.0.4 deploy -c "mlops:dev=$ctx" --require-approval never \
  --outputs-file "$root/localstack/outputs.json" mlops-dev
echo "deploy: outputs in localstack/outputs.json"

#!/usr/bin/env bash
# Smoke test of the stack on LocalStack, as far as its free edition goes:
# the credit contract applied with `mlops --stack` (CloudFormation's outputs
# and S3, both LocalStack's), then an upload under incoming/ must be taken by
# the ingest function (S3 → EventBridge → Lambda) and become a dataset version. Training (Batch), the APIs (HTTP APIs) and the site
# (CloudFront) are Pro features: `mlops up` covers them locally.
# Untested here: no Docker engine runs on this project's machines.
#
#   localstack/deploy.sh && localstack/smoke.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
aws() { command aws --endpoint-url http://localhost:4566 "$@"; }

outputs="$root/localstack/outputs.json"
[ -f "$outputs" ] || { echo "smoke: no $outputs: run localstack/deploy.sh first" >&2; exit 1; }
out() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mlops-dev"][sys.argv[2]])' "$outputs" "$1"; }
uploads=$(out UploadsBucket)
platform=$(out PlatformBucket)

mlops=${MLOPS:-$root/bin/mlops}
[ -x "$mlops" ] || (cd "$root" && make cli)
MLOPS_CLOUDFORMATION_ENDPOINT=http://localhost:4566 MLOPS_S3_ENDPOINT=http://localhost:4566 MLOPS_S3_PATH_STYLE=true \
  "$mlops" --stack mlops-dev contract apply "$root/examples/credit/credit.odcs.yaml" --dataset credit

aws s3 cp "$root/examples/credit/credit_data.csv" "s3://$uploads/incoming/credit/smoke.csv"
for _ in $(seq 1 60); do
  if aws s3 ls "s3://$platform/datasets/credit/versions/" --recursive | grep -q manifest.json; then
    echo "smoke: ingest versioned the dataset (s3://$platform/datasets/credit/versions/)"
    exit 0
  fi
  if aws s3 ls "s3://$uploads/quarantine/credit/" --recursive | grep -q report.json; then
    echo "smoke: ingest quarantined a valid upload: read its report under s3://$uploads/quarantine/credit/" >&2
    exit 1
  fi
  sleep 5
done
echo "smoke: nothing from ingest after 5 minutes: see the function's logs (aws logs tail /aws/lambda/mlops-dev-ingest)" >&2
exit 1

#!/usr/bin/env bash
# Runs the store's tests against the embedded S3 endpoint of `mlops up`, the
# local platform's real server, so both ends of local mode are held to the same
# AWS semantics the store's tests check (make test uses gofakes3 for them).
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/mlops ./cmd/mlops
DIR=$(mktemp -d -t mlops-store-XXXXXX)
bin/mlops up --dir "$DIR" --s3-addr 127.0.0.1:0 --reconcile-every=-1s >"$DIR/up.log" 2>&1 &
PID=$!
trap 'kill -INT $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do [ -f "$DIR/endpoint.json" ] && break; sleep 0.1; done
[ -f "$DIR/endpoint.json" ] || { cat "$DIR/up.log"; exit 1; }
eval "$(bin/mlops env --dir "$DIR")"
MLOPS_TEST_S3_ENDPOINT=$MLOPS_S3_URL MLOPS_TEST_S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID \
  MLOPS_TEST_S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY go test -count=1 -v ./shared/store/ 2>&1 | grep -E '^(--- |ok|FAIL|PASS)|_test.go'

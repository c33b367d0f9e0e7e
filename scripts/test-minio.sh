#!/usr/bin/env bash
# Runs the store's tests against MinIO, which follows AWS's conditional-write
# semantics (gofakes3, the default test server, does not in places). MinIO is
# AGPL-licensed: it is built and run as a separate program, never imported.
#
#   go install github.com/minio/minio@latest   # once; about 7 minutes
#   make test-minio                            # MINIO=/path/to/minio to override
set -euo pipefail
cd "$(dirname "$0")/.."
MINIO=${MINIO:-$(go env GOPATH)/bin/minio}
[ -x "$MINIO" ] || { echo "minio not found at $MINIO: go install github.com/minio/minio@latest"; exit 2; }
DIR=$(mktemp -d -t mlops-minio-XXXXXX)
PORT=${MINIO_PORT:-$((20000 + RANDOM % 20000))}
export MINIO_ROOT_USER=mlopsminio MINIO_ROOT_PASSWORD=mlops-minio-secret MINIO_BROWSER=off
"$MINIO" server "$DIR/data" --address "127.0.0.1:$PORT" --quiet >"$DIR/minio.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/minio/health/live" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/minio/health/live" >/dev/null || { cat "$DIR/minio.log"; exit 1; }
MLOPS_TEST_S3_ENDPOINT="http://127.0.0.1:$PORT" MLOPS_TEST_S3_ACCESS_KEY=$MINIO_ROOT_USER \
  MLOPS_TEST_S3_SECRET_KEY=$MINIO_ROOT_PASSWORD go test -count=1 -v ./shared/store/ 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|_test.go' 

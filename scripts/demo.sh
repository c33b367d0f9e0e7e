#!/usr/bin/env bash
# The demo: start the local platform, apply the credit contract and model spec,
# upload the sample (accepted: a new dataset version, which trains a model with the
# reference trainer under the local batch runner), score with the trained bundle
# (the Go evaluator reproduces xgboost's recorded predictions), find version 1
# of the model pending approval and approve it (champion), upload a broken file
# (rejected: the report), send applicants to the champion over HTTPS (their
# predictions with the top reasons; a call without the token is refused),
# upload the first 2000 rows with the real aws CLI when
# it is installed (the policy rejects that model, with the reasons), retrain a
# second good version, approve it, roll back to the first, upload a degraded
# dataset (labels that follow nothing: the policy rejects its model, with every
# failed check), show the audit trail with its hashes and verify it, send
# normal then shifted traffic and show drift on exactly the shifted features,
# upload labels and show live quality beside the estimate, store the dataset's
# datasheet, build the governance site into ./site/ and fetch the one mlops up
# serves, and stop, printing the site's address and site/index.html. Exits 0
# only if every step behaved as described.
set -euo pipefail
cd "$(dirname "$0")/.."
MLOPS=${MLOPS:-bin/mlops}
DIR=${DEMO_DIR:-$(mktemp -d -t mlops-demo-XXXXXX)}
mkdir -p "$DIR"
export MLOPS_DIR=$DIR
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_state MODEL VERSION STATE: the gate decides after training, asynchronously.
wait_state() {
  for _ in $(seq 600); do
    "$MLOPS" models show "$1@$2" -o json 2>/dev/null | grep -q "^  \"state\": \"$3\"," && return 0
    sleep 0.1
  done
  echo "$1 version $2 never reached $3:"; "$MLOPS" models show "$1@$2" || true; "$MLOPS" models history "$1" || true
  return 1
}
# latest_version MODEL: the newest registered version's number.
latest_version() {
  "$MLOPS" models show "$1" -o json | sed -n 's/^      "version": \([0-9]*\),$/\1/p' | tail -n 1
}

step "mlops up (state in $DIR)"
# The site on 127.0.0.1:9080 unless SITE_ADDR says otherwise (127.0.0.1:0: any free port).
SITE_ADDR=${SITE_ADDR:-127.0.0.1:9080}
"$MLOPS" up --dir "$DIR" --s3-addr 127.0.0.1:0 --api-addr 127.0.0.1:0 --site-addr "$SITE_ADDR" >"$DIR/up.log" 2>&1 &
UP_PID=$!
trap 'kill -INT $UP_PID 2>/dev/null; wait $UP_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$DIR/endpoint.json" ] && break; sleep 0.1; done
[ -f "$DIR/endpoint.json" ] || { echo "platform did not start:"; cat "$DIR/up.log"; exit 1; }
sed -n '1,6p' "$DIR/up.log"

step "mlops contract apply examples/credit/credit.odcs.yaml"
"$MLOPS" contract apply examples/credit/credit.odcs.yaml --dataset credit

step "mlops models apply examples/credit/credit.model.yaml"
"$MLOPS" models apply examples/credit/credit.model.yaml

step "mlops upload examples/credit/credit_data.csv --wait   (expect: accepted)"
"$MLOPS" upload examples/credit/credit_data.csv --dataset credit --wait --quiet

step "mlops datasets show credit@latest"
"$MLOPS" datasets show credit@latest

step "mlops runs wait --model credit   (the new version trains a model)"
"$MLOPS" runs wait --model credit --timeout 10m
RUN=$("$MLOPS" runs list --model credit -o json | sed -n 's/^    "runId": "\(.*\)",$/\1/p' | head -n 1)
[ -n "$RUN" ] || { echo "no run found"; exit 1; }

step "mlops runs logs $RUN | tail -5"
"$MLOPS" runs logs "$RUN" | tail -n 5

step "mlops score --bundle s3://mlops-platform/runs/$RUN/bundle/   (verified, then scored by the Go evaluator)"
"$MLOPS" score --bundle "s3://mlops-platform/runs/$RUN/bundle/" --null NA --input examples/credit/credit_data.csv --output "$DIR/scored.csv"
head -n 8 "$DIR/scored.csv" | cut -d, -f1,2,3,4,15,16 | tr , "\t"

step "mlops models show credit   (the gate registered version 1: it waits for a person)"
wait_state credit 1 pending_approval
"$MLOPS" models show credit

step "mlops models show credit@1   (checks by policy hash, events)"
"$MLOPS" models show credit@1

# The reviewer approves the bundle they reviewed: the approval binds to its hash
# (at a terminal, mlops asks to confirm the hash it shows; here it is named).
SHA1=$("$MLOPS" models show credit@1 -o json | sed -n 's/^  "bundleSha256": "\([0-9a-f]*\)",$/\1/p')
[ -n "$SHA1" ] || { echo "no bundle hash for version 1"; exit 1; }
step "mlops models approve credit 1 --reason \"reviewed the card and the slices\" --bundle-sha256 $SHA1"
"$MLOPS" models approve credit 1 --reason "reviewed the card and the slices" --bundle-sha256 "$SHA1"

step "mlops models show credit   (expect: version 1 champion)"
"$MLOPS" models show credit
wait_state credit 1 champion

API_URL=$(sed -n 's/^    "url": "\(https:[^"]*\)",\{0,1\}$/\1/p' "$DIR/endpoint.json")
API_CA=$(sed -n 's/^    "caCert": "\([^"]*\)",\{0,1\}$/\1/p' "$DIR/endpoint.json")
if [ -z "$API_URL" ] || [ -z "$API_CA" ]; then echo "endpoint.json names no HTTPS API"; exit 1; fi
step "the prediction endpoint: POST $API_URL/v1/models/credit:predict   (the champion, with its top reasons)"
head -n 5 examples/credit/credit_data.csv > "$DIR/applicants.csv"
# The endpoint serves a new champion within two TTLs of the decision (4 s here).
for _ in $(seq 50); do "$MLOPS" predict credit --data "$DIR/applicants.csv" >/dev/null 2>&1 && break; sleep 0.2; done
"$MLOPS" predict credit --data "$DIR/applicants.csv" --explain

step "curl without the token   (expect: 401, refused)"
CODE=$(curl -sS --cacert "$API_CA" -o "$DIR/refused.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data '{"instances": [{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30}]}' "$API_URL/v1/models/credit:predict")
cat "$DIR/refused.json"
[ "$CODE" = 401 ] || { echo "a call without the token answered $CODE, not 401: the demo failed"; exit 1; }
echo "HTTP $CODE"

step "mlops upload examples/credit/credit_broken.csv --wait   (expect: rejected, with the report)"
if "$MLOPS" upload examples/credit/credit_broken.csv --dataset credit --wait --quiet; then
  echo "the broken file was accepted: the demo failed"; exit 1
fi

AWS=${AWS_CLI:-/usr/bin/aws}
if [ -x "$AWS" ]; then
  step "the same upload through the real aws CLI (any S3 client works)"
  eval "$("$MLOPS" env)"
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  head -n 2001 examples/credit/credit_data.csv > "$DIR/credit_first_2000.csv"
  "$AWS" --endpoint-url "$MLOPS_S3_URL" s3 cp --no-progress "$DIR/credit_first_2000.csv" "s3://$MLOPS_UPLOADS_BUCKET/incoming/credit/credit_first_2000.csv"
  for _ in $(seq 100); do
    n=$("$MLOPS" datasets show credit -o json | grep -c '"versionId":' || true)
    [ "$n" -ge 2 ] && break; sleep 0.2
  done
fi

step "mlops datasets show credit"
"$MLOPS" datasets show credit

if [ -x "$AWS" ]; then
  step "mlops runs wait --model credit   (the second version trained too)"
  V2=$("$MLOPS" datasets show credit@latest -o json | sed -n 's/^  "versionId": "\(.*\)",$/\1/p' | head -n 1)
  "$MLOPS" runs wait --model credit --dataset-version "$V2" --timeout 10m >/dev/null
fi

if [ -x "$AWS" ]; then
  step "mlops models show credit@2   (2000 rows: the policy rejects it)"
  wait_state credit 2 rejected
  "$MLOPS" models show credit@2
  echo "reasons:"
  "$MLOPS" models history credit -o json | sed -n 's/^    "reason": "\(policy failed: .*\)",$/  \1/p' | tail -n 1
fi

step "mlops runs retrain credit --dataset-version <the first one>   (a second good version)"
V1DATA=$("$MLOPS" models show credit@1 -o json | sed -n 's/^  "datasetVersion": "\(.*\)",$/\1/p')
[ -n "$V1DATA" ] || { echo "version 1 names no dataset version"; exit 1; }
PREV=$(latest_version credit)
"$MLOPS" runs retrain credit --dataset-version "$V1DATA" --reason "a second good version" --wait --timeout 10m >/dev/null
# The gate registers the run a moment after it ends.
GOOD=$PREV
for _ in $(seq 600); do
  GOOD=$(latest_version credit)
  [ -n "$GOOD" ] && [ "$GOOD" -gt "$PREV" ] && break
  sleep 0.1
done
if ! { [ -n "$GOOD" ] && [ "$GOOD" -gt "$PREV" ]; }; then echo "the retrain registered no new version"; exit 1; fi
wait_state credit "$GOOD" pending_approval

step "mlops models approve credit $GOOD   (expect: version $GOOD champion, version 1 archived)"
"$MLOPS" models approve credit "$GOOD" --reason "retrained; same checks passed"
wait_state credit "$GOOD" champion
wait_state credit 1 archived
"$MLOPS" models list

step 'mlops models rollback credit --reason "..."   (expect: version 1 champion again)'
"$MLOPS" models rollback credit --reason "rolling back to the reviewed version 1 while $GOOD is investigated"
wait_state credit 1 champion
wait_state credit "$GOOD" archived
"$MLOPS" models show credit

step "a degraded dataset: labels that no longer follow the applicants   (expect: the policy rejects its model)"
# Every fourth application marked bad, whatever it says: valid under the
# contract, so ingest accepts it, but nothing a model can learn from.
awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { $1 = (NR % 4 == 0) ? "\"bad\"" : "\"good\""; print }' \
  examples/credit/credit_data.csv > "$DIR/credit_degraded.csv"
PREV=$(latest_version credit)
"$MLOPS" upload "$DIR/credit_degraded.csv" --dataset credit --wait --quiet
BAD=$PREV
for _ in $(seq 1200); do
  BAD=$(latest_version credit)
  [ -n "$BAD" ] && [ "$BAD" -gt "$PREV" ] && break
  sleep 0.1
done
if ! { [ -n "$BAD" ] && [ "$BAD" -gt "$PREV" ]; }; then echo "the degraded dataset's model was never registered"; exit 1; fi
wait_state credit "$BAD" rejected
echo "version $BAD rejected:"
"$MLOPS" models history credit -o json | sed -n 's/^    "reason": "\(policy failed: .*\)",$/  \1/p' | tail -n 1 | tr ';' '\n'

step "mlops models history credit   (the full, ordered audit trail with hashes)"
"$MLOPS" models history credit

step "mlops models verify credit"
"$MLOPS" models verify credit

step "mlops runs list --model credit"
"$MLOPS" runs list --model credit

step "mlops datasets rejections credit"
"$MLOPS" datasets rejections credit

step "mlops datasets list"
"$MLOPS" datasets list

step "drift: normal traffic, then shifted traffic (ages +15 years, incomes doubled)   (expect: drift on exactly Age and Income)"
# Every applicant once as they are, then once with ages and incomes moved, in
# requests of at most 1000 instances (the endpoint's limit).
split_csv() { # split_csv IN PREFIX: PREFIX-0.csv, PREFIX-1.csv, ... each with the header
  awk -v p="$2" 'NR == 1 { h = $0; next } { f = p "-" int((NR - 2) / 1000) ".csv"; if (!(f in seen)) { print h > f; seen[f] = 1 } print > f }' "$1"
}
awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { $5 = ($5 + 15 > 120) ? 120 : $5 + 15; if ($10 != "NA") $10 = $10 * 2; print }' \
  examples/credit/credit_data.csv > "$DIR/shifted.csv"
split_csv examples/credit/credit_data.csv "$DIR/normal"
DAY=$(date -u +%F)   # the traffic's UTC day (a demo run across midnight splits it: run it again)
split_csv "$DIR/shifted.csv" "$DIR/shifted"
for f in "$DIR"/normal-*.csv; do "$MLOPS" predict credit --data "$f" -o json > "${f%.csv}.json"; done
REQ=$(sed -n 's/^  "requestId": "\(.*\)",\{0,1\}$/\1/p' "$DIR/normal-0.json")
[ -n "$REQ" ] || { echo "no request id in the endpoint's answer"; exit 1; }
"$MLOPS" drift run --model credit --date "$DAY" || { echo "normal traffic was called drift: the demo failed"; exit 1; }
for f in "$DIR"/shifted-*.csv; do "$MLOPS" predict credit --data "$f" -o json > /dev/null; done
if "$MLOPS" drift run --model credit --date "$DAY"; then echo "shifted traffic was not called drift: the demo failed"; exit 1; fi
"$MLOPS" drift show credit --date "$DAY" | sed -n '1,/^not compared\|^$/p'
"$MLOPS" drift show credit --date "$DAY" -o json > "$DIR/drift.json"
DRIFTED=$(tr -d ' \n' < "$DIR/drift.json" | sed -n 's/.*"driftedFeatures":\[\([^]]*\)\].*/\1/p')
echo "drifted features: $DRIFTED"
[ "$DRIFTED" = '"Age","Income"' ] || { echo "drift on $DRIFTED, not exactly Age and Income: the demo failed"; exit 1; }

if [ -x "$AWS" ]; then
  step "labels arrive later: feedback/credit/labels.csv for the first 300 normal applicants   (expect: live quality)"
  awk -F, -v req="$REQ" 'NR == 1 { print "request_id,index,label"; next } NR <= 301 { gsub(/"/, "", $1); print req "," NR - 2 "," $1 }' \
    "$DIR/normal-0.csv" > "$DIR/labels.csv"
  "$AWS" --endpoint-url "$MLOPS_S3_URL" s3 cp --no-progress "$DIR/labels.csv" "s3://$MLOPS_UPLOADS_BUCKET/feedback/credit/labels.csv"
  # The drift function joins the labels to their predictions when the upload's event arrives.
  for _ in $(seq 50); do
    "$MLOPS" drift run --model credit --date "$DAY" > /dev/null || true
    "$MLOPS" drift show credit --date "$DAY" > "$DIR/drift.txt"
    grep -q '^live quality: 300 labelled' "$DIR/drift.txt" && break
    sleep 0.2
  done
  sed -n '/^live quality/,$p' "$DIR/drift.txt"
  grep -q '^live quality: 300 labelled' "$DIR/drift.txt" || { echo "the labels gave no live quality: the demo failed"; exit 1; }
fi

step "mlops datasets describe credit examples/credit/datasheet.md   (the datasheet's human sections)"
"$MLOPS" datasets describe credit examples/credit/datasheet.md

step "mlops report build --out site   (the governance site, as static files)"
rm -rf site
"$MLOPS" report build --out site | tee "$DIR/report.txt"
if grep -q 'could not be read' "$DIR/report.txt"; then echo "the site names records it could not read: the demo failed"; exit 1; fi
# The pages the demo promises: the index, the credit model's card (version 1,
# the champion), its runs, drift, audit log and lineage, and the datasheet of
# the dataset version it was trained on.
for page in site/index.html site/models/credit/index.html site/models/credit/v1/index.html \
  site/models/credit/runs.html site/models/credit/drift.html site/models/credit/audit.html site/models/credit/lineage.html \
  site/datasets/credit/index.html "site/datasets/credit/$V1DATA/index.html" \
  site/assets/site.css site/assets/site.js site/assets/echarts.min.js; do
  [ -s "$page" ] || { echo "report build wrote no $page: the demo failed"; exit 1; }
done
grep -q 'models/credit/' site/index.html || { echo "the index does not list the credit model: the demo failed"; exit 1; }

SITE_URL=$(sed -n 's/^  "site": "\(http[^"]*\)",\{0,1\}$/\1/p' "$DIR/endpoint.json")
[ -n "$SITE_URL" ] || { echo "endpoint.json names no site address"; exit 1; }
step "the site mlops up publishes and serves: $SITE_URL   (read-only, loopback only)"
for _ in $(seq 100); do curl -fsS -o /dev/null "$SITE_URL" && break; sleep 0.1; done
curl -fsS -D - -o /dev/null "$SITE_URL" | grep -i '^\(HTTP\|content-type\|content-security-policy\|cache-control\)'
curl -fsS -o /dev/null "${SITE_URL}models/credit/index.html" || { echo "the served site has no credit model page: the demo failed"; exit 1; }

step "stop"
kill -INT $UP_PID; wait $UP_PID || true; trap - EXIT
echo "demo finished: state kept in $DIR"
echo "governance site, served while mlops up runs: $SITE_URL   (again: $MLOPS up --dir $DIR --site-addr ${SITE_ADDR})"
echo "governance site, built: $(pwd)/site/index.html"

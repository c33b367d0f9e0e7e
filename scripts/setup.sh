#!/usr/bin/env bash
# setup.sh: install what the local platform, the demo, the tests, the linters or
# the benchmarks need, and nothing else. `make demo`, `make test`, `make lint` and
# `make bench` run it first, and so does .ci/run, so this is the one list of the
# project's outside dependencies.
#
#   scripts/setup.sh [--dry-run] GROUP...     GROUP: demo, test, lint, bench, infra, all
#
# It looks each dependency up without importing or running it (a Python module by
# importlib.util.find_spec under the trainer's Python, a program by `command -v`,
# a Go tool by its version), installs only what is missing with apt-get (through
# `sudo -n` when not root, so it never prompts), prints one line for each thing it
# installs and why, and prints nothing else when there is nothing to do. Without
# apt-get (or root, or password-less sudo) it names every missing dependency and
# how to get it, and exits 1 before anything else runs. --dry-run reports what it
# would install and exits 0.
#
# Environment: MLOPS_PYTHON is the Python the reference trainer runs under and the
# tests use as their oracle (default /usr/bin/python3: Debian's python3-* packages
# are importable only there); AWS_CLI is the aws CLI they use (default
# /usr/bin/aws). For tests: SETUP_APT_GET replaces apt-get, SETUP_EXTRA_DEPS
# adds lines to the table below, and SETUP_ROOT is the checkout whose npm folders
# are looked at (default: this script's).
set -euo pipefail
cd "${SETUP_ROOT:-$(dirname "$0")/..}"

PYTHON=${MLOPS_PYTHON:-/usr/bin/python3}
APT_GET=${SETUP_APT_GET:-apt-get}
# The aws CLI the demo and the tests run: Debian's (version 2), not another one
# that happens to be first on PATH.
AWS_CLI=${AWS_CLI:-/usr/bin/aws}
STATICCHECK_VERSION=v0.8.2  # `make lint`; pinned so that every machine lints alike

# The dependencies, one a line: group, kind, what is looked up, the Debian package
# (or Go module) that provides it, and why. Kinds: py (a module importable under
# $PYTHON), cmd (a program on PATH), go (a Go tool installed with `go install`),
# npm (a folder whose committed package-lock.json `npm ci` installs).
DEPS=$(cat <<'EOF'
demo   py   xgboost     python3-xgboost   the reference trainer trains with xgboost 1.7
demo   py   numpy       python3-numpy     the reference trainer's arrays
demo   cmd  AWS_CLI     awscli            one upload goes through the real aws CLI, as a data scientist's would
demo   cmd  curl        curl              the demo calls the prediction endpoint without its token, as an outsider would
test   py   xgboost     python3-xgboost   the trainer's tests; xgboost is the oracle for the Go evaluator
test   py   numpy       python3-numpy     the trainer and the oracles
test   py   pandas      python3-pandas    the oracle for profiles and metrics
test   py   scipy       python3-scipy     the oracle for statistics
test   py   boto3       python3-boto3     the trainer's S3 path, tested against the embedded S3
test   cmd  AWS_CLI     awscli            the real aws CLI is one of the embedded S3's test clients
test   cmd  make        make              the test commands are make targets
test   cmd  curl        curl              scripts/test-minio.sh polls MinIO until it is up
test   cmd  wrk         wrk               the prediction endpoint's swap-under-load test drives it with wrk
test   cmd  chromium    chromium          headless Chromium loads the governance site's pages and checks their charts
test   cmd  node        nodejs            the CDK (jsii runs the Go stack's constructs in Node), the CDK CLI and cdk-nag
test   cmd  npm         npm               installs infra/nag's locked packages
test   npm  infra/nag   package-lock.json the CDK CLI (make synth) and cdk-nag's AwsSolutions checks (the infra tests)
infra  cmd  node        nodejs            the CDK: jsii runs the Go stack's constructs in Node (make synth, make deploy)
infra  cmd  npm         npm               installs infra/nag's locked packages
infra  npm  infra/nag   package-lock.json the CDK CLI that make synth and make deploy run
lint   go   staticcheck honnef.co/go/tools/cmd/staticcheck@STATICCHECK_VERSION  make lint
lint   cmd  shellcheck  shellcheck        make lint checks the shell scripts
lint   cmd  git         git               make lint finds the files to check with git ls-files
bench  py   xgboost     python3-xgboost   the peer of the Go evaluator in bench/predict
bench  py   numpy       python3-numpy     the benchmark peers' arrays
bench  py   pandas      python3-pandas    the peer of validation and profiling in bench/ingest
bench  py   fastapi     python3-fastapi   the peer of the prediction endpoint in bench/serve
bench  py   uvicorn     python3-uvicorn   serves the FastAPI peer
bench  cmd  wrk         wrk               loads both endpoints in bench/serve
bench  cmd  hugo        hugo              the peer of the site generator in bench/report
EOF
)
DEPS+=$'\n'"${SETUP_EXTRA_DEPS:-}"
DEPS=${DEPS//STATICCHECK_VERSION/$STATICCHECK_VERSION}
DEPS=${DEPS//AWS_CLI/$AWS_CLI}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

dry_run=false
groups=()
for a in "$@"; do
  case $a in
    --dry-run) dry_run=true ;;
    -h|--help) usage 0 ;;
    demo|test|lint|bench|infra) groups+=("$a") ;;
    all) groups+=(demo test lint bench infra) ;;
    *) echo "setup: unknown group or flag '$a' (want demo, test, lint, bench, infra, all, --dry-run)" >&2; usage 2 >&2 ;;
  esac
done
[ ${#groups[@]} -gt 0 ] || groups=(demo test lint bench)

if ! command -v go >/dev/null 2>&1; then
  echo "setup: no go on PATH: install Go $(sed -n 's/^go //p' go.mod) or later (add /usr/local/go/bin to PATH if it is there)" >&2
  exit 1
fi

want() { local g; for g in "${groups[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }

# The lines of the chosen groups, one per thing looked up (the first group that
# names a thing gives the reason).
declare -A seen=()
lines=()
while read -r group kind what pkg why; do
  [ -n "$group" ] || continue
  want "$group" || continue
  [ -z "${seen[$kind:$what]:-}" ] || continue
  seen[$kind:$what]=1
  lines+=("$group|$kind|$what|$pkg|$why")
done <<<"$DEPS"

# Python modules: one interpreter start for all of them, no imports.
pymods=()
for l in "${lines[@]}"; do IFS='|' read -r _ kind what _ _ <<<"$l"; [ "$kind" = py ] && pymods+=("$what"); done
declare -A pymissing=()
if [ ${#pymods[@]} -gt 0 ]; then
  if [ -x "$PYTHON" ]; then
    out=$("$PYTHON" -c 'import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' "${pymods[@]}" 2>/dev/null) || out="${pymods[*]}"
  else
    out="${pymods[*]}"  # no Python at all: Debian's python3 comes with the packages
  fi
  for m in $out; do pymissing[$m]=1; done
fi

gobin() { local d; d=$(go env GOBIN 2>/dev/null); [ -n "$d" ] || d="$(go env GOPATH 2>/dev/null)/bin"; echo "$d"; }

apt_pkgs=()
apt_why=()
go_mods=()
npm_dirs=()
for l in "${lines[@]}"; do
  IFS='|' read -r group kind what pkg why <<<"$l"
  missing=false
  case $kind in
    py) [ -z "${pymissing[$what]:-}" ] || missing=true ;;
    cmd)
      if [ "${what#/}" != "$what" ]; then [ -x "$what" ] || missing=true
      else command -v "$what" >/dev/null 2>&1 || missing=true; fi ;;
    go)
      bin="$(gobin)/$what"
      ver=${pkg##*@}
      if [ ! -x "$bin" ]; then missing=true
      elif ! "$bin" -version 2>/dev/null | grep -q -- "${ver#v}"; then missing=true; fi ;;
    npm)
      # Installed when node_modules was made from this very lockfile.
      stamp="$what/node_modules/.setup-lock.sha256"
      sum=$(sha256sum "$what/package-lock.json" | cut -d' ' -f1)
      [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] || missing=true ;;
  esac
  $missing || continue
  case $kind in
    py|cmd)
      dup=false
      for p in "${apt_pkgs[@]+"${apt_pkgs[@]}"}"; do [ "$p" = "$pkg" ] && dup=true; done
      $dup && continue
      apt_pkgs+=("$pkg")
      if [ "$kind" = py ]; then apt_why+=("$pkg ($group: $why; $PYTHON cannot find module $what)")
      elif [ "${what#/}" != "$what" ]; then apt_why+=("$pkg ($group: $why; no $what)")
      else apt_why+=("$pkg ($group: $why; no $what on PATH)"); fi ;;
    go) go_mods+=("$pkg|$group: $why") ;;
    npm) npm_dirs+=("$what|$group: $why") ;;
  esac
done

if [ ${#apt_pkgs[@]} -eq 0 ] && [ ${#go_mods[@]} -eq 0 ] && [ ${#npm_dirs[@]} -eq 0 ]; then
  exit 0  # everything is here: say nothing
fi

# How to install Debian packages here: as root, or through password-less sudo.
apt=()
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if ! command -v "$APT_GET" >/dev/null 2>&1; then
    apt=(none "no $APT_GET on this machine")
  elif [ "$(id -u)" = 0 ]; then
    apt=("$APT_GET")
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo -n "$APT_GET")
  else
    apt=(none "not root, and sudo asks for a password")
  fi
fi

if $dry_run; then
  for w in "${apt_why[@]+"${apt_why[@]}"}"; do echo "setup: would install $w"; done
  for g in "${go_mods[@]+"${go_mods[@]}"}"; do echo "setup: would go install ${g%%|*} (${g#*|})"; done
  for n in "${npm_dirs[@]+"${npm_dirs[@]}"}"; do echo "setup: would npm ci in ${n%%|*} (${n#*|})"; done
  exit 0
fi

if [ "${apt[0]:-}" = none ]; then
  echo "setup: cannot install Debian packages (${apt[1]}). Missing:" >&2
  for w in "${apt_why[@]}"; do echo "  $w" >&2; done
  echo "Install them as root: apt-get install ${apt_pkgs[*]}" >&2
  echo "(elsewhere: the same packages from your system's package manager, or pip install xgboost==1.7.* numpy pandas scipy boto3 awscli under $PYTHON)" >&2
  exit 1
fi

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  for w in "${apt_why[@]}"; do echo "setup: installing $w"; done
  export DEBIAN_FRONTEND=noninteractive
  # The package lists of a fresh machine are empty or stale: refresh them once.
  # apt's own chatter goes to a log that is shown only when it fails.
  log=$(mktemp)
  if ! { "${apt[@]}" update -qq && "${apt[@]}" install -y -qq --no-install-recommends "${apt_pkgs[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup: apt-get could not install ${apt_pkgs[*]} (its output is above)" >&2
    exit 1
  fi
  rm -f "$log"
fi
for g in "${go_mods[@]+"${go_mods[@]}"}"; do
  echo "setup: installing ${g%%|*} (${g#*|})"
  (cd / && GOFLAGS='' go install "${g%%|*}")
done
for n in "${npm_dirs[@]+"${npm_dirs[@]}"}"; do
  d=${n%%|*}
  echo "setup: npm ci in $d (${n#*|})"
  (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  mkdir -p "$d/node_modules"  # a lockfile with no dependencies makes none
  sha256sum "$d/package-lock.json" | cut -d' ' -f1 >"$d/node_modules/.setup-lock.sha256"
done

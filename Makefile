# The platform's build. `make test` is what CI runs (.ci/run), `make demo` is the
# first thing a new user tries.
GO          ?= go
FUNCTIONS   := $(notdir $(wildcard functions/*))
DIST        := dist
BIN         := bin
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME    ?= 20s
# Lambda runs the functions on Graviton: linux/arm64, no cgo, no RPC shim.
LAMBDA_ENV  := GOOS=linux GOARCH=arm64 CGO_ENABLED=0

.PHONY: all build functions cli setup synth infra-test deploy test test-minio test-store-embedded test-short demo up bench bench-go lint fmt fuzz clean

all: build

build: functions cli

functions:
	@for f in $(FUNCTIONS); do \
	  echo "build $(DIST)/functions/$$f/bootstrap (linux/arm64)"; \
	  $(LAMBDA_ENV) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(DIST)/functions/$$f/bootstrap ./functions/$$f || exit 1; \
	done

cli:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/mlops ./cmd/mlops

# setup installs what a target needs and nothing more (scripts/setup.sh: Debian
# packages through apt-get, Go tools); on a machine that has everything it says
# nothing. Each target below that needs it names its group: make's target-specific
# variables reach the prerequisites, so `make -n demo` shows `scripts/setup.sh demo`.
SETUP_GROUPS ?= demo test lint bench
setup:
	bash scripts/setup.sh $(SETUP_GROUPS)

# The whole suite: unit, integration (embedded S3 through the real SDK and the aws
# CLI, real bootstrap binaries under a Runtime API server), reliability tests, and
# the fuzz targets' seed corpora.
test: SETUP_GROUPS = test
test: setup
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory infra-test SETUP_GROUPS=test

# The CDK app (infra/, its own Go module): `make synth` writes the stages'
# templates under infra/cdk.out/ offline, from the bootstraps `make functions`
# builds; `make infra-test` runs the stack's tests (assertions, IAM, rules,
# cost at idle, cdk-nag); `make deploy STACK=mlops-dev` deploys one stage with
# the caller's AWS credentials (README: Deploying to AWS). CDK_ARGS go to the
# synthesis, e.g. CDK_ARGS='-c mlops:dev={"alarmEmails":["ops@example.com"]}'.
# Both need only the CDK (setup's infra group), not the tests' dependencies.
CDK     := $(CURDIR)/infra/nag/node_modules/.bin/cdk
CDK_ENV := JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 CDK_DISABLE_CLI_TELEMETRY=true
STACK   ?= mlops-dev
CDK_ARGS ?=
synth: SETUP_GROUPS = infra
synth: setup functions
	cd infra && $(CDK_ENV) $(CDK) synth --quiet $(CDK_ARGS)

infra-test: SETUP_GROUPS = test
infra-test: setup
	cd infra && $(GO) vet ./... && $(CDK_ENV) $(GO) test -count=1 -timeout 10m ./...

deploy: synth
	cd infra && $(CDK_ENV) $(CDK) deploy --app cdk.out $(STACK)

# The store's tests against MinIO (AWS's conditional-write semantics), when a minio
# binary is installed: scripts/test-minio.sh says how. Not part of `make test`.
test-minio: SETUP_GROUPS = test
test-minio: setup
	bash scripts/test-minio.sh

# The store's tests against the embedded S3 of `mlops up` (part of CI).
test-store-embedded: SETUP_GROUPS = test
test-store-embedded: setup
	bash scripts/test-store-embedded.sh

test-short:
	$(GO) test -short -count=1 ./...

demo: SETUP_GROUPS = demo
demo: setup cli
	bash scripts/demo.sh

up: SETUP_GROUPS = demo
up: setup cli
	$(BIN)/mlops up --dir .mlops

# Side-by-side benchmarks (this project vs its peer, one run, ratio printed).
# BENCH_SIZES=1GB,4GB by default; BENCH_DIR holds the generated inputs.
# BENCH_SERVE_FLAGS go to bench/serve (the prediction endpoint against FastAPI,
# the predict function's cold start), e.g. -duration 10s or -state DIR.
BENCH_SIZES ?= 1GB,4GB
BENCH_DIR   ?= /tmp/mlops-bench
BENCH_SERVE_FLAGS ?=
# BENCH_DRIFT_FLAGS go to bench/drift (the drift run against pandas and scipy on
# the same logged records, its time and memory at each size).
BENCH_DRIFT_FLAGS ?= -rows 1000000,10000000
# BENCH_REPORT_FLAGS go to bench/report (the site generator against Hugo on a
# generated registry of 200 models × 10 versions, and one incremental rebuild).
BENCH_REPORT_FLAGS ?=
bench: SETUP_GROUPS = bench
bench: setup bench-go
	$(GO) run ./bench/ingest -sizes $(BENCH_SIZES) -dir $(BENCH_DIR)
	$(GO) run ./bench/predict
	$(GO) run ./bench/serve $(BENCH_SERVE_FLAGS)
	@# Again with wrk on a core of its own, apart from the servers: steadier
	@# ratios on a machine whose cores other jobs share (docs/benchmarks.md);
	@# and the route's CPU a request in process, the figure to compare builds by.
	@if [ "$$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then \
	  echo "bench/serve again: wrk on core 0, both servers on core 1"; \
	  taskset -c 1 $(GO) run ./bench/serve -skip-cold $(BENCH_SERVE_FLAGS) -wrk-cpus 0 -threads 1 -handler 2s; \
	fi
	$(GO) run ./bench/drift $(BENCH_DRIFT_FLAGS)
	$(GO) run ./bench/report $(BENCH_REPORT_FLAGS)

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./shared/validate/ ./shared/table/ ./shared/profile/ ./shared/xgboost/

lint: SETUP_GROUPS = lint
lint: setup
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cd infra && $(GO) vet ./... && $(STATICCHECK) ./...
	shellcheck $$(git ls-files '*.sh') .ci/run

fmt:
	gofmt -w $$(git ls-files '*.go')

# Run every fuzz target for FUZZTIME; new crashers land in testdata/fuzz/ to keep.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(DIST) $(BIN) infra/cdk.out

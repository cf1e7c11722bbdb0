# Trackstream: the two commands are `make up` (the whole platform, locally) and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3.11
UV_VERSION  := 0.13.9
UV_HOME     := .infra/uv
UV          := $(UV_HOME)/bin/uv
PY          := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON_BOOT)
export UV_PROJECT_ENVIRONMENT := .venv
PYTEST_ARGS ?=

# Helm, built from the Go module proxy with the machine's Go; modules and build cache stay under
# .infra so a fresh machine and CI build it the same way (once: later runs find the binary)
HELM_VERSION := 3.22.0
HELM         := .infra/bin/helm-$(HELM_VERSION)/helm
# the machines' Go lives in /usr/local/go/bin, which a non-login shell may not have on PATH
GO          ?= $(shell command -v go || echo /usr/local/go/bin/go)
# Go's module and build caches; to share them between clones: make GO_CACHE_DIR="$HOME/.cache/go-ts"
GO_CACHE_DIR ?= .infra/go
GO_ENV       = GOBIN=$(abspath $(dir $(HELM))) GOPATH=$(abspath $(GO_CACHE_DIR)) \
               GOMODCACHE=$(abspath $(GO_CACHE_DIR)/mod) GOCACHE=$(abspath $(GO_CACHE_DIR)/cache) \
               GOFLAGS="-buildvcs=false -modcacherw" CGO_ENABLED=0 GOTOOLCHAIN=local

# Container images (Dockerfile): one per SERVICE; `make image-install` is the Dockerfile's install
# step, run by CI too (`make image-check`). A service image holds the package trackstream-<svc>;
# every service folder with an entry point (services/<svc>/src/<svc>/__main__.py) has one.
SERVICE_NAMES   := $(sort $(foreach f,$(wildcard services/*/src/*/__main__.py),$(word 2,$(subst /, ,$(f)))))
IMAGES          := $(SERVICE_NAMES) provision simulator
IMAGE_VENV      ?= build/image/$(SERVICE)/venv
IMAGE_PACKAGES_provision := trackstream-events trackstream-kafka trackstream-cassandra trackstream-s3
IMAGE_PACKAGES   = $(or $(IMAGE_PACKAGES_$(SERVICE)),trackstream-$(SERVICE))

.PHONY: help setup proto proto-check proto-release stack-install stack-up stack-down provision \
        services up down status smoke test test-unit test-integration lint format bench clean \
        helm chart-check images image-install image-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	@command -v $(PYTHON_BOOT) >/dev/null || { echo "error: $(PYTHON_BOOT) not found: install Python 3.11 (or set PYTHON_BOOT)"; exit 1; }
	$(PYTHON_BOOT) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

setup: $(UV) ## install the Python workspace (.venv) and generate the protobuf code
	$(UV) sync --all-packages --frozen --quiet
	$(MAKE) --no-print-directory proto

proto: ## generate Python code from protos/ into libs/protos/src (git-ignored)
	$(PY) libs/protos/protos_build.py generate

proto-check: ## fail on a breaking or unclassified field (rules: docs/events.md)
	$(PY) libs/protos/protos_build.py check

proto-release: ## record the current protos as released (protos/released.json)
	$(PY) libs/protos/protos_build.py release

stack-install: setup ## fetch the Kafka and Cassandra jars from Maven Central (once)
	$(PY) deploy/local/stack.py install

stack-up: stack-install ## start Kafka, Cassandra and the S3 store (no-op when running)
	$(PY) deploy/local/stack.py up

provision: ## create topics, apply Cassandra migrations, create buckets (idempotent)
	$(PY) deploy/local/provision.py

services: ## start the services, seed the demo accounts and devices, start the simulated fleet
	$(PY) deploy/local/stack.py up identity ingest history geocoding alarm media notification privacy gateway
	$(PY) deploy/local/seed.py
	$(PY) deploy/local/stack.py up fleet

up: stack-up provision services ## bring the whole platform up locally: stack, services, demo fleet
	@echo
	@$(PY) deploy/local/stack.py status
	@echo
	@echo "Trackstream is up."
	@echo "  API:       http://127.0.0.1:$${GATEWAY_HTTP_PORT:-8080}/v1/docs   live: ws://127.0.0.1:$${GATEWAY_HTTP_PORT:-8080}/v1/live"
	@$(PY) deploy/local/seed.py --print-login
	@echo "  trackers:  GT06 tcp://127.0.0.1:$${INGEST_GT06_PORT:-5023}  JT/T 808 tcp://127.0.0.1:$${INGEST_JT808_PORT:-5015}"
	@echo "  ingest:    http://127.0.0.1:$${INGEST_OPS_PORT:-9464}/metrics  /readyz"
	@echo "  identity:  gRPC 127.0.0.1:$${IDENTITY_GRPC_PORT:-50071} (trackstream.identity.v1.IdentityService)  http://127.0.0.1:$${IDENTITY_OPS_PORT:-9466}/metrics"
	@echo "  geocoding: gRPC 127.0.0.1:$${GEOCODING_GRPC_PORT:-50081} (trackstream.geocoding.v1.GeocodingService)  http://127.0.0.1:$${GEOCODING_OPS_PORT:-9468}/metrics"
	@echo "  alarm:     gRPC 127.0.0.1:$${ALARM_GRPC_PORT:-50091} (trackstream.alarm.v1.AlarmService)  http://127.0.0.1:$${ALARM_OPS_PORT:-9469}/metrics"
	@echo "  media:     dashcam uploads http://127.0.0.1:$${MEDIA_HTTP_PORT:-5267}  gRPC 127.0.0.1:$${MEDIA_GRPC_PORT:-50101} (trackstream.media.v1.MediaService)  http://127.0.0.1:$${MEDIA_OPS_PORT:-9470}/metrics"
	@echo "  notify:    gRPC 127.0.0.1:$${NOTIFICATION_GRPC_PORT:-50111} (trackstream.notification.v1.NotificationService)  http://127.0.0.1:$${NOTIFICATION_OPS_PORT:-9471}/metrics"
	@echo "  privacy:   gRPC 127.0.0.1:$${PRIVACY_GRPC_PORT:-50121} (trackstream.privacy.v1.PrivacyService)  http://127.0.0.1:$${PRIVACY_OPS_PORT:-9472}/metrics"
	@echo "  history:   gRPC 127.0.0.1:$${HISTORY_GRPC_PORT:-50061} (trackstream.history.v1.HistoryService)  http://127.0.0.1:$${HISTORY_OPS_PORT:-9465}/metrics"
	@echo "  stores:    Kafka 127.0.0.1:$${KAFKA_PORT:-9092}  Cassandra 127.0.0.1:$${CASSANDRA_PORT:-9042}  S3 http://127.0.0.1:$${S3_PORT:-8333}"
	@echo "  fleet:     $${TS_FLEET_SIZE:-5} GT06 + $${TS_FLEET_SIZE:-5} JT/T 808 simulated devices (progress in .run/fleet/out.log)"
	@echo "  watch:     .venv/bin/python -m trackstream_kafka.tail tracking.positions.v1"
	@echo "Logs: .run/<component>/out.log   Stop: make down   Status: make status"

smoke: ## check that the simulated fleet's positions go through ingest into Kafka
	$(PY) deploy/local/stack.py smoke

down: ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(PY) deploy/local/stack.py down; else python3 deploy/local/stack.py down; fi

stack-down: down

status: ## show what runs and where its log is
	@$(PY) deploy/local/stack.py status

lint: setup ## ruff, mypy, the protobuf evolution check, the Helm chart and the Dockerfile
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(MAKE) --no-print-directory proto-check
	$(MAKE) --no-print-directory chart-check
	$(MAKE) --no-print-directory image-check

$(HELM):
	@test -x "$(GO)" || { echo "error: Go not found ($(GO)): install Go >= 1.25 or set GO= (helm is built from the Go module proxy)"; exit 1; }
	@mkdir -p $(dir $(HELM)) $(GO_CACHE_DIR)
	$(GO_ENV) $(GO) install helm.sh/helm/v3/cmd/helm@v$(HELM_VERSION)

helm: $(HELM) ## build helm (HELM_VERSION) from the Go module proxy into .infra/bin, once

chart-check: setup $(HELM) ## helm lint + render with default, minimal, production values + strict schema validation (offline)
	$(PY) deploy/chart_check.py --helm $(HELM)

image-install: $(UV) ## install one image's runtime (SERVICE=, see make images) into IMAGE_VENV, as the Dockerfile does
	@test -n "$(SERVICE)" || { echo "error: set SERVICE (one of: $(IMAGES))"; exit 1; }
	UV_PROJECT_ENVIRONMENT=$(IMAGE_VENV) $(UV) sync --frozen --quiet --only-group proto
	$(IMAGE_VENV)/bin/python libs/protos/protos_build.py generate
	UV_PROJECT_ENVIRONMENT=$(IMAGE_VENV) $(UV) sync --frozen --quiet --no-dev --no-editable $(addprefix --package ,$(IMAGE_PACKAGES))

images: ## list the container images (make image-install SERVICE=<one of them>)
	@echo $(IMAGES)

image-check: setup ## hadolint the Dockerfile; run its install step for every image and smoke-test the result
	.venv/bin/hadolint Dockerfile
	@for svc in $(IMAGES); do \
	  $(MAKE) --no-print-directory image-install SERVICE=$$svc IMAGE_VENV=build/image/$$svc/venv && \
	  build/image/$$svc/venv/bin/python deploy/image/smoke.py $$svc || exit 1; \
	done

format: setup
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

test-unit: setup $(HELM) ## the fast tests, no servers
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

test-integration: stack-up provision ## only the tests against the real stack
	$(PY) deploy/local/stack.py down fleet gateway privacy notification media alarm geocoding history ingest identity
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test: stack-up provision lint ## everything: starts the stack if needed, then lint, unit and integration tests
	@# the tests run their own service instances; make up's would consume and write alongside them
	$(PY) deploy/local/stack.py down fleet gateway privacy notification media alarm geocoding history ingest identity
	$(PY) -m pytest $(PYTEST_ARGS)

bench: stack-up provision ## ratio benchmarks (benchmarks/README.md)
	$(PY) -m benchmarks $(BENCH_ARGS)

clean: ## stop the stack and delete its data (keeps downloaded jars)
	$(PY) deploy/local/stack.py clean

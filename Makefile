# Lianxin: `make run` starts the whole system embedded; `make test` runs every test.
# Both set up what they need first (virtualenv, packages, buf), on a fresh machine too.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
BUF_VERSION := 1.75.0
BUF    := .tools/node_modules/.bin/buf
GEN    := gen
PROTO_FILES := $(shell find protos -name '*.proto' | sort)

.PHONY: all setup run test test-fast lint protos check-protos bench clean help

all: test

help:
	@echo "make run    - set up and start the embedded system (lianxin up)"
	@echo "make test   - set up and run lint, buf, and every test"
	@echo "make protos - regenerate Python code from protos/ into gen/"
	@echo "make bench  - run the benchmarks in bench/"

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

# Every test, the slow fault tests included (they are marked `slow`: `make test-fast`
# leaves them out while you work).
test: setup lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

run: setup
	$(BIN)/lianxin up

bench: setup
	$(BIN)/python bench/submit.py

clean:
	rm -rf .lianxin .pytest_cache

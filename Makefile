# hashmatch - every target bootstraps what it needs from the project's own files.
# Needs only Python 3.11 on the machine. Versions: constraints.txt (app), infra/tools/*.txt (tools).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PYTEST := $(BIN)/pytest
PYTEST_ARGS ?=

.PHONY: help run test lint format template-check build bench \
	test-unit test-integration test-e2e test-template lock clean venv tools openapi retention-demo \
	transparency-demo fault-matrix

help:
	@echo "make run    - the whole service locally on embedded moto (http://127.0.0.1:3000)"
	@echo "make test   - lint, template checks and every test suite"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make build  - sam build (no Docker) and the Lambda size check"
	@echo "make bench  - the benchmarks in bench/ (ratios against references)"
	@echo "make retention-demo - erasure as the clock passes each due date, receipts verified"

# --- environments -------------------------------------------------------------------------
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

$(TOOLS)/sam/.installed: infra/tools/sam-requirements.txt
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install --quiet -r infra/tools/sam-requirements.txt
	touch $@

$(TOOLS)/checkov/.installed: infra/tools/checkov-requirements.txt
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet -r infra/tools/checkov-requirements.txt
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed

# --- everyday targets ---------------------------------------------------------------------
# The stores' data is kept in .local-stack/ between runs; `make run ARGS=--fresh` starts empty.
run: venv
	$(BIN)/hashmatch serve --demo $(ARGS)

test: lint template-check
	$(PYTEST) $(PYTEST_ARGS)

test-unit: venv
	$(PYTEST) tests/unit $(PYTEST_ARGS)

test-integration: venv
	$(PYTEST) tests/integration $(PYTEST_ARGS)

test-e2e: venv
	$(PYTEST) tests/e2e $(PYTEST_ARGS)

test-template: venv template-check
	$(PYTEST) tests/template $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/python client operators devtools functions tests bench

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

template-check: tools
	AWS_DEFAULT_REGION=eu-central-1 $(SAM) validate --lint --template template.yaml
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation --file template.yaml

build: venv tools
	UV="$(abspath $(BIN)/uv)" $(SAM) build --template template.yaml
	$(BIN)/python infra/check_lambda_sizes.py .aws-sam/build

# Each prints ratios against references measured in the same run (about 15 minutes in all).
# Longer runs: bench.matcher --sizes 10000000 (about 30 min), bench.effectiveness (10-20 min).
bench: venv
	$(BIN)/python -m bench.hashing
	$(BIN)/python -m bench.matcher --sizes 1000000
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.alternates

openapi: venv
	$(BIN)/python -m functions.check_health.openapi_document docs/openapi.json

# Re-record what the fault-injection tests observe, then render it into docs/operations.md
# (tests/fault_matrix.py; a test fails when either is stale).
fault-matrix: venv
	rm -f tests/integration/fault_matrix.json
	HASHMATCH_RECORD_FAULTS=1 $(PYTEST) tests/integration/test_faults.py $(PYTEST_ARGS)
	$(BIN)/python -m tests.fault_matrix

# The real template on a local stack: data of every class, the clock moved to each due date,
# erase_expired run on demand, then `hashmatch audit verify --receipts` (docs/retention.md).
retention-demo: venv
	$(BIN)/python -m hashmatch_devtools.retention_demo $(DEMO_ARGS)

# Two known years on a local stack of its own, each published as the transparency report
# (docs/transparency.md); the files land in transparency-demo/<year>/.
transparency-demo: venv
	$(BIN)/python -m hashmatch_devtools.transparency_demo $(DEMO_ARGS)

lock: venv
	$(BIN)/pip freeze --exclude-editable | grep -v '^hashmatch' > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

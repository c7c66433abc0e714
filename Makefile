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
	transparency-demo fault-matrix native native-arm64 cross-tools

help:
	@echo "make run    - the whole service locally on embedded moto (http://127.0.0.1:3000)"
	@echo "make test   - lint, template checks and every test suite"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make build  - sam build (no Docker) and the Lambda size check"
	@echo "make native - the compiled search kernel for this machine (make test builds it)"
	@echo "make native-arm64 - the aarch64 kernel, proven under qemu (make test runs it)"
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

# --- the compiled search kernel (hashmatch/index/native, docs/matching.md) -----------------
NATIVE := layers/common/python/hashmatch/index/native
CROSS_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
HAVE_CROSS = command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null
# An arm64 Python under qemu to load the real aarch64 library: Debian trixie's python3.13 (the
# Lambda runtime's version) unpacked from its .debs with a private apt state (the machine's apt
# configuration is not touched), the aarch64 numpy wheel of constraints.txt, and the pure-Python
# test tools. Hypothesis 6.156+ has a compiled part with no aarch64 wheel here: 6.155.7 is the
# newest pure one.
ARM64 := $(TOOLS)/arm64
ARM64_DEBS := python3.13-minimal libpython3.13-minimal libpython3.13-stdlib libc6 libffi8 \
	zlib1g libexpat1 libssl3t64 libbz2-1.0 liblzma5 libzstd1 libstdc++6 libgcc-s1
ARM64_APT = -o Dir::State::Lists=$(abspath $(ARM64))/apt/lists \
	-o Dir::State::status=$(abspath $(ARM64))/apt/status -o Dir::Cache=$(abspath $(ARM64))/apt/cache \
	-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$(abspath $(ARM64))/apt/sources \
	-o APT::Architecture=arm64 -o APT::Architectures::=arm64
ARM64_WHEELS := --no-deps --only-binary :all: --platform manylinux_2_28_aarch64 \
	--python-version 3.13 --implementation cp --target $(ARM64)/site

native:
	$(MAKE) -C $(NATIVE) lib

# Debian's cross compiler and qemu, installed when missing (CI runs as root); elsewhere the
# arm64 checks are skipped with a message.
cross-tools:
	@if $(HAVE_CROSS); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -qq $(CROSS_PACKAGES) >/dev/null; \
	else echo "cross-tools: $(CROSS_PACKAGES) missing and not root: arm64 checks skipped"; fi

# The aarch64 library (what the layer ships): popcount is an instruction, the C self-test passes
# under qemu against its brute-force oracle; then the emulated Python for the oracle tests.
native-arm64: cross-tools
	@if $(HAVE_CROSS); then \
		$(MAKE) -C $(NATIVE) lib check-popcount ARCH=aarch64 && \
		$(MAKE) -C $(NATIVE) selftest ARCH=aarch64 BUILD=$(abspath $(ARM64)) && \
		$(MAKE) $(ARM64)/.installed; \
	else echo "native-arm64: skipped (no aarch64-linux-gnu-gcc or qemu-aarch64)"; fi

$(ARM64)/.installed: constraints.txt | venv
	rm -rf $(ARM64)/apt $(ARM64)/root $(ARM64)/site $(ARM64)/debs
	mkdir -p $(ARM64)/apt/lists/partial $(ARM64)/apt/cache/archives/partial $(ARM64)/apt/sources \
		$(ARM64)/root $(ARM64)/debs
	touch $(ARM64)/apt/status
	printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		> $(ARM64)/apt/sources/trixie.sources
	apt-get $(ARM64_APT) -qq update
	cd $(ARM64)/debs && apt-get $(ARM64_APT) -qq download $(ARM64_DEBS)
	for deb in $(ARM64)/debs/*.deb; do dpkg -x "$$deb" $(ARM64)/root; done
	ln -sfn usr/lib $(ARM64)/root/lib
	$(BIN)/pip install --quiet $(ARM64_WHEELS) -c constraints.txt numpy pytest pluggy iniconfig \
		packaging pygments attrs sortedcontainers pytest-timeout
	$(BIN)/pip install --quiet $(ARM64_WHEELS) hypothesis==6.155.7
	touch $@

# --- everyday targets ---------------------------------------------------------------------
# The stores' data is kept in .local-stack/ between runs; `make run ARGS=--fresh` starts empty.
run: venv
	$(BIN)/hashmatch serve --demo $(ARGS)

# HASHMATCH_REQUIRE_*: the kernel tests fail instead of skipping when the libraries are missing
# (arm64 only where the cross tools are, i.e. always in CI: .ci/run installs them).
test: lint template-check native native-arm64
	HASHMATCH_REQUIRE_NATIVE=1 HASHMATCH_REQUIRE_ARM64=$$($(HAVE_CROSS) && echo 1 || echo 0) \
		$(PYTEST) $(PYTEST_ARGS)

test-unit: venv native
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

build: venv tools cross-tools
	UV="$(abspath $(BIN)/uv)" $(SAM) build --template template.yaml
	$(BIN)/python infra/check_lambda_sizes.py .aws-sam/build

# Each prints ratios against references measured in the same run (about 15 minutes in all).
# Longer runs: bench.matcher at its defaults (uniform 1M and 10M, clustered 1M: ~10 min),
# bench.cold_start, bench.scale (100M: ~9 GB), bench.effectiveness (10-20 min).
bench: venv native
	$(BIN)/python -m bench.hashing
	$(BIN)/python -m bench.matcher --cases uniform:1000000,clustered:1000000
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

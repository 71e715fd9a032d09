# scaleahead: `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins an old boto3 (and networkx, packaging) exactly: it gets a venv of its own inside
# .venv, so it never downgrades what the functions and the tests run with. Pinned, so a new
# release cannot add failing checks to `make test` unannounced.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# What Lambda runs (both layers), every version pinned with its hashes: `make lock` writes it from
# layers/scaleahead/requirements.in. The layers' build installs it with --require-hashes, and
# setup installs the very same versions here, so tests run what Lambda runs.
LOCK := layers/scaleahead/requirements.lock
# The lock's pins without their hashes, for pip's --constraint (see $(STAMP)).
LOCK_CONSTRAINTS := $(VENV)/lock-constraints.txt
# The Lambda runtime provides boto3, botocore and botocore's dependencies: never locked, never in
# a layer (a newer botocore in a layer would shadow the runtime's and no longer match its boto3).
RUNTIME_PROVIDED := boto3 botocore s3transfer urllib3 python-dateutil six

.PHONY: setup lock demo bench sam-local test lint typecheck unit checkov validate clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found on PATH (sam build needs it too)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
# First what Lambda runs: exactly the lock's versions, each file checked against its hashes.
# --no-deps: the lock holds every dependency the layers ship; botocore & co, which Lambda's
# runtime provides, come with boto3 in the next step.
	$(BIN)/pip install --quiet --no-deps --require-hashes --requirement $(LOCK)
# Then the project and its tools, held to the same versions: the lock's pins become constraints,
# so a tool that needs another version fails the install instead of moving it. Without hashes:
# pip accepts a hash in a constraints file but then requires one for every package installed,
# tools included, which are not locked.
	sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\).*/\1/p' $(LOCK) > $(LOCK_CONSTRAINTS)
	$(BIN)/pip install --quiet --constraint $(LOCK_CONSTRAINTS) -e '.[tools,dev]'
	touch $(STAMP)

# Re-resolve the lock from layers/scaleahead/requirements.in, for CPython 3.11 on manylinux2014
# x86_64 (the python3.11 runtime; wheels only, as the layers' build installs them), every
# distribution's hashes included. Versions already locked are kept where the ranges allow;
# `make lock UPGRADE=1` moves everything to the newest allowed. A changed lock replaces the old
# one and the next make target re-syncs the venv (the stamp depends on the lock); an unchanged
# one is left alone, so nothing is reinstalled. (uv keeps the versions of the file it writes to,
# hence the copy.)
lock: $(STAMP)
	cp $(LOCK) $(VENV)/requirements.lock.new
	$(BIN)/uv pip compile layers/scaleahead/requirements.in --quiet --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux2014 --only-binary :all: \
		$(addprefix --no-emit-package ,$(RUNTIME_PROVIDED)) \
		--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) \
		--output-file $(VENV)/requirements.lock.new
	cmp -s $(VENV)/requirements.lock.new $(LOCK) && rm $(VENV)/requirements.lock.new \
		|| { mv $(VENV)/requirements.lock.new $(LOCK) && echo "$(LOCK) updated: make setup"; }

demo: $(STAMP)
	$(BIN)/scaleahead demo

# Forecast quality on every trace in traces/ and the speed figures (minutes; prints a table).
# Then what it costs to run: the monthly bill per target (measured on moto, priced by
# tools/scaleahead_tools/cost/prices.py), the alarm path's cold import against boto3's, each
# function's package size (sam build) and the fan-out at 10,000 targets. BENCH_ARGS narrows the
# backtest part, e.g. BENCH_ARGS="--kinds ecs --floors 0" (a minute instead of four).
bench: $(STAMP)
	$(BIN)/python -m scaleahead_tools.backtest.bench $(BENCH_ARGS)
	$(BIN)/python -m scaleahead_tools.cost.run
	$(BIN)/python -m scaleahead_tools.perf.imports
	$(BIN)/python -m scaleahead_tools.perf.packages
	$(BIN)/python -m scaleahead_tools.perf.scale

# sam build, then every function in the Lambda container (sam local invoke) with each of its
# sample events against a moto server, each result and its effect checked. Needs a Docker engine;
# .ci/run provides one offline.
# ARGS=--keep leaves the moto server up afterwards for the CLI.
sam-local: $(STAMP)
	$(BIN)/python -m scaleahead_tools.demo.sam_local $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	@for f in functions/*/app.py; do $(BIN)/mypy --strict --no-error-summary $$f || exit 1; done

# The suite on every core (pytest-xdist): each test is independent of the others and of their
# order, so two workers take half the time of one (1268 tests: 148 s against 268 s on 2 cores).
# `make unit JOBS=0` runs them in this process, for a debugger.
JOBS ?= auto
unit: $(STAMP)
	$(BIN)/pytest -q -n $(JOBS)

# Static security checks of template.yaml. Offline: --skip-download and BC_SKIP_MAPPING keep it
# from the Prisma/Bridgecrew platform, CKV_SKIP_PACKAGE_UPDATE_CHECK from PyPI. Every skipped
# check is justified in the Metadata of the resource it skips (checkov: skip: - id, comment).
$(CHECKOV_STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found on PATH"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE $(CHECKOV_VENV)/bin/checkov \
		-f template.yaml --framework cloudformation --skip-download --quiet --compact

# The SAM template as SAM and CloudFormation's linter read it (offline).
validate: $(STAMP)
	$(BIN)/sam validate --lint
	$(BIN)/cfn-lint template.yaml

test: lint typecheck checkov unit

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache out

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

.PHONY: setup demo bench sam-local test lint typecheck unit checkov validate clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found on PATH (sam build needs it too)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[tools,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scaleahead demo

# Forecast quality on every trace in traces/ and the speed figures (minutes; prints a table).
bench: $(STAMP)
	$(BIN)/python -m scaleahead_tools.backtest.bench

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

unit: $(STAMP)
	$(BIN)/pytest -q

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

# scaleahead: `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo bench sam-local test lint typecheck unit validate clean

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
	$(BIN)/python -m scaleahead.backtest.bench

# sam build, then every function in the Lambda container (sam local invoke) with each of its
# sample events against a moto server, each result and its effect checked. Needs a Docker engine;
# .ci/run provides one offline.
# ARGS=--keep leaves the moto server up afterwards for the CLI.
sam-local: $(STAMP)
	$(BIN)/python -m scaleahead.demo.sam_local $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	@for f in functions/*/app.py; do $(BIN)/mypy --strict --no-error-summary $$f || exit 1; done

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache out

# Two entry points, both idempotent: `make run` and `make test` (see README).
# The venv is rebuilt only when pyproject.toml changes, so a second run starts at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/metacrm demo auto

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	scripts/ensure-postgres
	scripts/ensure-chromium
	$(BIN)/python -m pytest -n auto --dist worksteal

bench: setup
	$(BIN)/python bench/metadata.py
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/records.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/ui.py
	scripts/ensure-postgres
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/security.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

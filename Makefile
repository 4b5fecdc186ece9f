# Two commands: `make demo` and `make test`. Both work on a fresh machine with python3 and make,
# and are fast to re-run: the virtualenv is rebuilt only when pyproject.toml or
# constraints.txt change.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_WORKSPACE ?= demo-workspace
HOST ?= 127.0.0.1
PORT ?= 8000
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test lint typecheck docs constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev,spark]'
	@touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/smarketing demo --workspace $(DEMO_WORKSPACE) --serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy src

test: lint typecheck
	@url=$$(bash .ci/postgres-url); \
	if [ -n "$$url" ]; then export SMARKETING_TEST_POSTGRES_URL="$$url"; \
	  echo "PostgreSQL tier: $$url"; \
	else echo "PostgreSQL tier: no server on 127.0.0.1:5432, PostgreSQL tests skip"; fi; \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(VENV)/.dev
	$(BIN)/python -m smarketing.cli.docs docs

# Re-pin every dependency to what is installed now (after a deliberate upgrade).
constraints: $(VENV)/.dev
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^smarketing' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_WORKSPACE) .pytest_cache .mypy_cache .ruff_cache

# tokenspend: `make run` builds the warehouse on the demo organisation; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Defaults for the paths; an empty value (e.g. exported from an unfilled .env) also means the default,
# because settings.py treats empty as unset.
export TOKENSPEND_DUCKDB_PATH ?= $(CURDIR)/warehouse/tokenspend.duckdb
export TOKENSPEND_LANDING_DIR ?= $(CURDIR)/warehouse/landing
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run dev test lint bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: install            ## materialise every asset on the demo data and print a summary
	$(BIN)/python -m dagster_project.cli run

dev: install            ## the Dagster UI, with lineage from the ingest assets to the marts
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -m dagster_project.definitions

test: install           ## lint, then the whole test suite
	$(BIN)/ruff check dagster_project tests
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check dagster_project tests

ROWS ?= 1000000
bench: install          ## whole build on ROWS events vs a hand-written SQL floor, incremental day, start-up cost (ROWS=10000000 for 10M)
	$(BIN)/python -m dagster_project.bench --events $(ROWS)

lock:                   ## re-resolve the lock from pyproject.toml
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	( echo '# Exact versions of every package tokenspend installs, tested together on Python 3.11.'; \
	  echo '# Regenerate with `make lock` after changing pyproject.toml.'; \
	  .lockenv/bin/pip freeze --exclude-editable ) > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf warehouse .dagster_home dbt_models/target dbt_models/logs

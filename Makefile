# tokenspend: `make run` builds the demo organisation's warehouse (demo mode); `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Paths default in dagster_project/settings.py (an empty value, e.g. from an unfilled .env, means the
# default). The live deployment records its Dagster runs in DAGSTER_HOME; the demo, a deployment of its
# own, in dagster_home/ inside its folder (TOKENSPEND_DEMO_DIR, default warehouse/demo).
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
DEMO_DIR  := $(if $(TOKENSPEND_DEMO_DIR),$(TOKENSPEND_DEMO_DIR),$(CURDIR)/warehouse/demo)
DEMO_HOME := $(DEMO_DIR)/dagster_home

.PHONY: install install-spark run dev demo-dev test test-spark lint bench lock lock-spark clean prices demo-prices report export docs

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The optional dbt `spark` target (dbt-spark, PySpark; Java 17 from the system): not part of `install`.
install-spark: $(VENV)/.installed-spark

$(VENV)/.installed-spark: $(VENV)/.installed requirements-spark.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-spark.lock
	touch $@

# `make run` prints one line per step and keeps the full logs in a file it names; `make run V=1` prints them.
run: install            ## the demo: materialise every asset on the demo organisation (warehouse/demo) and print a summary
	@mkdir -p $(DEMO_HOME)
	@DAGSTER_HOME=$(DEMO_HOME) $(BIN)/python -m dagster_project.cli run --demo $(if $(filter-out 0,$(V)),--verbose)

dev: install            ## the Dagster UI of the live deployment (keys and paths from the environment)
	mkdir -p $(DAGSTER_HOME)
	TOKENSPEND_MODE=live $(BIN)/dagster dev -m dagster_project.definitions

demo-dev: install       ## the Dagster UI of the demo deployment, with the runs `make run` recorded
	mkdir -p $(DEMO_HOME)
	TOKENSPEND_MODE=demo DAGSTER_HOME=$(DEMO_HOME) $(BIN)/dagster dev -m dagster_project.definitions

prices: install         ## price-book rows from the bundled price database for every model the live warehouse has seen
	$(BIN)/python -m dagster_project.prices

demo-prices: install    ## the same for the demo deployment (writes the repository's seeds/price_book_generated.csv)
	$(BIN)/python -m dagster_project.prices --demo

report: install         ## the demo's spend report: one self-contained HTML file from its published marts (after `make run`)
	$(BIN)/python -m dagster_project.report --demo

export: install         ## the demo's marts and FOCUS export as CSV and Parquet in warehouse/demo/exports (after `make run`)
	$(BIN)/python -m dagster_project.export --demo

docs: install           ## the dbt docs site with the exposures, on the demo's catalog: warehouse/demo/docs/static_index.html
	$(BIN)/python -m dagster_project.export.docs --demo

test: install           ## lint, then the whole test suite
	$(BIN)/ruff check dagster_project tests
	$(BIN)/python -m pytest

# The demo built on Apache Spark equals the DuckDB demo (tests/spark/); it fails rather than skips when Java 17
# or the spark extra is missing. `make test` runs it too when both are there (TOKENSPEND_TEST_SPARK=0: never).
test-spark: install-spark
	TOKENSPEND_TEST_SPARK=1 $(BIN)/python -m pytest -m spark

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

lock-spark:             ## re-resolve requirements-spark.lock: the spark extra on top of requirements.lock (constrained to it)
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -c requirements.lock -r requirements.lock -e '.[spark]'
	( echo '# Exact versions of the optional `spark` extra (the dbt `spark` target: dbt-spark with a local PySpark'; \
	  echo '# session), resolved together with requirements.lock, which it is installed on top of:'; \
	  echo '#   pip install -r requirements.lock -r requirements-spark.lock   (make install-spark)'; \
	  echo '# PySpark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless). Regenerate with `make lock-spark`.'; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v -x -F -f requirements.lock ) > requirements-spark.lock
	rm -rf .lockenv

clean:
	rm -rf warehouse .dagster_home dbt_models/target dbt_models/logs

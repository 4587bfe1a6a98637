# KeyCare: the two set-up commands are `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KEYCARE_HOME ?= $(CURDIR)/var
# PostgreSQL used by the database tests (trust auth on this machine kind).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/keycare

.PHONY: demo test install install-dev install-spark system-deps lint pgtest unittest test-spark test-spark-full

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

demo: install
	$(BIN)/keycare demo

lint: install-dev
	$(BIN)/ruff check src tests benchmarks scripts gunicorn.conf.py
	$(BIN)/ruff format --check src tests benchmarks scripts gunicorn.conf.py
	$(BIN)/keycare makemigrations --check --dry-run
	$(BIN)/bandit -q -c pyproject.toml -r src -ll
	$(BIN)/lint-imports --no-cache

# Spark runs the backend-layer suite in CI (same test bodies as DuckDB); the full engine
# suite on Spark takes hours on 2 cores, so it is its own target: `make test-spark-full`.
# Two workers (this machine kind has 2 cores), one test file per worker at a time: files
# share module-scoped fixtures, and pytest-django gives each worker its own test database.
XDIST := -n 2 --dist loadfile
# The slowest tests, printed at the end of each run: where the suite's 15-minute budget goes.
DURATIONS := --durations=15

unittest: install-spark
	$(BIN)/pytest -q -m "not spark" $(XDIST) $(DURATIONS)

# The hostile-input suite (schemathesis per role, the corpus) and the browser walks run once,
# in the SQLite run: the walks test pages and flows on the demo's own database (the views'
# queries run on PostgreSQL in the client-level tests), and on PostgreSQL every walk's
# transactional flush made them 3.6 minutes of the suite (two workers, a busy machine).
pgtest: install-spark
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "django_db and not spark and not hostile and not browser" -p no:cacheprovider $(XDIST) $(DURATIONS)

install-spark: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,spark]'

# ...plus one whole published run on Spark (it caught a driver out-of-memory in plan analysis).
test-spark: install-spark
	$(BIN)/pytest -q -m spark tests/engine/backends tests/engine/test_parity.py \
		"tests/engine/test_pipeline.py::test_run_publishes_detections_suppressions_quarantine_and_record"

test-spark-full: install-spark
	$(BIN)/pytest -q -m spark

# Java, Chromium, a Chinese font, gettext (Debian packages, only where missing); PostgreSQL up.
system-deps:
	bash scripts/install-system-deps.sh

test: system-deps lint unittest pgtest test-spark

# KeyCare: the two set-up commands are `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KEYCARE_HOME ?= $(CURDIR)/var
# PostgreSQL used by the database tests (trust auth on this machine kind).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/keycare

.PHONY: demo test install install-dev lint pgtest unittest

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
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/keycare makemigrations --check --dry-run

unittest: install-dev
	$(BIN)/pytest -q

pgtest: install-dev
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m django_db -p no:cacheprovider

test: lint unittest pgtest

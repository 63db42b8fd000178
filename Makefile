# dthub: the two commands a newcomer types.  `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-dev services lint typecheck pytest bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: install, build the demo on the embedded default, serve http://127.0.0.1:8000
demo: install
	$(VENV)/bin/dthub demo

## make test: install dev extras and the services the tests start, then lint, type-check and test
test: install-dev services lint typecheck pytest

services:
	bash scripts/install-services.sh

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest

bench: install-dev
	$(PY) benchmarks/pems_ingest.py
	$(PY) benchmarks/daily_speed_query.py

clean:
	rm -rf $(VENV) var test-artifacts

# dthub: the two commands a newcomer types.  `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-dev services vendor lint typecheck pytest bench clean

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

## make vendor: the console's front-end packages (pinned in web/package-lock.json) from npm into
## web/static/vendor; no CDN, so the console works on an offline agency network
WEB    := src/dthub/web
VENDOR := $(WEB)/static/vendor
VENDOR_FILES := htmx.org/dist/htmx.min.js echarts/dist/echarts.min.js \
	maplibre-gl/dist/maplibre-gl.js maplibre-gl/dist/maplibre-gl.css

$(VENDOR)/.built: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(VENDOR)
	cd $(WEB)/node_modules && cp $(VENDOR_FILES) $(CURDIR)/$(VENDOR)/
	touch $@

vendor: $(VENDOR)/.built

## make demo: install, build the Tianjin demo city (simulated) and the real PeMS sample on the embedded
## default, serve it live at http://127.0.0.1:8000 (gateway, fleet, detectors) until Ctrl-C
demo: install vendor
	$(VENV)/bin/dthub demo

## make test: install dev extras and the services the tests start, then lint, type-check and test
test: install-dev services vendor lint typecheck pytest

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
	rm -rf $(VENV) var test-artifacts $(VENDOR) $(WEB)/node_modules

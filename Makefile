# PayBridge: every target sets itself up; `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced

.PHONY: setup demo test test-fast lint bench clean node browser compose openapi wrk

# uv lives in its own small venv so that `uv sync` never uninstalls itself from .venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.8

# --compile-bytecode: uv installs sources only, and where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) Python then compiles pandas, Airflow, WeasyPrint... again in every process
# (`import pandas` 1.85 -> 0.6 s, `paybridge --help` 0.43 -> 0.15 s here); pip compiles too.
$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --extra airflow
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

setup: $(STAMP) node_modules/.installed

# Report pages are tested in Debian's Chromium (driven by the pinned playwright package; no
# browser download) and printed by WeasyPrint (pango): installed from Debian's packages.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0; }

# docker-compose.yml is validated by Debian's docker-compose (`config` needs no Docker daemon).
compose:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq docker-compose; }

demo: setup
	$(PY) -m paybridge.demo

test: setup browser compose
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: setup browser compose
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"

# ruff, and the architecture: import-linter checks the layer contracts in pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The API benchmark's load generator (C, so it takes little of the 2 cores the server needs):
# Debian's package, installed when missing; a clear error when it cannot be.
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq wrk; } || { echo "make: the API benchmark needs wrk: install \
	the Debian package wrk (apt-get install wrk) as root" >&2; exit 1; }
	@command -v wrk >/dev/null || { echo "make: wrk is still not on PATH" >&2; exit 1; }

bench: setup wrk
	$(PY) -m benchmarks.run

openapi: setup  ## write docs/openapi.json from the API (a test checks it is current)
	.venv/bin/python -m paybridge.api.app

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .paybridge-demo

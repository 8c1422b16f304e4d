# civic-feedback. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Exact versions known to work together; pyproject.toml holds the minimums.
CONSTRAINTS := constraints.txt

.DEFAULT_GOAL := help
.PHONY: help run test lint format screenshots bench bench-analytics loadtest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "civic-feedback needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@

$(VENV)/.installed-load: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev,load]'
	@touch $@

run: $(VENV)/.installed ## start the collector with embedded Redis and SQLite in ./data
	$(BIN)/collector serve

lint: $(VENV)/.installed-dev ## ruff (format check and lint) and mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint ## lint, then the whole test suite against real servers
	$(BIN)/pytest

screenshots: $(VENV)/.installed-dev ## PNGs of every widget layout x language x state, and the dashboard, in screenshots/
	$(BIN)/python -m tests.e2e.screenshots screenshots

format: $(VENV)/.installed-dev ## reformat and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev ## measure against raw ASGI and Redis; writes docs/performance.md (~25 min)
	.ci/apt-install wrk redis-tools
	$(BIN)/python -m loadtests.bench

bench-analytics: $(VENV)/.installed-dev ## analytics reads over 10M generated ratings; writes docs/analytics-performance.md
	$(BIN)/python -m loadtests.analytics_scale

loadtest: $(VENV)/.installed-load ## Locust, headless, 60 s against a collector it starts; CSV in loadtests/results/
	$(BIN)/python -m loadtests.run_locust

clean: ## remove the virtualenv and caches (not ./data)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The two commands of the README, plus helpers. Everything installs into .venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: up test fuzz install lint format clean

up: install  ## install (first time) and run the whole platform on embedded services
	$(BIN)/wellcoach up

test: install  ## run the test suite against real PostgreSQL+pgvector and Redis, with coverage
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)
	@$(BIN)/coverage report --include='wellcoach/*' --no-skip-covered | grep '^TOTAL' | sed 's|^TOTAL|core (wellcoach/) coverage, 90% required:|'
	@$(BIN)/coverage report --include='wellcoach/*' --fail-under=90 > /dev/null

# `make test` runs a bounded schemathesis pass (tests/platform/test_openapi_fuzz.py); this is
# the longer one, not run in CI: make fuzz FUZZ_ARGS="--max-examples 500 --seed 7"
fuzz: install  ## a longer schemathesis run over the whole API; prints its figures
	$(BIN)/python bench/schemathesis_long.py $(FUZZ_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

lint: install  ## ruff, the layering contracts (import-linter) and the type checker
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage

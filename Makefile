# Quick start: `make eval` runs the default evaluation on the bundled demo benchmark,
# `make test` runs the whole test suite. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: eval test lint bench clean-venv

$(STAMP): pyproject.toml scripts/setup-env.sh
	bash scripts/setup-env.sh "$(VENV)" "$(PYTHON)"
	touch $(STAMP)

eval: $(STAMP)
	$(BIN)/visualact eval $(ARGS)

test: $(STAMP)
	bash scripts/setup-browser.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint and format) and mypy (config in pyproject.toml: visualact_env/ and agents/)
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/python -m mypy

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)

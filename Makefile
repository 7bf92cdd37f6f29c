# selinonc developer commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SELINONC := $(BIN)/selinonc
DEMO := examples/package-analysis

.PHONY: demo test lint typecheck pytest golden bench-compile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(SELINONC) check $(DEMO)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable-install finder: check a symlink tree named like the
# installed package instead.
typecheck: $(STAMP)
	mkdir -p .typecheck/selinonc
	for d in compiler runtime schemas templates; do ln -sfn ../../$$d .typecheck/selinonc/$$d; done
	$(BIN)/mypy -p selinonc.compiler -p selinonc.runtime
	$(BIN)/mypy tests bench

pytest: $(STAMP)
	$(BIN)/pytest -q

# Rewrite the expected output of every golden case in tests/cases/ (review the diff!).
golden: $(STAMP)
	$(BIN)/python -m tests.regen_golden

bench-compile: $(STAMP)
	$(BIN)/python -m bench.compile

clean:
	rm -rf $(VENV) .typecheck .mypy_cache .pytest_cache .ruff_cache build *.egg-info

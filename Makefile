# selinonc developer commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SELINONC := $(BIN)/selinonc
DEMO := examples/package-analysis

.PHONY: demo test lint typecheck pytest golden examples bench bench-compile bench-import bench-core bench-celery clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the embedded default: check the example, then run its top-level flow in this
# process (no broker, so its `{DEPLOYMENT_PREFIX}` queue needs no variable), for a release that
# gets three reproducibility rebuilds.
demo: $(STAMP)
	cd $(DEMO) && ../../$(SELINONC) check .
	cd $(DEMO) && ../../$(SELINONC) run . --flow analyse_package \
		--node-args '{"ecosystem": "pypi", "name": "tinyjson", "version": "1.2.0", "rebuilds": 3}'


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

# Regenerate the examples' checked-in flow packages (a test fails when they are stale).
examples: $(STAMP)
	cd examples/image-pipeline && ../../$(SELINONC) build . -o imagepipe/flowpkg
	cd examples/order-fulfilment && ../../$(SELINONC) build . -o fulfilment/flowpkg
	cd examples/package-analysis && ../../$(SELINONC) build . -o pkganalysis/flowpkg

bench: bench-compile bench-import bench-core bench-celery

bench-celery: $(STAMP)
	$(BIN)/python -m bench.celery

bench-core: $(STAMP)
	$(BIN)/python -m bench.core

bench-import: $(STAMP)
	$(BIN)/python -m bench.imports

bench-compile: $(STAMP)
	$(BIN)/python -m bench.compile

clean:
	rm -rf $(VENV) .typecheck .mypy_cache .pytest_cache .ruff_cache build *.egg-info

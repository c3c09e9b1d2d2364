# dualnet — the two set-up commands are `make demo` and `make test`.
# Every target that needs Python first makes sure .venv exists, is usable and holds
# the project as pyproject.toml describes it now; nothing has to be installed by hand.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dualnet-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# The local package mirrors print one warning per missing folder; they are noise.
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install demo test docs docs-check lint bench gpu clean

install: $(STAMP)

# Recreate the environment when it is missing or broken (for example made by another
# Python), and reinstall whenever pyproject.toml is newer than the last install.
$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c "import sys" >/dev/null 2>&1; then \
		echo "creating $(VENV) with $$($(PYTHON) --version)"; \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV); \
	fi
	@echo "installing dualnet with its test, docs and lint extras into $(VENV) (a minute or two the first time)"
	@set -o pipefail; $(PIP) install --quiet -e ".[test,docs,lint]" $(QUIET_PIP)
	@$(BIN)/python -c "import dualnet, reference_numpy, torch_impl" \
		|| { echo "the install did not produce importable packages"; exit 1; }
	@touch $@

demo: $(STAMP)
	$(BIN)/dualnet check

# One pytest worker per core (pytest-xdist, at most 8) with one BLAS/OpenMP thread each, so
# that the workers do not fight over the cores; each test module on one worker, so that its
# shared fixtures are built once; the modules in the order tests/conftest.py sets (those with
# a slow test first), so that the workers finish together.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/python -m pytest -n auto --maxprocesses 8 --dist loadscope --no-loadscope-reorder \
		--durations=30

docs: $(STAMP)
	rm -rf docs/_build/html
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# Opens every built derivation page in headless Chromium and fails unless MathJax typeset
# all of its math. Installs Debian's chromium when it is missing; not part of CI.
docs-check: docs
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium"; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	ls docs/_build/html/derivations/*.html | grep -v '/index.html$$' | xargs $(BIN)/python docs/check_math.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@for script in benchmarks/*.py; do \
		[ "$$script" = benchmarks/common.py ] && continue; \
		[ "$$script" = benchmarks/gpu_suite.py ] && continue; \
		echo "== $$script"; \
		$(BIN)/python $$script || exit 1; \
	done

# The GPU suite (benchmarks/gpu_suite.py): proves the torch backend on a CUDA GPU in under 8
# minutes once the stand-in networks are cached, writes benchmarks/results/gpu-<device>.json.
# GPU_SUITE_ARGS="--device cpu --quick" runs its CPU check (what the tests run).
gpu: $(STAMP)
	$(BIN)/python benchmarks/gpu_suite.py $(GPU_SUITE_ARGS)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .ruff_cache .hypothesis

# Two commands do all set-up on a fresh machine:
#   make run    the main job (creates .venv, installs, runs the closed loop on the built-in scenario;
#               `make run ARGS=--fresh` starts over, ARGS="--days 5" runs five more days)
#   make test   every test, the slow ones too (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# This machine's pip config lists local indexes that print a warning per package: hide that noise.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: venv run train repro test test-fast lint bench clean-state

$(STAMP): pyproject.toml scripts/install_system_packages.sh
	bash scripts/install_system_packages.sh
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first, pinned: pip's find-links holds this CPU wheel; an unpinned torch pulls CUDA (GBs).
	$(PY) -m pip install --quiet torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(PY) -m pip install --quiet -e '.[dev]' 2>&1 | $(QUIET_PIP)
	$(PY) -c "import torch, lightning, mlflow, dvc, evidently, prefect"
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(PY) -m flows.closed_loop $(ARGS)

train: venv
	$(PY) -m flows.train

repro: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro

test: venv
	bash scripts/install_chromium.sh  # the dashboard screenshot test; skips with a reason without it
	$(VENV)/bin/lint-imports --no-cache  # the import contracts in pyproject.toml
	$(PY) -m pytest -m "slow or not slow" --durations=15

test-fast: venv
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) bench/tracking_overhead.py
	$(PY) bench/simulate.py
	$(PY) bench/serving.py
	$(PY) bench/monitoring.py

clean-state:
	rm -rf .state outputs

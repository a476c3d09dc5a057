# Two commands on a fresh clone:  `make train` (the paper's LCD run)  and  `make test`.
# Both create .venv on first use. On a CPU-only machine torch==2.13.0 resolves to the
# CPU wheel when one is on pip's find-links; elsewhere pip takes PyPI's (CUDA) wheel.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup train test test-slow lint format clean-outputs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

train: setup
	$(PYTHON) train.py $(ARGS)

test: setup
	$(PYTHON) -m pytest -q $(ARGS)

test-slow: setup
	$(PYTHON) -m pytest -q -m slow $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean-outputs:
	find outputs -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +

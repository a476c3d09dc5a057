# Two commands on a fresh clone:  `make train` (the paper's LCD run)  and  `make test`.
# Both create .venv on first use: torch first (on a CPU-only machine torch==2.13.0 resolves
# to the CPU wheel when one is on pip's find-links; elsewhere pip takes PyPI's CUDA wheel),
# then exactly the versions in requirements.lock, then the project itself.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup train test test-slow lint format lock clean-outputs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# requirements.lock from pyproject.toml's ranges. pip-tools resolves with pip itself (its
# find-links included), so torch's own dependencies are those of the wheel pip installs;
# torch stays out of the lock (CPU or CUDA is the machine's choice, above).
lock: setup
	$(PYTHON) -m pip install --quiet --disable-pip-version-check pip-tools
	$(VENV)/bin/pip-compile --quiet --extra dev --no-strip-extras -P "$(TORCH)" \
		--unsafe-package torch --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml

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

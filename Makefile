# Two commands that work on a fresh machine with Python 3.11 and make:
#   make demo   set up .venv and run the whole pipeline on the embedded demo deployment
#   make test   set up .venv with the dev tools, lint (ruff, layers, mypy), run the tests
PYTHON ?= python3
# pytest processes (pytest-xdist): both cores of the CI machine; `make test TEST_WORKERS=0` runs
# the tests in one process, as when looking into one failure
TEST_WORKERS ?= 2
VENV := .venv
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
else
BIN := $(VENV)/bin
endif

.PHONY: demo test lint format bench clean-demo

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m baocao --config config.toml demo

test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# ruff; the layer contract of pyproject.toml (lower never imports higher); mypy on the package
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/bench.py --files 1000

clean-demo:
	rm -rf workbooks/templates workbooks/inbox workbooks/archive workbooks/feedback workbooks/output workbooks/outbox workbooks/logs workbooks/ledger.sqlite*

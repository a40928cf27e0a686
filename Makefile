# `make run` and `make test` each bootstrap .venv from pyproject.toml on a fresh machine.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CONFIG ?= config/calbridge.toml

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/calbridge --config $(CONFIG) serve

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check bridge radicale_plugin tests bench

bench: $(STAMP)
	$(VENV)/bin/python bench/caldav_bench.py --sizes 1000,10000

clean:
	rm -rf $(VENV) data .pytest_cache

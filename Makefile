# `make run` and `make test` each bootstrap .venv from pyproject.toml on a fresh machine.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CONFIG ?= config/calbridge.toml

# Root installs directly; anyone else through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench clean postgresql

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/calbridge --config $(CONFIG) serve

# The tests start a PostgreSQL cluster of their own from Debian's server binaries.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql (the tests run the store on it too)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    postgresql >/dev/null; }

test: $(STAMP) postgresql
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check bridge radicale_plugin tests bench
	$(VENV)/bin/mypy bridge radicale_plugin
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python bench/caldav_bench.py --sizes 1000,10000

clean:
	rm -rf $(VENV) data .pytest_cache

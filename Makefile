# The two commands of the README: `make run` and `make test`. Each one works on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench install messages lock

# Installs the exact versions of requirements.lock (the ranges live in pyproject.toml).
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	./scripts/messages.sh
	./scripts/node-deps.sh

run: $(STAMP)
	./scripts/run.sh

test: $(STAMP)
	./scripts/test.sh

# After changing a page's text: collect the strings into the .po files (then translate them).
messages: $(STAMP)
	./scripts/collect-messages.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m mypy

# After changing a range in pyproject.toml: pins what is new, keeps the other pins.
# `make lock UPGRADE=--upgrade` takes the newest releases within every range.
# (It needs only uv, so it works while the pins conflict with a new range.)
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock uv
	$(PY) -m uv pip compile pyproject.toml --all-extras --python-version 3.11 $(UPGRADE) \
	  --quiet -o requirements.lock --custom-compile-command "make lock"

# Real processes on the local PostgreSQL and Redis, a database of its own (helpdesk_bench);
# writes bench/results/latest.json, latest.md and PNG plots. About 10 minutes on 2 cores.
bench: $(STAMP)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,bench]'
	rm -f bench/results/latest.json
	./scripts/test-env.sh $(PY) bench/reports.py
	./scripts/test-env.sh $(PY) bench/reminder_scan.py
	./scripts/test-env.sh $(PY) bench/flush_on_login.py
	./scripts/test-env.sh $(PY) bench/assign_on_login.py
	./scripts/test-env.sh $(PY) bench/ingest.py
	./scripts/test-env.sh $(PY) bench/idle_capacity.py
	./scripts/test-env.sh $(PY) bench/hellos.py
	./scripts/test-env.sh $(PY) bench/reconnect_storm.py
	./scripts/test-env.sh $(PY) bench/metrics_cost.py
	$(PY) bench/summary.py

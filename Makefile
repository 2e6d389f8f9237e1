# CrateMap: two commands.
#   make run   set up .venv from the lock and open the app on the bundled demo library
#   make test  set up .venv from the dev lock, check the lock, and run the whole suite
#   make lock  regenerate requirements.txt / requirements-dev.txt from the .in files
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test setup setup-dev system-deps lock lock-upgrade lock-check bench demo-store clean

# The locks are for CPython 3.11 (as on Streamlit Community Cloud when 3.11 is chosen).
$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "CrateMap is locked for Python 3.11; set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)

# The stamps depend on the locks, so a regenerated lock reinstalls.
$(BIN)/.runtime-installed: requirements.txt scripts/lock.py | $(BIN)/python
	$(BIN)/python scripts/lock.py install requirements.txt
	touch $@

# The dev lock is the runtime lock plus the test tools, at the same versions; --exact
# removes anything an older lock left behind.
$(BIN)/.dev-installed: requirements-dev.txt scripts/lock.py | $(BIN)/python
	$(BIN)/python scripts/lock.py install requirements-dev.txt --exact
	touch $@ $(BIN)/.runtime-installed

setup: $(BIN)/.runtime-installed
setup-dev: $(BIN)/.dev-installed

# Regenerate the locks after editing requirements.in or requirements-dev.in;
# lock-upgrade also moves every package to its newest allowed version.
lock: setup-dev
	$(BIN)/python scripts/lock.py compile
lock-upgrade: setup-dev
	$(BIN)/python scripts/lock.py compile --upgrade

# No CUDA, nvidia or triton package in either lock or in what they resolve to on the
# public index; the environment is exactly the dev lock.
lock-check: setup-dev
	$(BIN)/python scripts/lock.py check --installed requirements-dev.txt

# Debian's Chromium for the browser test (never a downloaded browser build), and Debian's
# PostgreSQL server programs for the review-store tests (they start a throwaway cluster).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "note: install Debian's chromium and chromium-driver for the browser test (sudo apt-get install chromium chromium-driver)"; fi; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "note: install Debian's postgresql for the review-store tests (sudo apt-get install postgresql)"; fi; \
	fi

run: setup
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

test: setup-dev system-deps lock-check
	$(BIN)/python -m pytest

bench: setup-dev
	for b in bench/*.py; do [ $$b = bench/scale_synthetic.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done  # scale.py runs scale_synthetic.py

# Rebuild demo/.store, the demo's analysis shipped with the app (after a change that alters stored
# results; tests/test_demo_store.py says when).
demo-store: setup
	$(BIN)/python scripts/demo_store.py

clean:
	rm -rf .cratemap .pytest_cache test-output

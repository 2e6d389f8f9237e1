# CrateMap: two commands.
#   make run   set up .venv and open the app on the bundled demo library
#   make test  set up .venv (with the test tools) and run the whole suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test setup setup-dev system-deps bench clean

# The stamps depend on the requirement files, so editing them reinstalls.
$(BIN)/.runtime-installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "CrateMap needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.dev-installed: $(BIN)/.runtime-installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(BIN)/.runtime-installed
setup-dev: $(BIN)/.dev-installed

# Debian's Chromium for the browser test (never a downloaded browser build).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "note: install Debian's chromium and chromium-driver for the browser test (sudo apt-get install chromium chromium-driver)"; fi; \
	fi

run: setup
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

test: setup-dev system-deps
	$(BIN)/python -m pytest

bench: setup-dev
	for b in bench/*.py; do [ $$b = bench/scale_synthetic.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done  # scale.py runs scale_synthetic.py

clean:
	rm -rf .cratemap .pytest_cache test-output

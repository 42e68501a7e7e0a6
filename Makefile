# Two commands for a newcomer: `make run` starts the bridge, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench clean system-deps fuzz-long

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/bridge serve

lint: $(STAMP)
	$(BIN)/ruff check bridge tests
	$(BIN)/ruff format --check bridge tests
	$(BIN)/mypy bridge

# The SIP tests drive the bridge with sipp (Debian's sip-tester); installed here when we can.
system-deps:
	@command -v sipp >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends sip-tester >/dev/null; \
	  else \
	    echo "sipp is missing: install Debian's sip-tester (sudo apt-get install sip-tester)"; \
	    exit 1; \
	  fi; }

test: lint system-deps
	$(BIN)/python -m pytest -q -ra

# The fuzz suites with 200,000 inputs per parser instead of the test run's 10,000.
fuzz-long: $(STAMP)
	BRIDGE_FUZZ_PROFILE=long $(BIN)/python -m pytest -q tests/fuzz

format: $(STAMP)
	$(BIN)/ruff check --fix bridge tests
	$(BIN)/ruff format bridge tests

bench: $(STAMP)
	$(BIN)/bridge bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

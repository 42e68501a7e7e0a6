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

# `bridge serve` exits 0 after Ctrl-C or SIGTERM, so make reports no error for a clean stop.
run: $(STAMP)
	$(BIN)/bridge serve

lint: $(STAMP)
	$(BIN)/ruff check bridge tests
	$(BIN)/ruff format --check bridge tests
	$(BIN)/mypy bridge

# The SIP tests drive the bridge with sipp (Debian's sip-tester) and the dialplan pictures need
# Graphviz (dot), the deploy tests Kamailio, the softphone test Chromium; installed here the way .ci/run does when we can, else `make test` stops and
# says what to install (rather than letting their tests skip quietly).
SYSTEM_DEPS := sipp:sip-tester dot:graphviz kamailio:kamailio chromium:chromium
system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
	  command -v "$${dep%%:*}" >/dev/null || missing="$$missing $${dep#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make test needs system packages:$$missing (sudo apt-get install$$missing)"; \
	    exit 1; \
	  fi; \
	fi

test: lint system-deps
	$(BIN)/python -m pytest -q -ra

# The fuzz suites with 200,000 inputs per parser instead of the test run's 10,000. Some take
# over ten minutes each: the suite's 300 s per-test timeout is off (it cut five of them short).
fuzz-long: $(STAMP)
	BRIDGE_FUZZ_PROFILE=long nice -n 10 $(BIN)/python -m pytest -q --timeout=0 --durations=0 tests/fuzz

format: $(STAMP)
	$(BIN)/ruff check --fix bridge tests
	$(BIN)/ruff format bridge tests

bench: $(STAMP)
	$(BIN)/bridge bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

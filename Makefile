# The two commands of the contract: `make run` and `make test` (each sets itself up).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# The date-bomb guard: the tests whose code meets the clock (monitoring, alerts, digests, signals,
# retention, cases, caches, imports, analyses) run again with every clock moved years ahead.
TRAVEL_TO ?= 2030-01-01
TIME_SENSITIVE := tests/test_watch_*.py tests/test_digest.py tests/test_outbox.py tests/test_pipeline.py \
	tests/test_governance.py tests/test_cases*.py tests/test_investigate_*.py tests/test_lookup_cache.py \
	tests/test_imports.py tests/test_analysis_*.py tests/test_telegram_e2e.py tests/test_clock_travel.py

.PHONY: run test test-travel postgres soak bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/socmint run

test: $(STAMP) postgres
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-travel

test-travel: $(STAMP)
	SOCMINT_TEST_TRAVEL=$(TRAVEL_TO) $(BIN)/python -m pytest $(TIME_SENSITIVE)

# The PostgreSQL tests start their own private server from the OS packages' binaries. When those are missing and
# we may install them (root with apt-get), install Debian's `postgresql`; never fatal: without it those tests are
# skipped and say why.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing PostgreSQL from the OS packages for the PostgreSQL tests" && \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
	    || echo "could not install PostgreSQL: its tests will be skipped"; }; } || true

soak: $(STAMP)
	SOCMINT_SOAK=1 $(BIN)/python -m pytest tests/reliability -m "soak or not soak"

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

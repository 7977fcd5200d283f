# The two commands of the contract: `make run` and `make test` (each sets itself up).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The C scan is built at install time, so a change to it reinstalls as a change to the dependencies does.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml handlers/monitor/_scan.c | cksum | cut -d' ' -f1)

# The date-bomb guard: the tests whose code meets the clock (monitoring, alerts, digests, signals,
# retention, cases, caches, imports, analyses) run again with every clock moved years ahead.
TRAVEL_TO ?= 2030-01-01
TIME_SENSITIVE := tests/test_watch_*.py tests/test_digest.py tests/test_outbox.py tests/test_pipeline.py \
	tests/test_governance.py tests/test_cases*.py tests/test_investigate_*.py tests/test_lookup_cache.py \
	tests/test_imports.py tests/test_analysis_*.py tests/test_telegram_e2e.py tests/test_telegram_inbox.py \
	tests/test_clock_travel.py

# PDF reports (WeasyPrint) draw text with Pango from the OS. Where it is missing, install it when we can
# (root with apt-get, as on CI); otherwise say how, and the bot answers PDF requests with the same advice.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

.PHONY: run test test-travel postgres soak bench lint clean pdf-libs
pdf-libs:
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(not ctypes.util.find_library('pangoft2-1.0'))" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_LIBS); \
	  else echo "note: PDF reports need Pango: sudo apt-get install $(PDF_LIBS) (macOS: brew install pango)"; fi; }

$(STAMP): pyproject.toml handlers/monitor/_scan.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP) pdf-libs
	$(BIN)/socmint run

test: $(STAMP) pdf-libs postgres
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

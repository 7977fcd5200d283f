# The two commands of the contract: `make run` and `make test` (each sets itself up).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test soak bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/socmint run

test: $(STAMP)
	$(BIN)/python -m pytest

soak: $(STAMP)
	SOCMINT_SOAK=1 $(BIN)/python -m pytest tests/reliability -m "soak or not soak"

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

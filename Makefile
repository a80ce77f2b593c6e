# `make test` and `make devnet` set up everything they need on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest browser devnet clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check agora tests
	$(BIN)/ruff format --check agora tests

typecheck: $(STAMP)
	$(BIN)/mypy

# The web client's tests drive Debian's chromium (Playwright never downloads a browser).
# Quick when it is there; if it cannot be installed, those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then S=""; elif command -v sudo >/dev/null 2>&1; then S="sudo -n"; \
	  else echo "make browser: not root and no sudo: cannot install chromium" >&2; exit 0; fi; \
	  $$S env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  $$S env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  echo "make browser: chromium could not be installed: the browser tests will skip" >&2; }

# A crashed worker ends the run (restarted ones have hung with --dist loadgroup).
pytest: $(STAMP) browser
	$(BIN)/pytest -n 2 --dist loadgroup --max-worker-restart 0 -q

test: lint typecheck pytest

devnet: $(STAMP)
	$(BIN)/agora devnet

clean:
	rm -rf $(VENV) devnet .mypy_cache .pytest_cache .ruff_cache .hypothesis

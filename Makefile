# The single entry points: `make run` and `make test` (and `make bench`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEV_ENV := ACCESSGUARD_ENV=development ACCESSGUARD_COOKIE_SECURE=false

.PHONY: install run test lint browser screenshots bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# A key kept in var/ (never committed), so authenticator apps and device cookies set up in a
# trial survive restarts of `make run`; an exported ACCESSGUARD_SECRET_KEYS wins.
DEV_KEY := var/dev-secret-key

run: install
	@mkdir -p var
	@test -s $(DEV_KEY) || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $(DEV_KEY)
	ACCESSGUARD_SECRET_KEYS="$${ACCESSGUARD_SECRET_KEYS:-$$(cat $(DEV_KEY))}" $(DEV_ENV) $(BIN)/accessguard demo
	@echo "accessguard: http://127.0.0.1:8000  (dev outbox: http://127.0.0.1:8000/dev/outbox)"
	ACCESSGUARD_SECRET_KEYS="$${ACCESSGUARD_SECRET_KEYS:-$$(cat $(DEV_KEY))}" $(DEV_ENV) $(BIN)/accessguard serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff format --check src tests $(wildcard scripts)
	$(BIN)/ruff check src tests $(wildcard scripts)
	$(BIN)/mypy

# Debian's Chromium and axe-core (npm, into .cache/npm) for tests/browser; only when missing.
browser:
	scripts/install_browser.sh

test: lint browser
	$(BIN)/pytest --cov=accessguard --cov-report=term:skip-covered $(PYTEST_ARGS)

screenshots: install browser
	ACCESSGUARD_UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/browser -q

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage

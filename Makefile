# bcsync: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench bench-scale chaos mutate screenshots migrate demo clean

# (Re)install whenever requirements.txt changes: runtime only, for `make run`.
# The venv is made with $(PYTHON) (override: make PYTHON=python3.11 ...), which must be 3.11+.
$(STAMP): requirements.txt
	@test -x $(PY) || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	    echo "bcsync needs Python 3.11 or newer to create $(VENV), but $(PYTHON) is:" \
	      "$$(command -v $(PYTHON) >/dev/null && $(PYTHON) -V 2>&1 || echo 'not found')." \
	      "Install Python 3.11+ and run e.g. make PYTHON=python3.11 $(MAKECMDGOALS)" >&2; \
	    exit 1; }; \
	  echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Tests and tooling on top (requirements-dev.txt includes requirements.txt).
$(DEVSTAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEVSTAMP)

.env:
	cp .env.example .env
	@echo "Created .env from .env.example (development settings)."

migrate: $(STAMP) .env
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo_data

run: demo
	@echo "Starting web server on http://127.0.0.1:8000/admin/ and a job queue worker (Ctrl-C stops both)."
	$(VENV)/bin/honcho start

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
CHROMIUM := /usr/bin/chromium
# Installing it needs root: as root apt-get runs directly, otherwise through sudo.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "The browser tests need Debian's 'chromium' package ($(CHROMIUM)), and installing it" \
	  "needs root: run 'apt-get install chromium' as root (no sudo found), then make again." >&2; exit 1; fi; \
	echo "$${sudo:+sudo }apt-get install chromium"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	  || { echo "Could not install Debian's 'chromium' package ($(CHROMIUM)); install it by hand." >&2; exit 1; }

test: $(DEVSTAMP) $(CHROMIUM)
	$(PY) -m pytest -q -n 2

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Refresh the README's screenshots: the browser walk-through, saved under docs/.
screenshots: $(DEVSTAMP) $(CHROMIUM)
	rm -rf docs/screenshots
	BROWSER_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/browser/test_main_flows.py

# Benchmarks and fault drills against the sandbox (not part of `make test`).
bench: $(DEVSTAMP)
	$(PY) -m bench.run

# Scale-out over job queue workers: PostgreSQL, Redis, two qclusters (bench/scale.py).
bench-scale: $(DEVSTAMP)
	$(PY) -m bench.scale

chaos: $(DEVSTAMP)
	$(PY) -m bench.chaos

clean:
	rm -rf $(VENV) db.sqlite3 .test-db*.sqlite3* mutants

# Mutation testing of the modules behind README's "What a sync guarantees" (mutmut; slow,
# not part of `make test` or CI): see docs/mutation.md. Some modules only:
# make mutate MODULES="sync.guard services.sync_run_claim"
mutate: $(DEVSTAMP)
	$(PY) -m tests.mutation $(MODULES)

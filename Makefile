# bcsync: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos screenshots migrate demo clean

# (Re)install whenever requirements.txt changes.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

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
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Refresh the README's screenshots: the browser walk-through, saved under docs/.
screenshots: $(STAMP) $(CHROMIUM)
	rm -rf docs/screenshots
	BROWSER_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/browser/test_main_flows.py

# Benchmarks and fault drills against the sandbox (not part of `make test`).
bench: $(STAMP)
	$(PY) -m bench.run

chaos: $(STAMP)
	$(PY) -m bench.chaos

clean:
	rm -rf $(VENV) db.sqlite3 .test-db*.sqlite3*

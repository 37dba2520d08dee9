# Loa: the documented entry points. `make run` and `make test` set everything up themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist workers for `make test`: one per core by default; TEST_JOBS=0 runs in one process
TEST_JOBS ?= auto

.PHONY: setup run migrate test lint format bench clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(FLASK) db upgrade

# Web app on http://127.0.0.1:5000 (demo data on the first run), the render worker and the
# playout runner beside it; Ctrl-C stops all three. Plain HTTP on loopback, so the Secure
# cookie flag is relaxed here only.
run: migrate
	$(FLASK) demo load --if-empty
	@trap 'kill $$worker $$runner 2>/dev/null; wait $$worker $$runner 2>/dev/null' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(FLASK) speech worker & worker=$$!; \
	$(FLASK) scheduler run & runner=$$!; \
	SESSION_COOKIE_SECURE=$${SESSION_COOKIE_SECURE:-false} \
	$(FLASK) run --host $(HOST) --port $(PORT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadgroup

bench: setup
	$(PY) bench/web.py
	$(PY) bench/render.py
	$(PY) bench/plan.py
	$(PY) bench/runner.py
	$(PY) bench/reports.py
	$(PY) bench/crash.py
	$(PY) bench/takeover.py
	$(PY) bench/agents.py
	$(PY) bench/dispatches.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands for a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Where development keeps its SQLite file, keys and the local receiver's certificates.
INSTANCE := $(or $(WEBHOOKS_INSTANCE_PATH),instance)

.PHONY: run test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(INSTANCE)/internal_token:
	mkdir -p $(INSTANCE)
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(32))" > $@

## Install, upgrade the schema, start the local receiver (flask --app app listen), create the
## demo login and its webhook to the receiver, and serve on http://$(HOST):$(PORT).
run: install $(INSTANCE)/internal_token
	@export WEBHOOKS_QUEUE=inline WEBHOOKS_INTERNAL_TOKEN=$$(cat $(INSTANCE)/internal_token) \
	  WEBHOOKS_BASE_URL=$${WEBHOOKS_BASE_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/flask --app app db upgrade || exit 1; \
	$(BIN)/flask --app app listen & listener=$$!; \
	trap 'kill $$listener 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app app demo --wait-for-receiver 15 || exit 1; \
	echo; \
	echo "Open http://$(HOST):$(PORT)/ and sign in with the demo login above: Webhooks tab,"; \
	echo "Local receiver, Log History. Send an event from another terminal:"; \
	echo "    $(BIN)/flask --app app trigger job.created --org demo    (or --all)"; \
	echo "The local receiver prints each delivery here. Ctrl-C stops both."; \
	echo; \
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT) --no-reload --with-threads

## Install with the test extras and run the whole suite (unit, PostgreSQL, Redis/RQ, HTTPS, browser).
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/isolation.py
	$(BIN)/python bench/claim.py
	$(BIN)/python bench/loghistory.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/purge.py
	$(BIN)/python bench/first_delivery.py

clean:
	rm -rf $(VENV) $(INSTANCE)/webhooks.sqlite3

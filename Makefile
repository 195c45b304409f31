# Two commands for a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

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

instance/internal_token:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(32))" > $@

## Install, upgrade the schema, create the demo login and serve on http://$(HOST):$(PORT).
run: install instance/internal_token
	@export WEBHOOKS_QUEUE=inline WEBHOOKS_INTERNAL_TOKEN=$$(cat instance/internal_token); \
	$(BIN)/flask --app app db upgrade && \
	$(BIN)/flask --app app demo && \
	echo "Open http://$(HOST):$(PORT)/ (Ctrl-C stops)" && \
	exec $(BIN)/flask --app app run --host $(HOST) --port $(PORT) --no-reload --with-threads

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

clean:
	rm -rf $(VENV) instance/webhooks.sqlite3

"""Structured logs: one JSON object per line (or readable text), request ids, no secrets."""
import io
import json
import logging
import sys
from urllib.parse import urlsplit

import pytest

from webhooks import catalog, logs

AUTH = {"Authorization": "Bearer test-internal-token"}


@pytest.fixture
def captured():
    """Configure logging as a process does, into a buffer; put pytest's handlers back after."""
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, sys.excepthook
    buffer = io.StringIO()

    def configure(log_format="json"):
        logs.configure("INFO", log_format, stream=buffer)
        return buffer

    yield configure
    root.handlers, root.level, sys.excepthook = handlers, level, hook
    logging.captureWarnings(False)


def lines_of(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.fixture
def app(make_app):
    return make_app()  # no pushed app context: each request is its own, as in production


def test_each_request_is_one_json_line_with_its_id_and_duration(app, captured):
    buffer = captured()
    answer = app.test_client().get("/login", headers={"X-Request-Id": "req-abc.123"})
    assert answer.headers["X-Request-Id"] == "req-abc.123"

    [line] = [line for line in lines_of(buffer) if line["event"] == "request"]
    assert line["request_id"] == "req-abc.123"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/login", "/login", 200)
    assert line["level"] == "info" and line["logger"] == "webhooks.requests"
    assert isinstance(line["duration_ms"], float) and line["timestamp"].endswith("Z")


def test_a_request_id_that_is_not_sane_is_replaced(app, captured):
    buffer = captured()
    answer = app.test_client().get("/login", headers={"X-Request-Id": "a b\u00e9" + "x" * 200})
    given = answer.headers["X-Request-Id"]
    assert len(given) == 32 and given.isalnum()
    assert lines_of(buffer)[-1]["request_id"] == given


def test_lines_logged_during_a_request_carry_its_id(app, captured, factory_in):
    factory_in(app)
    buffer = captured()
    body = {"organization_id": "acme", "type": "job.created", "data": catalog.BY_TYPE["job.created"].example}
    answer = app.test_client().post("/internal/events", json=body,
                                    headers={**AUTH, "X-Request-Id": "ingest-1"})
    assert answer.status_code == 202
    ingested = [line for line in lines_of(buffer) if line["event"] == "event ingested"]
    assert ingested == [{
        "event": "event ingested", "event_id": answer.get_json()["event_id"],
        "event_type": "job.created", "organization": "acme", "deliveries": 1, "duplicate": False,
        "request_id": "ingest-1", "logger": "webhooks.ingest", "level": "info",
        "timestamp": ingested[0]["timestamp"]}]
    text = buffer.getvalue()
    for private in ("Jordan Lee", "jordan.lee@example.com", "test-internal-token"):
        assert private not in text  # neither the payload nor the token


def test_a_sign_in_link_token_never_reaches_the_log(app, captured):
    buffer = captured()
    client = app.test_client()
    answer = client.post("/internal/sessions", headers=AUTH, json={
        "organization": {"id": "acme", "name": "Acme"}, "user": {"id": "u-1", "email": "a@acme.test"},
        "permissions": ["Org.webhooks"]})
    path = urlsplit(answer.get_json()["url"]).path
    token = path.rsplit("/", 1)[-1]
    assert client.get(path).status_code == 302

    text = buffer.getvalue()
    assert token not in text
    followed = [line for line in lines_of(buffer) if line.get("status") == 302]
    assert followed[0]["path"] == path.replace(token, "[redacted]")


def test_fields_named_like_secrets_are_blanked(captured):
    buffer = captured()
    logs.get_logger("test").info("oops", password="hunter2", api_key="k", response_body="b",
                                 webhook_id=7)
    line = lines_of(buffer)[-1]
    assert (line["password"], line["api_key"], line["response_body"]) == ("[redacted]",) * 3
    assert line["webhook_id"] == 7


def test_standard_library_records_and_tracebacks_are_json_too(captured):
    buffer = captured()
    logging.getLogger("webhooks.batch").warning("could not claim %d deliveries", 3)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("webhooks.batch").exception("the delivery pump failed")
    warning, error = lines_of(buffer)[-2:]
    assert warning["event"] == "could not claim 3 deliveries" and warning["level"] == "warning"
    assert error["level"] == "error" and "ValueError: boom" in error["exception"]
    assert error["exception"].startswith("Traceback (most recent call last):")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_traceback_never_shows_local_variables(captured, log_format):
    buffer = captured(log_format)

    def sign(secret_value):
        raise ValueError("cannot sign")

    value = "-".join(("local", "SECRET", "value"))  # in no line of source the traceback quotes
    try:
        sign(value)
    except ValueError:
        logs.get_logger("webhooks.batch").exception("the delivery pump failed")
    text = buffer.getvalue()
    assert "ValueError: cannot sign" in text and "in sign" in text
    assert "local-SECRET-value" not in text


def test_the_text_format_is_one_readable_line(app, captured):
    buffer = captured("text")
    app.test_client().get("/login", headers={"X-Request-Id": "r-1"})
    [line] = [line for line in buffer.getvalue().splitlines() if " request " in line]
    assert "[info" in line and "method=GET" in line and "status=200" in line
    assert "request_id=r-1" in line and "path=/login" in line
    assert not line.startswith("{")


@pytest.fixture
def factory_in():
    from tests.conftest import Factory

    def make(app):
        with app.app_context():
            Factory().webhook(Factory().org("acme"))
    return make

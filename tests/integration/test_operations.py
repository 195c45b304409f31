"""Operations end to end: /metrics scraped after real deliveries by a real RQ worker, the JSON
logs of the worker, scheduler and gunicorn web processes (the Procfile's), without secrets."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REDIS_TEST_URL, Factory
from tests.integration.conftest import DELIVERY_SETTINGS, rq_environment
from tests.support.polling import wait_until
from tests.support.receiver import Receiver, Reply
from tests.support.servers import free_port
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Delivery

pytestmark = [pytest.mark.https, pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.parametrize("database", ["postgres"])]

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-SECRET-3141"
INTERNAL_TOKEN = "test-internal-token"
BASIC_PASSWORD = "basic-password-SECRET-2718"
HEADER_VALUE = "header-value-SECRET-1618"
PAYLOAD_MARKER = "Payload Marker Person"
RESPONSE_MARKER = "response-body-marker-1414"
EVENTS = 4


def samples(text):
    """Return {(sample name, frozenset of labels): value} and the family names of an exposition."""
    families = list(text_string_to_metric_families(text))
    found = {(sample.name, frozenset(sample.labels.items())): sample.value
             for family in families for sample in family.samples}
    return found, {family.name for family in families} | {name for name, _ in found}


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def documented_metrics():
    """The metric names the README's Operations section lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Operations"):]
    section = section[:section.index("\n## ", 1)]
    return set(re.findall(r"^\| `(webhooks_[a-z_]+)`", section, re.MULTILINE))


def event_body(n):
    data = json.loads(json.dumps(catalog.BY_TYPE["job.created"].example))
    data["job"]["customer"]["name"] = PAYLOAD_MARKER
    return {"organization_id": "acme", "type": "job.created", "data": data, "id": f"ops-{n}"}


def json_lines(path):
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines, f"{path.name} is empty"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}: not a JSON line: {line!r}") from None
    return parsed


def assert_no_secret(text, secrets, where):
    for secret in secrets:
        assert secret not in text, f"{where} holds {secret!r}"


@pytest.fixture
def failing_receiver(ca):
    server = Receiver(ca).start()
    server.always(Reply(500, f"{RESPONSE_MARKER}-500".encode()))
    yield server
    server.stop()


def test_metrics_count_real_deliveries_and_the_logs_are_json_without_secrets(
        make_app, redis_conn, rq_processes, receiver, failing_receiver):
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL,
                   WEBHOOKS_METRICS_TOKEN=METRICS_TOKEN, **DELIVERY_SETTINGS)
    receiver.always(Reply(200, RESPONSE_MARKER.encode()))
    with app.app_context():
        factory = Factory()
        org = factory.org("acme")
        good = factory.webhook(org, name="good", url=receiver.url, auth_type="basic",
                               basic_username="user", basic_password=BASIC_PASSWORD)
        good.custom_headers = [("X-Api-Key", HEADER_VALUE)]
        bad = factory.webhook(org, name="bad", url=failing_receiver.url)
        db.session.commit()
        signing_secrets = [good.signing_secret, bad.signing_secret]
    processes = rq_processes(WEBHOOKS_LOG_FORMAT="json", WEBHOOKS_LOG_LEVEL="INFO")
    client = app.test_client()
    scrape = lambda token=METRICS_TOKEN: client.get(  # noqa: E731
        "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scrape("wrong").status_code == 401
    # Once registered, the worker has removed the metric files of the session's ended processes
    # (as it does at every start): counting from then on, nothing leaves the sum meanwhile.
    wait_until(lambda: value(samples(scrape().get_data(as_text=True))[0], "webhooks_workers") == 1,
               timeout=30, message="the worker to register")
    before, _ = samples(scrape().get_data(as_text=True))

    for n in range(EVENTS):
        answer = client.post("/internal/events", json=event_body(n),
                             headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"})
        assert answer.status_code == 202, answer.get_json()

    def settled():
        with app.app_context():
            states = db.session.scalars(db.select(Delivery.state)).all()
            db.session.rollback()
        return sorted(states) == ["failed"] * EVENTS + ["succeeded"] * EVENTS

    wait_until(settled, timeout=60, message="every delivery to settle")
    wait_until(lambda: redis_conn.hget("webhooks:reconciler:totals", "runs"), timeout=15,
               message="a reconciler run")
    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    def all_counted():  # a batch's counters move just after its transaction commits
        nonlocal after, names
        after, names = samples(scrape().get_data(as_text=True))
        return added("webhooks_attempt_duration_seconds_count", outcome="failed") == 3 * EVENTS \
            and added("webhooks_attempt_duration_seconds_count", outcome="succeeded") == EVENTS

    after, names = {}, set()
    wait_until(all_counted, timeout=15, message="every attempt to be counted")

    assert added("webhooks_events_ingested_total", type="job.created", code="202") == EVENTS
    assert added("webhooks_attempts_total", outcome="succeeded", category="success",
                 trigger="automatic") == EVENTS
    assert added("webhooks_attempts_total", outcome="failed", category="http_5xx",
                 trigger="automatic") == 3 * EVENTS  # three attempts each, then it stops
    assert added("webhooks_deliveries_settled_total", outcome="succeeded") == EVENTS
    assert added("webhooks_deliveries_settled_total", outcome="failed") == EVENTS
    assert added("webhooks_attempt_duration_seconds_count", outcome="succeeded") == EVENTS
    assert added("webhooks_attempt_duration_seconds_count", outcome="failed") == 3 * EVENTS
    assert added("webhooks_first_attempt_delay_seconds_count") == 2 * EVENTS
    assert value(after, "webhooks_deliveries_waiting", state="due") == 0
    assert value(after, "webhooks_deliveries_waiting", state="scheduled") == 0
    assert value(after, "webhooks_endpoints_unhealthy", state="failing") == 1
    assert value(after, "webhooks_workers") == 1
    assert value(after, "webhooks_reconciler_runs_total") >= 1
    assert time.time() - value(after, "webhooks_scheduler_last_run_timestamp_seconds") < 15
    documented = documented_metrics()
    assert len(documented) >= 14
    assert documented <= names, f"documented but not exported: {sorted(documented - names)}"
    exported = {name for name in names if name.startswith("webhooks_")}
    undocumented = {name for name in exported
                    if not any(name == doc or name.startswith(doc + "_") or doc == name + "_total"
                               for doc in documented)}
    assert not undocumented, f"exported but not in the README: {sorted(undocumented)}"

    processes.stop()  # its lines are all written once it has exited
    worker = json_lines(processes.log_dir / "worker-0.log")
    attempts = [line for line in worker if line["event"] == "attempt recorded"]
    assert len(attempts) == 4 * EVENTS
    assert {line["organization"] for line in attempts} == {"acme"}
    assert sorted((line["outcome"], line["category"], line["status"]) for line in attempts) == \
        [("failed", "http_5xx", 500)] * 3 * EVENTS + [("succeeded", "success", 200)] * EVENTS
    assert all(line["delivery_id"].startswith("msg_") and isinstance(line["duration_ms"], int)
               and line["webhook_id"] in (good.id, bad.id) and line["level"] == "info"
               for line in attempts)
    assert any(line["event"] == "reconciler run" and "enqueued" in line for line in worker)
    scheduler = json_lines(processes.log_dir / "scheduler.log")
    assert any(line["event"] == "scheduler run" for line in scheduler)
    everything = "\n".join(path.read_text() for path in processes.log_dir.glob("*.log"))
    assert_no_secret(everything, [*signing_secrets, BASIC_PASSWORD, HEADER_VALUE, INTERNAL_TOKEN,
                                  METRICS_TOKEN, "test-secret-key", PAYLOAD_MARKER,
                                  RESPONSE_MARKER], "a worker or scheduler log")


def web_command(port):
    """The Procfile's web command, bound to loopback only."""
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines())
    command = shlex.split(procfile["web"])
    assert command[0] == "gunicorn"
    return [str(Path(sys.executable).with_name("gunicorn")), *command[1:],
            "--bind", f"127.0.0.1:{port}"]


def test_the_web_process_logs_json_lines_and_serves_every_workers_counts(
        make_app, postgres_url, ca_bundle, redis_conn, tmp_path):
    with make_app().app_context():  # the schema, and the organization the events are for
        Factory().org("acme")
    port = free_port()
    env = {**os.environ, **rq_environment(postgres_url, ca_bundle),
           "PORT": str(port), "WEB_CONCURRENCY": "3", "WEBHOOKS_LOG_FORMAT": "json",
           "WEBHOOKS_INTERNAL_TOKEN": INTERNAL_TOKEN, "WEBHOOKS_METRICS_TOKEN": METRICS_TOKEN}
    log_path = tmp_path / "web.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen(web_command(port), cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/healthz"), timeout=30, message="gunicorn to serve")
        session = requests.Session()
        token = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        internal = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}

        def ingested():
            found, _ = samples(session.get(f"{base}/metrics", headers=token).text)
            return value(found, "webhooks_events_ingested_total", type="job.created", code="202")

        start = ingested()
        for n in range(3):
            answer = session.post(f"{base}/internal/events", json=event_body(n), headers={
                **internal, "X-Request-Id": f"web-test-{n}"})
            assert answer.status_code == 202 and answer.headers["X-Request-Id"] == f"web-test-{n}"
        # Three gunicorn processes answer in turn; each scrape adds up all of them.
        assert [ingested() - start for _ in range(6)] == [3] * 6
        assert session.get(f"{base}/metrics").status_code == 401
        link = session.post(f"{base}/internal/sessions", headers=internal, json={
            "organization": {"id": "acme", "name": "Acme"},
            "user": {"id": "u-1", "email": "a@acme.test"}, "permissions": ["Org.webhooks"]})
        sign_in_path = urlsplit(link.json()["url"]).path
        assert session.get(f"{base}{sign_in_path}", allow_redirects=False).status_code == 302
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)

    lines = json_lines(log_path)
    requests_logged = [line for line in lines if line["event"] == "request"]
    ingests = [line for line in requests_logged if line["path"] == "/internal/events"]
    assert [line["request_id"] for line in ingests] == ["web-test-0", "web-test-1", "web-test-2"]
    assert all(line["status"] == 202 and line["duration_ms"] >= 0 for line in ingests)
    assert any(line["event"] == "event ingested" and line["request_id"] == "web-test-0"
               for line in lines)
    assert any(line["logger"].startswith("gunicorn") for line in lines)  # its own lines too
    sign_in_token = sign_in_path.rsplit("/", 1)[-1]
    assert_no_secret(log_path.read_text(), [INTERNAL_TOKEN, METRICS_TOKEN, sign_in_token,
                                            PAYLOAD_MARKER, "test-secret-key"], "the web log")


def _answers(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False

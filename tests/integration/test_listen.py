"""The development receiver (`flask --app app listen`), `trigger` and the demo webhook: real
deliveries over HTTPS to the receiver's own certificate, from an app that allows no private
address but the receiver's, and in production neither the address nor the certificate."""
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import REDIS_TEST_URL
from tests.support.deliveries import raise_event
from tests.support.listening import listening, use_local_receiver
from tests.support.polling import wait_until
from tests.support.servers import free_port, serving
from webhooks import catalog, failures, local_receiver, urlguard
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery, Organization, Webhook
from webhooks.sender import Sender, SenderSettings

pytestmark = pytest.mark.https

# No private address allowed: only the local receiver's exception lets these deliveries through.
DEVELOPMENT = {"WEBHOOKS_ALLOW_PRIVATE_TARGETS": False, "WEBHOOKS_TIMEOUT_SECONDS": 1.5}


@pytest.fixture
def dev_app(make_app):
    app = make_app(**DEVELOPMENT)
    with app.app_context():
        yield app


def _webhook(url, events=("job.created",), **kw):
    org = db.session.scalar(db.select(Organization).filter_by(slug="acme"))
    if org is None:
        org = Organization(slug="acme", name="Acme Roofing")
        db.session.add(org)
        db.session.commit()
    webhook = Webhook(organization_id=org.id, name=kw.pop("name", "Local"), url=url,
                      event_types=list(events), is_active=True, **kw)
    db.session.add(webhook)
    db.session.commit()
    return webhook


def _attempts(delivery_id, count, timeout=15):
    def settled():
        db.session.rollback()
        rows = db.session.scalars(db.select(Attempt).where(Attempt.delivery_id == delivery_id)
                                  .order_by(Attempt.number)).all()
        return rows if len(rows) >= count else None
    return wait_until(settled, timeout=timeout, message=f"{count} attempts")


def test_a_delivery_to_the_receiver_is_verified_and_answered(dev_app, tmp_path):
    with listening(dev_app, tmp_path / "instance", show_payload=True) as running:
        webhook = _webhook(running.webhook_url)
        delivery_id = raise_event(webhook)
        [attempt] = _attempts(delivery_id, 1)
    assert attempt.succeeded and attempt.response_status == 200
    assert "local receiver" in attempt.response_body
    line = running.lines[0]
    assert "job.created" in line and "verified (Local (acme))" in line and "→ 200" in line
    assert json.loads(running.lines[1])["type"] == "job.created"  # --payload


def test_status_500_is_recorded_as_failed_attempts_with_retries(dev_app, tmp_path):
    with listening(dev_app, tmp_path / "instance", status=500) as running:
        webhook = _webhook(running.webhook_url)
        delivery_id = raise_event(webhook)
        attempts = _attempts(delivery_id, 3)  # retries after 1 s and 2 s in tests
    assert [a.response_status for a in attempts] == [500, 500, 500]
    assert {a.category for a in attempts} == {failures.HTTP_5XX}
    assert db.session.get(Delivery, delivery_id).state == Delivery.FAILED
    assert all("→ 500" in line for line in running.lines)
    assert "attempt 2 of msg_" in running.lines[1] and "attempt 3 of msg_" in running.lines[2]


def test_delay_beyond_the_timeout_is_recorded_as_a_timeout(dev_app, tmp_path):
    dev_app.config["WEBHOOKS_RETRY_DELAYS"] = (60, 60)
    with listening(dev_app, tmp_path / "instance", delay=2.5):
        webhook = _webhook(local_receiver.of(dev_app).webhook_url)
        delivery_id = raise_event(webhook)
        [attempt] = _attempts(delivery_id, 1)
    assert attempt.category == failures.TIMEOUT and attempt.response_status is None
    assert attempt.error == "Timed out after 1.5 s waiting for a response"
    assert db.session.get(Delivery, delivery_id).state == Delivery.PENDING  # retried later


class _Integrator(BaseHTTPRequestHandler):
    """The integrator's own local server: answers 201 and keeps what it received."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        answer = b'{"created": "SF-0042"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Integrator", "mine")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_forward_to_relays_and_records_the_local_servers_answer(dev_app, tmp_path):
    _Integrator.received = []
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Integrator)) as integrator:
        target = f"http://127.0.0.1:{integrator.server_port}/hooks"
        with listening(dev_app, tmp_path / "instance", forward_to=target) as running:
            webhook = _webhook(running.webhook_url)
            delivery_id = raise_event(webhook)
            [attempt] = _attempts(delivery_id, 1)
    assert attempt.response_status == 201 and attempt.succeeded
    assert attempt.response_body == '{"created": "SF-0042"}'
    assert ["X-Integrator", "mine"] in attempt.response_headers
    [(path, headers, body)] = _Integrator.received
    assert path == "/hooks" and json.loads(body)["type"] == "job.created"
    sent = dict(attempt.request_headers)
    assert headers["webhook-id"] == sent["webhook-id"]
    assert headers["webhook-signature"] == sent["webhook-signature"]
    assert f"forwarded to {target}" in running.lines[0] and "→ 201" in running.lines[0]


def test_forward_to_a_server_that_is_not_running_answers_502(dev_app, tmp_path):
    target = f"http://127.0.0.1:{free_port()}/hooks"
    dev_app.config["WEBHOOKS_RETRY_DELAYS"] = (60, 60)
    with listening(dev_app, tmp_path / "instance", forward_to=target):
        delivery_id = raise_event(_webhook(local_receiver.of(dev_app).webhook_url))
        [attempt] = _attempts(delivery_id, 1)
    assert attempt.response_status == 502
    assert f"could not reach {target}: connection refused" in attempt.response_body


def test_a_delivery_signed_with_another_secret_is_refused(dev_app, tmp_path):
    dev_app.config["WEBHOOKS_RETRY_DELAYS"] = (60, 60)
    with listening(dev_app, tmp_path / "instance",
                   secret="whsec_" + "QUJD" * 8) as running:
        delivery_id = raise_event(_webhook(running.webhook_url))
        [attempt] = _attempts(delivery_id, 1)
    assert attempt.response_status == 400
    assert attempt.response_body.startswith("Signature does not verify: No signature matches")
    assert "NOT VERIFIED" in running.lines[0]


def test_the_previous_secret_still_verifies_during_a_rotation(dev_app, tmp_path):
    from webhooks import secret_rotation

    with listening(dev_app, tmp_path / "instance") as running:
        webhook = _webhook(running.webhook_url)
        secret_rotation.rotate(webhook)
        db.session.commit()
        [attempt] = _attempts(raise_event(webhook), 1)
    assert attempt.response_status == 200


# --- Only the receiver's address, and only in development --------------------------------------


def test_development_allows_the_receivers_address_and_no_other(dev_app, tmp_path):
    receiver = use_local_receiver(dev_app, tmp_path / "instance")
    assert urlguard.target_problem(receiver.webhook_url, local_receiver=receiver) is None
    other_port = f"https://127.0.0.1:{receiver.port + 1}/webhooks"
    for refused in (other_port, f"https://localhost:{receiver.port}/webhooks",
                    f"https://10.0.0.1:{receiver.port}/webhooks",
                    f"http://127.0.0.1:{receiver.port}/webhooks"):
        assert urlguard.target_problem(refused, local_receiver=receiver), refused


def _form(url):
    return {"name": "Local", "url": url, "auth_type": "none", "event_types": ["job.created"]}


def test_the_form_accepts_the_receiver_in_development_only(make_app, tmp_path):
    from tests.conftest import Factory, PASSWORD

    for env, accepted in (("development", True), ("production", False)):
        app = make_app(WEBHOOKS_ENV=env, **DEVELOPMENT)
        port = free_port()
        with app.app_context():
            use_local_receiver(app, tmp_path / env, port)
            factory = Factory()
            org = factory.org(f"org-{env}")
            factory.user(f"{env}@example.com", org=org)
            client = app.test_client()
            client.post("/login", data={"email": f"{env}@example.com", "password": PASSWORD})
            answer = client.post(f"/orgs/{org.slug}/webhooks/new",
                                 data=_form(f"https://127.0.0.1:{port}/webhooks"))
            saved = db.session.scalar(db.select(Webhook).filter_by(organization_id=org.id))
            assert (saved is not None) is accepted, env
            if not accepted:
                assert "a loopback address (this machine)" in answer.get_data(as_text=True)


def test_production_neither_reaches_the_receiver_nor_trusts_its_ca(dev_app, tmp_path):
    with listening(dev_app, tmp_path / "instance") as running:
        url = running.webhook_url
        development = Sender(SenderSettings(local_receiver=running.receiver, total_timeout=3))
        production = Sender(SenderSettings(total_timeout=3))  # local_receiver.of(app) is None
        production_private = Sender(SenderSettings(allow_private=True, total_timeout=3))
        try:
            assert development.send(url, b"{}", []).status == 400  # reached; unsigned
            blocked = production.send(url, b"{}", [])
            untrusted = production_private.send(url, b"{}", [])
        finally:
            for sender in (development, production, production_private):
                sender.close()
    assert blocked.category == failures.BLOCKED and "loopback" in blocked.error
    assert untrusted.category == failures.TLS and "certificate verify failed" in untrusted.error


def test_production_has_no_local_receiver(make_app):
    app = make_app(WEBHOOKS_ENV="production")
    assert local_receiver.of(app) is None
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["listen"])
    assert result.exit_code == 2 and "development tool" in result.output


def test_a_missing_ca_is_reported_plainly(dev_app, tmp_path):
    receiver = use_local_receiver(dev_app, tmp_path / "nothing-here")
    sender = Sender(SenderSettings(local_receiver=receiver))
    outcome = sender.send(receiver.webhook_url, b"{}", [])
    assert outcome.category == failures.TLS
    assert "does not exist yet: start the receiver with flask --app app listen" in outcome.error


# --- trigger and demo ----------------------------------------------------------------------------


def test_trigger_sends_the_catalog_example_through_ingest(dev_app, tmp_path):
    runner = dev_app.test_cli_runner()
    with listening(dev_app, tmp_path / "instance") as running:
        webhook = _webhook(running.webhook_url, events=catalog.SUBSCRIBABLE)
        result = runner.invoke(args=["trigger", "job.created", "--org", "acme"])
        assert result.exit_code == 0, result.output
        every = runner.invoke(args=["trigger", "--all", "--org", "acme"])
    assert "job.created: event evt_" in result.output and "1 delivery" in result.output
    assert f"→ job.created to Local ({webhook.url}): 200 in " in result.output
    assert f"/orgs/acme/webhooks/{webhook.id}/log" in result.output
    assert every.exit_code == 0 and every.output.count(": 200 in ") == len(catalog.SUBSCRIBABLE)
    db.session.rollback()
    rows = db.session.scalars(db.select(Delivery).filter_by(webhook_id=webhook.id)
                              .order_by(Delivery.id)).all()
    assert len(rows) == 1 + len(catalog.SUBSCRIBABLE)
    assert {d.state for d in rows} == {Delivery.SUCCEEDED}
    assert len(running.lines) == len(rows)
    event = rows[0].event
    assert json.loads(event.payload)["data"] == catalog.BY_TYPE["job.created"].example


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=[pytest.mark.postgres,
                                                                      pytest.mark.redis])])
def test_trigger_with_rq_reports_what_a_worker_sent(make_app, rq_processes, redis_conn, tmp_path):
    port, instance = free_port(), tmp_path / "instance"
    rq_processes(WEBHOOKS_LISTEN_PORT=port, WEBHOOKS_INSTANCE_PATH=str(instance),
                 WEBHOOKS_ALLOW_PRIVATE_TARGETS=0)
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **DEVELOPMENT)
    with app.app_context(), listening(app, instance, port=port) as running:
        _webhook(running.webhook_url)
        result = app.test_cli_runner().invoke(args=["trigger", "job.created", "--org", "acme"])
    assert result.exit_code == 0, result.output
    assert f"→ job.created to Local ({running.webhook_url}): 200 in " in result.output
    assert "verified" in running.lines[0]


def test_trigger_refuses_what_it_cannot_send(dev_app):
    runner = dev_app.test_cli_runner()
    assert "Unknown event type 'job.nope'" in runner.invoke(
        args=["trigger", "job.nope", "--org", "acme"]).output
    assert "No organization 'nowhere'" in runner.invoke(
        args=["trigger", "job.created", "--org", "nowhere"]).output
    assert "Give one event TYPE, or --all" in runner.invoke(args=["trigger", "--org", "x"]).output
    _webhook("https://127.0.0.1:1/x")  # subscribed to job.created only
    quiet = runner.invoke(args=["trigger", "estimate.created", "--org", "acme"])
    assert quiet.exit_code == 0 and "nothing to deliver" in quiet.output


def test_trigger_reports_a_failure_and_the_next_attempt(dev_app, tmp_path):
    with listening(dev_app, tmp_path / "instance", status=503):
        _webhook(local_receiver.of(dev_app).webhook_url)
        dev_app.config["WEBHOOKS_RETRY_DELAYS"] = (300, 600)
        result = dev_app.test_cli_runner().invoke(args=["trigger", "job.created", "--org", "acme"])
    assert "failed: 503. Attempt 2 in about 5 minutes." in result.output


def test_demo_gives_the_demo_org_a_webhook_to_the_receiver_and_pings_it(dev_app, tmp_path):
    runner = dev_app.test_cli_runner()
    with listening(dev_app, tmp_path / "instance") as running:
        first = runner.invoke(args=["demo", "--password", "demo-password"])
        again = runner.invoke(args=["demo", "--password", "demo-password"])
    assert first.exit_code == 0, first.output
    assert f"Demo webhook: Local receiver → {running.webhook_url}, every event type" in first.output
    assert "→ webhook.ping to Local receiver" in first.output and ": 200 in " in first.output
    assert "(on)" in again.output
    db.session.rollback()
    [webhook] = db.session.scalars(db.select(Webhook)).all()
    assert webhook.is_active and set(webhook.event_types) == set(catalog.SUBSCRIBABLE)
    [delivery] = db.session.scalars(db.select(Delivery)).all()
    assert delivery.event_type == "webhook.ping" and delivery.state == Delivery.SUCCEEDED
    assert "webhook.ping" in running.lines[0] and "verified" in running.lines[0]


def test_demo_leaves_the_webhook_off_when_no_receiver_answers(dev_app, tmp_path):
    use_local_receiver(dev_app, tmp_path / "instance")
    started = time.monotonic()
    result = dev_app.test_cli_runner().invoke(args=["demo", "--wait-for-receiver", "0.5"])
    assert time.monotonic() - started >= 0.5
    assert "does not answer" in result.output
    [webhook] = db.session.scalars(db.select(Webhook)).all()
    assert not webhook.is_active
    assert db.session.scalar(db.select(db.func.count()).select_from(Delivery)) == 0


def test_demo_in_production_adds_no_webhook(make_app):
    app = make_app(WEBHOOKS_ENV="production")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0 and "Demo webhook" not in result.output
        assert db.session.scalar(db.select(db.func.count()).select_from(Webhook)) == 0


def test_the_receiver_answers_deliveries_in_parallel(dev_app, tmp_path):
    """Ten deliveries at once (four in flight, the webhook's cap): each verified and answered."""
    with listening(dev_app, tmp_path / "instance", delay=0.3) as running:
        webhook = _webhook(running.webhook_url)
        ids = [raise_event(webhook) for _ in range(10)]
        for delivery_id in ids:
            _attempts(delivery_id, 1)
    assert len(running.lines) == 10 and all("→ 200" in line for line in running.lines)


def test_listen_refuses_options_that_contradict_each_other(dev_app):
    runner = dev_app.test_cli_runner()
    both = runner.invoke(args=["listen", "--status", "500", "--forward-to", "http://localhost:3000/"])
    assert both.exit_code == 2 and "--status and --forward-to exclude each other" in both.output
    scheme = runner.invoke(args=["listen", "--forward-to", "ftp://localhost/"])
    assert scheme.exit_code == 2 and "http:// or https://" in scheme.output
    status = runner.invoke(args=["listen", "--status", "42"])
    assert status.exit_code == 2


def test_listen_says_when_its_port_is_taken(dev_app, tmp_path):
    with listening(dev_app, tmp_path / "instance"):  # the same port, already listening
        result = dev_app.test_cli_runner().invoke(args=["listen"])
    assert result.exit_code == 1 and "Cannot listen on https://127.0.0.1:" in result.output

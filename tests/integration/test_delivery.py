"""Deliveries end to end, on both queue backends: a real HTTPS receiver, real retries (1 s, 2 s).

`inline` runs on SQLite and PostgreSQL; `rq` runs real `python -m jobs.worker` and
`rqscheduler -i 1` processes against the PostgreSQL test database and Redis database 13.
"""
import base64
import socket
import time

import pytest
from standardwebhooks import Webhook as StandardWebhook

from tests.conftest import REDIS_TEST_URL
from tests.support.receiver import Receiver, Reply, make_ca
from tests.support.workers import Processes, wait_until
from webhooks import catalog, events, urlguard
from webhooks.claims import cancel_pending
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery, Webhook, utcnow

pytestmark = [pytest.mark.https, pytest.mark.slow]

TIMEOUT_SECONDS = 1.5
ENGINE = {"WEBHOOKS_TIMEOUT_SECONDS": TIMEOUT_SECONDS, "WEBHOOKS_LEASE_SECONDS": 4}
BACKENDS = [
    pytest.param("sqlite", "inline", id="inline-sqlite"),
    pytest.param("postgres", "inline", id="inline-postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", "rq", id="rq-postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
]
both_backends = pytest.mark.parametrize("database, backend", BACKENDS)
inline_only = pytest.mark.parametrize("database, backend", BACKENDS[:2])


def rq_environment(postgres_url, ca_bundle, **extra):
    return {
        "DATABASE_URL": postgres_url, "REDIS_URL": REDIS_TEST_URL, "SECRET_KEY": "test-secret-key",
        "WEBHOOKS_QUEUE": "rq", "WEBHOOKS_RETRY_DELAYS": "1,2", "WEBHOOKS_CA_BUNDLE": ca_bundle,
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOKS_RECONCILE_SECONDS": "1",
        **{key: str(value) for key, value in ENGINE.items()}, **extra,
    }


@pytest.fixture(scope="module")
def rq_processes(postgres_url, ca_bundle, tmp_path_factory):
    """One worker and one rqscheduler for the module's rq tests (the tables are truncated between)."""
    processes = Processes(rq_environment(postgres_url, ca_bundle), tmp_path_factory.mktemp("rq"))
    processes.start_worker()
    processes.start_scheduler(interval=1)
    yield processes
    processes.stop()


@pytest.fixture
def engine_app(backend, make_app, request):
    """An app whose queue is the backend under test, with its app context pushed."""
    if backend == "rq":
        request.getfixturevalue("redis_conn")
        request.getfixturevalue("rq_processes")
        app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **ENGINE)
    else:
        app = make_app(**ENGINE)
    with app.app_context():
        yield app


@pytest.fixture
def factory(engine_app):
    from tests.conftest import Factory

    return Factory()


@pytest.fixture
def org(factory):
    return factory.org()


def raise_event(org, webhook, event_type="job.created"):
    """Store an event with one delivery to webhook and hand it to the queue, as ingest does."""
    event = events.build_event(org, event_type, {"job": {"id": "J-1"}})
    delivery = events.new_delivery(event, webhook)
    db.session.add_all([event, delivery])
    db.session.commit()
    events.dispatch([delivery])
    return delivery.id


def fresh(delivery_id):
    db.session.rollback()  # end the read transaction so other processes' commits are visible
    return db.session.get(Delivery, delivery_id)


def attempts_of(delivery_id):
    db.session.rollback()
    return list(db.session.scalars(
        db.select(Attempt).filter_by(delivery_id=delivery_id).order_by(Attempt.number)))


def wait_for_state(delivery_id, state, timeout=20):
    return wait_until(lambda: fresh(delivery_id).state == state and fresh(delivery_id),
                      timeout, message=f"delivery {delivery_id} to be {state}")


def wait_for_attempts(delivery_id, count, timeout=20):
    return wait_until(lambda: len(attempts_of(delivery_id)) >= count and attempts_of(delivery_id),
                      timeout, message=f"{count} attempts of delivery {delivery_id}")


def gap(earlier, later):
    return (later.started_at - earlier.finished_at).total_seconds()


@both_backends
def test_two_failures_then_success_retries_after_1_then_2_seconds(org, factory, receiver):
    receiver.always(Reply(200, b'{"thanks":true}', {"Content-Type": "application/json", "X-Trace": "t-9"}))
    receiver.reply(Reply(500, b"oops 1"), Reply(500, b"oops 2"))
    webhook = factory.webhook(org, url=receiver.url)

    delivery_id = raise_event(org, webhook)

    delivery = wait_for_state(delivery_id, Delivery.SUCCEEDED)
    attempts = attempts_of(delivery_id)
    assert [(a.number, a.trigger, a.response_status, a.succeeded) for a in attempts] == [
        (1, "automatic", 500, False), (2, "automatic", 500, False), (3, "automatic", 200, True)]
    assert [a.response_body for a in attempts] == ["oops 1", "oops 2", '{"thanks":true}']
    assert ["X-Trace", "t-9"] in attempts[2].response_headers
    # Never early; the upper bound only catches a scheduler polling every minute (rqscheduler's
    # default), loose enough that a loaded machine cannot fail it.
    assert 1.0 <= gap(attempts[0], attempts[1]) < 30
    assert 2.0 <= gap(attempts[1], attempts[2]) < 30
    assert delivery.attempt_count == 3 and delivery.next_attempt_at is None
    assert delivery.last_status_code == 200 and delivery.lease_until is None
    received = receiver.requests
    assert len(received) == 3
    assert {r.headers["webhook-id"] for r in received} == {delivery.public_id}
    assert all(a.url == receiver.url for a in attempts)
    assert all(a.duration_ms >= 0 and a.finished_at >= a.started_at for a in attempts)


@both_backends
def test_third_failure_stops_retrying(org, factory, receiver):
    receiver.always(Reply(500, b"down"))
    webhook = factory.webhook(org, url=receiver.url)

    delivery_id = raise_event(org, webhook)

    delivery = wait_for_state(delivery_id, Delivery.FAILED)
    time.sleep(3)  # longer than the last delay: a fourth attempt would have started by now
    assert [a.number for a in attempts_of(delivery_id)] == [1, 2, 3]
    assert len(receiver.requests) == 3
    assert delivery.next_attempt_at is None and fresh(delivery_id).state == Delivery.FAILED
    db.session.refresh(webhook)
    assert webhook.last_status_code == 500 and webhook.last_attempt_at is not None


@both_backends
def test_network_failures_are_recorded_in_plain_words_and_retried(org, factory, ca):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    stranger = Receiver(make_ca()).start()  # a certificate from a CA nobody trusts
    slow = Receiver(ca).start()
    redirect = Receiver(ca).start()
    try:
        slow.always(Reply(200, delay=TIMEOUT_SECONDS + 1))
        redirect.always(Reply(302, b"", {"Location": "https://elsewhere.example/"}))
        refused = f"https://127.0.0.1:{closed_port}/hook"
        cases = {
            slow.url: f"Timed out after {TIMEOUT_SECONDS:g} s waiting for a response",
            stranger.url: "TLS certificate verify failed: ",
            refused: "Connection refused",
            redirect.url: "Redirect (302) not followed: Location https://elsewhere.example/",
        }
        deliveries = {url: raise_event(org, factory.webhook(org, url=url)) for url in cases}

        for url, words in cases.items():
            first, second = wait_for_attempts(deliveries[url], 2)[:2]
            assert first.error.startswith(words), (url, first.error)
            assert second.error.startswith(words)
            assert first.succeeded is False and gap(first, second) >= 1.0
        assert attempts_of(deliveries[redirect.url])[0].response_status == 302
        assert fresh(deliveries[refused]).last_error == "Connection refused"
    finally:
        for server in (stranger, slow, redirect):
            server.stop()


@both_backends
def test_receiver_verifies_the_signature_and_sees_basic_auth(org, factory, receiver):
    webhook = factory.webhook(org, url=receiver.url, auth_type="basic", basic_username="hooks",
                              basic_password="pa ss:wörd")

    delivery_id = raise_event(org, webhook)

    wait_for_state(delivery_id, Delivery.SUCCEEDED)
    received = receiver.requests[0]
    payload = StandardWebhook(webhook.signing_secret).verify(received.body, received.headers)
    db.session.rollback()
    delivery = db.session.get(Delivery, delivery_id)
    assert received.body.decode() == delivery.event.payload
    assert payload["type"] == "job.created" and payload["organization_id"] == "acme"
    assert received.headers["authorization"] == "Basic " + base64.b64encode("hooks:pa ss:wörd".encode()).decode()
    assert received.headers["user-agent"].startswith("Webhooks/")
    stored = dict(attempts_of(delivery_id)[0].request_headers)
    assert stored["Authorization"] == "Basic ••••••"
    assert stored["webhook-signature"] == received.headers["webhook-signature"]


@both_backends
def test_deactivating_a_webhook_cancels_its_pending_retry(org, factory, receiver):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(org, webhook)
    wait_for_attempts(delivery_id, 1)

    webhook.is_active = False  # as the UI's toggle does
    cancel_pending(webhook.id, "Webhook was deactivated")
    db.session.commit()

    time.sleep(2.5)  # past the 1 s retry delay
    delivery = fresh(delivery_id)
    assert delivery.state == Delivery.CANCELLED
    assert delivery.cancel_reason == "Webhook was deactivated"
    assert len(attempts_of(delivery_id)) == 1 and len(receiver.requests) == 1


@both_backends
def test_a_retry_due_for_a_webhook_turned_off_is_cancelled_not_sent(org, factory, receiver):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(org, webhook)
    wait_for_attempts(delivery_id, 1)

    db.session.execute(db.update(Webhook).where(Webhook.id == webhook.id).values(is_active=False))
    db.session.commit()

    delivery = wait_for_state(delivery_id, Delivery.CANCELLED)
    assert delivery.cancel_reason == "Webhook was deactivated"
    assert len(receiver.requests) == 1


@both_backends
def test_a_test_event_reaches_a_deactivated_webhook_but_not_a_deleted_one(org, factory, receiver):
    inactive = factory.webhook(org, url=receiver.url, active=False)
    deleted = factory.webhook(org, url=receiver.url, active=False, deleted_at=utcnow())

    ping_id = raise_event(org, inactive, catalog.PING.type)
    lost_id = raise_event(org, deleted, catalog.PING.type)

    wait_for_state(ping_id, Delivery.SUCCEEDED)
    assert [a.trigger for a in attempts_of(ping_id)] == ["ping"]
    lost = wait_for_state(lost_id, Delivery.CANCELLED)
    assert lost.cancel_reason == "Webhook was deleted"
    assert len(receiver.requests) == 1


@both_backends
def test_a_manual_resend_of_a_failed_delivery_is_one_more_attempt(org, factory, receiver, engine_app):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(org, webhook)
    wait_for_state(delivery_id, Delivery.FAILED)
    receiver.always(Reply(200))

    delivery = fresh(delivery_id)
    delivery.manual_requested_at = utcnow()  # as the UI's Resend does
    db.session.commit()
    engine_app.extensions["webhooks_queue"].submit_manual(delivery_id)

    delivery = wait_for_state(delivery_id, Delivery.SUCCEEDED)
    attempts = attempts_of(delivery_id)
    assert [(a.number, a.trigger) for a in attempts][-1] == (4, "manual")
    assert delivery.attempt_count == 3 and delivery.manual_requested_at is None
    assert len(receiver.requests) == 4


@inline_only
def test_the_same_delivery_submitted_twice_is_sent_once(org, factory, receiver, engine_app):
    receiver.always(Reply(200, delay=0.3))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(org, webhook)

    engine_app.extensions["webhooks_queue"].submit([delivery_id, delivery_id])

    wait_for_state(delivery_id, Delivery.SUCCEEDED)
    time.sleep(1.5)
    assert len(attempts_of(delivery_id)) == 1 and len(receiver.requests) == 1


@inline_only
def test_an_endpoint_on_loopback_is_refused_unless_private_targets_are_allowed(backend, make_app,
                                                                              receiver):
    from tests.conftest import Factory

    app = make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False, **ENGINE)
    with app.app_context():
        factory = Factory()
        org = factory.org()
        delivery_id = raise_event(org, factory.webhook(org, url=receiver.url))

        first = wait_for_attempts(delivery_id, 1)[0]
        assert first.error.startswith("Blocked: 127.0.0.1 is a loopback address") and first.response_status is None
        assert receiver.requests == []


def test_the_total_timeout_also_covers_an_endpoint_dribbling_its_headers(ca, ca_bundle):
    """Each byte arrives well within the read timeout, yet the whole answer would take ~4 s."""
    import ssl
    import threading

    from tests.support.receiver import server_context
    from webhooks.sender import Sender, SenderSettings

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def dribble():
        with server_context(ca).wrap_socket(listener, server_side=True) as tls:
            tls.settimeout(10)
            try:
                conn, _ = tls.accept()
            except (OSError, ssl.SSLError):
                return
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 40:
                    if stop.wait(0.1):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return

    server = threading.Thread(target=dribble, daemon=True)
    server.start()
    sender = Sender(SenderSettings(allow_private=True, ca_bundle=ca_bundle, connect_timeout=1,
                                   total_timeout=1))
    try:
        outcome = sender.send(f"https://127.0.0.1:{port}/hook", b"{}", [])
    finally:
        sender.close()
        stop.set()
        server.join(5)

    assert outcome.error == "Timed out after 1 s waiting for a response"
    assert outcome.status is None and not outcome.succeeded
    assert 1000 <= outcome.duration_ms < 2500


@pytest.mark.parametrize("database, backend", BACKENDS[2:])
def test_a_burst_is_sent_in_batches_each_delivery_once(org, factory, receiver, redis_conn):
    """One job claims many due deliveries; their own messages are dropped, none is sent twice."""
    from rq import Queue

    from webhooks.queue import QUEUE_NAME

    receiver.always(Reply(200, delay=0.05))
    webhooks = [factory.webhook(org, url=receiver.url, name=f"Hook {n}") for n in range(5)]
    ids = [raise_event(org, webhooks[n % 5]) for n in range(40)]

    for delivery_id in ids:
        wait_for_state(delivery_id, Delivery.SUCCEEDED)
    wait_until(lambda: Queue(QUEUE_NAME, connection=redis_conn).count == 0, 10,
               message="the queue to drain")
    assert sorted(len(attempts_of(d)) for d in ids) == [1] * 40
    assert len(receiver.requests) == 40
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 40

"""Deliveries end to end, on both queue backends: a real HTTPS receiver, real retries (1 s, 2 s).

`inline` runs on SQLite and PostgreSQL; `rq` runs real `python -m jobs.worker` and
`python -m jobs.scheduler` processes against the PostgreSQL test database and Redis database 13.
"""
import base64
import socket
import time

import pytest
from standardwebhooks import Webhook as StandardWebhook

from tests.conftest import Factory
from tests.integration.conftest import BACKENDS, DELIVERY_SETTINGS, both_backends, inline_only
from tests.support.deliveries import (attempts_of, fresh, raise_event, wait_for_attempts,
                                      wait_for_state)
from tests.support.polling import wait_until
from tests.support.receiver import Receiver, Reply, make_ca
from webhooks import catalog, lifecycle, queue
from webhooks.extensions import db
from webhooks.crypto import new_signing_secret
from webhooks.models import Delivery, Webhook, utcnow
from webhooks.sender import Sender, SenderSettings
from webhooks.signing import request_headers

pytestmark = [pytest.mark.https, pytest.mark.slow]

TIMEOUT_SECONDS = DELIVERY_SETTINGS["WEBHOOKS_TIMEOUT_SECONDS"]


@pytest.fixture
def factory(delivering_app):
    return Factory()


@pytest.fixture
def org(factory):
    return factory.org()


def gap(earlier, later):
    return (later.started_at - earlier.finished_at).total_seconds()


@both_backends
def test_two_failures_then_success_retries_after_1_then_2_seconds(org, factory, receiver):
    receiver.always(Reply(200, b'{"thanks":true}', {"Content-Type": "application/json", "X-Trace": "t-9"}))
    receiver.reply(Reply(500, b"oops 1"), Reply(500, b"oops 2"))
    webhook = factory.webhook(org, url=receiver.url)

    delivery_id = raise_event(webhook)

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
    assert all(abs((a.finished_at - a.started_at).total_seconds() * 1000 - a.duration_ms) <= 1
               for a in attempts)  # the stored duration is the attempt's own start to finish


@both_backends
def test_third_failure_stops_retrying(org, factory, receiver):
    receiver.always(Reply(500, b"down"))
    webhook = factory.webhook(org, url=receiver.url)

    delivery_id = raise_event(webhook)

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
        deliveries = {url: raise_event(factory.webhook(org, url=url)) for url in cases}

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

    delivery_id = raise_event(webhook)

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


def test_an_endpoint_gets_exactly_the_signed_headers_and_never_its_own_cookie_back(receiver,
                                                                                   ca_bundle):
    receiver.always(Reply(200, b"ok", {"Set-Cookie": "tracker=1; Path=/"}))
    sender = Sender(SenderSettings(allow_private=True, ca_bundle=ca_bundle))
    headers = request_headers("msg_1", b"{}", new_signing_secret(), int(time.time()))

    for _ in range(3):  # one thread, so one kept-alive session for all three
        assert sender.send(receiver.url, b"{}", headers).status == 200
    sender.close()

    assert len(receiver.requests) == 3
    for received in receiver.requests:
        sent = {name: value for name, value in received.headers.items()
                if name not in ("host", "content-length", "accept-encoding")}
        assert sent == {name.lower(): value for name, value in headers}  # no Cookie among them


@both_backends
def test_deactivating_a_webhook_cancels_its_pending_retry(org, factory, receiver):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(webhook)
    wait_for_attempts(delivery_id, 1)

    lifecycle.deactivate(webhook)

    time.sleep(2.5)  # past the 1 s retry delay
    delivery = fresh(delivery_id)
    assert delivery.state == Delivery.CANCELLED
    assert delivery.cancel_reason == "Webhook was deactivated"
    assert len(attempts_of(delivery_id)) == 1 and len(receiver.requests) == 1


@both_backends
def test_a_retry_due_for_a_webhook_turned_off_is_cancelled_not_sent(org, factory, receiver):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(webhook)
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

    ping_id = raise_event(inactive, catalog.PING.type)
    lost_id = raise_event(deleted, catalog.PING.type)

    wait_for_state(ping_id, Delivery.SUCCEEDED)
    assert [a.trigger for a in attempts_of(ping_id)] == ["ping"]
    lost = wait_for_state(lost_id, Delivery.CANCELLED)
    assert lost.cancel_reason == "Webhook was deleted"
    assert len(receiver.requests) == 1


@both_backends
def test_a_manual_resend_of_a_failed_delivery_is_one_more_attempt(org, factory, receiver):
    receiver.always(Reply(500))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(webhook)
    wait_for_state(delivery_id, Delivery.FAILED)
    receiver.always(Reply(200))

    assert lifecycle.request_resend(webhook, fresh(delivery_id)) is None

    delivery = wait_for_state(delivery_id, Delivery.SUCCEEDED)
    attempts = attempts_of(delivery_id)
    assert [(a.number, a.trigger) for a in attempts][-1] == (4, "manual")
    assert delivery.attempt_count == 3 and delivery.manual_requested_at is None
    assert len(receiver.requests) == 4


@inline_only
def test_the_same_delivery_submitted_twice_is_sent_once(org, factory, receiver):
    receiver.always(Reply(200, delay=0.3))
    webhook = factory.webhook(org, url=receiver.url)
    delivery_id = raise_event(webhook)

    queue.get_queue().submit([delivery_id, delivery_id])

    wait_for_state(delivery_id, Delivery.SUCCEEDED)
    time.sleep(1.5)
    assert len(attempts_of(delivery_id)) == 1 and len(receiver.requests) == 1


@inline_only
def test_an_endpoint_on_loopback_is_refused_unless_private_targets_are_allowed(backend, make_app,
                                                                              receiver):
    app = make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False, **DELIVERY_SETTINGS)
    with app.app_context():
        factory = Factory()
        org = factory.org()
        delivery_id = raise_event(factory.webhook(org, url=receiver.url))

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
    ids = [raise_event(webhooks[n % 5]) for n in range(40)]

    for delivery_id in ids:
        wait_for_state(delivery_id, Delivery.SUCCEEDED)
    wait_until(lambda: Queue(QUEUE_NAME, connection=redis_conn).count == 0, 10,
               message="the queue to drain")
    assert sorted(len(attempts_of(d)) for d in ids) == [1] * 40
    assert len(receiver.requests) == 40
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 40

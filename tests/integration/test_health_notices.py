"""Health notices end to end: real failures at a real HTTPS receiver, the health rules applied by
whatever records the attempts (the inline pump, or RQ worker processes), the periodic sweep (the
inline timer, or the reconciler job), and each email once, through a real SMTP server."""
import time
from datetime import timedelta

import pytest

from tests.conftest import Factory
from tests.integration.conftest import DELIVERY_SETTINGS, REDIS_TEST_URL, both_backends, inline_only
from tests.support.deliveries import fresh, raise_event, wait_for_state
from tests.support.polling import wait_until
from tests.support.receiver import Reply
from tests.support.smtp import running_smtp_server
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook, utcnow

pytestmark = [pytest.mark.https, pytest.mark.slow]

HOUR = timedelta(hours=1)


@pytest.fixture
def smtp():
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def notifying_app(backend, make_app, request, smtp):
    """An app (and for rq, worker processes) that sends its notices to the test SMTP server and
    sweeps health every second."""
    settings = {**smtp.settings, "WEBHOOKS_RECONCILE_SECONDS": 1,
                "WEBHOOKS_DISABLE_AFTER_HOURS": 72, "WEBHOOKS_DISABLE_MIN_FAILURES": 2,
                "WEBHOOKS_BASE_URL": "https://webhooks.example.com"}
    if backend == "rq":
        request.getfixturevalue("redis_conn")
        request.getfixturevalue("rq_processes")(
            **{key: value for key, value in settings.items() if value is not None})
        app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **DELIVERY_SETTINGS,
                       **settings)
    else:
        app = make_app(**DELIVERY_SETTINGS, **settings)
    with app.app_context():
        yield app


@pytest.fixture
def org(notifying_app):
    factory = Factory()
    org = factory.org("acme", "Acme Roofing")
    factory.user("owner@example.com", org=org)
    factory.user("member@example.com", org=org, permissions=())
    return org


def subjects(smtp):
    return [message.message["Subject"] for message in smtp.messages]


def still(smtp, count, seconds=2.5):
    """Wait a few sweeps: no further email arrives."""
    time.sleep(seconds)
    return len(smtp.messages) == count


def fresh_webhook(webhook_id):
    db.session.rollback()
    return db.session.get(Webhook, webhook_id)


@both_backends
def test_failing_then_warned_then_turned_off_each_emailed_once(org, receiver, smtp):
    receiver.default = Reply(status=503)
    webhook = Factory().webhook(org, name="CRM sync", url=receiver.url)
    first, second = raise_event(webhook), raise_event(webhook)
    for delivery_id in (first, second):
        wait_for_state(delivery_id, Delivery.FAILED)

    [started] = smtp.wait_for(1)
    assert started.message["Subject"] == "[Webhooks] “CRM sync” is failing"
    assert started.message["To"] == "owner@example.com"  # not the member without the permission
    assert "503" in started.part("plain") and f"/webhooks/{webhook.id}" in started.part("plain")
    assert fresh_webhook(webhook.id).failing_deliveries == 2
    assert still(smtp, 1)

    # A day before the turn-off (72 hours of failing): the sweep warns, once.
    fresh_webhook(webhook.id).failing_since = utcnow() - 49 * HOUR
    db.session.commit()
    smtp.wait_for(2)
    assert subjects(smtp)[1] == "[Webhooks] “CRM sync” will be turned off if it keeps failing"
    assert still(smtp, 2)

    # 72 hours: turned off (it has 2 failed deliveries, the minimum here), once.
    fresh_webhook(webhook.id).failing_since = utcnow() - 73 * HOUR
    db.session.commit()
    wait_until(lambda: fresh_webhook(webhook.id).health_state == Webhook.DISABLED, 15)
    smtp.wait_for(3)
    assert subjects(smtp)[2] == "[Webhooks] “CRM sync” was turned off"
    assert "It failed for 72 hours: 2 deliveries failed" in smtp.messages[2].part("plain")
    assert still(smtp, 3)


@inline_only
def test_410_gone_turns_it_off_at_once_and_cancels_the_rest(org, receiver, smtp):
    receiver.default = Reply(status=410)
    webhook = Factory().webhook(org, name="ERP", url=receiver.url)
    gone = raise_event(webhook)
    wait_until(lambda: fresh_webhook(webhook.id).health_state == Webhook.DISABLED, 15)
    later = raise_event(webhook)  # its webhook is off now: cancelled, never sent

    [message] = smtp.wait_for(1)
    assert message.message["Subject"] == "[Webhooks] “ERP” was turned off"
    assert "410 Gone" in message.part("plain")
    assert fresh(gone).state == Delivery.CANCELLED  # its retry: the webhook went off
    wait_for_state(later, Delivery.CANCELLED)
    assert len(receiver.requests) == 1 and still(smtp, 1)

"""The Activity tab: creation, test events, resends and recoveries of one webhook, newest first."""
from datetime import timedelta

import pytest

from tests.support.deliveries import T0, failed_attempt, ok_attempt, stored_delivery, timeout_attempt
from webhooks import activity, lifecycle
from webhooks.extensions import db
from webhooks.models import Recovery, User

HOUR = timedelta(hours=1)


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, name="CRM", created_at=T0 - timedelta(days=1))


def test_creation_test_events_and_resends_newest_first(webhook, factory, owner):
    minute = timedelta(minutes=1)
    ping = stored_delivery(webhook, "webhook.ping", created_at=T0, last_status_code=200,
                           attempts=[ok_attempt(trigger="ping", started_at=T0)])
    failed_ping = stored_delivery(webhook, "webhook.ping", state="failed", created_at=T0 + minute,
                                  attempts=[timeout_attempt(trigger="ping")],
                                  last_status_code=None, last_error="Timed out after 15 s.")
    resent = stored_delivery(webhook, state="succeeded", created_at=T0, attempts=[
        failed_attempt(started_at=T0 + 2 * minute),
        ok_attempt(trigger="manual", started_at=T0 + 3 * minute)])
    stored_delivery(webhook, state="failed", created_at=T0, attempts=[  # automatic only
        failed_attempt(started_at=T0 + 4 * minute)])
    stored_delivery(factory.webhook(owner, name="Other"), "webhook.ping", created_at=T0 + 5 * minute)

    entries = activity.of_webhook(webhook)
    event_id = resent.event.public_id
    assert [(e.kind, e.text, e.delivery_id, e.tone) for e in entries] == [
        ("resend", f"Resent {event_id}: answered 200", resent.id, "ok"),
        ("test_event", "Test event sent: failed (Timed out after 15 s)", failed_ping.id, "bad"),
        ("test_event", "Test event sent: succeeded (200)", ping.id, "ok"),
        ("created", "Webhook created", None, None),
    ]
    assert entries[0].at == T0 + 3 * minute and entries[-1].at == T0 - timedelta(days=1)


def test_a_pending_test_event_and_the_limit(webhook):
    for number in range(4):
        stored_delivery(webhook, "webhook.ping", state="pending",
                        created_at=T0 + timedelta(minutes=number))
    entries = activity.of_webhook(webhook, limit=3)
    assert [e.text for e in entries] == ["Test event sent: no response yet"] * 3
    assert [e.at for e in entries] == [T0 + timedelta(minutes=n) for n in (3, 2, 1)]


def test_bulk_resends_replays_and_an_automatic_turn_off(webhook, factory, owner):
    person = db.session.scalar(db.select(User))
    db.session.add_all([
        Recovery(webhook_id=webhook.id, kind=Recovery.RESEND, total=12, created_by=person,
                 created_at=T0),
        Recovery(webhook_id=webhook.id, kind=Recovery.REPLAY, total=3, created_at=T0 + HOUR,
                 cancelled_at=T0 + 2 * HOUR)])
    lifecycle.disable(webhook, "The endpoint answered 410 Gone.")
    db.session.commit()

    entries = activity.of_webhook(webhook)
    assert [(e.kind, e.text, e.tone) for e in entries[:3]] == [
        ("disabled", "Turned off automatically: The endpoint answered 410 Gone.", "bad"),
        ("recovery", "Replay of 3 missed events started (cancelled)", None),
        ("recovery", f"Bulk resend of 12 failed deliveries started by {person.email}", None),
    ]
    assert entries[1].recovery_id is not None


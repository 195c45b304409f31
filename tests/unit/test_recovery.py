"""Recovery: resending a period's failed deliveries and replaying what a webhook missed while it
was off, through the ordinary claim (and so the per-endpoint cap), with the count first."""
from datetime import timedelta

import pytest

from tests.support.deliveries import store_delivery, stored_delivery
from webhooks import claims, events, health, lifecycle, recording, recovery
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery, Recovery, utcnow
from webhooks.sender import Outcome

HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(health, "announce", lambda changes: None)


@pytest.fixture
def webhook(factory, owner, queue):
    return factory.webhook(owner, name="CRM", events=("job.created", "job.updated"))


def answer(status):
    now = utcnow()
    return Outcome(started_at=now, finished_at=now, duration_ms=5, status=status,
                   category="success" if status < 300 else "http_5xx")


def failed(webhook, age, event_type="job.created"):
    return stored_delivery(webhook, event_type, state="failed", created_at=utcnow() - age,
                           attempt_count=3)


def send_all(status_of=lambda claim: 200):
    """Claim what is due and record an answer for each until nothing is left (the cap lets a
    few through at a time); return the claims."""
    claimed = []
    while batch := claims.claim_due(limit=100):
        recording.record([(claim, answer(status_of(claim))) for claim in batch])
        claimed.extend(batch)
    return claimed


def window(hours, event_type=None):
    now = utcnow()
    return recovery.Window(now - hours * HOUR, now, event_type)


def test_the_count_is_exactly_the_window_s_failed_deliveries_of_the_type(webhook, factory, owner):
    inside = [failed(webhook, 2 * HOUR), failed(webhook, 5 * HOUR, "job.updated")]
    failed(webhook, 30 * HOUR)  # before the window
    stored_delivery(webhook, state="succeeded", created_at=utcnow() - HOUR)
    failed(factory.webhook(owner, name="Other"), HOUR)

    assert recovery.count_failed(webhook, window(24)) == len(inside)
    assert recovery.count_failed(webhook, window(24, "job.updated")) == 1


def test_resend_sends_each_once_marked_and_with_its_webhook_id(webhook, queue):
    first, second = failed(webhook, HOUR), failed(webhook, 2 * HOUR)
    started = recovery.resend_failed(webhook, window(24))
    assert started.total == 2 and queue.submitted  # workers were woken

    claimed = send_all(lambda claim: 200 if claim.delivery_id == first.id else 503)
    assert {c.public_id for c in claimed} == {first.public_id, second.public_id}
    assert {c.trigger for c in claimed} == {Attempt.BULK_RESEND}

    ok, bad = (db.session.get(Delivery, d.id) for d in (first, second))
    assert (ok.state, bad.state) == (Delivery.SUCCEEDED, Delivery.FAILED)  # one attempt only
    assert claims.claim_due(limit=100) == []
    assert recovery.progress(started) == recovery.Progress(
        total=2, sent=2, succeeded=1, failed=1, retrying=0, waiting=0)


def test_resent_deliveries_go_through_the_per_endpoint_cap(app, webhook):
    app.config["WEBHOOKS_ENDPOINT_CONCURRENCY"] = 2
    for age in range(5):
        failed(webhook, (age + 1) * HOUR)
    recovery.resend_failed(webhook, window(24))
    assert len(claims.claim_due(limit=100)) == 2


def test_cancelling_puts_back_what_was_not_sent(webhook):
    deliveries = [failed(webhook, HOUR) for _ in range(3)]
    started = recovery.resend_failed(webhook, window(24))
    [first] = claims.claim_due(limit=1)
    recovery.cancel(started)
    recording.record([(first, answer(200))])

    states = sorted(db.session.get(Delivery, d.id).state for d in deliveries)
    assert states == [Delivery.FAILED, Delivery.FAILED, Delivery.SUCCEEDED]
    progress = recovery.progress(started)
    assert (progress.sent, progress.succeeded, progress.not_sent, progress.done) == (1, 1, 2, True)
    assert claims.claim_due(limit=100) == []


def ingest(webhook, event_type="job.created"):
    """Store an event of the webhook's organization as ingest does (fan-out to active ones)."""
    targets = [webhook.id] if webhook.is_active else []
    stored = events.store(db.session.connection(), webhook.organization, event_type,
                          {"job": {"id": "1"}}, targets)
    db.session.commit()
    return stored


def test_replay_offers_and_sends_what_arrived_while_it_was_off(webhook, queue):
    waiting = store_delivery(webhook)  # pending when it is turned off: cancelled
    lifecycle.deactivate(webhook)
    for event_type in ("job.created", "job.updated", "estimate.created"):  # the last: not its
        ingest(webhook, event_type)
    lifecycle.activate(webhook)
    after = ingest(webhook)  # arrives once it is on again: delivered normally

    assert recovery.count_missed(webhook) == 3
    started = recovery.replay_missed(webhook)
    assert started.kind == Recovery.REPLAY and started.total == 3
    assert recovery.count_missed(webhook) == 0  # the offer is taken

    claimed = send_all()
    replayed = [c for c in claimed if c.trigger == Attempt.REPLAY]
    assert len(replayed) == 3 and waiting.id in {c.delivery_id for c in replayed}
    assert after.delivery_ids[0] not in {c.delivery_id for c in replayed}
    assert recovery.progress(started).succeeded == 3


def test_dismissing_the_offer_sends_nothing(webhook):
    lifecycle.deactivate(webhook)
    ingest(webhook)
    lifecycle.activate(webhook)
    recovery.dismiss_missed(webhook)
    db.session.commit()
    assert recovery.count_missed(webhook) == 0 and recovery.replay_missed(webhook) is None


def test_a_replay_cancelled_while_an_attempt_is_in_flight_gets_no_retry(webhook):
    lifecycle.deactivate(webhook)
    ingest(webhook)
    lifecycle.activate(webhook)
    send_all()  # the test event of turning it on
    started = recovery.replay_missed(webhook)
    [in_flight] = claims.claim_due(limit=5)
    recovery.cancel(started)
    recording.record([(in_flight, answer(503))])  # its first attempt: a retry would be due

    delivery = db.session.get(Delivery, in_flight.delivery_id)
    assert (delivery.state, delivery.next_attempt_at) == (Delivery.FAILED, None)
    assert claims.claim_due(limit=5, now=utcnow() + HOUR) == []


def test_a_second_replay_click_sends_nothing_more(webhook):
    lifecycle.deactivate(webhook)
    ingest(webhook)
    lifecycle.activate(webhook)
    assert recovery.replay_missed(webhook).total == 1
    assert recovery.replay_missed(webhook) is None

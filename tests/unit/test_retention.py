"""Retention: payloads (with request headers and response bodies) go after 30 days, the rows
after 90, audit entries after 365; never anything still on its way; a purge can stop anywhere
and the next run finishes the job; Log History and the API show what was removed as such."""
from datetime import timedelta

import pytest

from tests.support.deliveries import failed_attempt, ok_attempt, stored_delivery
from webhooks import audit, claims, events, lifecycle, recovery, retention
from webhooks.extensions import db
from webhooks.models import (ApiKey, Attempt, AuditEntry, Delivery, Event, IdempotentRequest,
                             utcnow)

DAY = timedelta(days=1)
REMOVED = "Payload removed after 30 days (retention)"


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, name="CRM")


def aged(webhook, days, state="succeeded", attempts=None, **fields):
    """A delivery (and its event) created days ago, with attempts."""
    attempts = attempts if attempts is not None else [failed_attempt(category="http_5xx"),
                                                      ok_attempt(category="success")]
    return stored_delivery(webhook, state=state, created_at=utcnow() - days * DAY,
                           attempts=attempts, **fields)


def event_of(delivery):
    return db.session.get(Event, delivery.event_id)


def attempts_of(delivery):
    return db.session.scalars(db.select(Attempt).filter_by(delivery_id=delivery.id)
                              .order_by(Attempt.number)).all()


def reread():
    db.session.expire_all()


def test_payloads_go_after_30_days_and_rows_after_90_exactly_at_the_boundary(webhook):
    kept = aged(webhook, 29)
    stripped = aged(webhook, 31)
    old_but_kept = aged(webhook, 89)
    gone = aged(webhook, 91)
    gone_id, gone_event_id = gone.id, gone.event_id

    report = retention.purge()
    reread()
    assert report.rows["logs"] == 1 and report.attempts["logs"] == 2
    assert report.rows["payloads"] == 2 and report.attempts["payloads"] == 4
    assert event_of(kept).payload is not None
    assert all(a.request_headers and a.response_body for a in attempts_of(kept))
    for delivery in (stripped, old_but_kept):
        event = event_of(delivery)
        assert event.payload is None and event.payload_removed_at is not None
        attempts = attempts_of(delivery)
        assert [(a.number, a.response_status, a.duration_ms, a.category) for a in attempts] == [
            (1, 500, 120, "http_5xx"), (2, 200, 120, "success")]
        assert all(a.request_headers is None and a.response_headers is None
                   and a.response_body is None for a in attempts)
        assert db.session.get(Delivery, delivery.id).state == "succeeded"
    assert db.session.get(Delivery, gone_id) is None
    assert db.session.get(Event, gone_event_id) is None
    assert db.session.scalars(db.select(Attempt).filter_by(delivery_id=gone_id)).all() == []


def test_settings_move_the_boundaries(app, webhook):
    app.config.update(WEBHOOKS_PAYLOAD_RETENTION_DAYS=7, WEBHOOKS_LOG_RETENTION_DAYS=14)
    week_old, fortnight_old = aged(webhook, 8), aged(webhook, 15).id
    six_days = aged(webhook, 6)
    retention.purge()
    reread()
    assert event_of(week_old).payload is None and event_of(six_days).payload is not None
    assert db.session.get(Delivery, fortnight_old) is None
    assert retention.removed_text() == "Payload removed after 7 days (retention)"


@pytest.mark.parametrize("busy", [
    {"state": "pending"},  # a retry, a bulk resend or a replay on its way
    {"state": "failed", "manual_requested_at": "now"},  # a resend asked for
    {"state": "succeeded", "lease_until": "soon"},  # an attempt in flight
])
def test_a_delivery_still_on_its_way_is_never_touched(webhook, factory, owner, busy):
    fields = {name: {"now": utcnow(), "soon": utcnow() + timedelta(minutes=1)}.get(value, value)
              for name, value in busy.items()}
    ancient, month_old = aged(webhook, 120, **fields), aged(webhook, 40, **fields)
    # An event fanned out to two webhooks: one delivery done, the other still busy.
    other = factory.webhook(owner, name="ERP")
    stored = events.store(db.session.connection(), owner, "job.created", {"job": {"id": "9"}},
                          [webhook.id, other.id])
    db.session.execute(db.update(Event).where(Event.id == stored.event_pk)
                       .values(created_at=utcnow() - 100 * DAY))
    db.session.execute(db.update(Delivery).where(Delivery.id == stored.delivery_ids[0])
                       .values(state="succeeded", next_attempt_at=None))
    db.session.execute(db.update(Delivery).where(Delivery.id == stored.delivery_ids[1])
                       .values(**fields))
    db.session.commit()

    assert retention.plan().rows == {"logs": 0, "payloads": 0, "audit": 0, "idempotency": 0,
                                     "sign_in_links": 0}
    retention.purge()
    reread()
    for delivery in (ancient, month_old):
        assert event_of(delivery).payload is not None
        assert all(a.response_body for a in attempts_of(delivery))
    assert db.session.get(Event, stored.event_pk).payload is not None
    assert {d.id for d in db.session.scalars(db.select(Delivery))} >= set(stored.delivery_ids)


def test_an_event_without_deliveries_goes_too(webhook, owner):
    stored = events.store(db.session.connection(), owner, "job.created", {"job": {}}, [])
    db.session.execute(db.update(Event).where(Event.id == stored.event_pk)
                       .values(created_at=utcnow() - 95 * DAY))
    db.session.commit()
    retention.purge()
    reread()
    assert db.session.get(Event, stored.event_pk) is None


def state_of_everything():
    reread()
    return (sorted((e.id, e.payload is None) for e in db.session.scalars(db.select(Event))),
            sorted(d.id for d in db.session.scalars(db.select(Delivery))),
            sorted((a.id, a.response_body is None) for a in db.session.scalars(db.select(Attempt))))


def make_history(webhook):
    for days in (5, 35, 60, 95, 120):
        for _ in range(7):
            aged(webhook, days)
    aged(webhook, 100, state="pending")


def test_a_purge_interrupted_half_way_finishes_the_same_on_the_next_run(webhook, monkeypatch):
    make_history(webhook)
    calls, real = {"n": 0}, retention._remove_payloads

    def crashing(cut, now, limit):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the worker was killed")
        return real(cut, now, limit)
    monkeypatch.setattr(retention, "STEPS", tuple(
        (name, crashing if name == "payloads" else step) for name, step in retention.STEPS))
    with pytest.raises(RuntimeError):
        retention.purge(limit=4)
    db.session.rollback()
    half_way = state_of_everything()
    assert sum(removed for _, removed in half_way[0]) == 8  # two batches of payloads, then the crash
    monkeypatch.undo()

    report = retention.purge(limit=4)
    assert report.finished and report.rows["logs"] == 0
    events_left, deliveries_left, attempts_left = state_of_everything()
    assert len(events_left) == 3 * 7 + 1  # 5, 35 and 60 days, and the pending one at 100
    assert [removed for _, removed in events_left].count(True) == 14
    assert len(deliveries_left) == 22 and len(attempts_left) == 44
    assert sum(removed for _, removed in attempts_left) == 28
    assert retention.plan().rows["payloads"] == 0 and retention.plan().rows["logs"] == 0


def test_a_run_stops_at_its_time_budget_and_the_next_goes_on(webhook):
    make_history(webhook)
    stopped = retention.purge(limit=2, budget_seconds=0)
    assert not stopped.finished and sum(stopped.rows.values()) == 0
    assert retention.purge(limit=2).finished
    assert retention.plan().rows["payloads"] == 0


def test_audit_entries_and_idempotency_answers_have_their_own_periods(app, owner, webhook):
    old = audit.record(owner.id, "webhook.deactivated", webhook=webhook)
    recent = audit.record(owner.id, "webhook.activated", webhook=webhook)
    db.session.flush()
    old.created_at, recent.created_at = utcnow() - 366 * DAY, utcnow() - 364 * DAY
    key = ApiKey(organization_id=owner.id, name="k", prefix="whk_live_x", token_hash="0" * 64,
                 scope="write", created_by_label="test")
    db.session.add(key)
    db.session.flush()
    db.session.add_all([
        IdempotentRequest(api_key_id=key.id, key="a", fingerprint="f", created_at=utcnow() - 2 * DAY),
        IdempotentRequest(api_key_id=key.id, key="b", fingerprint="f", created_at=utcnow())])
    db.session.commit()
    report = retention.purge()
    assert report.rows["audit"] == 1 and report.rows["idempotency"] == 1
    reread()
    assert [e.action for e in db.session.scalars(db.select(AuditEntry))] == ["webhook.activated"]
    assert [r.key for r in db.session.scalars(db.select(IdempotentRequest))] == ["b"]


def test_the_command_counts_on_a_dry_run_and_removes_nothing(webhook, runner):
    make_history(webhook)
    before = state_of_everything()
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: nothing was removed." in dry.output
    assert "14  events to delete with their deliveries and attempts (log retention) " \
           "(28 attempts)" in dry.output
    assert "14  payloads to remove, with their attempts' headers and bodies (payload " \
           "retention) (28 attempts)" in dry.output
    assert state_of_everything() == before

    done = runner.invoke(args=["purge"])
    assert done.exit_code == 0, done.output
    assert "14  events deleted with their deliveries and attempts" in done.output
    assert "14  payloads removed" in done.output
    assert state_of_everything() != before


# --- What people and code see after the purge ---------------------------------------------

@pytest.fixture
def expired(webhook):
    delivery = aged(webhook, 40, state="failed", attempts=[failed_attempt(category="http_5xx")])
    retention.purge()
    reread()
    return delivery


def test_log_history_shows_an_expired_row_as_removed_not_as_an_error(client, webhook, expired):
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{expired.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"{REMOVED}." in text and "Removed" in text
    assert "500" in text  # the attempt's response code is kept
    assert "Resend" not in text.split("<h3>Payload</h3>")[0] or \
        f"{REMOVED}: this event cannot be sent again." in text
    listing = client.get(f"/orgs/acme/webhooks/{webhook.id}")
    assert listing.status_code == 200 and expired.event.public_id in listing.get_data(as_text=True)


def test_a_removed_payload_cannot_be_resent(client, webhook, expired, queue):
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{expired.id}/resend")
    assert response.status_code in (302, 409, 422)
    reread()
    assert db.session.get(Delivery, expired.id).manual_requested_at is None
    assert lifecycle.resend_refusal(webhook, expired) == \
        f"{REMOVED}: this event cannot be sent again."
    assert queue.manual == []


def test_the_api_shows_a_removed_payload_as_null_with_the_reason(client, owner, webhook, expired):
    from webhooks import apikeys
    _, token = apikeys.create(owner, "Reader", ApiKey.READ)
    body = client.get(f"/api/v1/webhooks/{webhook.id}/deliveries/{expired.id}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["payload"] is None and body["payload_removed"] == REMOVED
    [attempt] = body["attempts"]
    assert attempt["request_headers"] is None and attempt["response_body"] is None
    assert attempt["response_status"] == 500 and attempt["failure_category"] == "http_5xx"


def test_a_delivery_whose_payload_went_meanwhile_is_cancelled_not_sent(webhook):
    delivery = aged(webhook, 0, state="pending", attempts=[])
    db.session.execute(db.update(Event).where(Event.id == delivery.event_id).values(payload=None))
    db.session.execute(db.update(Delivery).where(Delivery.id == delivery.id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    [claim] = claims.claim_due(limit=10)
    assert claim.result is not None
    reread()
    cancelled = db.session.get(Delivery, delivery.id)
    assert cancelled.state == "cancelled"
    assert cancelled.cancel_reason == f"{REMOVED}: there was nothing left to send"


def test_bulk_resends_and_replays_skip_removed_payloads(webhook, expired, queue):
    kept = aged(webhook, 1, state="failed", attempts=[failed_attempt()])
    window = recovery.Window(utcnow() - 60 * DAY, utcnow())
    assert recovery.count_failed(webhook, window) == 1
    started = recovery.resend_failed(webhook, window)
    assert started.total == 1
    reread()
    assert db.session.get(Delivery, kept.id).state == "pending"
    assert db.session.get(Delivery, expired.id).state == "failed"

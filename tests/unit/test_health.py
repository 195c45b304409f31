"""Endpoint health: the hourly rollups that recording keeps, the statistics read from them, and
the rules that move a webhook between healthy, failing and disabled."""
from datetime import timedelta

import pytest

from tests.support.deliveries import store_delivery
from webhooks import claims, failures, health, lifecycle, recording, stats
from webhooks.extensions import db
from webhooks.models import Delivery, HourlyStats, Webhook, utcnow
from webhooks.sender import Outcome

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def webhook(factory, owner, queue):
    return factory.webhook(owner, name="CRM")


@pytest.fixture
def announced(monkeypatch):
    """The health changes recording and the sweep announce (no email is sent)."""
    changes = []
    monkeypatch.setattr(health, "announce", changes.extend)
    return changes


def outcome(status=None, category=None, at=None, duration_ms=100, error=None):
    at = at or utcnow()
    if category is None:
        category = failures.classify(status, error, status is not None and 200 <= status < 300)
    return Outcome(started_at=at, finished_at=at + timedelta(milliseconds=duration_ms),
                   duration_ms=duration_ms, status=status, error=error, category=category)


OK = dict(status=200)
SERVER_ERROR = dict(status=500)
REFUSED = dict(error="Connection refused", category=failures.CONNECTION)


def attempt(webhook, result, attempts_before=0, event_type="job.created"):
    """Store a delivery with attempts_before automatic attempts made, claim it and record
    result (an Outcome); return the delivery."""
    delivery = store_delivery(webhook, event_type)
    delivery.attempt_count = attempts_before
    db.session.commit()
    [claim] = [c for c in claims.claim_due(limit=50) if c.delivery_id == delivery.id]
    recording.record([(claim, result)])
    return db.session.get(Delivery, delivery.id)


def last_try(webhook, **fields):
    """The last automatic attempt of a delivery (the schedule of the tests has 2 retries)."""
    return attempt(webhook, outcome(**fields), attempts_before=2)


# --- Rollups and statistics ------------------------------------------------------------------

def test_recording_adds_attempts_to_the_hour_they_started(webhook, announced):
    now = utcnow()
    attempt(webhook, outcome(**OK, duration_ms=80))                      # first attempt, ok
    attempt(webhook, outcome(**SERVER_ERROR, duration_ms=400))           # first, retrying
    attempt(webhook, outcome(**REFUSED, duration_ms=3), attempts_before=2)  # last: failed
    attempt(webhook, outcome(**OK, at=now - 2 * DAY, duration_ms=1200))  # in 7 days only

    day, week = (stats.totals(webhook, now, period) for period in ("24h", "7d"))
    assert (day.attempts, day.attempts_failed, day.first_attempts,
            day.first_attempts_succeeded) == (3, 2, 2, 1)
    assert (day.succeeded, day.failed, day.retrying) == (1, 1, 1)
    assert day.success_rate == 50 and day.first_attempt_rate == 50
    assert [(c, n) for c, _, n in day.failures_by_category] == [("http_5xx", 1),
                                                                ("connection", 1)]
    assert day.average_ms == pytest.approx((80 + 400 + 3) / 3)
    assert (week.attempts, week.succeeded, week.duration_ms_total) == (4, 2, 80 + 400 + 3 + 1200)
    assert stats.waiting(webhook) == 1  # the 500 waits for its retry


def test_a_manual_resend_that_succeeds_settles_a_failed_delivery_once(webhook, announced):
    failed = last_try(webhook, **SERVER_ERROR)
    for _ in range(2):  # the second success resends a delivery that had already succeeded
        lifecycle.request_resend(webhook, failed)
        [claim] = claims.claim_manual(failed.id)
        recording.record([(claim, outcome(**OK))])

    totals = stats.totals(webhook, utcnow(), "24h")
    assert (totals.succeeded, totals.failed, totals.attempts, totals.first_attempts) == (1, 1, 3, 0)


def test_one_upsert_row_per_webhook_and_hour(webhook, factory, owner, announced):
    other = factory.webhook(owner, name="Other")
    for target in (webhook, webhook, other):
        attempt(target, outcome(**OK))
    rows = db.session.scalars(db.select(HourlyStats).order_by(HourlyStats.webhook_id)).all()
    assert [(row.webhook_id, row.attempts) for row in rows] == [(webhook.id, 2), (other.id, 1)]


def test_percentiles_are_interpolated_within_buckets():
    counts = [0] * len(stats.BUCKET_COLUMNS)
    counts[stats.BUCKET_COLUMNS.index("ms_100")] = 50   # 50 attempts between 50 and 100 ms
    counts[stats.BUCKET_COLUMNS.index("ms_1000")] = 50  # 50 between 750 and 1000 ms
    assert stats.quantile(counts, 0.5) == 100
    assert stats.quantile(counts, 0.95) == 975
    assert stats.quantile([0] * len(counts), 0.5) is None
    assert stats.bucket_column(50) == "ms_50" and stats.bucket_column(51) == "ms_100"
    assert stats.bucket_column(99999) == "ms_over"


def test_hourly_series_covers_every_hour_oldest_first(webhook, announced):
    now = utcnow()
    attempt(webhook, outcome(**OK, at=now - 3 * HOUR))
    series = stats.hourly(webhook, now, "24h")
    assert len(series["labels"]) == 24 and series["succeeded"][-4] == 1
    assert sum(series["succeeded"]) == 1 and series["p50_ms"][-1] is None
    assert len(stats.hourly(webhook, now, "7d")["labels"]) == 168


def test_listing_rates_come_from_one_query(webhook, factory, owner, announced):
    idle = factory.webhook(owner, name="Idle")
    attempt(webhook, outcome(**OK))
    last_try(webhook, **SERVER_ERROR)
    assert stats.success_rates([webhook.id, idle.id], utcnow()) == {webhook.id: 50}
    assert stats.rate_text(50) == "50 %" and stats.rate_text(98.46) == "98.5 %"


# --- Health states ---------------------------------------------------------------------------

def test_failing_starts_with_the_first_failed_delivery_and_is_announced_once(webhook, announced):
    attempt(webhook, outcome(**SERVER_ERROR))  # will be retried: not failing yet
    assert webhook.health_state == Webhook.HEALTHY and announced == []

    last_try(webhook, **SERVER_ERROR)
    last_try(webhook, **REFUSED)
    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.FAILING and webhook.failing_deliveries == 2
    assert announced == [health.Change(health.STARTED_FAILING, webhook.id)]
    assert webhook.last_category == failures.CONNECTION


def test_any_success_ends_failing(webhook, announced):
    last_try(webhook, **SERVER_ERROR)
    attempt(webhook, outcome(**OK))
    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.HEALTHY and webhook.failing_deliveries == 0
    assert webhook.last_success_at is not None and webhook.last_failure_at is not None


def test_410_gone_turns_the_webhook_off_at_once_and_cancels_what_waits(webhook, announced):
    waiting = store_delivery(webhook)
    attempt(webhook, outcome(status=410))

    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.DISABLED and not webhook.is_active
    assert "410 Gone" in webhook.disabled_reason
    cancelled = db.session.get(Delivery, waiting.id)
    assert cancelled.state == Delivery.CANCELLED
    assert cancelled.cancel_reason.startswith("Webhook was turned off automatically: ")
    assert announced == [health.Change(health.DISABLED, webhook.id)]


def test_turned_off_after_the_configured_hours_with_enough_failed_deliveries(app, webhook,
                                                                              announced):
    app.config.update(WEBHOOKS_DISABLE_AFTER_HOURS=72, WEBHOOKS_DISABLE_MIN_FAILURES=5)
    last_try(webhook, **SERVER_ERROR)
    webhook.failing_since = utcnow() - 73 * HOUR  # failing for 73 hours...
    db.session.commit()
    for _ in range(3):
        last_try(webhook, **SERVER_ERROR)
    db.session.refresh(webhook)
    assert webhook.is_active and webhook.failing_deliveries == 4  # ...but only 4 failures

    last_try(webhook, **SERVER_ERROR)
    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.DISABLED
    assert webhook.disabled_reason.startswith("It failed for 72 hours: 5 deliveries failed")
    assert announced[-1] == health.Change(health.DISABLED, webhook.id)


def test_the_sweep_warns_a_day_ahead_once_then_turns_off(app, webhook, announced):
    app.config.update(WEBHOOKS_DISABLE_AFTER_HOURS=72, WEBHOOKS_DISABLE_MIN_FAILURES=1)
    last_try(webhook, **SERVER_ERROR)
    started = webhook.failing_since
    announced.clear()

    assert health.sweep(started + 47 * HOUR) == []
    warned = health.sweep(started + 49 * HOUR)
    assert warned == [health.Change(health.DISABLE_WARNING, webhook.id, started + 72 * HOUR)]
    assert health.sweep(started + 50 * HOUR) == []  # once per failing period

    assert health.sweep(started + 72 * HOUR) == [health.Change(health.DISABLED, webhook.id)]
    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.DISABLED


def test_a_test_event_to_a_webhook_that_is_off_changes_nothing(webhook, announced):
    lifecycle.deactivate(webhook)
    delivery = store_delivery(webhook, "webhook.ping")
    delivery.attempt_count = 2
    db.session.commit()
    [claim] = claims.claim_due(limit=5)
    recording.record([(claim, outcome(status=410))])
    db.session.refresh(webhook)
    assert webhook.health_state == Webhook.HEALTHY and webhook.disabled_reason is None
    assert announced == []


def test_turning_it_back_on_starts_afresh_and_keeps_the_time_it_was_off(webhook, announced):
    attempt(webhook, outcome(status=410))
    db.session.refresh(webhook)
    off_at = webhook.deactivated_at

    lifecycle.activate(webhook)
    assert webhook.health_state == Webhook.HEALTHY and webhook.disabled_reason is None
    assert webhook.missed_from == off_at and webhook.missed_until >= off_at


def test_banner_and_last_failure_say_what_to_fix(webhook, announced):
    assert health.banner(webhook) is None
    last_try(webhook, **SERVER_ERROR)
    db.session.refresh(webhook)
    banner = health.banner(webhook)
    assert banner.state == Webhook.FAILING and banner.tone == "warn"
    assert banner.last_failure.category == failures.HTTP_5XX
    assert banner.last_failure.advice == failures.advice(failures.HTTP_5XX, url=webhook.url,
                                                         status=500)


def test_certificate_warning_starts_14_days_ahead(webhook):
    now = utcnow()
    webhook.certificate_expires_at = now + 15 * DAY
    assert health.certificate_expiring(webhook, now) is None
    webhook.certificate_expires_at = now + 13 * DAY
    assert health.certificate_expiring(webhook, now) == now + 13 * DAY


def test_no_warning_while_too_few_deliveries_failed_to_be_turned_off(app, webhook, announced):
    app.config.update(WEBHOOKS_DISABLE_AFTER_HOURS=72, WEBHOOKS_DISABLE_MIN_FAILURES=2)
    last_try(webhook, **SERVER_ERROR)
    started = webhook.failing_since
    assert health.sweep(started + 60 * HOUR) == [] and health.sweep(started + 80 * HOUR) == []
    last_try(webhook, **SERVER_ERROR)  # the second: now it would be turned off
    assert health.sweep(started + 60 * HOUR) == [
        health.Change(health.DISABLE_WARNING, webhook.id, started + 72 * HOUR)]


def test_a_bulk_resend_that_fails_again_counts_no_new_failed_delivery(webhook, announced):
    from webhooks import recovery

    failed = last_try(webhook, **SERVER_ERROR)
    recovery.resend_failed(webhook, recovery.Window(utcnow() - HOUR, utcnow() + HOUR))
    [claim] = claims.claim_due(limit=5)
    recording.record([(claim, outcome(**SERVER_ERROR))])

    assert db.session.get(Delivery, failed.id).state == Delivery.FAILED
    totals = stats.totals(webhook, utcnow(), "24h")
    assert (totals.failed, totals.attempts, totals.attempts_failed) == (1, 2, 2)
    db.session.refresh(webhook)
    assert webhook.failing_deliveries == 1 and announced == [
        health.Change(health.STARTED_FAILING, webhook.id)]

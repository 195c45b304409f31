"""The Health tab's numbers: deliveries and attempts per period, counted by the database."""
from datetime import timedelta

import pytest

from tests.support.deliveries import failed_attempt, ok_attempt, stored_delivery, timeout_attempt
from webhooks import health


@pytest.fixture
def now():
    from webhooks.models import utcnow
    return utcnow().replace(microsecond=0)


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, name="CRM")


def test_periods_count_deliveries_by_state_and_attempts_by_start(webhook, factory, owner, now):
    hour, day = timedelta(hours=1), timedelta(days=1)
    stored_delivery(webhook, created_at=now - hour,
                    attempts=[ok_attempt(started_at=now - hour, duration_ms=100)])
    stored_delivery(webhook, state="failed", created_at=now - 2 * hour,
                    attempts=[failed_attempt(started_at=now - 2 * hour, duration_ms=300),
                              timeout_attempt(started_at=now - hour, duration_ms=500)])
    stored_delivery(webhook, state="pending", created_at=now - 3 * hour)
    stored_delivery(webhook, state="cancelled", created_at=now - 25 * hour)  # 7 days only
    stored_delivery(webhook, created_at=now - 3 * day,
                    attempts=[ok_attempt(started_at=now - 3 * day, duration_ms=900)])
    stored_delivery(webhook, created_at=now - 8 * day,  # in neither period
                    attempts=[ok_attempt(started_at=now - 8 * day, duration_ms=5000)])
    other = factory.webhook(owner, name="Other")
    stored_delivery(other, created_at=now - hour, attempts=[ok_attempt(started_at=now - hour)])

    day_window, week = health.of_webhook(webhook, now).windows
    assert (day_window.label, week.label) == ("Last 24 hours", "Last 7 days")
    assert (day_window.deliveries, day_window.succeeded, day_window.failed,
            day_window.cancelled, day_window.in_progress) == (3, 1, 1, 0, 1)
    assert (day_window.attempts, day_window.attempts_failed) == (3, 2)
    assert (day_window.average_ms, day_window.slowest_ms) == (300.0, 500)
    assert day_window.success_rate == 50 and day_window.success_rate_text == "50.0 %"
    assert (week.deliveries, week.succeeded, week.failed, week.cancelled, week.in_progress) == (
        5, 2, 1, 1, 1)
    assert (week.attempts, week.average_ms, week.slowest_ms) == (4, 450.0, 900)
    assert week.success_rate_text == "66.7 %"


def test_an_idle_webhook_has_no_rate_and_no_times(webhook, now):
    result = health.of_webhook(webhook, now)
    window = result.windows[0]
    assert (window.deliveries, window.attempts, window.average_ms, window.slowest_ms) == (
        0, 0, None, None)
    assert window.success_rate is None and window.success_rate_text == "No finished deliveries"
    assert result.responding and result.last_success_at is None and result.last_failure_at is None


def test_latest_success_and_failure_and_whether_it_responds(webhook, now):
    stored_delivery(webhook, attempts=[ok_attempt(started_at=now - timedelta(hours=5)),
                                       failed_attempt(started_at=now - timedelta(hours=2))])
    webhook.unanswered_streak = 6
    result = health.of_webhook(webhook, now)
    assert result.last_success_at == now - timedelta(hours=5)
    assert result.last_failure_at == now - timedelta(hours=2)
    assert not result.responding and result.unanswered_streak == 6

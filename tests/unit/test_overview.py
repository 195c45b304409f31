"""What the listing and the status header say about a webhook, decided in Python."""
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from webhooks import overview
from webhooks.overview import RetrySchedule, duration_words

AT = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def hook(**fields):
    return SimpleNamespace(**{"last_attempt_at": AT, "last_status_code": None, "last_error": None,
                              **fields})


@pytest.mark.parametrize("fields, expected", [
    ({"last_status_code": 200}, (True, "200 OK", "ok", "✓", "Success")),
    ({"last_status_code": 204}, (True, "204 No Content", "ok", "✓", "Success")),
    ({"last_status_code": 301}, (False, "301 Moved Permanently", "bad", "✕", "Failed")),
    ({"last_status_code": 503}, (False, "503 Service Unavailable", "bad", "✕", "Failed")),
    ({"last_status_code": 599}, (False, "599", "bad", "✕", "Failed")),  # no standard phrase
    ({"last_error": "Connection refused"}, (False, "Connection refused", "bad", "✕", "Failed")),
    ({}, (False, "No response", "bad", "✕", "Failed")),
])
def test_latest_response_in_words(fields, expected):
    latest = overview.latest_response(hook(**fields))
    assert (latest.succeeded, latest.text, latest.tone, latest.icon, latest.label) == expected
    assert latest.at == AT


def test_no_latest_response_before_any_attempt():
    assert overview.latest_response(hook(last_attempt_at=None, last_status_code=200)) is None


@pytest.mark.parametrize("seconds, words", [
    (1, "1 second"), (90, "90 seconds"), (60, "1 minute"), (300, "5 minutes"),
    (3600, "1 hour"), (7200, "2 hours"), (5400, "90 minutes"), (1.5, "1.5 seconds"),
])
def test_durations_in_whole_units(seconds, words):
    assert duration_words(seconds) == words


@pytest.mark.parametrize("delays, words, attempts", [
    ((300, 600), "after 5 minutes, then 10 minutes after that", 3),
    ((1, 2), "after 1 second, then 2 seconds after that", 3),
    ((60,), "after 1 minute", 2),
    ((), "never", 1),
])
def test_the_retry_schedule_in_words_follows_the_configured_delays(delays, words, attempts):
    schedule = RetrySchedule(delays)
    assert (schedule.words, schedule.attempts) == (words, attempts)


def test_pages_explain_the_configured_retry_schedule(make_app, factory_for):
    app = make_app(WEBHOOKS_RETRY_DELAYS=(120, 3600, 7200))
    client = factory_for(app)
    new = client.get("/orgs/acme/webhooks/new").get_data(as_text=True)
    assert ("retried after 2 minutes, then 1 hour after that, then 2 hours after that; "
            "after 4 failed attempts it stops") in new
    reference = client.get("/orgs/acme/webhooks/events").get_data(as_text=True)
    assert "retried after 2 minutes, then 1 hour after that, then 2 hours after that, 4 attempts in all" in reference
    # (the receiving code's own five-minute timestamp tolerance is another matter)
    assert "5 minutes" not in new + reference.split('id="receiving"')[0]


@pytest.fixture
def factory_for():
    """Return a signed-in owner's client of the given app."""
    from tests.conftest import AuthActions, Factory

    def make(app):
        with app.app_context():
            Factory().user(org=Factory().org("acme"))
        client = app.test_client()
        AuthActions(client).login()
        return client

    return make

"""A Log History row decided in Python: its Response (words, tone, icon, tooltip), whether Resend
is offered, the payload as shown, and how often it refreshes. No database: plain objects."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from webhooks import history, lifecycle
from webhooks.models import Delivery, Event

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def delivery(state=Delivery.PENDING, **fields):
    return Delivery(**{"state": state, "attempt_count": 0, "event_type": "job.created", **fields})


@pytest.mark.parametrize("fields, text, tone, icon", [
    ({"state": Delivery.SUCCEEDED, "last_status_code": 204}, "204", "ok", "✓"),
    ({"state": Delivery.FAILED, "last_status_code": 500}, "500 · Failed", "bad", "✕"),
    ({"state": Delivery.FAILED, "last_error": "Connection refused"}, "Failed: connection refused", "bad", "✕"),
    ({"state": Delivery.CANCELLED, "cancel_reason": "Webhook was deleted"}, "Cancelled", "", "⊘"),
    ({"manual_requested_at": NOW, "state": Delivery.FAILED, "last_status_code": 500}, "500 · Resending…", "warn", "↻"),
    ({"lease_until": NOW + timedelta(seconds=30), "next_attempt_at": NOW}, "Sending…", "info", "↗"),
    ({"next_attempt_at": NOW}, "Waiting for the endpoint", "warn", "◷"),
    ({"next_attempt_at": NOW + timedelta(minutes=5), "attempt_count": 1, "last_status_code": 503},
     "503 · Retrying at", "warn", "⟳"),
    ({"next_attempt_at": NOW + timedelta(minutes=5)}, "Pending", "warn", "…"),
])
def test_each_state_has_its_words_tone_and_icon(fields, text, tone, icon):
    response = history.response_of(delivery(**fields), now=NOW)
    assert (response.text, response.tone, response.icon) == (text, tone, icon)
    assert response.title  # every state explains itself in a tooltip


def test_a_retry_says_when_and_why():
    due = NOW + timedelta(minutes=5)
    response = history.response_of(delivery(next_attempt_at=due, attempt_count=1,
                                            last_error="Connection refused"), now=NOW)
    assert response.at == due and response.title == "Connection refused"


def test_a_cancelled_delivery_gives_its_reason_as_the_tooltip():
    response = history.response_of(delivery(Delivery.CANCELLED, cancel_reason="Webhook was deleted"))
    assert response.title == "Webhook was deleted"


def row(active=True, event_type="job.created", payload='{"id":"evt_1","data":{"a":1}}', **fields):
    webhook = SimpleNamespace(url="https://hooks.example.com/in", is_active=active)
    return history.LogRow(webhook, delivery(event_type=event_type, **fields),
                          Event(type=event_type, payload=payload), webhook.url)


@pytest.mark.parametrize("active, event_type, refusal", [
    (True, "job.created", None),
    (False, "job.created", lifecycle.RESEND_NEEDS_ACTIVE),
    (False, "webhook.ping", None),  # a test event goes to a deactivated webhook too
])
def test_resend_is_offered_unless_the_webhook_is_off_and_it_is_not_a_test_event(active, event_type,
                                                                                 refusal):
    assert row(active, event_type).resend_refusal == refusal


def test_the_payload_is_shown_indented_and_text_that_is_not_json_as_it_is():
    assert row().payload == '{\n  "id": "evt_1",\n  "data": {\n    "a": 1\n  }\n}'
    assert row(payload="not json").payload == "not json"


@pytest.mark.parametrize("fields, seconds", [
    ({"state": Delivery.SUCCEEDED}, None),
    ({"next_attempt_at": NOW}, 2),
    ({"next_attempt_at": NOW - timedelta(minutes=5)}, 10),  # waiting its turn for a while
    ({"next_attempt_at": NOW + timedelta(minutes=5)}, 30),  # a retry minutes away
    ({"state": Delivery.FAILED, "manual_requested_at": NOW}, 2),
])
def test_unsettled_rows_refresh_themselves_at_a_pace_fitting_what_comes_next(fields, seconds):
    assert row(**fields).poll_seconds(now=NOW) == seconds

"""/api/v1/webhooks/<id>/recoveries: the bulk resend of a period's failed deliveries and the
replay of what a webhook missed while off, as the detail screen offers them."""
from datetime import timedelta

import pytest

from tests.support.deliveries import store_delivery, stored_delivery
from webhooks import lifecycle
from webhooks.api import recoveries
from webhooks.extensions import db
from webhooks.models import Delivery, utcnow

from .conftest import messages

HOUR = timedelta(hours=1)


def _iso(moment):
    return moment.isoformat()


@pytest.fixture
def webhook(factory, org, queue):
    return factory.webhook(org, events=("job.created", "job.updated"))


def _failed(webhook, age, event_type="job.created"):
    return stored_delivery(webhook, event_type, state="failed", created_at=utcnow() - age).id


def test_resend_failed_takes_exactly_the_periods_failed_deliveries(api, webhook):
    inside = [_failed(webhook, 2 * HOUR), _failed(webhook, 3 * HOUR)]
    _failed(webhook, 30 * HOUR)  # before the period
    _failed(webhook, 2 * HOUR, "job.updated")  # another type
    stored_delivery(webhook, state="succeeded")
    now = utcnow()
    response = api.post(f"/webhooks/{webhook.id}/recoveries/resend-failed", json={
        "from": _iso(now - 24 * HOUR), "to": _iso(now), "event_type": "job.created"})
    assert response.status_code == 202
    body = response.get_json()
    assert (body["kind"], body["total"], body["event_type"]) == ("resend", 2, "job.created")
    assert body["progress"]["waiting"] == 2 and body["progress"]["done"] is False
    db.session.expire_all()
    assert sorted(d.id for d in db.session.scalars(
        db.select(Delivery).filter_by(recovery_id=body["id"]))) == sorted(inside)
    followed = api.get(f"/webhooks/{webhook.id}/recoveries/{body['id']}").get_json()
    assert followed["total"] == 2


@pytest.mark.parametrize("change, path", [
    ({"to": "2026-11-01T00:00:00Z"}, "to"),
    ({"from": "2026-11-01T00:00:00"}, "from"),  # no zone
    ({"event_type": "job.nope"}, "event_type"),
    ({"from": None}, "from"),
])
def test_resend_failed_refuses_a_wrong_period_naming_the_field(api, webhook, change, path):
    body = {"from": "2026-11-02T00:00:00Z", "to": "2026-11-03T00:00:00Z", **change}
    response = api.post(f"/webhooks/{webhook.id}/recoveries/resend-failed", json=body)
    assert response.status_code == 422
    assert set(messages(response)) == {path}


def test_resend_failed_needs_the_webhook_on(api, webhook):
    lifecycle.deactivate(webhook)
    now = utcnow()
    response = api.post(f"/webhooks/{webhook.id}/recoveries/resend-failed",
                        json={"from": _iso(now - HOUR), "to": _iso(now)})
    assert response.status_code == 409
    assert messages(response) == {"": recoveries.NEEDS_ACTIVE}


def test_replay_sends_what_it_missed_once(api, webhook):
    store_delivery(webhook)  # waiting when it is turned off: cancelled, then replayed
    lifecycle.deactivate(webhook)
    lifecycle.activate(webhook)
    shown = api.get(f"/webhooks/{webhook.id}").get_json()
    assert shown["missed_from"] and shown["missed_until"]
    response = api.post(f"/webhooks/{webhook.id}/recoveries/replay-missed")
    assert response.status_code == 202
    assert (response.get_json()["kind"], response.get_json()["total"]) == ("replay", 1)
    again = api.post(f"/webhooks/{webhook.id}/recoveries/replay-missed")
    assert again.status_code == 409 and messages(again) == {"": recoveries.NOTHING_MISSED}


def test_dismissing_the_offer_sends_nothing(api, webhook):
    store_delivery(webhook)
    lifecycle.deactivate(webhook)
    lifecycle.activate(webhook)
    assert api.post(f"/webhooks/{webhook.id}/recoveries/dismiss-missed").status_code == 204
    assert api.get(f"/webhooks/{webhook.id}").get_json()["missed_from"] is None
    assert api.post(f"/webhooks/{webhook.id}/recoveries/replay-missed").status_code == 409


def test_cancel_puts_back_what_was_not_sent(api, webhook):
    _failed(webhook, HOUR)
    now = utcnow()
    started = api.post(f"/webhooks/{webhook.id}/recoveries/resend-failed",
                       json={"from": _iso(now - 2 * HOUR), "to": _iso(now)}).get_json()
    cancelled = api.post(f"/webhooks/{webhook.id}/recoveries/{started['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["cancelled_at"]
    db.session.expire_all()
    assert db.session.scalar(db.select(Delivery.state).filter_by(recovery_id=started["id"])) == (
        Delivery.FAILED)


def test_another_webhooks_recovery_is_not_found(api, webhook, factory, org):
    other = factory.webhook(org, name="Other")
    _failed(other, HOUR)
    now = utcnow()
    started = api.post(f"/webhooks/{other.id}/recoveries/resend-failed",
                       json={"from": _iso(now - 2 * HOUR), "to": _iso(now)}).get_json()
    assert api.get(f"/webhooks/{webhook.id}/recoveries/{started['id']}").status_code == 404
    assert api.post(f"/webhooks/{webhook.id}/recoveries/{started['id']}/cancel").status_code == 404

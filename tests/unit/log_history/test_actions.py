"""Log History's actions and who may take them: resend, test event, queue outage, deactivated webhook."""
import json
import re
from datetime import timedelta

import pytest

from tests.support.deliveries import T0, failed_attempt, stored_delivery
from tests.support.log_table import LogTable, log_url, table
from tests.support.polling import HX
from tests.support.queues import RecordingQueue
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import AuditEntry, Delivery


# -- access ------------------------------------------------------------------------------------

def test_another_orgs_webhook_deliveries_and_secret_are_404(client, factory, webhook):
    other = factory.org("globex")
    foreign = factory.webhook(other)
    foreign_delivery = stored_delivery(foreign)
    base = f"/orgs/acme/webhooks/{foreign.id}"
    for path in ("/log", "/log/newer", f"/deliveries/{foreign_delivery.id}",
                 f"/deliveries/{foreign_delivery.id}/row", "/secret"):
        assert client.get(base + path).status_code == 404, path
    assert client.post(base + f"/deliveries/{foreign_delivery.id}/resend").status_code == 404
    assert client.post(base + "/test-event").status_code == 404
    # through our own webhook's URLs, another webhook's delivery is not found either
    mine = f"/orgs/acme/webhooks/{webhook.id}"
    assert client.get(mine + f"/deliveries/{foreign_delivery.id}").status_code == 404
    assert client.post(mine + f"/deliveries/{foreign_delivery.id}/resend").status_code == 404
    # and the other organization's own URLs are not found by a non-member
    assert client.get(f"/orgs/globex/webhooks/{foreign.id}/secret").status_code == 404


def test_sibling_webhook_delivery_is_404_through_this_webhook(client, factory, org, webhook):
    sibling = factory.webhook(org, name="Other")
    delivery = stored_delivery(sibling)
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/row").status_code == 404


def test_deleted_webhook_log_is_404(client, webhook):
    stored_delivery(webhook)
    webhook.deleted_at = T0
    db.session.commit()
    assert client.get(log_url(webhook)).status_code == 404


def test_member_without_permission_is_refused(client, factory, auth, org, webhook):
    factory.user("viewer@example.com", org=org, permissions=())
    auth.logout()
    auth.login("viewer@example.com")
    assert client.get(log_url(webhook)).status_code == 403
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/secret").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, auth, webhook):
    auth.logout()
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/secret").status_code == 302


# -- actions -----------------------------------------------------------------------------------

@pytest.fixture
def sent(app):
    real = app.extensions["webhooks_queue"]
    app.extensions["webhooks_queue"] = RecordingQueue()
    yield app.extensions["webhooks_queue"]
    app.extensions["webhooks_queue"] = real


def test_resend_marks_the_delivery_and_asks_the_queue_for_one_manual_attempt(client, webhook, sent):
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend", headers=HX)
    assert response.status_code == 200
    assert sent.manual == [delivery.id]
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is not None
    assert delivery.state == "failed" and delivery.attempt_count == 3  # schedule untouched
    row = LogTable(response.get_data(as_text=True)).rows[0]
    assert row["response"] == "↻ 500 · Resending…" and "every 2s" in row["attrs"]["hx-trigger"]
    assert json.loads(response.headers["HX-Trigger"]) == {"deliveryChanged": {"id": delivery.id}}


def test_resend_without_javascript_redirects_back(client, webhook, sent):
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    back = log_url(webhook, outcome="failed")
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend",
                           data={"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    assert sent.manual == [delivery.id]
    evil = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend",
                       data={"next": "//evil.example.com/"})
    assert evil.headers["Location"] == f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}"


def test_send_test_event_creates_a_ping_delivery_even_when_off(client, factory, org, sent):
    webhook = factory.webhook(org, active=False)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/test-event", headers=HX)
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"logChanged": {}}
    assert "Test event sent" in response.get_data(as_text=True)
    delivery = db.session.scalar(db.select(Delivery).filter_by(webhook_id=webhook.id))
    assert delivery.event_type == "webhook.ping" and sent.submitted == [[delivery.id]]
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["event"] == "Webhook Ping"


def test_send_test_event_without_javascript_redirects_back(client, webhook, sent):
    detail = f"/orgs/acme/webhooks/{webhook.id}"
    response = client.post(detail + "/test-event", data={"next": detail})
    assert response.status_code == 302 and response.headers["Location"] == detail
    assert len(sent.submitted) == 1
    assert "Test event sent" in client.get(detail).get_data(as_text=True)


def test_send_test_event_of_a_chosen_type_sends_the_catalog_example(client, webhook, sent):
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/test-event",
                           data={"event_type": "estimate.updated"}, headers=HX)
    assert "Test event sent (estimate.updated)" in response.get_data(as_text=True)
    delivery = db.session.scalar(db.select(Delivery).filter_by(webhook_id=webhook.id))
    assert delivery.event_type == "estimate.updated" and sent.submitted == [[delivery.id]]
    assert json.loads(delivery.event.payload)["data"] == catalog.BY_TYPE["estimate.updated"].example
    entry = db.session.scalar(db.select(AuditEntry).filter_by(action="test_event.sent"))
    assert entry.details == {"event_type": "estimate.updated"} and entry.delivery_id == delivery.id


def test_a_webhook_that_is_off_gets_only_the_ping(client, factory, org, sent):
    webhook = factory.webhook(org, active=False)
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}").get_data(as_text=True)
    choice = re.search(r'<select name="event_type" id="test-event-type".*?</select>', page, re.S)[0]
    assert re.findall(r'value="([^"]+)"', choice) == ["webhook.ping"]
    for event_type, refusal in (("job.created", "Turn the webhook on to send it a job.created "
                                                "test event; while it is off it gets webhook.ping only."),
                                ("job.nope", "Unknown event type &#39;job.nope&#39;.")):
        response = client.post(f"/orgs/acme/webhooks/{webhook.id}/test-event",
                               data={"event_type": event_type}, headers=HX)
        assert refusal in response.get_data(as_text=True)
    assert sent.submitted == [] and db.session.scalar(db.select(db.func.count(Delivery.id))) == 0


def test_the_test_event_choice_lists_every_type_by_kind(client, webhook):
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}").get_data(as_text=True)
    for kind, types in catalog.by_kind():
        assert f'<optgroup label="{kind}">' in page
        for event_type in types:
            assert f'<option value="{event_type.type}">{event_type.label} ({event_type.type})</option>' in page


def test_rows_of_earlier_days_keep_their_own_dates(client, webhook):
    old = stored_delivery(webhook, created_at=T0 - timedelta(days=40))
    log, _ = table(client, webhook)
    assert log.row(old.id)["time"] == "2026-10-19 10:00 UTC"


# -- resend: queue outage, deactivated webhook ---------------------------------------------------

def test_resend_survives_a_queue_outage_and_leaves_the_request_for_the_reconciler(
        client, app, webhook, monkeypatch, caplog):
    def outage(delivery_id):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(app.extensions["webhooks_queue"], "submit_manual", outage)
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    url = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend"
    response = client.post(url, headers=HX)
    assert response.status_code == 200
    assert LogTable(response.get_data(as_text=True)).rows[0]["response"] == "↻ 500 · Resending…"
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is not None  # saved: the reconciler will send it
    assert "the reconciler will" in caplog.text
    assert client.post(url, data={"next": log_url(webhook)}).status_code == 302


@pytest.fixture
def off_webhook(factory, org):
    return factory.webhook(org, url="https://hooks.example.com/in", name="CRM", active=False)


def test_resend_on_a_deactivated_webhook_is_refused_with_a_message(client, off_webhook, sent):
    delivery = stored_delivery(off_webhook, state="failed", attempts=[failed_attempt()])
    url = f"/orgs/acme/webhooks/{off_webhook.id}/deliveries/{delivery.id}/resend"
    response = client.post(url, headers=HX)
    assert response.status_code == 409
    assert "Turn the webhook on to resend this event." in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#flashes"
    assert json.loads(response.headers["HX-Trigger"]) == {"deliveryChanged": {"id": delivery.id}}
    back = log_url(off_webhook)
    plain = client.post(url, data={"next": back})
    assert plain.status_code == 302 and plain.headers["Location"] == back
    assert "Turn the webhook on to resend this event." in client.get(back).get_data(as_text=True)
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is None and sent.manual == []


def test_a_deactivated_webhook_shows_resend_disabled_except_for_pings(client, off_webhook, sent):
    event = stored_delivery(off_webhook, state="failed", attempts=[failed_attempt()])
    ping = stored_delivery(off_webhook, "webhook.ping", state="failed", attempts=[failed_attempt()])
    base = f"/orgs/acme/webhooks/{off_webhook.id}/deliveries"
    row = client.get(f"{base}/{event.id}/row", headers=HX).get_data(as_text=True)
    assert 'title="Turn the webhook on to resend this event."' in row
    assert "disabled" in row
    details = client.get(f"{base}/{event.id}", headers=HX).get_data(as_text=True)
    assert "disabled" in details and "Turn the webhook on to resend this event." in details
    ping_row = client.get(f"{base}/{ping.id}/row", headers=HX).get_data(as_text=True)
    assert "disabled" not in ping_row and "Turn the webhook on" not in ping_row
    assert client.post(f"{base}/{ping.id}/resend", headers=HX).status_code == 200
    assert sent.manual == [ping.id]


def test_an_active_webhook_shows_resend_enabled(client, webhook):
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    base = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}"
    for html in (client.get(base + "/row", headers=HX).get_data(as_text=True),
                 client.get(base, headers=HX).get_data(as_text=True)):
        assert "disabled" not in html and "Turn the webhook on" not in html

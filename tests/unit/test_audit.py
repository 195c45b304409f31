"""The audit trail: every change to configuration, made in the browser, through the API, from
the command line or automatically, writes exactly one entry naming who made it; no entry holds
a secret."""
import json
from datetime import timedelta

import pytest

from tests.support.deliveries import stored_delivery
from webhooks import apikeys, health, lifecycle
from webhooks.extensions import db
from webhooks.models import ApiKey, AuditEntry, Delivery, Recovery, Webhook, utcnow

PASSWORD_SECRET = "basic-pass-7f3a9c"
HEADER_SECRET = "header-value-5d1e88"
NEW_PASSWORD_SECRET = "basic-pass-second-22b1"
NEW_HEADER_SECRET = "header-value-second-9aa0"
BASE = "/orgs/acme/webhooks"
FORM = {"name": "CRM", "url": "https://127.0.0.1:8443/hook", "auth_type": "basic",
        "basic_username": "crm", "basic_password": PASSWORD_SECRET,
        "event_types": ["job.created"], "headers-0-name": "X-Token",
        "headers-0-value": HEADER_SECRET}


def entries():
    return db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)).all()


class Trail:
    """Check that each step adds exactly one entry, of the expected action and actor."""

    def __init__(self):
        self.seen = 0

    def one(self, action, actor_type, actor_label, address="127.0.0.1"):
        db.session.expire_all()
        found = entries()[self.seen:]
        assert [entry.action for entry in found] == [action]
        [entry] = found
        assert (entry.actor_type, entry.actor_label, entry.address) == \
            (actor_type, actor_label, address)
        self.seen += 1
        return entry

    def none(self):
        db.session.expire_all()
        assert entries()[self.seen:] == []


def assert_no_secret_in(found, secrets):
    text = json.dumps([{column.name: str(getattr(entry, column.name))
                        for column in AuditEntry.__table__.columns} for entry in found])
    for secret in secrets:
        assert secret not in text


def test_every_browser_action_writes_one_entry_by_the_person(client, owner, queue, monkeypatch):
    monkeypatch.setattr(health, "announce", lambda changes: None)
    trail, me = Trail(), "owner@example.com"

    assert client.post(f"{BASE}/new", data=FORM).status_code == 302
    created = trail.one("webhook.created", AuditEntry.USER, me)
    webhook = db.session.scalar(db.select(Webhook))
    assert created.webhook_id == webhook.id and created.webhook_name == "CRM"
    assert created.details["headers"] == ["X-Token"] and created.organization_id == owner.id
    secrets = [PASSWORD_SECRET, HEADER_SECRET, webhook.signing_secret]

    edited = {**FORM, "url": "https://127.0.0.1:8443/v2", "event_types": ["job.created", "job.updated"],
              "basic_password": NEW_PASSWORD_SECRET, "headers-0-value": NEW_HEADER_SECRET}
    assert client.post(f"{BASE}/{webhook.id}/settings", data=edited).status_code == 302
    changed = trail.one("webhook.updated", AuditEntry.USER, me)
    assert changed.details["changes"] == [
        {"field": "url", "old": "https://127.0.0.1:8443/hook", "new": "https://127.0.0.1:8443/v2"},
        {"field": "event_types", "old": ["job.created"], "new": ["job.created", "job.updated"]},
        {"field": "basic_password", "old": None, "new": None},
        {"field": "header_values", "old": None, "new": ["X-Token"]}]
    secrets += [NEW_PASSWORD_SECRET, NEW_HEADER_SECRET]
    # Saving the form unchanged (empty password and header value keep the stored ones).
    client.post(f"{BASE}/{webhook.id}/settings", data={**edited, "basic_password": "",
                                                        "headers-0-value": ""})
    trail.none()

    client.post(f"{BASE}/{webhook.id}/toggle", data={"active": "1"})
    turned_on = trail.one("webhook.activated", AuditEntry.USER, me)
    ping = db.session.get(Delivery, turned_on.delivery_id)
    assert ping.event_type == "webhook.ping" and ping.webhook_id == webhook.id
    client.post(f"{BASE}/{webhook.id}/toggle", data={"active": "1"})  # already on
    trail.none()

    client.post(f"{BASE}/{webhook.id}/test-event")
    assert trail.one("test_event.sent", AuditEntry.USER, me).delivery_id not in (None, ping.id)

    client.get(f"{BASE}/{webhook.id}/secret")
    trail.one("secret.revealed", AuditEntry.USER, me)
    client.post(f"{BASE}/{webhook.id}/signing-secret/rotate", data={"grace_hours": "24"})
    assert trail.one("secret.rotated", AuditEntry.USER, me).details == {"grace_period_hours": 24}
    db.session.refresh(webhook)
    secrets.append(webhook.signing_secret)
    client.post(f"{BASE}/{webhook.id}/signing-secret/stop-previous")
    trail.one("secret.previous_stopped", AuditEntry.USER, me)
    client.post(f"{BASE}/{webhook.id}/signing-secret/stop-previous")  # nothing left to stop
    trail.none()

    failed = stored_delivery(webhook, state="failed", created_at=utcnow() - timedelta(hours=1),
                             attempt_count=3)
    client.post(f"{BASE}/{webhook.id}/deliveries/{failed.id}/resend")
    resent = trail.one("delivery.resent", AuditEntry.USER, me)
    assert resent.delivery_id == failed.id
    assert resent.details == {"event_id": failed.event.public_id, "event_type": "job.created"}

    db.session.execute(db.update(Delivery).where(Delivery.id == failed.id)
                       .values(manual_requested_at=None))
    db.session.commit()
    client.post(f"{BASE}/{webhook.id}/resend-failed", data={"period": "24h"})
    started = trail.one("recovery.resend_started", AuditEntry.USER, me)
    assert started.details["deliveries"] == 1
    client.post(f"{BASE}/{webhook.id}/recoveries/{started.details['recovery_id']}/cancel")
    trail.one("recovery.cancelled", AuditEntry.USER, me)

    client.post(f"{BASE}/{webhook.id}/toggle", data={"active": "0"})
    trail.one("webhook.deactivated", AuditEntry.USER, me)
    client.post(f"{BASE}/{webhook.id}/toggle", data={"active": "1"})
    trail.one("webhook.activated", AuditEntry.USER, me)
    client.post(f"{BASE}/{webhook.id}/replay/dismiss")
    trail.one("recovery.replay_dismissed", AuditEntry.USER, me)

    client.post(f"{BASE}/api-keys/", data={"name": "Sync", "scope": "write", "expiry": "never"})
    key_created = trail.one("api_key.created", AuditEntry.USER, me)
    key = db.session.get(ApiKey, key_created.details["api_key_id"])
    assert key_created.webhook_id is None and key_created.details["prefix"] == key.prefix
    client.post(f"{BASE}/api-keys/{key.id}/revoke", data={"confirmed": "yes"})
    trail.one("api_key.revoked", AuditEntry.USER, me)

    client.post(f"{BASE}/{webhook.id}/delete", data={"confirmed": "yes"})
    trail.one("webhook.deleted", AuditEntry.USER, me)
    assert_no_secret_in(entries(), secrets)


def test_every_api_action_writes_one_entry_by_the_key(client, factory, queue):
    org = factory.org("acme")
    key, token = apikeys.create(org, "Integration", ApiKey.WRITE)
    trail = Trail()
    trail.one("api_key.created", AuditEntry.SYSTEM, "Webhooks (automatic)", address=None)
    label = f"API key “Integration” ({key.prefix}…)"

    def call(method, path, **kwargs):
        return client.open(f"/api/v1{path}", method=method,
                           headers={"Authorization": f"Bearer {token}"}, **kwargs)

    made = call("POST", "/webhooks", json={
        "name": "ERP", "url": "https://127.0.0.1:8443/erp", "event_types": ["job.created"],
        "auth_type": "basic", "basic_username": "erp", "basic_password": PASSWORD_SECRET,
        "headers": [{"name": "X-Token", "value": HEADER_SECRET}]}).get_json()
    trail.one("webhook.created", AuditEntry.API_KEY, label)
    path = f"/webhooks/{made['id']}"
    call("PATCH", path, json={"name": "ERP live"})
    assert trail.one("webhook.updated", AuditEntry.API_KEY, label).details["changes"] == [
        {"field": "name", "old": "ERP", "new": "ERP live"}]
    call("PATCH", path, json={"name": "ERP live"})
    trail.none()
    call("POST", f"{path}/activate")
    trail.one("webhook.activated", AuditEntry.API_KEY, label)
    call("POST", f"{path}/test-event")
    trail.one("test_event.sent", AuditEntry.API_KEY, label)
    revealed = call("GET", f"{path}/secret").get_json()["secret"]
    trail.one("secret.revealed", AuditEntry.API_KEY, label)
    rotated = call("POST", f"{path}/secret/rotate", json={"grace_period_hours": 0}).get_json()
    trail.one("secret.rotated", AuditEntry.API_KEY, label)
    call("POST", f"{path}/deactivate")
    trail.one("webhook.deactivated", AuditEntry.API_KEY, label)
    call("DELETE", path)
    trail.one("webhook.deleted", AuditEntry.API_KEY, label)
    assert entries()[-1].actor_id == key.id
    assert_no_secret_in(entries(), [PASSWORD_SECRET, HEADER_SECRET, token, revealed,
                                    rotated["secret"]])


def test_a_read_key_refused_a_secret_records_nothing(client, factory):
    org = factory.org("acme")
    webhook = factory.webhook(org)
    _, token = apikeys.create(org, "Dashboard", ApiKey.READ)
    trail = Trail()
    trail.seen = len(entries())
    response = client.get(f"/api/v1/webhooks/{webhook.id}/secret",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    trail.none()


def test_the_command_line_and_automatic_turn_offs_are_named(app, factory, runner):
    org = factory.org("acme")
    result = runner.invoke(args=["apikeys", "create", "--org", "acme", "--name", "Deploy",
                                 "--scope", "read"])
    assert result.exit_code == 0
    trail = Trail()
    trail.one("api_key.created", AuditEntry.COMMAND_LINE, "Command line", address=None)
    assert_no_secret_in(entries(), [result.output.strip()])

    webhook = factory.webhook(org)
    lifecycle.disable(webhook, "The endpoint answered 410 Gone.")
    db.session.commit()
    disabled = trail.one("webhook.disabled", AuditEntry.SYSTEM, "Webhooks (automatic)",
                         address=None)
    assert disabled.details == {"reason": "The endpoint answered 410 Gone."}


def test_an_action_that_fails_leaves_no_entry(owner, client, factory, queue, monkeypatch):
    webhook = factory.webhook(owner)
    trail = Trail()

    def broken(*args, **kwargs):
        raise RuntimeError("the queue broke mid-way")
    monkeypatch.setattr(lifecycle, "cancel_pending", broken)
    with pytest.raises(RuntimeError):
        lifecycle.deactivate(webhook)
    db.session.rollback()
    trail.none()


def test_replays_and_bulk_resends_through_the_api_name_the_key(client, factory, queue,
                                                               monkeypatch):
    monkeypatch.setattr(health, "announce", lambda changes: None)
    org = factory.org("acme")
    key, token = apikeys.create(org, "Ops", ApiKey.WRITE)
    webhook = factory.webhook(org)
    stored_delivery(webhook, state="failed", created_at=utcnow() - timedelta(hours=1),
                    attempt_count=3)
    trail = Trail()
    trail.seen = len(entries())
    now = utcnow()
    response = client.post(
        f"/api/v1/webhooks/{webhook.id}/recoveries/resend-failed",
        headers={"Authorization": f"Bearer {token}"},
        json={"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()})
    assert response.status_code == 202
    entry = trail.one("recovery.resend_started", AuditEntry.API_KEY,
                      f"API key “Ops” ({key.prefix}…)")
    assert entry.details["recovery_id"] == db.session.scalar(db.select(Recovery.id))

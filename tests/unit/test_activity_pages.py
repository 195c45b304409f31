"""The Activity tab, the organization's Activity page (filters, pages, CSV export) and
/api/v1/activity: what the audit trail holds, in words, for its own organization only."""
import csv
import io
from datetime import timedelta

import pytest

from webhooks import apikeys, audit, lifecycle
from webhooks.extensions import db
from webhooks.models import ApiKey, AuditEntry, Delivery, utcnow

PAGE = "/orgs/acme/activity/"


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, name="CRM", active=False)


def add(org, action, webhook=None, days_ago=0, actor=None, **details):
    entry = audit.record(org.id, action, webhook=webhook, details=details,
                         actor=actor or audit.Actor(AuditEntry.USER, "owner@example.com", 1,
                                                    "203.0.113.9"))
    db.session.flush()
    entry.created_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return entry


def test_the_tab_lists_who_did_what_with_the_test_event_s_outcome(client, webhook, queue):
    lifecycle.update(webhook, lambda w: setattr(w, "url", "https://127.0.0.1:9/new"))
    ping = lifecycle.activate(webhook)
    db.session.execute(db.update(Delivery).where(Delivery.id == ping.id)
                       .values(state="succeeded", last_status_code=200))
    db.session.commit()
    text = client.get(f"/orgs/acme/webhooks/{webhook.id}/activity").get_data(as_text=True)
    assert text.index("Turned on") < text.index("Settings changed")
    assert "URL: https://127.0.0.1/hook → https://127.0.0.1:9/new" in text
    assert "succeeded (200)" in text
    assert f"/deliveries/{ping.id}" in text
    assert "Webhooks (automatic)" in text  # outside a request: the service itself


def test_the_tab_of_a_webhook_with_nothing_recorded(client, webhook):
    text = client.get(f"/orgs/acme/webhooks/{webhook.id}/activity").get_data(as_text=True)
    assert "Nothing recorded yet." in text


def test_the_page_filters_by_action_webhook_person_and_day(client, factory, owner, webhook):
    other = factory.webhook(owner, name="ERP")
    add(owner, "webhook.created", webhook, days_ago=3)
    add(owner, "webhook.created", other, days_ago=1)
    add(owner, "secret.revealed", webhook, actor=audit.Actor(
        AuditEntry.API_KEY, "API key “Sync” (whk_live_abc…)", 7, "198.51.100.4"))
    globex = factory.org("globex")
    add(globex, "webhook.deleted", factory.webhook(globex, name="Globex hook"))

    def shown(**args):
        text = client.get(PAGE, query_string=args).get_data(as_text=True)
        return text.count('class="activity-entry'), text

    count, text = shown()
    assert count == 3 and "Globex hook" not in text
    assert "from 198.51.100.4" in text and "API key “Sync” (whk_live_abc…)" in text
    assert shown(action="webhook.created")[0] == 2
    assert shown(webhook=other.id)[0] == 1
    assert shown(actor="sync")[0] == 1
    day = (utcnow() - timedelta(days=3)).date().isoformat()
    assert shown(**{"from": day, "to": day})[0] == 1
    assert shown(action="no-such-action")[0] == 3  # unknown filters are ignored
    count, text = shown(actor="nobody")
    assert count == 0 and "No activity matches these filters." in text


def test_the_page_goes_back_in_pages_of_50(client, owner, webhook):
    for number in range(55):
        add(owner, "secret.revealed", webhook)
    first = client.get(PAGE).get_data(as_text=True)
    assert first.count('class="activity-entry') == 50
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert second.count('class="activity-entry') == 5 and 'rel="next"' not in second
    assert ">Newest<" in second


def test_the_export_is_csv_of_every_matching_entry_safe_for_spreadsheets(client, owner, webhook):
    add(owner, "webhook.updated", webhook, changes=[
        {"field": "name", "old": "CRM", "new": "=HYPERLINK(\"x\")"}])
    add(owner, "secret.revealed", webhook)
    response = client.get("/orgs/acme/activity/export.csv",
                          query_string={"action": "webhook.updated"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="activity-acme.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "time_utc", "action", "description", "actor_type", "actor", "address",
                       "webhook_id", "webhook_name", "delivery_id", "details"]
    [row] = rows[1:]
    assert row[2:7] == ["webhook.updated", "Settings changed", "user", "owner@example.com",
                        "203.0.113.9"]
    assert row[10] == 'Name: “CRM” → “=HYPERLINK("x")”'
    add(owner, "webhook.updated", webhook, changes=[{"field": "url", "old": "a", "new": "b"}],
        actor=audit.Actor(AuditEntry.USER, "=cmd|' /C calc'!A0", 2, None))
    exported = client.get("/orgs/acme/activity/export.csv").get_data(as_text=True)
    assert "\n'=cmd" not in exported and ",'=cmd|" in exported


def test_the_export_streams_more_than_one_chunk(client, owner, webhook, monkeypatch):
    from webhooks import activity
    monkeypatch.setattr(activity, "EXPORT_CHUNK", 7)
    for _ in range(20):
        add(owner, "secret.revealed", webhook)
    rows = list(csv.reader(io.StringIO(
        client.get("/orgs/acme/activity/export.csv").get_data(as_text=True))))
    ids = [int(row[0]) for row in rows[1:]]
    assert len(ids) == 20 and ids == sorted(set(ids), reverse=True)


def test_nothing_can_change_an_entry_through_the_app(app):
    methods = {method for rule in app.url_map.iter_rules()
               if "activity" in rule.rule for method in rule.methods}
    assert methods <= {"GET", "HEAD", "OPTIONS"}


def test_the_api_reads_the_trail_with_filters_and_a_cursor(client, factory, owner, webhook):
    _, token = apikeys.create(owner, "Dashboard", ApiKey.READ)  # itself an entry
    for _ in range(3):
        add(owner, "secret.revealed", webhook)
    globex = factory.org("globex")
    add(globex, "webhook.deleted", factory.webhook(globex, name="Globex hook"))
    headers = {"Authorization": f"Bearer {token}"}

    first = client.get("/api/v1/activity", query_string={"limit": 2}, headers=headers).get_json()
    assert [e["action"] for e in first["data"]] == ["secret.revealed"] * 2
    entry = first["data"][0]
    assert entry["title"] == "Signing secret revealed" and entry["webhook_name"] == "CRM"
    assert entry["actor"] == {"type": "user", "id": 1, "label": "owner@example.com",
                              "address": "203.0.113.9"}
    rest = client.get("/api/v1/activity", query_string={"cursor": first["next_cursor"]},
                      headers=headers).get_json()
    assert [e["action"] for e in rest["data"]] == ["secret.revealed", "api_key.created"]
    assert rest["next_cursor"] is None

    created = client.get("/api/v1/activity", query_string={"action": "api_key.created"},
                         headers=headers).get_json()["data"]
    assert [e["details"]["name"] for e in created] == ["Dashboard"]
    assert "token" not in str(created) and token not in str(created)
    later = client.get("/api/v1/activity", headers=headers, query_string={
        "since": (utcnow() + timedelta(hours=1)).isoformat()}).get_json()
    assert later["data"] == []
    bad = client.get("/api/v1/activity", query_string={"cursor": "nope"}, headers=headers)
    assert bad.status_code == 400
    unix_time = client.get("/api/v1/activity", query_string={"until": "0.5"}, headers=headers)
    assert unix_time.status_code == 400
    assert "RFC 3339" in unix_time.get_json()["errors"][0]["message"]


def test_entries_of_a_deleted_webhook_stay_readable(client, owner, webhook, queue):
    lifecycle.delete(webhook)
    text = client.get(PAGE).get_data(as_text=True)
    assert "Webhook deleted" in text and "CRM <span class=\"muted\">(deleted)</span>" in text

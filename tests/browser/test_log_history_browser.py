"""Log History end to end in headless Chromium: ping, live rows, details, retries, resend."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.receiver import Reply, json_of
from tests.support.deliveries import failed_attempt, stored_delivery
from webhooks import catalog
from webhooks.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.https, pytest.mark.slow]

TOKEN = "test-internal-token"


def post_event(page, live_server, event_id):
    response = page.request.post(
        live_server + "/internal/events",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"id": event_id, "organization_id": "acme", "type": "job.created",
              "occurred_at": "2026-11-28T10:00:00Z",
              "data": catalog.BY_TYPE["job.created"].example},
    )
    assert response.status == 202, response.text()
    return response.json()


def row_of(page, event_public_id):
    return page.locator("tr.log-row", has=page.get_by_text(event_public_id, exact=True))


def test_log_history_follows_a_webhook_from_ping_to_resend(page, live_server, factory, receiver,
                                                           screenshot):
    factory.user(org=factory.org("acme", "Acme Roofing"))
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    # Create a webhook for the real HTTPS receiver, then turn it on from the listing.
    page.goto(live_server + "/orgs/acme/webhooks/new")
    page.get_by_label("Name", exact=True).fill("CRM")
    page.get_by_label("Webhook URL", exact=True).fill(receiver.url)
    page.locator('input[value="job.created"]').check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")
    page.get_by_role("switch", name="Status of CRM").click()
    expect(page.get_by_role("switch", name="Status of CRM")).to_have_attribute("aria-checked", "true")
    ping = json_of(receiver.wait_for(1)[0])
    assert ping["type"] == "webhook.ping"

    # The ping is the first entry of Log History, with the receiver's 200.
    page.get_by_role("link", name="Edit CRM").click()
    ping_row = row_of(page, ping["id"])
    expect(ping_row).to_contain_text("Webhook Ping")
    expect(ping_row.locator("td.response")).to_have_text(re.compile(r"✓\s*200"), timeout=10_000)

    # A host event appears by itself, without a reload.
    post_event(page, live_server, "host-evt-1")
    created = json_of(receiver.wait_for(2)[1])
    created_row = row_of(page, created["id"])
    expect(created_row).to_be_visible(timeout=15_000)
    expect(created_row).to_contain_text("Job Created")
    expect(created_row.locator("td.url")).to_have_text(receiver.url)
    expect(created_row.locator("td.response")).to_have_text(re.compile(r"✓\s*200"), timeout=10_000)

    # Expand it: the payload pretty-printed and the attempt's response headers and body.
    created_row.get_by_role("link", name=f"Expand {created['id']}").click()
    dialog = page.locator("dialog#log-modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator("pre.payload")).to_contain_text('"type": "job.created"')
    expect(dialog.locator("pre.payload")).to_contain_text('"name": "Roof replacement"')
    attempt = dialog.locator("details.attempt").first
    expect(attempt.locator("summary")).to_contain_text("Succeeded")
    attempt.locator("summary").click()
    expect(attempt.locator("table.headers").first).to_contain_text("Content-Type")
    expect(attempt.locator("table.headers").first).to_contain_text("application/json")
    expect(attempt.locator("pre.response-body")).to_have_text('{"ok":true}')
    expect(attempt).to_contain_text("webhook-signature")  # the request headers that were sent
    page.set_viewport_size({"width": 1280, "height": 1500})  # room for the whole modal
    dialog.evaluate("d => { d.scrollTop = 0; }")
    screenshot("log-history-expanded")
    page.set_viewport_size({"width": 1280, "height": 720})
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # The receiver breaks: the retries run (delays 1 s, 2 s) until the row shows the failure.
    receiver.always(Reply(status=500, body=b'{"error":"down"}'))
    post_event(page, live_server, "host-evt-2")
    failing = json_of(receiver.wait_for(3)[2])
    failing_row = row_of(page, failing["id"])
    expect(failing_row).to_be_visible(timeout=15_000)
    expect(failing_row.locator("td.response")).to_have_text(re.compile(r"✕\s*500 · Failed"),
                                                            timeout=20_000)
    assert sum(json_of(r)["id"] == failing["id"] for r in receiver.requests) == 3

    # The receiver recovers; Resend sends one manual attempt, which succeeds.
    receiver.always(Reply())
    failing_row.get_by_role("button", name="Resend").click()
    expect(failing_row.locator("td.response")).to_have_text(re.compile(r"✓\s*200"), timeout=15_000)
    failing_row.get_by_role("link", name=f"Expand {failing['id']}").click()
    attempts = dialog.locator("details.attempt")
    expect(attempts).to_have_count(4)
    expect(attempts.nth(3).locator("summary")).to_contain_text("manual")
    expect(attempts.nth(3).locator("summary")).to_contain_text("Succeeded")
    for number in range(3):
        expect(attempts.nth(number).locator("summary")).to_contain_text("Failed")
    dialog.get_by_role("button", name="Close").click()
    page.locator("#log-history").scroll_into_view_if_needed()
    screenshot("log-history")


def test_resend_after_the_webhook_was_turned_off_elsewhere_explains_why(page, live_server,
                                                                       factory):
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    webhook = factory.webhook(org, url="https://hooks.example.com/in", name="CRM")
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server + f"/orgs/acme/webhooks/{webhook.id}")
    row = page.locator(f"#delivery-{delivery.id}")
    expect(row.get_by_role("button", name="Resend")).to_be_enabled()

    webhook.is_active = False  # turned off in another tab while this page is open
    db.session.commit()
    row.get_by_role("button", name="Resend").click()
    expect(page.locator("#flashes")).to_contain_text("Turn the webhook on to resend this event.")
    expect(row.get_by_role("button", name="Resend")).to_be_disabled()
    expect(row.locator(".resend-off")).to_have_attribute(
        "title", "Turn the webhook on to resend this event.")

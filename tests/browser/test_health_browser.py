"""Endpoint health end to end in headless Chromium, against a real HTTPS receiver: events fail,
the webhook is flagged as failing with what to fix, the Health tab charts it, and a bulk resend
(counted first, then followed live) delivers what failed once the endpoint is fixed."""
import pytest
from playwright.sync_api import expect

from tests.support.receiver import Reply
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.https, pytest.mark.slow]

TOKEN = "test-internal-token"


def post_event(page, live_server, event_id):
    response = page.request.post(
        live_server + "/internal/events", headers={"Authorization": f"Bearer {TOKEN}"},
        data={"id": event_id, "organization_id": "acme", "type": "job.created",
              "occurred_at": "2026-11-28T10:00:00Z",
              "data": catalog.BY_TYPE["job.created"].example})
    assert response.status == 202, response.text()


def chart_drawn(page, canvas_id):
    return page.evaluate("""id => {
        const canvas = document.getElementById(id);
        return Boolean(canvas && window.Chart && Chart.getChart(canvas));
    }""", canvas_id)


def test_a_failing_endpoint_is_flagged_charted_and_recovered_in_bulk(page, live_server, factory,
                                                                       receiver, screenshot):
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    webhook = factory.webhook(org, name="CRM sync", url=receiver.url)
    receiver.default = Reply(status=500, body=b'{"error":"database is down"}')
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    for number in range(3):
        post_event(page, live_server, f"job-{number}")
    receiver.wait_for(9, timeout=30)  # three attempts each (retries after 1 and 2 s)
    db.session.expire_all()
    page.wait_for_timeout(500)

    # The listing and the webhook's page say it is failing, and what to fix.
    page.goto(live_server + "/orgs/acme/webhooks/")
    expect(page.locator(".health-banner")).to_contain_text("is failing since")
    expect(page.locator(".health-banner")).to_contain_text("Your server answered 500")
    expect(page.locator(".webhook-row .health-badge")).to_have_text("Failing")
    page.goto(f"{live_server}/orgs/acme/webhooks/{webhook.id}/health")
    expect(page.locator("#health-notices .health-banner")).to_contain_text(
        "it will be turned off automatically on")
    expect(page.locator(".health-table")).to_contain_text("Server error (5xx)")
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas').length >= 2"
                           " && [...document.querySelectorAll('canvas')].every(c => Chart.getChart(c))")
    screenshot("health-failing")

    # Fixed: resend the failures of the last hour, counted before anything is sent.
    receiver.default = Reply(status=200)
    page.get_by_role("link", name="Log History").click()
    page.get_by_role("link", name="Resend failed…").click()
    page.get_by_label("Period").select_option("1h")
    page.get_by_role("button", name="Count failed deliveries").click()
    expect(page.locator(".recovery-count")).to_contain_text("3 failed deliveries")
    screenshot("recovery-count")
    assert len(receiver.requests) == 9  # nothing sent by counting
    page.get_by_role("button", name="Resend 3 deliveries").click()

    expect(page.locator(".recovery-progress")).to_contain_text("Finished", timeout=20000)
    expect(page.locator('[data-figure="succeeded"]')).to_have_text("3")
    expect(page.locator('[data-figure="sent"]')).to_have_text("3 of 3")
    # Healthy again: the banner goes as the progress finishes, without a reload.
    expect(page.locator("#health-notices .health-banner")).to_have_count(0)
    screenshot("recovery-progress")
    resent = receiver.requests[9:]
    first_ids = {r.headers["webhook-id"] for r in receiver.requests[:9]}
    assert len(resent) == 3 and {r.headers["webhook-id"] for r in resent} == first_ids

    # Log History marks the attempts.
    page.goto(f"{live_server}/orgs/acme/webhooks/{webhook.id}")
    db.session.expire_all()
    states = db.session.scalars(db.select(Delivery.state)).all()
    assert states == ["succeeded"] * 3
    page.locator("a[id^=expand-]").first.click()
    expect(page.get_by_role("dialog").locator(".attempt-trigger").last).to_have_text("bulk resend")

"""A slowed-down endpoint and its waiting deliveries, as the listing and detail screen show them."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from webhooks.models import utcnow
from tests.browser.test_webhooks_browser import sign_in
from tests.support.deliveries import store_delivery

pytestmark = pytest.mark.browser

TIMEOUT = "Timed out after 15 s waiting for a response"


def test_listing_says_which_endpoint_is_slowed_down_and_what_waits(page, live_server, factory,
                                                                  screenshot):
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    factory.webhook(org, name="CRM sync", url="https://crm.acme-roofing.com/webhooks/jobs",
                    events=("job.created", "job.updated"), last_status_code=200,
                    last_attempt_at=utcnow() - timedelta(minutes=2))
    erp = factory.webhook(org, name="ERP orders", url="https://erp.acme-roofing.com/api/inbound",
                          events=("job.created", "estimate.created", "estimate.updated"),
                          unanswered_streak=7, last_error=TIMEOUT,
                          last_attempt_at=utcnow() - timedelta(seconds=40))
    billing = factory.webhook(org, name="Billing", url="https://billing.example.com/hooks",
                              events=("signed_document.signed",), last_status_code=503,
                              last_attempt_at=utcnow() - timedelta(minutes=1))
    # Stored directly, as ingest would: nothing is handed to the queue, so nothing is sent.
    for _ in range(118):
        store_delivery(erp)
    for _ in range(12):
        store_delivery(billing, event_type="signed_document.signed",
                                 data={"signed_document": {"id": "sdoc_611"}})
    sign_in(page, live_server)

    page.goto(live_server + "/orgs/acme/webhooks/")
    erp_row = page.locator(f"#webhook-{erp.id}")
    slowed = erp_row.get_by_text("Not responding: sending one event at a time, 118 waiting")
    expect(slowed).to_be_visible()
    expect(slowed).to_have_attribute("title", "The last 7 attempts got no HTTP answer, so events "
                                     "go to this endpoint one at a time until it answers again.")
    expect(erp_row).to_contain_text("Failed · " + TIMEOUT)
    billing_row = page.locator(f"#webhook-{billing.id}")
    expect(billing_row.get_by_text("12 waiting to be sent")).to_be_visible()
    expect(page.locator("tr", has_text="CRM sync").locator(".backlog")).to_have_count(0)
    screenshot("webhooks-listing-slowed")

    page.get_by_role("link", name="Edit ERP orders").click()
    status = page.locator("#webhook-status")
    expect(status).to_contain_text("Not responding: sending one event at a time, 118 waiting")
    expect(page.locator("#log-history td.response").first).to_contain_text(
        "Waiting for the endpoint")

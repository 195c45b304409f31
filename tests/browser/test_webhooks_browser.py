"""The Webhooks tab in headless Chromium: add with a validation error, toggle, edit, delete."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from webhooks import urlguard
from webhooks.models import utcnow
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, live_server):
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_add_toggle_edit_and_delete_a_webhook(page, live_server, factory, receiver, screenshot):
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    # An existing webhook whose endpoint failed, so the listing shows both kinds of response.
    factory.webhook(org, name="Billing system", url="https://billing.example.com/hooks/jobs",
                    events=("job.created", "job.updated", "estimate.created"), active=True,
                    last_status_code=503, last_attempt_at=utcnow() - timedelta(minutes=7))
    sign_in(page, live_server)

    page.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_role("link", name="Add webhook").first.click()
    expect(page.get_by_role("heading", name="Add webhook")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("CRM sync")
    url_field = page.get_by_label("Webhook URL")
    url_field.fill(receiver.url.replace("https://", "http://"))
    url_field.press("Tab")  # leaving the field validates it inline
    expect(page.locator("#url-error")).to_have_text(urlguard.NOT_HTTPS)

    # Basic Auth reveals its fields; No Auth hides them again.
    expect(page.get_by_label("Username")).to_be_hidden()
    page.get_by_label("Authentication").select_option(label="Basic Auth")
    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Authentication").select_option(label="No Auth")
    expect(page.get_by_label("Username")).to_be_hidden()

    jobs = page.get_by_role("group", name="Job Events")
    jobs.get_by_label("Created", exact=True).check()
    jobs.get_by_label("Status Changed").check()
    page.get_by_label("Select all Estimate Events").check()
    estimates = page.get_by_role("group", name="Estimate Events")
    expect(estimates.get_by_label("Created", exact=True)).to_be_checked()
    expect(estimates.get_by_label("Updated", exact=True)).to_be_checked()

    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#url-error")).to_have_text(urlguard.NOT_HTTPS)
    expect(page.get_by_text("nothing was saved")).to_be_visible()
    screenshot("webhook-form-errors")

    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_role("button", name="Add webhook").click()
    expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")
    expect(page.get_by_role("status").filter(has_text="It is deactivated")).to_be_visible()
    row = page.locator("tr", has_text="CRM sync")
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("Job: Created, Status Changed")
    expect(row).to_contain_text("All estimate events")
    switch = page.get_by_role("switch", name="Status of CRM sync")
    expect(switch).not_to_be_checked()
    expect(switch).to_have_text("Off")

    switch.click()  # htmx swaps this row only
    expect(switch).to_be_checked()
    expect(page.get_by_role("status").filter(has_text="a test event was sent to")).to_be_visible()
    page.reload()
    expect(page.get_by_role("switch", name="Status of CRM sync")).to_be_checked()
    expect(page.get_by_role("switch", name="Status of Billing system")).to_be_checked()
    screenshot("webhooks-listing")

    page.get_by_role("link", name="Edit CRM sync").click()
    expect(page.get_by_role("heading", name="Log History")).to_be_visible()  # what a webhook opens on
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Edit webhook")).to_be_visible()
    expect(page.get_by_role("switch", name="Status of CRM sync")).to_be_checked()
    screenshot("webhook-settings")
    page.get_by_label("Name", exact=True).fill("CRM sync (production)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Saved changes")).to_be_visible()
    expect(page.get_by_role("heading", name="CRM sync (production)", exact=True)).to_be_visible()
    detail_switch = page.get_by_role("switch", name="Status of CRM sync (production)")
    detail_switch.click()  # htmx swaps the status block of the detail screen
    expect(detail_switch).not_to_be_checked()
    expect(page.locator("#webhook-status")).to_contain_text("Deactivated")
    expect(page.get_by_role("status").filter(has_text="turned off")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete webhook").click()
    expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")
    expect(page.get_by_role("status").filter(has_text="was deleted")).to_be_visible()
    expect(page.locator("tr", has_text="CRM sync")).to_have_count(0)
    expect(page.locator("tr", has_text="Billing system")).to_have_count(1)


def test_the_tab_works_without_javascript(browser, live_server, factory):
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(live_server + "/orgs/acme/webhooks/new")
        expect(page.get_by_label("Username")).to_be_visible()  # not hidden without scripts
        page.get_by_label("Name", exact=True).fill("Plain form")
        page.get_by_label("Webhook URL").fill("https://127.0.0.1:9/hook")
        page.get_by_label("Authentication").select_option(label="Basic Auth")
        page.get_by_label("Username").fill("api")
        page.get_by_label("Password", exact=True).fill("pw-for-basic")
        page.get_by_role("group", name="Signed Document Events").get_by_label("Signed", exact=True).check()
        page.get_by_role("button", name="Add webhook").click()
        expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")

        page.get_by_role("switch", name="Status of Plain form").click()
        expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")
        expect(page.get_by_role("switch", name="Status of Plain form")).to_be_checked()

        page.get_by_role("link", name="Edit Plain form").click()
        page.get_by_role("link", name="Settings", exact=True).click()
        page.get_by_role("button", name="Delete webhook").click()
        expect(page.get_by_role("heading", name=re.compile("Delete webhook"))).to_be_visible()
        page.get_by_role("button", name="Yes, delete webhook").click()
        expect(page.get_by_text("No webhooks yet")).to_be_visible()
    finally:
        context.close()

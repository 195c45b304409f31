"""The audit trail in headless Chromium: changes made in the browser appear, with who made them,
on the webhook's Activity tab and the organization's Activity page, which filters, and exports
CSV."""
import csv
import io

import pytest
from playwright.sync_api import expect

from .conftest import OWNER, sign_in

pytestmark = [pytest.mark.browser]


def test_changes_show_on_the_activity_tab_and_page_and_export(page, live_server, world,
                                                              screenshot):
    crm = world["crm"]
    base = f"{live_server}/orgs/acme/webhooks/{crm.id}"
    sign_in(page, live_server)

    page.goto(base + "/settings")
    page.get_by_label("Name", exact=True).fill("CRM sync (live)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Saved changes")).to_be_visible()
    page.goto(base + "/signing-secret")
    page.get_by_role("link", name="Reveal").click()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    page.goto(f"{live_server}/orgs/acme/webhooks/{world['billing'].id}/delete")
    page.get_by_role("button", name="Yes, delete webhook").click()
    expect(page.get_by_text("was deleted")).to_be_visible()

    page.goto(base + "/activity")
    entries = page.locator(".activity-entry")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text("Signing secret revealed")
    expect(entries.nth(1)).to_contain_text("Settings changed")
    expect(entries.nth(1)).to_contain_text("Name: “CRM sync” → “CRM sync (live)”")
    expect(entries.nth(1)).to_contain_text(f"By {OWNER}")
    expect(entries.nth(1)).to_contain_text("from 127.0.0.1")

    page.goto(f"{live_server}/orgs/acme/webhooks/")
    page.get_by_role("link", name="Activity", exact=True).click()
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    expect(page.locator(".activity-entry")).to_have_count(3)
    expect(page.locator(".activity-entry").first).to_contain_text("Billing (deleted)")
    screenshot("activity")

    page.get_by_label("What").select_option(label="Signing secret revealed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".activity-entry")).to_have_count(1)
    expect(page).to_have_url(f"{live_server}/orgs/acme/activity/?action=secret.revealed&webhook=&actor=&from=&to=")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert [row[2] for row in rows[1:]] == ["secret.revealed"]
    assert rows[1][5] == OWNER

    page.get_by_role("link", name="Clear").click()
    expect(page.locator(".activity-entry")).to_have_count(3)

"""The issue-12 screens in headless Chromium: custom header rows added and removed with htmx,
the Signing secret tab's rotation, and the API keys section (a key shown once, then revoked)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from webhooks import apikeys
from webhooks.extensions import db
from webhooks.models import ApiKey, Webhook

pytestmark = pytest.mark.browser

CRM_KEY = "crm-key-5f1c0a"


@pytest.fixture
def acme(factory):
    org = factory.org("acme", "Acme Roofing")
    factory.user("owner.with.a.long.address@acme-roofing.example.com", org=org)
    return org


def test_header_rows_are_added_and_removed_in_place_and_saved(page, live_server, acme, screenshot):
    sign_in(page, live_server)
    page.goto(live_server + "/orgs/acme/webhooks/new")
    page.get_by_label("Name", exact=True).fill("CRM")
    page.get_by_label("Webhook URL").fill("https://crm.example.com/in")
    page.get_by_role("group", name="Job Events").get_by_label("Created", exact=True).check()

    add = page.get_by_role("button", name="Add header")
    for _ in range(3):
        add.click()
    expect(page.locator("[data-header-row]")).to_have_count(3)
    expect(page.get_by_label("Header 3 Name")).to_be_focused()
    page.get_by_label("Header 1 Name").fill("X-Drop-Me")
    page.get_by_label("Header 2 Name").fill("X-Api-Key")
    page.get_by_label("Header 2 Value").fill(CRM_KEY)
    page.get_by_label("Header 3 Name").fill("Host")
    page.get_by_label("Header 3 Value").fill("crm.example.com")
    page.get_by_role("button", name="Remove header 1").click()
    expect(page.locator("[data-header-row]")).to_have_count(2)
    expect(page.locator("[data-header-row] input").first).to_be_focused()  # not lost

    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_text("nothing was saved")).to_be_visible()
    expect(page.get_by_text("Host is set by the service")).to_be_visible()
    assert page.locator("[data-header-row] input[aria-invalid=true]").count() == 1
    screenshot("webhook-form-header-error")
    row = page.locator("[data-header-row]").filter(has=page.locator("input[aria-invalid=true]"))
    row.get_by_role("button", name=re.compile("Remove header")).click()
    assert CRM_KEY not in page.content()  # a value is never sent back, like a password
    page.get_by_label("Header 1 Value").fill(CRM_KEY)
    page.get_by_role("button", name="Add webhook").click()

    expect(page.get_by_text("Webhook “CRM” was added")).to_be_visible()
    webhook = db.session.scalars(db.select(Webhook)).one()
    assert webhook.custom_headers == [("X-Api-Key", CRM_KEY)]
    page.goto(f"{live_server}/orgs/acme/webhooks/{webhook.id}/settings")
    expect(page.get_by_label("Header 1 Name")).to_have_value("X-Api-Key")
    expect(page.get_by_label("Header 1 Value")).to_have_value("")
    assert CRM_KEY not in page.content()


def test_rotating_the_secret_shows_the_new_one_and_the_overlap(page, live_server, acme, factory):
    webhook = factory.webhook(acme, name="CRM")
    old = webhook.signing_secret
    sign_in(page, live_server)
    page.goto(f"{live_server}/orgs/acme/webhooks/{webhook.id}/signing-secret")

    page.get_by_label("Keep the current secret signing for").select_option(label="3 days")
    page.get_by_role("button", name="Rotate secret").click()

    expect(page.get_by_text("This is the new secret")).to_be_visible()
    shown = page.locator("#signing-secret-value").inner_text()
    db.session.expire_all()
    assert shown == db.session.get(Webhook, webhook.id).signing_secret != old
    expect(page.locator(".facts").get_by_text("Previous secret")).to_be_visible()
    page.get_by_role("button", name="Stop signing with the previous secret").click()
    expect(page.get_by_text("The previous secret no longer signs deliveries.")).to_be_visible()
    expect(page.get_by_role("button", name="Stop signing with the previous secret")).to_have_count(0)


def test_an_api_key_is_shown_once_and_can_be_revoked(page, live_server, acme, screenshot):
    sign_in(page, live_server)
    page.goto(live_server + "/orgs/acme/webhooks/")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="No API keys yet")).to_be_visible()

    page.get_by_label("Name").fill("NetSuite")
    page.get_by_label("Scope").select_option(label="Write")
    page.get_by_role("button", name="Create API key").click()

    token = page.locator("#new-api-key").inner_text()
    assert re.fullmatch(r"whk_live_[A-Za-z0-9_-]{43}", token)
    assert apikeys.authenticate(token).name == "NetSuite"
    screenshot("api-key-created")
    page.get_by_role("link", name="Done, I have copied it").click()
    row = page.locator("tr", has_text="NetSuite")
    expect(row).to_contain_text("Active")
    assert token not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_text("was revoked")).to_be_visible()
    expect(page.locator("tr", has_text="NetSuite")).to_contain_text("Revoked")
    db.session.expire_all()
    assert db.session.scalars(db.select(ApiKey)).one().revoked_at is not None

"""The sign-in page in a real browser."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_in_and_reach_the_webhooks_tab(page, live_server, factory):
    factory.user(org=factory.org("acme", "Acme Roofing"))
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/orgs/acme/webhooks/")
    expect(page.get_by_role("link", name="Webhooks", exact=True)).to_be_visible()

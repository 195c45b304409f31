"""The webhook's page in Chromium: tabs with and without JavaScript, the keyboard, the delivery
dialog's focus, polite announcements, and the phone layout (screenshots for the README)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OWNER, sign_in
from tests.support.a11y import DESKTOP, PHONE, horizontal_overflow
from tests.support.deliveries import store_delivery
from webhooks.extensions import db

pytestmark = pytest.mark.browser

TABS = [("Health", "/health", "Health"), ("Settings", "/settings", "Edit webhook"),
        ("Signing secret", "/signing-secret", "Signing secret"), ("Activity", "/activity", "Activity"),
        ("Log History", "", "Log History")]


def tab_link(page, name):
    return page.get_by_role("navigation", name="Sections of this webhook").get_by_role(
        "link", name=name, exact=True)


def test_tabs_swap_in_place_under_the_same_header_and_follow_the_back_button(
        page, live_server, world, screenshot):
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server)
    base = f"{live_server}/orgs/acme/webhooks/{world['crm'].id}"
    page.goto(base)
    expect(tab_link(page, "Log History")).to_have_attribute("aria-current", "page")
    expect(page.locator("tr.log-row")).to_have_count(4)
    screenshot("detail-log-history")
    # A mark on the header shows it is not reloaded while the tabs change under it.
    page.evaluate("document.getElementById('webhook-status').dataset.mark = 'kept'")
    for name, path, heading in TABS:
        tab_link(page, name).click()
        expect(page).to_have_url(base + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(tab_link(page, name)).to_have_attribute("aria-current", "page")
        expect(page).to_have_title(f"{name} · CRM sync · Acme Roofing and Restoration · Webhooks")
        assert page.evaluate("document.getElementById('webhook-status').dataset.mark") == "kept"
        expect(tab_link(page, name)).to_be_focused()  # the focus stays on the tab just chosen
    page.go_back()
    expect(page).to_have_url(base + "/activity")
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="Signing secret", exact=True)).to_be_visible()


def test_tabs_and_their_actions_work_without_javascript(browser, live_server, world):
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    base = f"{live_server}/orgs/acme/webhooks/{world['crm'].id}"
    try:
        sign_in(page, live_server)
        page.goto(base)
        for name, path, heading in TABS:
            tab_link(page, name).click()
            expect(page).to_have_url(base + path)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.locator(f"#expand-{world['failed'].id}").click()
        expect(page).to_have_url(f"{base}/deliveries/{world['failed'].id}")
        expect(tab_link(page, "Log History")).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", name="Delivery details")).to_be_visible()
        tab_link(page, "Signing secret").click()
        page.get_by_role("link", name="Reveal").click()
        expect(page).to_have_url(base + "/secret")
        expect(page.locator("#signing-secret-value")).to_have_text(re.compile(r"^whsec_"))
        tab_link(page, "Settings").click()
        page.get_by_label("Name", exact=True).fill("CRM sync v2")
        page.get_by_role("button", name="Save changes").click()
        expect(page).to_have_url(base + "/settings")
        expect(page.get_by_role("heading", name="CRM sync v2", level=1)).to_be_visible()
    finally:
        context.close()


def focus_ring(page):
    """The focused element's name and whether a focus indicator is drawn around it."""
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        const drawn = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                      || style.boxShadow !== 'none';
        return [(el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\\s+/g, ' '),
                el.tagName.toLowerCase(), drawn];
    }""")


def test_the_keyboard_reaches_every_action_with_a_visible_focus(page, live_server, world):
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server)
    page.goto(f"{live_server}/orgs/acme/webhooks/{world['crm'].id}")
    reached, invisible = [], []
    for _ in range(60):
        page.keyboard.press("Tab")
        name, tag, drawn = focus_ring(page)
        if tag == "body":
            break
        reached.append(name)
        if not drawn:
            invisible.append(name)
    assert invisible == []
    for action in ("Skip to content", "Webhooks", "Log History", "Health", "Settings",
                   "Signing secret", "Activity", "Status of CRM sync", "Send test event",
                   f"Expand {world['failed'].event.public_id}", "Resend", "Sign out"):
        assert action in reached, (action, reached)


def test_the_delivery_dialog_keeps_the_focus_and_gives_it_back(page, live_server, world):
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server)
    page.goto(f"{live_server}/orgs/acme/webhooks/{world['crm'].id}")
    expand = page.locator(f"#expand-{world['failed'].id}")
    expand.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delivery details")
    expect(dialog).to_be_visible()
    expect(dialog.locator("details.attempt")).to_have_count(3)
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('log-modal').contains(document.activeElement)"
                             " || document.activeElement === document.body")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(expand).to_be_focused()


def test_new_and_settled_deliveries_are_announced_without_moving_the_focus(page, live_server,
                                                                         world):
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server)
    crm = world["crm"]
    page.goto(f"{live_server}/orgs/acme/webhooks/{crm.id}")
    announcer = page.locator("#live-announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    outcome = page.get_by_label("Outcome")
    outcome.focus()

    arriving = store_delivery(crm)  # pending, due now: its row refreshes every few seconds
    expect(announcer).to_have_text("1 new delivery in Log History.", timeout=10_000)
    expect(outcome).to_be_focused()

    row = page.locator(f"#delivery-{arriving.id}")
    expect(row).to_have_attribute("data-state", "pending")
    arriving.state, arriving.last_status_code, arriving.next_attempt_at = "succeeded", 200, None
    db.session.commit()
    expect(row).to_have_attribute("data-state", "succeeded", timeout=15_000)
    expect(announcer).to_have_text(re.compile(r"^Job Created: 200"), timeout=5_000)
    expect(outcome).to_be_focused()


def test_on_a_phone_rows_stack_with_name_and_switch_first_and_the_header_folds(
        page, live_server, world, screenshot):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server)
    page.goto(f"{live_server}/orgs/acme/webhooks/")
    menu = page.get_by_role("button", name="Menu")
    sign_out = page.get_by_role("button", name="Sign out", exact=True)
    expect(sign_out).to_be_hidden()
    row = page.locator(f"#webhook-{world['crm'].id}")
    name, switch = row.locator("td.name"), row.get_by_role("switch")
    url, response = row.locator("td.url"), row.locator("td.response")
    expect(switch).to_be_in_viewport()
    assert name.bounding_box()["y"] < url.bounding_box()["y"] < response.bounding_box()["y"]
    assert abs(name.bounding_box()["y"] - switch.bounding_box()["y"]) < 30  # on one line
    screenshot("webhooks-listing-phone")

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sign_out).to_be_visible()
    page.get_by_text(OWNER).click()  # the account's own menu opens inside it
    expect(page.get_by_role("button", name="Sign out everywhere")).to_be_visible()
    page.keyboard.press("Escape")
    expect(sign_out).to_be_hidden()
    expect(menu).to_be_focused()

    page.goto(f"{live_server}/orgs/acme/webhooks/{world['crm'].id}")
    failed = page.locator(f"#delivery-{world['failed'].id}")
    event, outcome = failed.locator("td.event"), failed.locator("td.response")
    assert abs(event.bounding_box()["y"] - outcome.bounding_box()["y"]) < 30
    screenshot("detail-log-history-phone")


def test_without_javascript_a_phone_shows_the_whole_header_and_nothing_scrolls_sideways(
        browser, live_server, world):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        for path in ("/orgs/acme/webhooks/", f"/orgs/acme/webhooks/{world['crm'].id}"):
            page.goto(live_server + path)
            expect(page.get_by_role("button", name="Menu")).to_be_hidden()  # needs JavaScript
            expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
            assert horizontal_overflow(page) is None
    finally:
        context.close()

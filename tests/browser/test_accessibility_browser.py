"""Every page and main state at desktop and phone sizes: axe-core finds nothing (WCAG 2 A/AA and
best practices), nothing scrolls sideways, and on a phone every control is a 44 px target."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.support.a11y import DESKTOP, NARROWEST, PHONE, problems
from webhooks import lifecycle
from webhooks.extensions import db
from webhooks.models import HourlyStats, Recovery, utcnow

pytestmark = pytest.mark.browser

SIZES = {"desktop": DESKTOP, "phone": PHONE, "narrowest": NARROWEST}


@pytest.mark.parametrize("size", SIZES)
def test_every_page_passes_the_audit_fits_the_screen_and_has_large_targets(
        browser, live_server, world, size):
    context = browser.new_context(viewport=SIZES[size], bypass_csp=True)
    page = context.new_page()
    found = {}

    def check(name):
        found[name] = problems(page, phone=size != "desktop")

    crm, failed = world["crm"], world["failed"]
    base = f"{live_server}/orgs/acme/webhooks/{crm.id}"
    try:
        page.goto(live_server + "/login")
        check("sign-in")
        page.get_by_label("Email").fill("nobody@example.com")
        page.get_by_label("Password", exact=True).fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        check("sign-in with an error")

        page.goto(live_server + "/sign-in/not-a-valid-link")
        check("sign-in link expired")

        sign_in(page, live_server)
        page.goto(live_server + "/orgs/acme/webhooks/")
        check("listing")
        if size != "desktop":
            page.get_by_role("button", name="Menu").click()
            expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
            check("listing with the menu open")
        page.goto(live_server + "/orgs/beta/webhooks/")
        check("listing, empty")
        page.goto(live_server + "/orgs/acme/webhooks/new")
        check("add form")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_text("nothing was saved")).to_be_visible()
        check("add form with errors")

        for tab in ("", "/health", "/settings", "/signing-secret", "/activity"):
            page.goto(base + tab)
            check(f"detail {tab or '/ (Log History)'}")
        page.goto(base + "/settings")
        page.get_by_label("Name", exact=True).fill("")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_text("nothing was saved")).to_be_visible()
        check("settings with errors")
        page.goto(base + "/signing-secret")
        page.get_by_role("link", name="Reveal").click()
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        check("signing secret revealed")
        page.get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_text("This is the new secret")).to_be_visible()
        check("signing secret rotated, the previous one still signing")

        page.goto(base + "/settings")
        page.get_by_role("button", name="Add header").click()
        page.get_by_label("Header 1 Name").fill("Content-Type")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_text("nothing was saved")).to_be_visible()
        check("settings with a custom header's errors")

        page.goto(live_server + "/orgs/acme/webhooks/api-keys/")
        check("API keys, none yet")
        page.get_by_role("button", name="Create API key").click()
        expect(page.get_by_text("no key was created")).to_be_visible()
        check("API keys with a form error")
        page.get_by_label("Name").fill("NetSuite integration")
        page.get_by_role("button", name="Create API key").click()
        check("API key created, shown once")
        page.get_by_role("link", name="Done, I have copied it").click()
        check("API keys listed")
        page.goto(live_server + "/orgs/acme/activity/")
        check("activity page")
        page.goto(live_server + "/orgs/acme/activity/?actor=nobody")
        check("activity page, nothing matches")
        page.goto(live_server + "/api/v1/docs")
        check("API reference")

        page.goto(base)
        page.locator(f"#expand-{failed.id}").click()
        dialog = page.get_by_role("dialog", name="Delivery details")
        expect(dialog).to_be_visible()
        dialog.locator("details.attempt summary").first.click()
        check("delivery expanded")
        page.goto(f"{base}/deliveries/{failed.id}")
        check("delivery page")
        page.goto(f"{base}/log?outcome=failed")
        check("Log History filtered")

        make_troubled(world)
        page.goto(live_server + "/orgs/acme/webhooks/")
        check("listing with failing and disabled webhooks")
        page.goto(f"{base}/health")
        page.wait_for_function("() => window.Chart && document.querySelector('canvas') && "
                               "Chart.getChart(document.querySelector('canvas'))")
        check("health tab failing, with charts")
        page.goto(f"{base}/resend-failed?count=1&period=30d")
        check("resend failed with its count")
        page.goto(f"{base}/recoveries/{world['recovery'].id}")
        check("recovery progress")

        page.goto(live_server + "/orgs/acme/webhooks/events")
        check("event reference")
        page.goto(live_server + "/orgs/acme/webhooks/999999")
        check("404")
        if size != "desktop":
            page.get_by_role("button", name="Menu").click()
        page.get_by_role("button", name="Sign out", exact=True).click()
        sign_in(page, live_server, "viewer@example.com")
        check("organization without the Webhooks tab")
        page.goto(live_server + "/orgs/acme/webhooks/")
        check("403")
    finally:
        context.close()
    failures = {name: lines for name, lines in found.items() if lines}
    assert not failures, "\n".join(f"{name}:\n  " + "\n  ".join(lines)
                                   for name, lines in failures.items())
    assert len(found) >= 31  # every state above was audited


def make_troubled(world):
    """CRM sync failing (with an hour of statistics), Billing turned off automatically, and a
    bulk resend of CRM's failed delivery under way."""
    crm, billing = world["crm"], world["billing"]
    now = utcnow()
    crm.failing_since, crm.failing_deliveries = now - timedelta(hours=5), 6
    crm.last_failure_at, crm.last_category, crm.last_status_code = now, "http_5xx", 502
    for hours_ago, (ok, bad) in enumerate([(40, 2), (35, 6), (50, 0), (12, 9)]):
        db.session.add(HourlyStats(webhook_id=crm.id, hour=(now - timedelta(hours=hours_ago))
                                   .replace(minute=0, second=0, microsecond=0),
                                   attempts=ok + bad, attempts_failed=bad, succeeded=ok,
                                   failed=bad, ms_100=ok, ms_15000=bad, http_5xx=bad))
    lifecycle.disable(billing, "The endpoint answered 410 Gone on 2026-12-01 10:00 UTC: it "
                               "asked for no more deliveries.")
    resend = Recovery(webhook_id=crm.id, kind=Recovery.RESEND, total=1)
    db.session.add(resend)
    db.session.flush()
    world["failed"].recovery_id = resend.id
    world["failed"].state = "pending"
    world["recovery"] = resend
    db.session.commit()

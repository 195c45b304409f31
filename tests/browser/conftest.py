"""Headless Chromium (Debian's) driving the app served by a real HTTP server in a thread."""
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.support.deliveries import (T0, failed_attempt, ok_attempt, store_delivery,
                                      stored_delivery, timeout_attempt)
from tests.support.servers import app_server, serving
from webhooks.extensions import db
from webhooks.models import WEBHOOKS_PERMISSION, Membership, utcnow

OWNER = "owner.with.a.long.address@acme-roofing.example.com"

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"],
    }


@pytest.fixture
def database():
    """Browser tests run on SQLite only; the database rules are covered on both elsewhere."""
    return "sqlite"


@pytest.fixture
def live_server(app):
    """Serve the test app on 127.0.0.1 in a thread; yield its base URL."""
    with serving(app_server(app)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under docs/screenshots/ (shown in the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def world(factory):
    """Acme with three webhooks in different states and a Log History; an empty second
    organization; a member of Acme without the Webhooks permission."""
    acme = factory.org("acme", "Acme Roofing and Restoration")
    beta = factory.org("beta", "Beta Builders")
    owner = factory.user(OWNER, org=acme)
    db.session.add(Membership(user=owner, organization=beta, permissions=[WEBHOOKS_PERMISSION]))
    db.session.commit()
    factory.user("viewer@example.com", org=acme, permissions=())
    crm = factory.webhook(acme, name="CRM sync", url="https://crm.acme-roofing.example.com/api/"
                          "v2/integrations/webhooks/inbound-events?source=jobs",
                          events=("job.created", "job.updated", "estimate.created"),
                          last_status_code=200, last_attempt_at=utcnow() - timedelta(minutes=3))
    billing = factory.webhook(acme, name="Billing", url="https://billing.example.com/hooks",
                              active=False, events=("signed_document.signed",),
                              auth_type="basic", basic_username="api", last_status_code=503,
                              last_attempt_at=utcnow() - timedelta(hours=2))
    erp = factory.webhook(acme, name="ERP orders", url="https://erp.example.com/in",
                          unanswered_streak=7, last_attempt_at=utcnow() - timedelta(minutes=1),
                          last_error="Timed out after 15 s waiting for a response")
    for _ in range(3):
        store_delivery(erp)
    stored_delivery(crm, "webhook.ping", attempts=[ok_attempt(trigger="ping")], created_at=T0)
    stored_delivery(crm, attempts=[ok_attempt()])
    failed = stored_delivery(crm, "estimate.created", state="failed",
                             attempts=[failed_attempt(), timeout_attempt(), failed_attempt(502)])
    stored_delivery(crm, "job.updated", state="pending", attempts=[failed_attempt()],
                    next_attempt_at=utcnow() + timedelta(minutes=5))
    return {"crm": crm, "failed": failed, "billing": billing}


def sign_in(page, live_server, email=OWNER):
    """Sign in through the form (as world's owner unless told otherwise)."""
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(live_server + "/login")

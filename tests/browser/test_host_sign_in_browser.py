"""Opening the Webhooks tab from the host application in a real browser: a sign-in link followed
standalone, inside an iframe of an allowed origin, and refused inside one that is not allowed.

The app is served over HTTPS (a local CA) on 127.0.0.1; the host's pages come from plain HTTP
servers on localhost, another site, as a host application's pages would be."""
import html
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.servers import app_server, serving
from webhooks.extensions import db
from webhooks.models import SignInLink, UserSession

pytestmark = pytest.mark.browser

AUTH = {"Authorization": "Bearer test-internal-token"}


class HostPage(BaseHTTPRequestHandler):
    """The host application's page: the Webhooks tab in an iframe whose src is ?src=…"""

    def do_GET(self):
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = (f"<!doctype html><title>Host app</title><h1>Host app</h1>"
                f"<iframe src=\"{html.escape(src)}\" width=\"900\" height=\"600\"></iframe>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def host_pages():
    """Two host origins: http://localhost:<allowed> and http://localhost:<other>."""
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), HostPage)) as allowed, \
            serving(ThreadingHTTPServer(("127.0.0.1", 0), HostPage)) as other:
        yield [f"http://localhost:{server.server_port}" for server in (allowed, other)]


@pytest.fixture
def https_app(make_app, ca, host_pages):
    app = make_app(WEBHOOKS_FRAME_ANCESTORS=(host_pages[0],))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with serving(app_server(app, ssl_context=context)) as server:
        yield app, f"https://127.0.0.1:{server.server_port}"


@pytest.fixture
def tab(browser):
    context = browser.new_context(ignore_https_errors=True)  # the local CA is not the browser's
    yield context.new_page()
    context.close()


def sign_in_url(app, **extra):
    body = {"organization": {"id": "acme", "name": "Acme Roofing"},
            "user": {"id": "u-17", "email": "ann@acme.test", "name": "Ann Lee"},
            "permissions": ["Org.webhooks"], **extra}
    answer = app.test_client().post("/internal/sessions", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    return urlsplit(answer.get_json()["url"]).path


def test_a_link_followed_standalone_lands_on_the_tab_and_works_once(https_app, tab):
    app, base = https_app
    link = base + sign_in_url(app)

    tab.goto(link)

    expect(tab).to_have_url(base + "/orgs/acme/webhooks/")
    expect(tab.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(tab.get_by_role("button", name="Sign out")).to_be_visible()
    tab.goto(link)
    expect(tab.get_by_role("heading", name="This sign-in link has expired")).to_be_visible()


def test_the_tab_works_inside_an_iframe_of_an_allowed_origin(https_app, host_pages, tab):
    app, base = https_app

    tab.goto(f"{host_pages[0]}/?src={base}{sign_in_url(app)}")

    frame = tab.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(frame.get_by_role("link", name="Add webhook").first).to_be_visible()
    expect(frame.get_by_role("button", name="Sign out")).to_have_count(0)
    # The session cookie (SameSite=None; Secure; Partitioned) keeps working inside the frame.
    frame.get_by_role("link", name="Add webhook").first.click()
    expect(frame.get_by_role("heading", name="Add webhook")).to_be_visible()
    frame.get_by_label("Name", exact=True).fill("From the iframe")
    expect(frame.get_by_label("Name", exact=True)).to_have_value("From the iframe")


def test_the_tab_is_refused_inside_an_iframe_of_another_origin(https_app, host_pages, tab):
    app, base = https_app
    blocked = []
    tab.on("console", lambda message: blocked.append(message.text) if "frame-ancestors" in message.text else None)

    tab.goto(f"{host_pages[1]}/?src={base}{sign_in_url(app)}")

    expect(tab.get_by_role("heading", name="Host app")).to_be_visible()
    tab.wait_for_timeout(500)
    expect(tab.frame_locator("iframe").get_by_role("heading", name="Webhooks", exact=True)).to_have_count(0)
    assert any("frame-ancestors" in text for text in blocked), blocked


def test_a_read_only_link_shows_the_tab_without_controls(https_app, tab):
    app, base = https_app

    tab.goto(base + sign_in_url(app, read_only=True))

    expect(tab.get_by_text("Read-only access: you can see everything here")).to_be_visible()
    expect(tab.get_by_role("link", name="Add webhook")).to_have_count(0)
    with app.app_context():
        assert db.session.scalar(db.select(UserSession.read_only)) is True
        assert db.session.scalar(db.select(SignInLink.used_at)) is not None

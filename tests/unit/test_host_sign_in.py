"""Sign-in from the host application: single-use links, just-in-time provisioning, read-only
sessions, provisioning calls and revocation by the host."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.conftest import Factory
from tests.unit.test_permissions import ATTACK, area_routes, hook_with_delivery, url
from webhooks.extensions import db
from webhooks.models import Membership, Organization, SignInLink, User, UserSession, Webhook, utcnow

AUTH = {"Authorization": "Bearer test-internal-token"}
ACME = {"id": "acme", "name": "Acme Roofing"}
ANN = {"id": "u-17", "email": "Ann@Acme.test", "name": "Ann Lee"}


@pytest.fixture
def app(make_app):
    """No pushed app context: each request gets its own flask.g, as in production."""
    return make_app()


def query(app, statement, many=False):
    with app.app_context():
        result = db.session.scalars(statement)
        return result.all() if many else result.first()


def link(app, **body):
    """Ask for a sign-in link as the host's server does; return the answer."""
    body = {"organization": ACME, "user": ANN, "permissions": ["Org.webhooks"], **body}
    return app.test_client().post("/internal/sessions", json=body, headers=AUTH)


def follow(app, answer, client=None, **headers):
    client = client or app.test_client()
    path = urlsplit(answer.get_json()["url"]).path
    return client, client.get(path, headers=headers)


def signed_in_by_link(app, **body):
    answer = link(app, **body)
    assert answer.status_code == 201, answer.get_json()
    client, response = follow(app, answer)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, response


def test_a_link_is_created_for_60_seconds_and_lands_on_the_tab(app):
    answer = link(app)

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["url"].startswith("http://localhost/sign-in/")
    expires_at = body["expires_at"]
    assert expires_at.endswith("Z")
    client, response = follow(app, answer)
    assert response.headers["Location"] == "/orgs/acme/webhooks/"
    assert client.get("/orgs/acme/webhooks/").status_code == 200


def test_following_the_link_creates_the_organization_user_and_membership(app):
    signed_in_by_link(app)

    org = query(app, db.select(Organization))
    user = query(app, db.select(User))
    member = query(app, db.select(Membership))
    assert (org.slug, org.name) == ("acme", "Acme Roofing")
    assert (user.host_user_id, user.email, user.name, user.password_hash) == (
        "u-17", "ann@acme.test", "Ann Lee", None)
    assert member.permissions == ["Org.webhooks"] and member.user_id == user.id


def test_a_later_link_updates_them_just_in_time(app):
    signed_in_by_link(app)
    signed_in_by_link(app, organization={"id": "acme", "name": "Acme Roofing Ltd"},
                      user={"id": "u-17", "email": "ann.lee@acme.test", "name": "Ann Lee-Smith"},
                      permissions=[])

    assert query(app, db.select(Organization.name)) == "Acme Roofing Ltd"
    assert query(app, db.select(User.email), many=True) == ["ann.lee@acme.test"]
    assert query(app, db.select(Membership.permissions)) == []


def test_the_link_works_once(app):
    answer = link(app)
    follow(app, answer)

    client, second = follow(app, answer)

    assert second.status_code == 410
    assert "This sign-in link has expired" in second.get_data(as_text=True)
    assert client.get("/orgs/acme/webhooks/").status_code == 302  # no session


def test_a_link_expires_after_60_seconds(app):
    answer = link(app)
    with app.app_context():
        db.session.execute(db.update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    client, response = follow(app, answer)

    assert response.status_code == 410 and "Go back to your application and open Webhooks again" in response.get_data(as_text=True)
    assert query(app, db.select(User)) is None  # nothing provisioned either


def test_link_expiry_is_60_seconds_after_creation(app):
    link(app)
    record = query(app, db.select(SignInLink))
    assert record.expires_at - record.created_at == timedelta(seconds=60)
    assert len(record.token_hash) == 64


@pytest.mark.parametrize("tamper", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t + "x",
                                    lambda t: t[:20], lambda t: "x" * 43])
def test_a_tampered_link_is_refused(app, tamper):
    answer = link(app)
    token = urlsplit(answer.get_json()["url"]).path.rsplit("/", 1)[1]

    response = app.test_client().get(f"/sign-in/{tamper(token)}")

    assert response.status_code == 410
    assert query(app, db.select(UserSession)) is None


def test_the_host_app_name_is_named_on_the_expired_page(make_app):
    app = make_app(WEBHOOKS_HOST_APP_NAME="JobBoss", WEBHOOKS_HOST_APP_URL="https://jobboss.example/")
    page = app.test_client().get("/sign-in/nope").get_data(as_text=True)
    assert 'Go back to <a href="https://jobboss.example/">JobBoss</a> and open' in page


def test_return_to_lands_on_a_page_of_the_tab(app):
    _, response = signed_in_by_link(app, return_to="/orgs/acme/webhooks/new")
    assert response.headers["Location"] == "/orgs/acme/webhooks/new"


@pytest.mark.parametrize("body, path", [
    ({"organization": {"id": "acme"}}, "organization.name"),
    ({"organization": {"id": "a b", "name": "A"}}, "organization.id"),
    ({"organization": {"id": "a/b", "name": "A"}}, "organization.id"),  # not one URL segment
    ({"user": {"id": "u-1"}}, "user.email"),
    ({"user": {"id": "u-1", "email": "not-an-email"}}, "user.email"),
    ({"user": {"id": "u-1", "email": "a@b.example", "name": "A\x00"}}, "user.name"),
    ({"permissions": ["Org.admin"]}, "permissions[0]"),
    ({"expires_in": 60}, "expires_in"),
    ({"expires_in": 8 * 24 * 3600}, "expires_in"),
    ({"return_to": "https://evil.example/"}, "return_to"),
    ({"return_to": "/orgs/globex/webhooks/"}, "return_to"),
    ({"return_to": "/orgs/acme/webhooks/../../x"}, "return_to"),
    ({"return_to": "/orgs/acme/webhooks/\r\nSet-Cookie: x=1"}, "return_to"),
    ({"extra": 1}, "extra"),
])
def test_a_wrong_request_gets_422_with_the_path_and_no_link(app, body, path):
    answer = link(app, **body)

    assert answer.status_code == 422
    assert path in [error["path"] for error in answer.get_json()["errors"]]
    assert query(app, db.select(SignInLink)) is None


def test_the_host_token_is_required(app):
    answer = app.test_client().post("/internal/sessions", json={}, headers={"Authorization": "Bearer no"})
    assert answer.status_code == 401 and answer.get_json()["errors"][0]["message"]


def test_a_session_lasts_what_the_host_asked(app):
    signed_in_by_link(app, expires_in=3600)
    record = query(app, db.select(UserSession))
    assert record.expires_at - record.created_at == timedelta(hours=1)
    assert record.organization_id is not None


def test_a_host_session_opens_only_its_organization(app):
    client, _ = signed_in_by_link(app)
    signed_in_by_link(app, organization={"id": "globex", "name": "Globex"})  # Ann is a member there too

    assert client.get("/orgs/acme/webhooks/").status_code == 200
    assert client.get("/orgs/globex/webhooks/").status_code == 404
    assert "Globex" not in client.get("/orgs/acme/webhooks/").get_data(as_text=True)


def test_without_org_webhooks_the_tab_explains_the_403(app):
    client, response = signed_in_by_link(app, permissions=[])
    page = client.get(response.headers["Location"])
    assert page.status_code == 403
    assert "needs the <code>Org.webhooks</code> permission" in page.get_data(as_text=True)


def test_an_email_of_another_host_user_is_a_conflict_not_a_takeover(app):
    signed_in_by_link(app)
    answer = link(app, user={"id": "u-99", "email": "ann@acme.test"})
    client, response = follow(app, answer)
    assert response.status_code == 409
    assert client.get("/orgs/acme/webhooks/").status_code == 302


def test_a_password_user_with_the_same_email_becomes_the_host_user(app):
    with app.app_context():
        Factory().user(email="ann@acme.test", org=None)
    signed_in_by_link(app)
    assert query(app, db.select(User.host_user_id), many=True) == ["u-17"]


# --- Read-only ------------------------------------------------------------------------------

@pytest.fixture
def read_only(app):
    client, _ = signed_in_by_link(app, read_only=True)
    with app.app_context():
        org = db.session.scalar(db.select(Organization))
        ids = hook_with_delivery(Factory(), org, "Billing")
    return client, ids


def test_a_read_only_session_is_refused_every_mutating_route(app, read_only):
    client, ids = read_only
    with app.app_context():
        routes = [(method, rule) for method, rule in area_routes(app) if method == "POST"]
        before = db.session.execute(db.select(Webhook.name, Webhook.is_active, Webhook.deleted_at)).all()
    assert len(routes) >= 5
    for method, rule in routes:
        with app.test_request_context():
            path = url(app, rule, ids)
        response = client.post(path, data=ATTACK)
        assert response.status_code == 403, (path, response.status_code)
        assert "This is a read-only view" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(Webhook.name, Webhook.is_active, Webhook.deleted_at)).all() == before


@pytest.mark.parametrize("page", ["/orgs/acme/webhooks/new", "/orgs/acme/webhooks/{webhook_id}/delete"])
def test_a_read_only_session_does_not_get_pages_made_for_changes(read_only, page):
    client, ids = read_only
    assert client.get(page.format(**ids)).status_code == 403


def test_a_read_only_session_sees_everything_without_controls(read_only):
    client, ids = read_only
    listing = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    base = f"/orgs/acme/webhooks/{ids['webhook_id']}"
    tabs = [client.get(base + tab).get_data(as_text=True)
            for tab in ("", "/health", "/settings", "/signing-secret", "/activity")]
    detail, settings = tabs[0], tabs[2]
    details = client.get(f"{base}/deliveries/{ids['delivery_id']}")

    assert "Billing" in listing and "Read-only access" in listing
    assert "<code>job.created</code>" in settings and "Edit webhook" not in settings
    for page in (listing, *tabs, details.get_data(as_text=True)):
        assert all(action.startswith("/logout") for action in re.findall(r'method="post" action="([^"]*)"', page))
        assert "Add webhook" not in page and "Resend</button>" not in page
    assert "Send test event" not in detail and "Delete webhook" not in settings
    assert client.get(f"/orgs/acme/webhooks/{ids['webhook_id']}/secret").status_code == 200


def test_a_read_only_session_can_still_sign_out(read_only):
    client, _ = read_only
    assert client.post("/logout").status_code == 302


# --- Provisioning and revocation by the host ---------------------------------------------------

def call(app, method, path, body=None):
    return app.test_client().open(path, method=method, json=body, headers=AUTH)


def test_put_organization_creates_and_renames(app):
    assert call(app, "PUT", "/internal/organizations/acme", {"name": "Acme"}).get_json() == {
        "id": "acme", "name": "Acme"}
    call(app, "PUT", "/internal/organizations/acme", {"name": "Acme Roofing"})
    assert query(app, db.select(Organization.name), many=True) == ["Acme Roofing"]


def test_put_member_provisions_and_a_removed_permission_applies_on_the_next_request(app):
    client, _ = signed_in_by_link(app)
    answer = call(app, "PUT", "/internal/organizations/acme/members/u-17",
                  {"email": "ann@acme.test", "permissions": []})

    assert answer.status_code == 200 and answer.get_json()["permissions"] == []
    assert client.get("/orgs/acme/webhooks/").status_code == 403


def test_put_member_of_an_unknown_organization_is_404(app):
    answer = call(app, "PUT", "/internal/organizations/nope/members/u-1",
                  {"email": "a@b.example", "permissions": []})
    assert answer.status_code == 404 and answer.get_json()["errors"][0]["message"] == "No organization 'nope'."


def test_deleting_a_member_ends_their_sessions_there_at_once(app):
    client, _ = signed_in_by_link(app)
    elsewhere, _ = signed_in_by_link(app, organization={"id": "globex", "name": "Globex"})

    assert call(app, "DELETE", "/internal/organizations/acme/members/u-17").status_code == 204

    assert client.get("/orgs/acme/webhooks/").status_code == 302
    assert elsewhere.get("/orgs/globex/webhooks/").status_code == 200
    assert query(app, db.select(Membership.organization_id), many=True) == [
        query(app, db.select(Organization.id).filter_by(slug="globex"))]
    assert call(app, "DELETE", "/internal/organizations/acme/members/u-17").status_code == 404


def test_expiring_an_organization_ends_every_session_opened_for_it(app):
    ann, _ = signed_in_by_link(app)
    bob, _ = signed_in_by_link(app, user={"id": "u-18", "email": "bob@acme.test"})
    globex, _ = signed_in_by_link(app, organization={"id": "globex", "name": "Globex"})

    answer = call(app, "POST", "/internal/organizations/acme/sessions/expire")

    assert answer.get_json() == {"ended": 2}
    assert ann.get("/orgs/acme/webhooks/").status_code == 302
    assert bob.get("/orgs/acme/webhooks/").status_code == 302
    assert globex.get("/orgs/globex/webhooks/").status_code == 200


@pytest.mark.parametrize("method, path", [
    ("PUT", "/internal/organizations/acme"), ("PUT", "/internal/organizations/acme/members/u-1"),
    ("DELETE", "/internal/organizations/acme/members/u-1"),
    ("POST", "/internal/organizations/acme/sessions/expire")])
def test_provisioning_calls_need_the_host_token(app, method, path):
    response = app.test_client().open(path, method=method, json={"name": "x"})
    assert response.status_code == 401


# --- Password sign-in switched off, embedding ------------------------------------------------

def test_password_sign_in_can_be_switched_off(make_app):
    app = make_app(WEBHOOKS_PASSWORD_LOGIN=False, WEBHOOKS_HOST_APP_NAME="JobBoss")
    with app.app_context():
        Factory().user(org=Factory().org("acme"))
    client = app.test_client()
    page = client.get("/login")
    refused = client.post("/login", data={"email": "owner@example.com", "password": "correct horse battery"})

    assert "Open Webhooks from JobBoss" in page.get_data(as_text=True)
    assert refused.status_code == 403
    assert client.get("/orgs/acme/webhooks/").status_code == 302


def test_allowed_frame_ancestors_replace_x_frame_options(make_app):
    framed = make_app(WEBHOOKS_FRAME_ANCESTORS=("https://app.example", "https://admin.example"))
    alone = make_app()
    framed_headers = framed.test_client().get("/login").headers
    alone_headers = alone.test_client().get("/login").headers

    assert "frame-ancestors https://app.example https://admin.example;" in framed_headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed_headers
    assert "frame-ancestors 'none'" in alone_headers["Content-Security-Policy"]
    assert alone_headers["X-Frame-Options"] == "DENY"


def test_a_link_opened_in_an_iframe_gets_a_partitioned_third_party_cookie(app):
    answer = link(app)
    _, response = follow(app, answer, **{"Sec-Fetch-Dest": "iframe"})
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie


def test_a_standalone_link_gets_the_usual_cookie(app):
    _, response = signed_in_by_link(app)
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "Partitioned" not in cookie


def test_an_embedded_page_has_no_sign_out_or_organization_switcher(app):
    client, response = follow(app, link(app, embedded=True))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="embedded"' in page
    assert "Sign out" not in page and 'aria-label="Organizations"' not in page

"""Who may open what under /orgs/<slug>/webhooks: checked route by route, for GET and POST.

The routes come from the app's URL map, so a page added later is covered without listing it.
"""
import re

import pytest

from tests.conftest import PASSWORD
from tests.support.deliveries import store_delivery
from tests.support.polling import HX
from webhooks.extensions import db
from webhooks import apikeys
from webhooks.models import WEBHOOKS_PERMISSION, ApiKey, Membership, Recovery, Webhook

AREA = "/orgs/<slug:slug>/webhooks"
# What each POST carries: enough to turn on, delete or rename a webhook if a check were missing.
ATTACK = {"active": "1", "confirmed": "yes", "name": "Changed", "url": "https://127.0.0.1/x",
          "auth_type": "none", "event_types": "job.created"}


def area_routes(app):
    """Return (method, rule) for every GET and POST route of the Webhooks area."""
    routes = [(method, rule) for rule in app.url_map.iter_rules() if rule.rule.startswith(AREA)
              for method in sorted(rule.methods & {"GET", "POST"})]
    endpoints = {rule.endpoint for _, rule in routes}
    # Guard against a vacuous pass: the Webhooks tab's own routes must be among them.
    assert {"webhooks.index", "webhooks.new", "webhooks.detail", "webhooks.toggle",
            "webhooks.delete", "webhooks.validate_url"} <= endpoints
    return routes


def url(app, rule, values):
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


def hook_with_delivery(factory, org, name):
    webhook = factory.webhook(org, name=name, active=False)
    delivery = store_delivery(webhook)
    resend = Recovery(webhook_id=webhook.id, kind=Recovery.RESEND)
    db.session.add(resend)
    db.session.commit()
    key, _ = apikeys.create(org, f"{name} key", "write")
    return {"slug": org.slug, "webhook_id": webhook.id, "delivery_id": delivery.id,
            "recovery_id": resend.id, "key_id": key.id,
            "secret": webhook.signing_secret}


@pytest.fixture
def world(factory):
    """Two organizations, each with a webhook and a delivery, and users of every kind."""
    acme, globex = factory.org("acme"), factory.org("globex")
    owner = factory.user("owner@example.com", org=acme)
    db.session.add(Membership(user=owner, organization=globex, permissions=[WEBHOOKS_PERMISSION]))
    db.session.commit()
    factory.user("member@example.com", org=acme, permissions=())
    factory.user("outsider@example.com", org=globex)
    return {"acme": hook_with_delivery(factory, acme, "Acme hook"),
            "globex": hook_with_delivery(factory, globex, "Globex hook")}


def login(client, email):
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302


def request_all(app, client, values, **kwargs):
    """Call every route with values; return {(method, path): response}."""
    results = {}
    for method, rule in area_routes(app):
        path = url(app, rule, values)
        results[(method, path)] = client.open(path, method=method, data=ATTACK, **kwargs)
    return results


def assert_state_unchanged(values):
    """The refused requests (toggle on, delete, edit, rotate, revoke) left the webhook and the
    key as the fixture made them."""
    db.session.expire_all()
    webhook = db.session.get(Webhook, values["webhook_id"])
    assert (webhook.is_active, webhook.deleted_at) == (False, None)
    assert webhook.name != ATTACK["name"]
    assert (webhook.signing_secret, webhook.previous_secret_encrypted) == (values["secret"], None)
    assert db.session.get(ApiKey, values["key_id"]).revoked_at is None


def test_not_logged_in_redirects_to_login(app, client, world):
    results = request_all(app, client, world["acme"])
    wrong = {key: r.status_code for key, r in results.items()
             if r.status_code != 302 or not r.headers["Location"].startswith("/login?next=")}
    assert wrong == {}
    assert_state_unchanged(world["acme"])


def test_a_member_without_org_webhooks_is_forbidden_every_route(app, client, world):
    login(client, "member@example.com")
    results = request_all(app, client, world["acme"])
    wrong = {key: r.status_code for key, r in results.items() if r.status_code != 403}
    assert wrong == {}
    assert all("You don't have access to this page" in r.get_data(as_text=True)
               for r in results.values())
    assert_state_unchanged(world["acme"])


def test_a_non_member_finds_no_route_of_the_organization_as_if_it_did_not_exist(app, client,
                                                                                world):
    login(client, "outsider@example.com")
    existing = request_all(app, client, world["acme"])
    missing = request_all(app, client, {**world["acme"], "slug": "no-such-org"})
    assert {r.status_code for r in existing.values()} == {404}
    # The same answer, word for word, as for a slug nobody has: nothing tells them apart.
    assert [r.get_data() for r in existing.values()] == [r.get_data() for r in missing.values()]
    assert_state_unchanged(world["acme"])


def test_htmx_requests_are_refused_the_same_way(app, client, world):
    login(client, "member@example.com")
    results = request_all(app, client, world["acme"], headers=HX)
    assert {r.status_code for r in results.values()} == {403}


def test_another_organizations_webhook_is_not_found_even_with_permission_there(app, client, world):
    login(client, "owner@example.com")
    foreign = {**world["globex"], "slug": "acme"}
    results = request_all(app, client, foreign)
    scoped = {key: r for key, r in results.items() if "/webhooks/" in key[1]
              and re.search(r"/webhooks/\d+", key[1])}
    assert len(scoped) >= 5
    wrong = {key: r.status_code for key, r in scoped.items() if r.status_code != 404}
    assert wrong == {}
    assert_state_unchanged(world["globex"])
    # The same user reaches that webhook through its own organization.
    assert client.get(f"/orgs/globex/webhooks/{world['globex']['webhook_id']}").status_code == 200


def test_unknown_organization_is_not_found(app, client, world):
    login(client, "owner@example.com")
    results = request_all(app, client, {**world["acme"], "slug": "no-such-org"})
    wrong = {key: r.status_code for key, r in results.items() if r.status_code != 404}
    assert wrong == {}


def test_a_member_with_the_permission_gets_in(app, client, world):
    login(client, "owner@example.com")
    assert client.get("/orgs/acme/webhooks/").status_code == 200
    assert client.get(f"/orgs/acme/webhooks/{world['acme']['webhook_id']}").status_code == 200


def test_webhooks_tab_shows_in_navigation_only_with_the_permission(app, client, world):
    login(client, "member@example.com")
    page = client.get("/orgs/acme").get_data(as_text=True)
    assert 'href="/orgs/acme/webhooks/"' not in page
    client.post("/logout")
    login(client, "owner@example.com")
    page = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    assert 'href="/orgs/acme/webhooks/"' in page and 'href="/orgs/globex/webhooks/"' in page


def csrf_token_of(page):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


@pytest.fixture
def csrf_client(make_app, factory):
    """A client of an app with CSRF protection on, signed in as a user with Org.webhooks."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        org = factory.org("acme")
        factory.user(org=org)
        values = hook_with_delivery(factory, org, "Guarded")
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "owner@example.com", "password": PASSWORD,
                                "csrf_token": token})
    return app, client, values["webhook_id"], values


def test_every_post_without_csrf_token_is_refused(csrf_client):
    app, client, webhook_id, values = csrf_client
    posts = [rule for method, rule in area_routes(app) if method == "POST"]
    assert len(posts) >= 10
    for rule in posts:
        path = url(app, rule, values)
        assert client.post(path, data=ATTACK).status_code == 400, path
    with app.app_context():
        assert_state_unchanged(values)


def test_an_htmx_post_with_the_csrf_header_is_accepted(csrf_client):
    app, client, webhook_id, _ = csrf_client
    page = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(f"/orgs/acme/webhooks/{webhook_id}/toggle", data={"active": "1"},
                           headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert 'aria-checked="true"' in response.get_data(as_text=True)

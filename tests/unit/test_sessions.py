"""Sessions that really end: a cookie copied before signing out, signing out everywhere or a new
password is worthless afterwards; sessions have an idle and an absolute lifetime; form tokens
belong to one session; sign-in throttles expire; pages are never cached."""
import re
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, Factory
from tests.support.deliveries import store_delivery
from webhooks.extensions import db
from webhooks.models import LoginThrottle, Organization, UserSession, utcnow

PAGE = "/orgs/acme/webhooks/"
LOGIN = {"email": "owner@example.com", "password": PASSWORD}


def signed_in(app):
    client = app.test_client()
    assert client.post("/login", data=LOGIN).status_code == 302
    return client


def cookie_of(client):
    return client.get_cookie("session").value


def replay(app, cookie):
    """Answer a request made with a copied session cookie in a fresh browser."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get(PAGE)


def is_signed_in(response):
    return response.status_code == 200


def is_sent_to_sign_in(response):
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def app(make_app):
    """An app without a pushed context: as in production, each request gets its own (and its
    own flask.g, where Flask-Login keeps the user it loaded)."""
    return make_app()


@pytest.fixture
def member(app):
    with app.app_context():
        Factory().user(org=Factory().org("acme"))


def query(app, statement, many=False):
    with app.app_context():
        result = db.session.scalars(statement)
        return result.all() if many else result.first()


def update(app, statement):
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def test_a_cookie_copied_before_sign_out_no_longer_works(app, member):
    client = signed_in(app)
    copy = cookie_of(client)
    assert is_signed_in(replay(app, copy))

    client.post("/logout")

    assert is_sent_to_sign_in(replay(app, copy))
    assert is_sent_to_sign_in(client.get(PAGE))


def test_signing_out_ends_only_this_session(app, member):
    laptop, phone = signed_in(app), signed_in(app)

    laptop.post("/logout")

    assert is_signed_in(phone.get(PAGE))


def test_sign_out_everywhere_ends_every_session_of_the_user_only(app, member):
    with app.app_context():
        Factory().user(email="colleague@example.com", org=db.session.scalar(db.select(Organization)))
    laptop, phone = signed_in(app), signed_in(app)
    colleague = app.test_client()
    colleague.post("/login", data={"email": "colleague@example.com", "password": PASSWORD})
    copies = [cookie_of(laptop), cookie_of(phone)]

    response = laptop.post("/logout/everywhere")

    assert is_sent_to_sign_in(response)
    assert "signed out everywhere (1 other session ended)" in laptop.get("/login").get_data(as_text=True)
    assert all(is_sent_to_sign_in(replay(app, copy)) for copy in copies)
    assert is_sent_to_sign_in(phone.get(PAGE))
    assert is_signed_in(colleague.get(PAGE))


def test_the_header_offers_sign_out_everywhere(app, member):
    page = signed_in(app).get(PAGE).get_data(as_text=True)
    assert 'action="/logout/everywhere"' in page and "Sign out everywhere" in page


def run_command(app, args, stdin):
    with app.app_context():
        return app.test_cli_runner().invoke(args=args, input=stdin)


def test_set_password_ends_all_sessions_and_the_new_password_works(app, member):
    laptop, phone = signed_in(app), signed_in(app)
    copy = cookie_of(laptop)

    result = run_command(app, ["users", "set-password", "Owner@Example.com", "--password-stdin"],
                         "a brand new password\n")

    assert result.exit_code == 0, result.output
    assert result.output == "Changed the password of owner@example.com; ended 2 sessions.\n"
    assert is_sent_to_sign_in(replay(app, copy)) and is_sent_to_sign_in(phone.get(PAGE))
    assert app.test_client().post("/login", data=LOGIN).status_code == 401
    assert app.test_client().post("/login", data={**LOGIN, "password": "a brand new password"}
                                  ).status_code == 302


@pytest.mark.parametrize("args, stdin, message", [
    (["users", "set-password", "nobody@example.com", "--password-stdin"], "long enough pw\n", "No user"),
    (["users", "set-password", "owner@example.com", "--password-stdin"], "short\n", "at least 8"),
    (["users", "set-password", "owner@example.com", "--password-stdin"], "long\x00enough pw\n",
     "control characters"),
])
def test_set_password_refuses_what_it_cannot_do(app, member, args, stdin, message):
    client = signed_in(app)
    result = run_command(app, args, stdin)
    assert result.exit_code == 2 and message in result.output
    assert is_signed_in(client.get(PAGE))


def age_session(app, **changes):
    update(app, db.update(UserSession).values(**changes))


def test_a_session_ends_after_the_idle_lifetime(app, member):
    client = signed_in(app)
    idle = timedelta(minutes=app.config["WEBHOOKS_SESSION_IDLE_MINUTES"])
    age_session(app, last_seen_at=utcnow() - idle - timedelta(seconds=1))

    assert is_sent_to_sign_in(client.get(PAGE))


def test_activity_keeps_a_session_alive(app, member):
    client = signed_in(app)
    idle = timedelta(minutes=app.config["WEBHOOKS_SESSION_IDLE_MINUTES"])
    age_session(app, last_seen_at=utcnow() - idle + timedelta(minutes=1))

    assert is_signed_in(client.get(PAGE))
    last_seen = query(app, db.select(UserSession.last_seen_at))
    assert utcnow() - last_seen < timedelta(seconds=30)


def test_a_session_ends_at_its_absolute_lifetime_however_active(app, member):
    client = signed_in(app)
    record = query(app, db.select(UserSession))
    assert record.expires_at - record.created_at == timedelta(hours=app.config["WEBHOOKS_SESSION_HOURS"])
    age_session(app, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())

    assert is_sent_to_sign_in(client.get(PAGE))


def test_the_session_store_keeps_only_a_hash_of_the_cookie_token(app, member):
    client = signed_in(app)
    record = query(app, db.select(UserSession))
    with client.session_transaction() as session:
        token = session["sid"]
    assert token not in record.token_hash and len(record.token_hash) == 64


def csrf_token(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def sign_in_with_csrf(client):
    token = csrf_token(client, "/login")
    assert client.post("/login", data={**LOGIN, "csrf_token": token}).status_code == 302


def test_a_form_token_from_before_sign_in_is_refused_after_it(csrf_app):
    with csrf_app.app_context():
        Factory().user(org=Factory().org("acme"))
    client = csrf_app.test_client()
    before = csrf_token(client, "/login")
    sign_in_with_csrf(client)

    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.post("/logout", data={"csrf_token": csrf_token(client, PAGE)}).status_code == 302


def test_a_form_token_belongs_to_one_session(csrf_app):
    with csrf_app.app_context():
        Factory().user(org=Factory().org("acme"))
    laptop, phone = csrf_app.test_client(), csrf_app.test_client()
    sign_in_with_csrf(laptop)
    sign_in_with_csrf(phone)
    laptop_token = csrf_token(laptop, PAGE)

    assert phone.post("/logout", data={"csrf_token": laptop_token}).status_code == 400
    laptop.post("/logout", data={"csrf_token": laptop_token})
    sign_in_with_csrf(laptop)
    assert laptop.post("/logout", data={"csrf_token": laptop_token}).status_code == 400


def test_form_tokens_expire_with_the_longest_session(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] == app.config["WEBHOOKS_SESSION_HOURS"] * 3600


def test_sign_in_throttles_of_unknown_addresses_expire_after_the_lockout_window(app, client):
    for n in range(3):
        client.post("/login", data={"email": f"guess{n}@example.com", "password": "wrong"})
    assert len(query(app, db.select(LoginThrottle.email), many=True)) == 3
    window = timedelta(seconds=app.config["LOGIN_LOCKOUT_SECONDS"])
    update(app, db.update(LoginThrottle).values(last_failure_at=utcnow() - window - timedelta(seconds=1)))

    client.post("/login", data={"email": "another@example.com", "password": "wrong"})

    assert query(app, db.select(LoginThrottle.email), many=True) == ["another@example.com"]


def test_a_lockout_in_force_is_kept_until_it_ends(app, client, member):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/login", data={**LOGIN, "password": "wrong"})
    window = timedelta(seconds=app.config["LOGIN_LOCKOUT_SECONDS"])
    update(app, db.update(LoginThrottle).values(last_failure_at=utcnow() - window * 2))

    client.post("/login", data={"email": "another@example.com", "password": "wrong"})

    assert client.post("/login", data=LOGIN).status_code == 401


@pytest.mark.parametrize("path", [PAGE, "/orgs/acme/webhooks/new", "/login"])
def test_pages_are_never_cached(app, member, path):
    assert signed_in(app).get(path).headers["Cache-Control"] == "no-store"


def test_log_history_and_delivery_details_are_never_cached(app, member):
    with app.app_context():
        org = db.session.scalar(db.select(Organization))
        delivery = store_delivery(Factory().webhook(org))
        webhook_id, delivery_id = delivery.webhook_id, delivery.id
    client = signed_in(app)
    base = f"/orgs/acme/webhooks/{webhook_id}"
    for path in (base, f"{base}/log", f"{base}/deliveries/{delivery_id}", f"{base}/deliveries/{delivery_id}/row"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_static_files_may_be_cached(app):
    with app.test_client().get("/static/app.css") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"


def test_hsts_is_sent_in_production_over_https_only(make_app):
    production = make_app(WEBHOOKS_ENV="production")
    development = make_app()
    over_https = production.test_client().get("/login", base_url="https://hooks.example")
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in production.test_client().get("/login").headers
    assert "Strict-Transport-Security" not in development.test_client().get(
        "/login", base_url="https://localhost").headers

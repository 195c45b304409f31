"""Sign-in, sign-out, lockout and session cookie rules."""
from webhooks.auth import INVALID_LOGIN, LOCKED_OUT


def test_login_page_has_email_and_password_labels(client):
    page = client.get("/login").get_data(as_text=True)
    assert ">Email</label>" in page and ">Password</label>" in page


def test_valid_login_redirects_to_the_webhooks_tab(client, factory, auth):
    factory.user(org=factory.org("acme"))
    response = auth.login()
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/orgs/acme"
    assert client.get("/orgs/acme").headers["Location"] == "/orgs/acme/webhooks/"


def test_wrong_password_and_unknown_email_get_the_same_generic_message(client, factory, auth):
    factory.user(org=factory.org())
    wrong = auth.login(password="nope")
    unknown = auth.login(email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert INVALID_LOGIN in response.get_data(as_text=True)


def test_repeated_failures_lock_the_address_even_for_the_right_password(client, factory, auth):
    factory.user(org=factory.org())
    for _ in range(5):
        auth.login(password="nope")
    response = auth.login()
    assert response.status_code == 401
    assert LOCKED_OUT in response.get_data(as_text=True)
    assert client.get("/orgs/acme/webhooks/").status_code == 302


def test_logout_ends_the_session(client, factory, auth):
    factory.user(org=factory.org())
    auth.login()
    auth.logout()
    assert client.get("/orgs/acme/webhooks/").headers["Location"].startswith("/login")


def test_session_cookie_is_httponly_lax_and_secure_over_https(client, factory):
    factory.user(org=factory.org())
    data = {"email": "owner@example.com", "password": "correct horse battery"}
    plain = client.post("/login", data=data).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    client.post("/logout")
    secure = client.post("/login", data=data, base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure


def test_login_refuses_an_offsite_next_url(client, factory):
    factory.user(org=factory.org())
    data = {"email": "owner@example.com", "password": "correct horse battery"}
    response = client.post("/login?next=https://evil.example/", data=data)
    assert response.headers["Location"] == "/"


def test_login_form_requires_a_csrf_token(make_app, factory):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        factory.user(email="csrf@example.com", org=factory.org("csrf"))
    response = app.test_client().post(
        "/login", data={"email": "csrf@example.com", "password": "correct horse battery"})
    assert response.status_code == 400


def test_an_expired_session_redirects_htmx_requests_as_a_whole_page(client):
    response = client.post("/orgs/acme/webhooks/1/toggle", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=/orgs/acme/webhooks/1/toggle")


def test_a_page_request_without_a_session_redirects_to_sign_in_with_next(client):
    response = client.get("/orgs/acme/webhooks/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/orgs/acme/webhooks/"

"""Sign-in, sign-out, lockout and session cookie rules."""
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import PASSWORD, Factory
from webhooks.auth import INVALID_LOGIN, LOCKED_OUT, MISSING_FIELDS
from tests.support.polling import HX


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


def test_an_expired_session_redirects_htmx_requests_to_sign_in_and_back_to_the_page(client):
    headers = {**HX,
               "HX-Current-URL": "http://localhost/orgs/acme/webhooks/1?page=2"}
    response = client.get("/orgs/acme/webhooks/1/deliveries/7/row", headers=headers)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/orgs/acme/webhooks/1?page%3D2"


def test_a_page_request_without_a_session_redirects_to_sign_in_with_next(client):
    response = client.get("/orgs/acme/webhooks/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/orgs/acme/webhooks/"


def test_an_empty_form_says_what_is_missing(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert MISSING_FIELDS in response.get_data(as_text=True)


def test_unknown_addresses_are_locked_out_too(client, auth):
    for _ in range(5):
        auth.login(email="Nobody@Example.com ")
    response = auth.login(email="nobody@example.com")
    assert LOCKED_OUT in response.get_data(as_text=True)


def test_a_successful_sign_in_resets_the_failure_count(client, factory, auth):
    factory.user(org=factory.org())
    for _ in range(4):
        auth.login(password="nope")
    auth.login()
    auth.logout()
    for _ in range(4):
        auth.login(password="nope")
    assert auth.login().status_code == 302


def test_parallel_wrong_guesses_all_count_toward_the_lockout(make_app, database):
    app = make_app(LOGIN_MAX_FAILURES=8)
    with app.app_context():
        Factory().user(email="target@example.com", org=Factory().org("par"))

    def guess(_):
        return app.test_client().post(
            "/login", data={"email": "target@example.com", "password": "wrong"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(guess, range(8))) == {401}
    response = app.test_client().post(
        "/login", data={"email": "target@example.com", "password": PASSWORD})
    assert LOCKED_OUT in response.get_data(as_text=True)


def test_a_stale_csrf_token_gets_a_page_that_explains_and_htmx_a_refresh(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert page.status_code == 400
    assert "This form has expired" in page.get_data(as_text=True)
    swap = client.post("/logout", headers=HX)
    assert swap.status_code == 400 and swap.headers["HX-Refresh"] == "true"


def test_login_refuses_next_urls_that_browsers_read_as_another_site(client, factory):
    factory.user(org=factory.org())
    data = {"email": "owner@example.com", "password": PASSWORD}
    for target in ("//evil.example/", "/\\evil.example/", "https:/evil.example"):
        client.post("/logout")
        response = client.post("/login", query_string={"next": target}, data=data)
        assert response.headers["Location"] == "/", target

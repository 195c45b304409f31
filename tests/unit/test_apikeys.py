"""Organization API keys: the command that creates one, and the API keys section of the Webhooks
tab (listing, create shown once, revoke), with who may use it."""
import re
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tests.unit.test_host_sign_in import signed_in_by_link
from webhooks import apikeys
from webhooks.extensions import db
from webhooks.models import ApiKey, Organization, User, utcnow

PAGE = "/orgs/acme/webhooks/api-keys/"
KEY = re.compile(r"whk_live_[A-Za-z0-9_-]{43}")


def stored_text():
    """Return every value of every row of every table, as one string: all the database holds."""
    values = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(db.select(table)):
            values.extend(str(value) for value in row)
    return "\n".join(values)


def key_count():
    return db.session.scalar(db.select(db.func.count(ApiKey.id)))


def listing(client):
    return client.get(PAGE).get_data(as_text=True)


def row(page, key):
    """Return the listing's row of key."""
    return re.search(rf'<tr id="api-key-{key.id}".*?</tr>', page, re.S).group(0)


def create_in_page(client, name="CRM sync", scope="read", expiry="never"):
    return client.post(PAGE, data={"name": name, "scope": scope, "expiry": expiry})


def revoke(client, key, confirmed="yes"):
    return client.post(f"{PAGE}{key.id}/revoke", data={"confirmed": confirmed})


# --- The command line ----------------------------------------------------------------------

def test_the_command_prints_only_the_key_and_stores_only_its_hash(runner, factory):
    factory.org("acme")
    result = runner.invoke(args=["apikeys", "create", "--org", "acme", "--name", "Nightly sync",
                                 "--scope", "write", "--expires-in-days", "30"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and KEY.fullmatch(lines[0])
    token = lines[0]
    assert token not in stored_text()
    key = db.session.scalar(db.select(ApiKey))
    assert (key.name, key.scope, key.created_by_label) == ("Nightly sync", "write", "the command line")
    assert key.prefix == token[:len(key.prefix)] and len(key.prefix) < len(token)
    assert key.expires_at - utcnow() == pytest.approx(timedelta(days=30), abs=timedelta(minutes=1))
    assert apikeys.authenticate(token).id == key.id


@pytest.mark.parametrize("args, message", [
    (["--org", "acme", "--name", "Sync", "--scope", "admin"], "Invalid value for '--scope'"),
    (["--org", "nope", "--name", "Sync", "--scope", "read"], "No organization 'nope'"),
    (["--org", "acme", "--name", "  ", "--scope", "read"], "Enter a name"),
])
def test_the_command_refuses_bad_input_and_creates_nothing(runner, factory, args, message):
    factory.org("acme")
    result = runner.invoke(args=["apikeys", "create", *args])
    assert result.exit_code == 2
    assert message in result.output and not KEY.search(result.output)
    assert key_count() == 0


# --- The listing ---------------------------------------------------------------------------

def test_the_empty_listing_explains_keys_and_links_to_the_api_reference(client, owner):
    page = listing(client)
    assert "No API keys yet" in page
    assert "/api/v1" in page and "Authorization: Bearer …" in page
    assert 'href="/api/v1/docs"' in page
    assert "Create API key" in page


def test_the_listing_shows_each_key_newest_first_without_the_key_itself(client, factory, owner):
    user = db.session.scalar(db.select(User))
    now = utcnow()
    older, older_token = apikeys.create(owner, "Nightly sync", "read",
                                        created_by_label="the command line")
    newer, newer_token = apikeys.create(owner, "NetSuite", "write", created_by=user,
                                        expires_at=now + timedelta(days=90))
    older.last_used_at = now - timedelta(hours=2)
    db.session.commit()

    page = listing(client)

    for header in ("Name", "Key", "Scope", "Created by", "Created", "Last used", "Expires", "State"):
        assert f'<th scope="col">{header}</th>' in page
    assert page.index("NetSuite") < page.index("Nightly sync")
    newer_row, older_row = row(page, newer), row(page, older)
    assert f"<code>{newer.prefix}…</code>" in newer_row
    assert "Write" in newer_row and "owner@example.com" in newer_row
    assert "Never used" in newer_row and "Active" in newer_row
    assert newer.expires_at.strftime("%Y-%m-%d %H:%M") in newer_row
    assert "Read" in older_row and "the command line" in older_row
    assert older.last_used_at.strftime("%Y-%m-%d %H:%M") in older_row and "Never used" not in older_row
    assert ">Never<" in older_row  # no expiry
    assert newer_token not in page and older_token not in page
    assert not KEY.search(page)


def test_the_listing_shows_only_this_organizations_keys(client, factory, owner):
    apikeys.create(owner, "Ours", "read")
    apikeys.create(factory.org("globex"), "Theirs", "read")
    page = listing(client)
    assert "Ours" in page and "Theirs" not in page


def test_expired_and_revoked_keys_say_so(client, owner):
    expired, _ = apikeys.create(owner, "Old", "read", expires_at=utcnow() - timedelta(minutes=1))
    revoked, _ = apikeys.create(owner, "Gone", "read", expires_at=utcnow() - timedelta(minutes=1))
    apikeys.revoke(revoked)

    page = listing(client)

    assert ">Expired<" in row(page, expired) and "Revoke" in row(page, expired)
    # Revoked outranks expired, and a revoked key has nothing left to revoke.
    assert ">Revoked<" in row(page, revoked) and "/revoke" not in row(page, revoked)


def test_the_webhooks_listing_links_to_the_api_keys(client, owner):
    page = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    assert f'href="{PAGE}"' in page and ">API keys<" in page


# --- Creating ------------------------------------------------------------------------------

def test_a_key_created_in_the_page_is_shown_once_and_records_its_creator(client, owner):
    response = create_in_page(client, name="  NetSuite  ", scope="write", expiry="90")

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Copy it now: it will not be shown again" in page
    token = re.search(rf'<code class="secret" id="new-api-key">({KEY.pattern})</code>', page).group(1)
    key = db.session.scalar(db.select(ApiKey))
    user = db.session.scalar(db.select(User))
    assert (key.name, key.scope) == ("NetSuite", "write")
    assert (key.created_by_id, key.created_by_label) == (user.id, "owner@example.com")
    assert key.expires_at - utcnow() == pytest.approx(timedelta(days=90), abs=timedelta(minutes=1))
    assert apikeys.authenticate(token).id == key.id
    assert token not in stored_text()

    again = listing(client)
    assert "NetSuite" in again and f"{key.prefix}…" in again
    assert token not in again and not KEY.search(again)


def test_a_key_never_expires_unless_asked(client, owner):
    assert create_in_page(client, expiry="never").status_code == 201
    assert db.session.scalar(db.select(ApiKey)).expires_at is None


@pytest.mark.parametrize("name, message", [
    ("", "Enter a name for this key"),
    ("   ", "Enter a name for this key"),
    ("x" * 101, "Name must be at most 100 characters."),
    ("bad\x00name", "Name cannot contain control characters."),
    ("two\nlines", "Name cannot contain control characters."),
])
def test_an_invalid_name_is_refused_with_its_error_and_nothing_is_stored(client, owner, name,
                                                                         message):
    response = create_in_page(client, name=name)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and 'id="name-error"' in page and 'aria-invalid="true"' in page
    assert "no key was created" in page and not KEY.search(page)
    assert key_count() == 0


@pytest.mark.parametrize("field, value", [("scope", "admin"), ("expiry", "7"), ("expiry", "x")])
def test_a_scope_or_expiry_not_offered_is_refused(client, owner, field, value):
    response = client.post(PAGE, data={"name": "Sync", "scope": "read", "expiry": "never",
                                       field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert key_count() == 0


# --- Revoking ------------------------------------------------------------------------------

def test_revoking_asks_first_then_revokes_at_once(client, owner):
    key, token = apikeys.create(owner, "CRM", "write")

    asked = revoke(client, key, confirmed="")
    assert asked.status_code == 200
    assert "Revoke API key “CRM”?" in asked.get_data(as_text=True)
    assert apikeys.authenticate(token) is not None

    response = revoke(client, key)
    assert response.status_code == 302 and response.headers["Location"] == PAGE
    assert apikeys.authenticate(token) is None
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    page = listing(client)
    assert "API key “CRM” was revoked" in page
    assert ">Revoked<" in row(page, key)


def test_revoking_twice_says_it_was_already_revoked(client, owner):
    key, _ = apikeys.create(owner, "CRM", "write")
    revoke(client, key)
    revoked_at = db.session.get(ApiKey, key.id).revoked_at
    revoke(client, key)
    assert "was already revoked" in listing(client)
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at == revoked_at


def test_another_organizations_key_is_not_found(client, factory, owner):
    key, token = apikeys.create(factory.org("globex"), "Theirs", "write")
    assert revoke(client, key).status_code == 404
    assert revoke(client, key, confirmed="").status_code == 404
    assert apikeys.authenticate(token) is not None


def test_an_unknown_key_is_not_found(client, owner):
    assert client.post(f"{PAGE}123/revoke", data={"confirmed": "yes"}).status_code == 404


# --- Who may ------------------------------------------------------------------------------

def test_a_member_without_org_webhooks_is_forbidden(client, factory):
    org = factory.org("acme")
    key, token = apikeys.create(org, "CRM", "write")
    factory.user("member@example.com", org=org, permissions=())
    client.post("/login", data={"email": "member@example.com", "password": PASSWORD})

    assert client.get(PAGE).status_code == 403
    assert create_in_page(client).status_code == 403
    assert revoke(client, key).status_code == 403
    assert key_count() == 1 and apikeys.authenticate(token) is not None


def test_signed_out_visitors_are_sent_to_sign_in(client, factory):
    key, token = apikeys.create(factory.org("acme"), "CRM", "write")
    for response in (client.get(PAGE), create_in_page(client), revoke(client, key)):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert key_count() == 1 and apikeys.authenticate(token) is not None


def test_a_read_only_session_sees_the_keys_but_cannot_create_or_revoke(make_app):
    app = make_app()  # no pushed app context: each request gets its own flask.g
    client, _ = signed_in_by_link(app, read_only=True)
    with app.app_context():
        key, token = apikeys.create(db.session.scalar(db.select(Organization)), "CRM", "write")
        key_id = key.id

    page = client.get(PAGE).get_data(as_text=True)
    assert "CRM" in page and "Read-only access" in page
    assert "Create API key" not in page and "/revoke" not in page
    assert create_in_page(client).status_code == 403
    assert client.post(f"{PAGE}{key_id}/revoke", data={"confirmed": "yes"}).status_code == 403
    with app.app_context():
        assert key_count() == 1 and apikeys.authenticate(token) is not None

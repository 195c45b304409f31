"""Control characters in any text a person submits get a field error and never reach the
database (PostgreSQL refuses NUL in text: that used to be a 500)."""
import pytest

from tests.conftest import PASSWORD
from webhooks.extensions import db
from webhooks.models import Webhook

CONTROL = ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n", "\r"]
VALID = {"name": "CRM sync", "url": "https://127.0.0.1:8443/hook", "auth_type": "basic",
         "basic_username": "api", "basic_password": "s3cret-pass", "event_types": ["job.created"]}
FIELDS = {"name": "Name", "url": "Webhook URL", "basic_username": "Username",
          "basic_password": "Password"}


def with_control(value, char):
    """Put the character inside the value, where stripping the ends cannot remove it."""
    return value[:2] + char + value[2:]


def stored(app):
    with app.app_context():
        return db.session.execute(db.select(Webhook.name, Webhook.url, Webhook.basic_username)
                                  .order_by(Webhook.id)).all()


@pytest.fixture
def hook(factory, owner):
    return factory.webhook(owner, name="Saved", url="https://127.0.0.1/saved", auth_type="basic",
                           basic_username="saved-user", basic_password="saved-password")


def test_every_webhook_text_field_refuses_control_characters_on_add_and_edit(app, client, hook):
    wrong = []
    for field, label in FIELDS.items():
        for char in CONTROL:
            data = {**VALID, field: with_control(VALID[field], char)}
            for path in ("/orgs/acme/webhooks/new", f"/orgs/acme/webhooks/{hook.id}/settings"):
                response = client.post(path, data=data)
                page = response.get_data(as_text=True)
                expected = "control character"
                if response.status_code != 422 or expected not in page or label not in page:
                    wrong.append((field, repr(char), path, response.status_code))
    assert wrong == []
    assert stored(app) == [("Saved", "https://127.0.0.1/saved", "saved-user")]
    with app.app_context():
        assert db.session.get(Webhook, hook.id).basic_password == "saved-password"


def test_the_error_names_the_field_and_the_character(client, owner):
    page = client.post("/orgs/acme/webhooks/new",
                       data={**VALID, "name": "CRM\x00sync"}).get_data(as_text=True)
    assert "Name cannot contain control characters (such as NUL, a tab or a line break; " \
           "found U+0000)." in page


@pytest.mark.parametrize("char", CONTROL)
def test_inline_url_validation_refuses_control_characters(client, owner, char):
    response = client.post("/orgs/acme/webhooks/validate-url",
                           data={"url": with_control("https://127.0.0.1/hook", char)})
    assert response.status_code == 200
    assert "control character" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["email", "password"])
@pytest.mark.parametrize("char", CONTROL)
def test_sign_in_refuses_control_characters_without_a_server_error(client, factory, field, char):
    factory.user(org=factory.org())
    data = {"email": "owner@example.com", "password": PASSWORD}
    data[field] = with_control(data[field], char)

    response = client.post("/login", data=data)

    assert response.status_code == 401
    assert "cannot contain control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/orgs/ac%00me", "/orgs/ac%00me/webhooks/", "/orgs/%01/webhooks/new",
                                  "/orgs/ac%0Ame/webhooks/1", "/orgs/ac%C2%85me/webhooks/1/log"])
def test_a_control_character_in_an_organization_path_is_not_found(client, owner, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["outcome=%00", "type=job.created%00", "page=%00", "after=%00"])
def test_control_characters_in_log_history_filters_are_ignored(client, hook, query):
    response = client.get(f"/orgs/acme/webhooks/{hook.id}/log?{query}")
    assert response.status_code == 200


def test_a_next_parameter_with_a_control_character_is_not_followed(client, factory):
    factory.user(org=factory.org())
    response = client.post("/login?next=/orgs/acme%00/x",
                           data={"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"

"""Adding and editing a webhook: labels, validation rules, saving, the stored password, delete."""
import pytest

from webhooks import urlguard
from webhooks.extensions import db
from webhooks.forms import (EVENTS_REQUIRED, NAME_REQUIRED, NAME_TOO_LONG, PASSWORD_REQUIRED,
                            URL_REQUIRED, USERNAME_HAS_COLON, USERNAME_REQUIRED)
from webhooks.models import Delivery, Webhook
from tests.support.deliveries import store_delivery
from tests.support.polling import HX

VALID = {"name": "CRM sync", "url": "https://127.0.0.1:8443/hook", "auth_type": "none",
         "event_types": ["job.created", "estimate.updated"]}


def webhooks_of(org):
    return db.session.scalars(db.select(Webhook).filter_by(organization_id=org.id)).all()


def post_new(client, **changes):
    return client.post("/orgs/acme/webhooks/new", data={**VALID, **changes})


def test_add_form_has_the_exact_labels_choices_and_event_groups(client, owner):
    page = client.get("/orgs/acme/webhooks/new").get_data(as_text=True)
    for label in ("Name", "Webhook URL", "Authentication", "Username", "Password"):
        assert f">{label}</label>" in page
    assert '<option selected value="none">No Auth</option>' in page
    assert '<option value="basic">Basic Auth</option>' in page
    for legend in ("Job Events", "Estimate Events", "Signed Document Events",
                   "Signable Document Events"):
        assert f"<legend>{legend}</legend>" in page
    for label in ("Created", "Updated", "Assigned", "Image Created", "Document Created",
                  "Status Changed", "Signed"):
        assert f">{label}</label>" in page
    assert page.count("data-select-all") == 4


def test_a_valid_webhook_is_saved_deactivated_and_the_user_returns_to_the_listing(client, owner):
    response = post_new(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/orgs/acme/webhooks/"
    [webhook] = webhooks_of(owner)
    assert (webhook.name, webhook.url, webhook.is_active) == ("CRM sync", VALID["url"], False)
    assert webhook.event_types == ["job.created", "estimate.updated"]
    assert webhook.auth_type == "none" and webhook.basic_password is None
    assert webhook.signing_secret.startswith("whsec_")
    listing = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    assert "was added. It is deactivated" in listing


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, NAME_REQUIRED),
    ({"name": "   "}, NAME_REQUIRED),
    ({"name": "n" * 101}, NAME_TOO_LONG),
    ({"url": ""}, URL_REQUIRED),
    ({"url": "http://example.com/hook"}, urlguard.NOT_HTTPS),
    ({"url": "https://"}, urlguard.MALFORMED),
    ({"url": "not a url"}, urlguard.MALFORMED),
    ({"url": "https://example.com/" + "a" * 2048}, urlguard.TOO_LONG),
    ({"url": "https://user:secret@example.com/hook"}, urlguard.HAS_CREDENTIALS),
    ({"event_types": []}, EVENTS_REQUIRED),
    ({"auth_type": "basic", "basic_password": "pw"}, USERNAME_REQUIRED),
    ({"auth_type": "basic", "basic_username": "api"}, PASSWORD_REQUIRED),
    ({"auth_type": "basic", "basic_username": "api:key", "basic_password": "pw"},
     USERNAME_HAS_COLON),
])
def test_an_invalid_field_shows_its_error_and_nothing_is_saved(client, owner, changes, message):
    response = post_new(client, **changes)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert "nothing was saved" in page
    assert webhooks_of(owner) == []


def test_error_is_shown_next_to_its_field(client, owner):
    page = post_new(client, url="http://example.com/hook").get_data(as_text=True)
    url_input = page.index('id="url"')
    error = page.index(urlguard.NOT_HTTPS)
    events_fieldset = page.index("<legend>Job Events</legend>")
    assert url_input < error < events_fieldset
    assert 'aria-describedby="url-error url-hint" aria-invalid="true"' in page


def test_an_invalid_form_keeps_what_the_user_typed(client, owner):
    page = post_new(client, name="", url="https://keep.example/hook",
                    event_types=["job.assigned"]).get_data(as_text=True)
    assert 'value="https://keep.example/hook"' in page
    assert "checked" in page.split('value="job.assigned"')[1].split(">")[0]
    assert "checked" not in page.split('value="job.created"')[1].split(">")[0]


def test_an_unknown_event_type_is_refused(client, owner):
    response = post_new(client, event_types=["job.created", "job.deleted"])
    assert response.status_code == 422
    assert webhooks_of(owner) == []


def test_basic_auth_stores_the_password_encrypted(client, owner):
    post_new(client, auth_type="basic", basic_username="api", basic_password="s3cret-pass")
    [webhook] = webhooks_of(owner)
    assert (webhook.auth_type, webhook.basic_username, webhook.basic_password) == (
        "basic", "api", "s3cret-pass")
    assert "s3cret-pass" not in webhook.basic_password_encrypted


def test_inline_url_validation_returns_only_the_error_area(client, owner):
    bad = client.post("/orgs/acme/webhooks/validate-url", data={"url": "http://example.com"},
                      headers=HX)
    assert bad.status_code == 200
    text = bad.get_data(as_text=True).strip()
    assert text.startswith('<p class="field-error" id="url-error"')
    assert urlguard.NOT_HTTPS in text and "<html" not in text
    good = client.post("/orgs/acme/webhooks/validate-url", data={"url": VALID["url"]})
    assert '<p class="field-error" id="url-error" aria-live="polite"></p>' in good.get_data(as_text=True)


def test_url_field_is_wired_for_inline_validation(client, owner):
    page = client.get("/orgs/acme/webhooks/new").get_data(as_text=True)
    assert 'hx-post="/orgs/acme/webhooks/validate-url"' in page
    assert 'hx-target="#url-error"' in page and 'hx-trigger="change"' in page


@pytest.fixture
def basic_hook(factory, owner):
    return factory.webhook(owner, name="Billing", auth_type="basic", basic_username="api",
                           basic_password="stored-secret-pw", events=("job.created", "job.updated"),
                           active=False)


def test_edit_form_is_prefilled_but_never_contains_the_stored_password(client, basic_hook):
    page = client.get(f"/orgs/acme/webhooks/{basic_hook.id}/settings").get_data(as_text=True)
    assert "Edit webhook" in page
    assert 'value="Billing"' in page and 'value="api"' in page
    assert '<option selected value="basic">Basic Auth</option>' in page
    assert "stored-secret-pw" not in page
    assert basic_hook.basic_password_encrypted not in page
    assert "Leave this empty to keep it" in page


def test_saving_with_an_empty_password_keeps_the_stored_one(client, basic_hook):
    response = client.post(f"/orgs/acme/webhooks/{basic_hook.id}/settings", data={
        **VALID, "name": "Billing v2", "auth_type": "basic", "basic_username": "api2",
        "basic_password": ""})
    assert response.status_code == 302
    db.session.refresh(basic_hook)
    assert (basic_hook.name, basic_hook.basic_username) == ("Billing v2", "api2")
    assert basic_hook.basic_password == "stored-secret-pw"
    assert basic_hook.event_types == VALID["event_types"]


def test_a_new_password_replaces_the_stored_one(client, basic_hook):
    client.post(f"/orgs/acme/webhooks/{basic_hook.id}/settings", data={
        **VALID, "auth_type": "basic", "basic_username": "api", "basic_password": "new-password"})
    db.session.refresh(basic_hook)
    assert basic_hook.basic_password == "new-password"


def test_switching_to_no_auth_forgets_the_credentials(client, basic_hook):
    client.post(f"/orgs/acme/webhooks/{basic_hook.id}/settings", data=VALID)
    db.session.refresh(basic_hook)
    assert (basic_hook.auth_type, basic_hook.basic_username, basic_hook.basic_password) == (
        "none", None, None)


def test_switching_to_basic_auth_without_a_stored_password_requires_one(client, factory, owner):
    webhook = factory.webhook(owner, name="Plain", active=False)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/settings", data={
        **VALID, "auth_type": "basic", "basic_username": "api"})
    assert response.status_code == 422
    assert PASSWORD_REQUIRED in response.get_data(as_text=True)
    db.session.refresh(webhook)
    assert webhook.auth_type == "none"


def test_an_invalid_edit_changes_nothing(client, basic_hook):
    response = client.post(f"/orgs/acme/webhooks/{basic_hook.id}/settings",
                           data={**VALID, "url": "http://plain.example/hook"})
    assert response.status_code == 422
    db.session.refresh(basic_hook)
    assert basic_hook.url == "https://127.0.0.1/hook" and basic_hook.name == "Billing"


def test_edit_keeps_the_active_state(client, factory, owner):
    webhook = factory.webhook(owner, name="Live", active=True)
    client.post(f"/orgs/acme/webhooks/{webhook.id}/settings", data=VALID)
    db.session.refresh(webhook)
    assert webhook.is_active and webhook.name == "CRM sync"


def test_delete_asks_for_confirmation_first(client, basic_hook):
    for response in (client.get(f"/orgs/acme/webhooks/{basic_hook.id}/delete"),
                     client.post(f"/orgs/acme/webhooks/{basic_hook.id}/delete")):
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Delete webhook “Billing”?" in page
        assert 'name="confirmed" value="yes"' in page
    db.session.refresh(basic_hook)
    assert basic_hook.deleted_at is None


def test_confirmed_delete_hides_the_webhook_and_cancels_its_pending_deliveries(client, factory, owner):
    webhook = factory.webhook(owner, name="Doomed", active=True)
    pending = store_delivery(webhook)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/delete", data={"confirmed": "yes"})
    assert response.headers["Location"] == "/orgs/acme/webhooks/"
    db.session.expire_all()
    assert webhook.deleted_at is not None and not webhook.is_active
    assert (pending.state, pending.cancel_reason) == (Delivery.CANCELLED, "Webhook was deleted")
    listing = client.get("/orgs/acme/webhooks/").get_data(as_text=True)
    assert "Webhook “Doomed” was deleted." in listing and 'id="webhook-' not in listing
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}").status_code == 404

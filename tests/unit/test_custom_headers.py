"""A webhook's custom request headers in the add/edit form: the rules, saving them encrypted,
editing without ever showing a value, Add header and Remove with and without JavaScript, and
their values masked in Log History."""
import json
import re

import pytest
from markupsafe import escape

from tests.conftest import Factory
from tests.support.deliveries import store_delivery
from tests.support.polling import HX
from tests.unit.test_host_sign_in import signed_in_by_link
from webhooks import claims, custom_headers, recording
from webhooks.extensions import db
from webhooks.forms import VALUE_RETYPE, VALUE_UNCHANGED
from webhooks.models import Attempt, Organization, Webhook, utcnow
from webhooks.sender import Outcome
from webhooks.signing import MASK

VALID = {"name": "CRM sync", "url": "https://127.0.0.1:8443/hook", "auth_type": "none",
         "event_types": ["job.created"]}
BASIC = {"auth_type": "basic", "basic_username": "api", "basic_password": "pw"}
SECRET = "sk_live_4f9a2c7e1b"
TENANT = "tenant-8841"


def rows(*pairs, start=0):
    """Return the form fields of header rows: [(name, value), ...] from index start on."""
    fields = {}
    for index, (name, value) in enumerate(pairs, start=start):
        fields[f"headers-{index}-name"] = name
        fields[f"headers-{index}-value"] = value
    return fields


def post_new(client, *pairs, **changes):
    return client.post("/orgs/acme/webhooks/new", data={**VALID, **rows(*pairs), **changes})


def post_settings(client, webhook, *pairs, **changes):
    return client.post(f"/orgs/acme/webhooks/{webhook.id}/settings",
                       data={**VALID, **rows(*pairs), **changes})


def webhooks_of(org):
    return db.session.scalars(db.select(Webhook).filter_by(organization_id=org.id)).all()


def stored(webhook):
    """Return the webhook's custom headers as saved (a fresh read)."""
    db.session.expire_all()
    return db.session.get(Webhook, webhook.id).custom_headers


def error_of(page, field_id):
    """Return the text of the error shown under the input with field_id, or None."""
    found = re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', page, re.S)
    return found.group(1) if found else None


def input_tag(page, field_id):
    return re.search(rf'<input[^>]* id="{field_id}"[^>]*>', page).group(0)


@pytest.fixture
def hooked(factory, owner):
    """A webhook with two custom headers saved."""
    webhook = factory.webhook(owner, name="Billing", active=False)
    webhook.custom_headers = [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]
    db.session.commit()
    return webhook


# --- The form --------------------------------------------------------------------------------

def test_the_add_form_has_a_custom_headers_section_with_a_hint_and_add_button(client, owner):
    page = client.get("/orgs/acme/webhooks/new").get_data(as_text=True)
    assert "<legend>Custom headers</legend>" in page
    assert "Sent with every delivery, for example an API key your endpoint expects. " \
           "Values are encrypted and never shown again." in page
    assert 'name="add_header" value="1"' in page and ">Add header</button>" in page
    assert 'hx-get="/orgs/acme/webhooks/header-row"' in page
    assert 'id="header-next-index" name="index" value="0"' in page
    assert 'name="headers-0-name"' not in page  # no row until one is added


def test_enter_in_a_field_saves_rather_than_pressing_add_header_or_remove(client, hooked):
    """The form's first submit button (the one Enter presses) is a copy of the save button."""
    page = client.get(f"/orgs/acme/webhooks/{hooked.id}/settings").get_data(as_text=True)
    form = page[page.index('<form class="webhook-form"'):]
    first_button = re.search(r"<button[^>]*>[^<]*", form).group(0)
    assert 'type="submit"' in first_button and "name=" not in first_button
    assert first_button.endswith(">Save changes")
    assert form.index(first_button) < form.index('name="remove_header"')


# --- The rules, through the form -----------------------------------------------------------------

RESERVED = ["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Anything",
            "Content-Type", "content-length", "Host", "User-Agent", "Connection",
            "Transfer-Encoding", "Upgrade", "TE", "Keep-Alive", "Trailer", "Expect",
            "Proxy-Authorization", "Proxy-Connection"]
BAD_NAMES = ["X Api Key", "X-Api:Key", "X-Api\x01Key", "X-Api\tKey", "X-Ápi", "n" * 1025]
BAD_VALUES = ["abc\r\nInjected: 1", "abc\nInjected: 1", "abc\rdef", "abc\x00def", "abc\x1bdef",
              "abc\x7fdef", "wert\u00e9", "v" * 1025, " leading space", "trailing space "]


@pytest.mark.parametrize("name", RESERVED + BAD_NAMES)
def test_a_refused_name_is_shown_on_its_row_and_nothing_is_saved(client, owner, name):
    response = post_new(client, ("X-Ok", "fine"), (name, "value"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    [(index, part, message)] = custom_headers.problems([("X-Ok", "fine"), (name, "value")])
    assert (index, part) == (1, "name")
    assert error_of(page, "headers-1-name") == escape(message)
    assert error_of(page, "headers-0-name") is None and error_of(page, "headers-1-value") is None
    assert 'aria-invalid="true"' in input_tag(page, "headers-1-name")
    assert "nothing was saved" in page
    assert webhooks_of(owner) == []


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_refused_value_is_shown_on_its_row_and_nothing_is_saved(client, owner, value):
    response = post_new(client, ("X-Api-Key", value))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    [(_, part, message)] = custom_headers.problems([("X-Api-Key", value)])
    assert part == "value"
    assert error_of(page, "headers-0-value") == escape(message)
    assert 'aria-describedby="headers-0-value-error"' in input_tag(page, "headers-0-value")
    assert webhooks_of(owner) == []


def test_line_breaks_in_a_value_are_refused_in_plain_words(client, owner):
    page = post_new(client, ("X-Api-Key", "abc\r\nInjected: 1")).get_data(as_text=True)
    assert "no line breaks or other control characters" in error_of(page, "headers-0-value")
    assert "Injected" not in page  # a typed value is never shown back, even a refused one


def test_authorization_is_refused_only_with_basic_auth(client, owner):
    refused = post_new(client, ("Authorization", "Token abc"), **BASIC)
    assert refused.status_code == 422
    assert error_of(refused.get_data(as_text=True), "headers-0-name") == escape(
        "Authorization is set by Basic Auth: choose No Auth to send your own.")
    assert webhooks_of(owner) == []

    assert post_new(client, ("Authorization", "Token abc")).status_code == 302
    [webhook] = webhooks_of(owner)
    assert webhook.custom_headers == [("Authorization", "Token abc")]


def test_a_name_given_twice_is_refused_on_the_second_row(client, owner):
    page = post_new(client, ("X-Api-Key", "a"), ("x-api-key", "b")).get_data(as_text=True)
    assert error_of(page, "headers-1-name") == "x-api-key is already set above."
    assert error_of(page, "headers-0-name") is None
    assert webhooks_of(owner) == []


def test_a_row_needs_both_a_name_and_a_value(client, owner):
    page = post_new(client, ("", "orphan-value"), ("X-Tenant", "")).get_data(as_text=True)
    assert error_of(page, "headers-0-name") == escape(custom_headers.NAME_REQUIRED)
    assert error_of(page, "headers-1-value") == escape(custom_headers.VALUE_REQUIRED)
    assert webhooks_of(owner) == []


def test_more_than_twenty_headers_are_refused_for_the_whole_list(client, owner):
    response = post_new(client, *[(f"X-H{n}", "v") for n in range(21)])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_of(page, "headers") == escape(custom_headers.TOO_MANY)
    assert 'aria-describedby="headers-hint headers-error"' in page
    assert webhooks_of(owner) == []
    assert post_new(client, *[(f"X-H{n}", "v") for n in range(20)]).status_code == 302


def test_rows_left_empty_are_ignored(client, owner):
    response = post_new(client, ("", ""), ("X-Api-Key", SECRET), ("  ", ""))
    assert response.status_code == 302
    [webhook] = webhooks_of(owner)
    assert webhook.custom_headers == [("X-Api-Key", SECRET)]


def test_a_header_problem_does_not_hide_the_other_fields_errors(client, owner):
    page = post_new(client, ("Host", "x"), url="http://plain.example/hook").get_data(as_text=True)
    assert "must use https://" in page and error_of(page, "headers-0-name")


# --- Saving and editing ------------------------------------------------------------------------

def test_headers_are_saved_in_order_and_encrypted_at_rest(client, owner):
    response = post_new(client, ("X-Api-Key", SECRET), ("X-Tenant", TENANT))
    assert response.status_code == 302
    [webhook] = webhooks_of(owner)
    assert webhook.custom_headers == [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]
    column = db.session.execute(db.text("SELECT headers_encrypted FROM webhooks WHERE id = :id"),
                                {"id": webhook.id}).scalar_one()
    assert SECRET not in column and TENANT not in column and "X-Api-Key" not in column


def test_the_edit_page_names_the_headers_but_never_shows_a_value(client, hooked):
    page = client.get(f"/orgs/acme/webhooks/{hooked.id}/settings").get_data(as_text=True)
    assert 'value="X-Api-Key"' in page and 'value="X-Tenant"' in page
    assert SECRET not in page and TENANT not in page and hooked.headers_encrypted not in page
    value_input = input_tag(page, "headers-0-value")
    assert 'type="password"' in value_input and 'value=""' in value_input
    assert f'placeholder="{VALUE_UNCHANGED}"' in value_input
    for number, field in ((1, "name"), (1, "value"), (2, "name"), (2, "value")):
        label = f'<span class="visually-hidden">Header {number} </span>{field.title()}</label>'
        assert label in page
    assert '<span class="visually-hidden"> header 2</span></button>' in page
    assert 'id="header-next-index" name="index" value="2"' in page


def test_an_empty_value_keeps_the_stored_one_and_a_typed_value_replaces_it(client, hooked):
    response = post_settings(client, hooked, ("X-Api-Key", ""), ("x-tenant", "tenant-2"))
    assert response.status_code == 302
    assert stored(hooked) == [("X-Api-Key", SECRET), ("x-tenant", "tenant-2")]


def test_an_empty_value_of_a_new_name_is_still_required(client, hooked):
    response = post_settings(client, hooked, ("X-Api-Key", ""), ("X-Region", ""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_of(page, "headers-1-value") == escape(custom_headers.VALUE_REQUIRED)
    assert error_of(page, "headers-0-value") is None
    assert stored(hooked) == [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]


def test_leaving_a_row_out_removes_that_header(client, hooked):
    assert post_settings(client, hooked, ("X-Tenant", "")).status_code == 302
    assert stored(hooked) == [("X-Tenant", TENANT)]
    assert post_settings(client, hooked).status_code == 302
    db.session.expire_all()
    assert db.session.get(Webhook, hooked.id).headers_encrypted is None


def test_switching_to_basic_auth_refuses_a_stored_authorization_header(client, factory, owner):
    webhook = factory.webhook(owner, name="Token", active=False)
    webhook.custom_headers = [("Authorization", "Token abc")]
    db.session.commit()
    response = post_settings(client, webhook, ("Authorization", ""), **BASIC)
    assert response.status_code == 422
    assert "Authorization is set by Basic Auth" in error_of(response.get_data(as_text=True),
                                                           "headers-0-name")
    assert stored(webhook) == [("Authorization", "Token abc")]


def test_an_invalid_edit_keeps_the_stored_headers(client, hooked):
    response = post_settings(client, hooked, ("X-Api-Key", "new"), name="")
    assert response.status_code == 422
    assert stored(hooked) == [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]


def test_a_typed_value_is_not_shown_back_and_the_row_asks_for_it_again(client, owner):
    page = post_new(client, ("X-Api-Key", SECRET), name="").get_data(as_text=True)
    assert SECRET not in page
    assert f'placeholder="{VALUE_RETYPE}"' in input_tag(page, "headers-0-value")


# --- Add header and Remove without JavaScript -------------------------------------------------

def test_add_header_without_javascript_shows_one_more_row_and_saves_nothing(client, owner):
    response = post_new(client, ("X-Api-Key", SECRET), add_header="1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert webhooks_of(owner) == []
    assert "nothing was saved" not in page and "field-error" not in page.split("<form")[1]
    assert 'value="X-Api-Key"' in page and SECRET not in page
    new_row = input_tag(page, "headers-1-name")
    assert "autofocus" in new_row and 'value=""' in new_row
    assert 'id="header-next-index" name="index" value="2"' in page


def test_add_header_on_the_settings_tab_keeps_the_stored_rows_and_saves_nothing(client, hooked):
    response = post_settings(client, hooked, ("X-Api-Key", ""), ("X-Tenant", ""), add_header="1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="headers-2-name"' in page and "Edit webhook" in page
    assert f'placeholder="{VALUE_UNCHANGED}"' in input_tag(page, "headers-1-value")
    assert stored(hooked) == [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]
    db.session.expire_all()
    assert db.session.get(Webhook, hooked.id).name == "Billing"


def test_remove_without_javascript_shows_the_form_without_that_row_and_saves_nothing(client,
                                                                                  hooked):
    response = post_settings(client, hooked, ("X-Api-Key", ""), ("X-Tenant", ""),
                             remove_header="0")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="X-Api-Key"' not in page and 'value="X-Tenant"' in page
    assert stored(hooked) == [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]
    # Saving the form as it came back (its remaining row keeps its index) removes the header.
    response = client.post(f"/orgs/acme/webhooks/{hooked.id}/settings",
                           data={**VALID, **rows(("X-Tenant", ""), start=1)})
    assert response.status_code == 302
    assert stored(hooked) == [("X-Tenant", TENANT)]


# --- With htmx: the row route ------------------------------------------------------------------

def test_the_row_route_answers_one_empty_row_and_the_next_index(client, owner):
    response = client.get("/orgs/acme/webhooks/header-row?index=3", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and "<form" not in fragment
    assert 'id="header-row-3"' in fragment and "data-header-row" in fragment
    assert 'name="headers-3-name"' in fragment and 'name="headers-3-value"' in fragment
    assert "autofocus" in input_tag(fragment, "headers-3-name")
    assert '<span class="visually-hidden">Header 4 </span>Name</label>' in fragment
    assert 'name="remove_header" value="3"' in fragment
    assert 'hx-target="closest [data-header-row]" hx-swap="delete"' in fragment
    assert ('<input type="hidden" id="header-next-index" name="index" value="4" '
            'hx-swap-oob="true">') in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_the_row_route_answers_nothing_to_a_remove_button(client, owner):
    response = client.get("/orgs/acme/webhooks/header-row?remove_header=3", headers=HX)
    assert response.status_code == 200 and response.get_data() == b""


def test_the_row_route_ignores_a_nonsense_index(client, owner):
    for query in ("index=-5", "index=abc", ""):
        fragment = client.get(f"/orgs/acme/webhooks/header-row?{query}", headers=HX).get_data(
            as_text=True)
        assert 'name="headers-0-name"' in fragment


def test_the_row_route_needs_the_webhooks_permission(client, factory, auth):
    acme = factory.org("acme")
    factory.user("member@example.com", org=acme, permissions=())
    assert client.get("/orgs/acme/webhooks/header-row").status_code == 302  # to sign in
    auth.login("member@example.com")
    assert client.get("/orgs/acme/webhooks/header-row", headers=HX).status_code == 403
    assert client.get("/orgs/other/webhooks/header-row", headers=HX).status_code == 404


def test_rows_appended_by_htmx_and_gaps_left_by_removals_are_saved_in_order(client, owner):
    data = {**VALID, **rows(("X-First", "1")), **rows(("X-Added", "2"), start=3),
            **rows(("X-Later", "3"), start=7)}
    assert client.post("/orgs/acme/webhooks/new", data=data).status_code == 302
    [webhook] = webhooks_of(owner)
    assert webhook.custom_headers == [("X-First", "1"), ("X-Added", "2"), ("X-Later", "3")]


# --- Sent, and masked in Log History -----------------------------------------------------------

def deliver_once(webhook, status=200):
    """Store a delivery, claim it as a worker does and record an answer; return the claim."""
    delivery = store_delivery(webhook)
    [claim] = claims.claim_due(limit=10)
    now = utcnow()
    recording.record([(claim, Outcome(started_at=now, finished_at=now, duration_ms=5,
                                      status=status, headers=[["Content-Type", "text/plain"]],
                                      body="ok", body_size=2))])
    return delivery, claim


def test_values_are_sent_but_never_shown_in_log_history(client, owner, queue, factory):
    webhook = factory.webhook(owner, name="CRM")
    webhook.custom_headers = [("X-Api-Key", SECRET), ("X-Tenant", TENANT)]
    db.session.commit()

    delivery, claim = deliver_once(webhook)

    sent = dict(claim.headers)
    assert (sent["X-Api-Key"], sent["X-Tenant"]) == (SECRET, TENANT)
    attempt = db.session.scalars(db.select(Attempt).filter_by(delivery_id=delivery.id)).one()
    assert ["X-Api-Key", MASK] in attempt.request_headers
    assert ["X-Tenant", MASK] in attempt.request_headers
    assert SECRET not in json.dumps(attempt.request_headers)
    base = f"/orgs/acme/webhooks/{webhook.id}"
    pages = [client.get(base), client.get(f"{base}/log"), client.get(f"{base}/log", headers=HX),
             client.get(f"{base}/deliveries/{delivery.id}"),
             client.get(f"{base}/deliveries/{delivery.id}", headers=HX),
             client.get(f"{base}/deliveries/{delivery.id}/row")]
    for response in pages:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert SECRET not in text and TENANT not in text
    details = pages[3].get_data(as_text=True)
    assert f'<th scope="row">X-Api-Key</th><td>{MASK}</td>' in details
    assert f'<th scope="row">X-Tenant</th><td>{MASK}</td>' in details


def test_a_read_only_session_sees_the_header_names_but_never_their_values(make_app):
    app = make_app()  # no pushed context: each request gets its own flask.g, as in production
    client, _ = signed_in_by_link(app, read_only=True)
    with app.app_context():
        org = db.session.scalar(db.select(Organization))
        webhook = Factory().webhook(org, name="Billing")
        webhook.custom_headers = [("X-Api-Key", SECRET)]
        db.session.commit()
        webhook_id = webhook.id
    page = client.get(f"/orgs/acme/webhooks/{webhook_id}/settings").get_data(as_text=True)
    assert "Edit webhook" not in page
    assert f'<th scope="row">X-Api-Key</th><td>{MASK}</td>' in page and SECRET not in page

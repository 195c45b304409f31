"""/api/v1/webhooks: the form's rules and wording, partial updates, turning on and off, delete,
the signing secret and custom headers, and paging through the list."""
from datetime import timedelta

import pytest

from webhooks import custom_headers, forms, secret_rotation
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook, utcnow
from tests.support.deliveries import store_delivery

from .conftest import messages

VALID = {"name": "CRM", "url": "https://127.0.0.1/hook", "event_types": ["job.created"]}


def _stored(webhook_id):
    db.session.expire_all()
    return db.session.get(Webhook, webhook_id)


def test_create_answers_201_with_the_webhook_turned_off(api, org):
    response = api.post("/webhooks", json={**VALID, "event_types": ["job.updated", "job.created"]})
    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("name", "url", "is_active", "auth_type")} == {
        "name": "CRM", "url": "https://127.0.0.1/hook", "is_active": False, "auth_type": "none"}
    assert body["event_types"] == ["job.created", "job.updated"]  # catalog order, as the form
    assert body["health"]["state"] == "healthy" and body["headers"] == []
    webhook = _stored(body["id"])
    assert webhook.organization_id == org.id and webhook.signing_secret.startswith("whsec_")


@pytest.mark.parametrize("fields, path, message", [
    ({"name": ""}, "name", forms.NAME_REQUIRED),
    ({"name": "x" * 101}, "name", forms.NAME_TOO_LONG),
    ({"url": ""}, "url", forms.URL_REQUIRED),
    ({"event_types": []}, "event_types", forms.EVENTS_REQUIRED),
    ({"auth_type": "basic"}, "basic_username", forms.USERNAME_REQUIRED),
    ({"auth_type": "basic", "basic_username": "a:b", "basic_password": "p"}, "basic_username",
     forms.USERNAME_HAS_COLON),
    ({"auth_type": "basic", "basic_username": "ann"}, "basic_password", forms.PASSWORD_REQUIRED),
])
def test_create_refuses_with_the_forms_own_words(api, fields, path, message):
    response = api.post("/webhooks", json={**VALID, **fields})
    assert response.status_code == 422
    assert messages(response)[path] == message
    assert db.session.scalar(db.select(db.func.count()).select_from(Webhook)) == 0


def test_create_applies_the_forms_https_and_address_rules(api, app):
    app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = False
    with app.test_request_context():
        expected = {url: forms.url_target_problem(url)
                    for url in ("http://example.com/hook", "https://10.0.0.1/hook",
                                "https://127.0.0.1/hook", "ftp://example.com")}
    for url, message in expected.items():
        assert message  # each is refused by the form
        response = api.post("/webhooks", json={**VALID, "url": url})
        assert response.status_code == 422
        assert messages(response) == {"url": message}


@pytest.mark.parametrize("body, expected", [
    ({**VALID, "name": 5}, {"name": "must be of type string, not integer."}),
    ({**VALID, "surprise": 1}, {"surprise": "is not a known field."}),
    ({"url": VALID["url"], "event_types": ["job.created"]}, {"name": "is required."}),
    ({**VALID, "event_types": "job.created"},
     {"event_types": "must be of type array, not string."}),
    ({**VALID, "auth_type": "digest"}, {"auth_type": "must be 'none' or 'basic'."}),
    ({**VALID, "event_types": ["nope"]}, None),
])
def test_create_refuses_wrong_types_and_unknown_fields_naming_them(api, body, expected):
    response = api.post("/webhooks", json=body)
    assert response.status_code == 422
    if expected:
        assert messages(response) == expected
    else:
        assert set(messages(response)) == {"event_types"}


def test_custom_headers_are_kept_encrypted_and_never_shown(api):
    body = {**VALID, "headers": [{"name": "X-Api-Key", "value": "very-secret-value"}]}
    response = api.post("/webhooks", json=body)
    assert response.status_code == 201
    assert response.get_json()["headers"] == [{"name": "X-Api-Key", "value": "••••••"}]
    webhook = _stored(response.get_json()["id"])
    assert webhook.custom_headers == [("X-Api-Key", "very-secret-value")]
    assert "very-secret-value" not in webhook.headers_encrypted
    assert b"very-secret-value" not in api.get(f"/webhooks/{webhook.id}").data


@pytest.mark.parametrize("header, path", [
    ({"name": "webhook-signature", "value": "x"}, "headers[0].name"),
    ({"name": "Content-Type", "value": "text/plain"}, "headers[0].name"),
    ({"name": "Transfer-Encoding", "value": "chunked"}, "headers[0].name"),
    ({"name": "Bad Name", "value": "x"}, "headers[0].name"),
    ({"name": "X-Ok", "value": "line\r\nInjected: 1"}, "headers[0].value"),
    ({"name": "X-Ok", "value": "x" * 1025}, "headers[0].value"),
    ({"name": "X-Ok"}, "headers[0].value"),
])
def test_custom_headers_follow_the_forms_rules(api, header, path):
    response = api.post("/webhooks", json={**VALID, "headers": [header]})
    assert response.status_code == 422
    problems = custom_headers.problems([(header["name"], header.get("value") or "")])
    assert messages(response) == {path: problems[0][2]}


def test_authorization_is_reserved_only_with_basic_auth(api):
    header = {"name": "Authorization", "value": "Token abc"}
    assert api.post("/webhooks", json={**VALID, "headers": [header]}).status_code == 201
    response = api.post("/webhooks", json={**VALID, "headers": [header], "auth_type": "basic",
                                           "basic_username": "ann", "basic_password": "pw"})
    assert set(messages(response)) == {"headers[0].name"}


def test_more_than_twenty_headers_are_refused(api):
    headers = [{"name": f"X-H{i}", "value": "v"} for i in range(21)]
    response = api.post("/webhooks", json={**VALID, "headers": headers})
    assert response.status_code == 422
    assert custom_headers.TOO_MANY in messages(response).values()


def test_update_changes_only_what_it_is_given(api, factory, org):
    webhook = factory.webhook(org, auth_type="basic", basic_username="ann", basic_password="pw")
    webhook.custom_headers = [("X-Api-Key", "kept")]
    db.session.commit()
    response = api.patch(f"/webhooks/{webhook.id}", json={"name": "Renamed"})
    assert response.status_code == 200, response.get_json()
    webhook = _stored(webhook.id)
    assert (webhook.name, webhook.url, webhook.basic_username, webhook.basic_password) == (
        "Renamed", "https://127.0.0.1/hook", "ann", "pw")
    assert webhook.custom_headers == [("X-Api-Key", "kept")]


def test_update_keeps_a_header_value_left_empty_and_drops_headers_left_out(api, factory, org):
    webhook = factory.webhook(org)
    webhook.custom_headers = [("X-Api-Key", "kept"), ("X-Tenant", "gone")]
    db.session.commit()
    response = api.patch(f"/webhooks/{webhook.id}", json={"headers": [{"name": "x-api-key"}]})
    assert response.status_code == 200
    assert _stored(webhook.id).custom_headers == [("x-api-key", "kept")]


def test_update_refuses_invalid_values_and_changes_nothing(api, factory, org):
    webhook = factory.webhook(org)
    response = api.patch(f"/webhooks/{webhook.id}", json={"name": "", "url": "http://x"})
    assert response.status_code == 422
    assert set(messages(response)) == {"name", "url"}
    assert _stored(webhook.id).name == "Hook"


def test_delete_cancels_pending_deliveries_and_then_finds_nothing(api, factory, org):
    webhook = factory.webhook(org)
    delivery = store_delivery(webhook)
    assert api.delete(f"/webhooks/{webhook.id}").status_code == 204
    assert api.get(f"/webhooks/{webhook.id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).state == Delivery.CANCELLED


def test_activate_sends_a_test_event_and_deactivate_turns_it_off(api, factory, org):
    webhook = factory.webhook(org, active=False)
    body = api.post(f"/webhooks/{webhook.id}/activate").get_json()
    assert body["changed"] is True and body["webhook"]["is_active"] is True
    ping = db.session.get(Delivery, body["test_delivery_id"])
    assert ping.event_type == "webhook.ping" and ping.webhook_id == webhook.id
    again = api.post(f"/webhooks/{webhook.id}/activate").get_json()
    assert (again["changed"], again["test_delivery_id"]) == (False, None)
    off = api.post(f"/webhooks/{webhook.id}/deactivate").get_json()
    assert off["changed"] is True and off["webhook"]["is_active"] is False


def test_send_test_event_answers_202_with_its_delivery(api, factory, org):
    webhook = factory.webhook(org, active=False)
    response = api.post(f"/webhooks/{webhook.id}/test-event")
    assert response.status_code == 202
    delivery = response.get_json()["delivery"]
    assert delivery["event_type"] == "webhook.ping" and delivery["message_id"].startswith("msg_")


def test_send_test_event_of_a_chosen_type(api, factory, org):
    webhook = factory.webhook(org, active=True)
    response = api.post(f"/webhooks/{webhook.id}/test-event", json={"event_type": "job.assigned"})
    assert response.status_code == 202
    assert response.get_json()["delivery"]["event_type"] == "job.assigned"
    webhook.is_active = False
    db.session.commit()
    refused = api.post(f"/webhooks/{webhook.id}/test-event", json={"event_type": "job.assigned"})
    assert refused.status_code == 409
    assert refused.get_json()["errors"][0]["path"] == "event_type"
    unknown = api.post(f"/webhooks/{webhook.id}/test-event", json={"event_type": "job.nope"})
    assert unknown.status_code == 422


def test_the_secret_is_revealed_rotated_and_its_overlap_ended(api, factory, org):
    webhook = factory.webhook(org)
    first = api.get(f"/webhooks/{webhook.id}/secret")
    assert first.headers["Cache-Control"] == "no-store"
    assert first.get_json() == {"secret": webhook.signing_secret,
                                "previous_secret_expires_at": None}
    rotated = api.post(f"/webhooks/{webhook.id}/secret/rotate", json={"grace_period_hours": 48})
    body = rotated.get_json()
    assert rotated.status_code == 200 and body["secret"] != first.get_json()["secret"]
    assert body["secret"] == _stored(webhook.id).signing_secret
    expires = secret_rotation.previous_expires_at(_stored(webhook.id))
    assert abs(expires - (utcnow() + timedelta(hours=48))) < timedelta(minutes=1)
    assert api.get(f"/webhooks/{webhook.id}").get_json()["previous_secret_expires_at"]
    stopped = api.post(f"/webhooks/{webhook.id}/secret/stop-previous").get_json()
    assert stopped == {"secret": body["secret"], "previous_secret_expires_at": None}


def test_rotation_defaults_to_a_day_and_refuses_more_than_seven(api, factory, org):
    webhook = factory.webhook(org)
    assert api.post(f"/webhooks/{webhook.id}/secret/rotate").status_code == 200
    expires = secret_rotation.previous_expires_at(_stored(webhook.id))
    assert abs(expires - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)
    response = api.post(f"/webhooks/{webhook.id}/secret/rotate", json={"grace_period_hours": 169})
    assert response.status_code == 422
    assert messages(response) == {"grace_period_hours": "must be less than or equal to 168."}


def test_the_list_pages_with_an_opaque_cursor(api, factory, org):
    ids = [factory.webhook(org, name=f"Hook {i}").id for i in range(7)]
    seen, cursor = [], None
    while True:
        args = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/webhooks", query_string=args)
        body = page.get_json()
        seen += [w["id"] for w in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize("query, path", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
    ({"cursor": "nope"}, "cursor"), ({"surprise": 1}, "surprise")])
def test_the_list_refuses_bad_arguments_with_400(api, query, path):
    response = api.get("/webhooks", query_string=query)
    assert response.status_code == 400
    assert set(messages(response)) == {path}

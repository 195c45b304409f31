"""What every API request shares: strict JSON bodies, Idempotency-Key on POSTs, the per-key
rate limit, JSON errors for unknown routes, and the OpenAPI document and reference page."""
import re

import pytest

from tests.conftest import Factory
from webhooks import apikeys
from webhooks.api import webhooks as api_webhooks
from webhooks.extensions import db
from webhooks.models import ApiKey, IdempotentRequest, Webhook

from .conftest import messages

VALID = {"name": "CRM", "url": "https://127.0.0.1/hook", "event_types": ["job.created"]}


def _count():
    return db.session.scalar(db.select(db.func.count()).select_from(Webhook))


def test_a_repeated_post_with_the_same_key_acts_once_and_answers_the_same(api):
    headers = {"Idempotency-Key": "create-crm-1"}
    first = api.post("/webhooks", json=VALID, headers=headers)
    again = api.post("/webhooks", json=VALID, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count() == 1


def test_without_a_key_each_post_acts(api):
    api.post("/webhooks", json=VALID)
    api.post("/webhooks", json=VALID)
    assert _count() == 2


def test_the_same_key_with_another_request_is_refused(api, factory, org):
    headers = {"Idempotency-Key": "k-1"}
    api.post("/webhooks", json=VALID, headers=headers)
    response = api.post("/webhooks", json={**VALID, "name": "Other"}, headers=headers)
    assert response.status_code == 422
    assert set(messages(response)) == {"Idempotency-Key"}
    webhook = factory.webhook(org)
    elsewhere = api.post(f"/webhooks/{webhook.id}/test-event", headers=headers)
    assert elsewhere.status_code == 422
    assert _count() == 2  # the fixture's webhook and the first POST's


def test_keys_are_per_api_key(api, org):
    _, other = apikeys.create(org, "Another integration", ApiKey.WRITE)
    headers = {"Idempotency-Key": "same"}
    api.post("/webhooks", json=VALID, headers=headers)
    api.post("/webhooks", json=VALID, headers=headers, token=other)
    assert _count() == 2


def test_a_request_still_being_answered_is_refused_with_409(api):
    api.post("/webhooks", json=VALID, headers={"Idempotency-Key": "busy"})
    db.session.execute(db.update(IdempotentRequest).values(status=None))  # as if in flight
    db.session.commit()
    response = api.post("/webhooks", json=VALID, headers={"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert _count() == 1


def test_refusals_are_replayed_but_a_key_that_failed_on_our_side_is_freed(api, app, monkeypatch):
    headers = {"Idempotency-Key": "bad-1"}
    first = api.post("/webhooks", json={**VALID, "url": "http://x"}, headers=headers)
    assert first.status_code == 422
    assert api.post("/webhooks", json={**VALID, "url": "http://x"}, headers=headers).headers[
        "Idempotent-Replayed"] == "true"
    def broken(*args):
        raise RuntimeError("database went away")
    monkeypatch.setattr(api_webhooks.lifecycle, "create", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    headers = {"Idempotency-Key": "k-500"}
    assert api.post("/webhooks", json=VALID, headers=headers).status_code == 500
    monkeypatch.undo()
    assert api.post("/webhooks", json=VALID, headers=headers).status_code == 201


def test_a_malformed_key_is_refused(api):
    response = api.post("/webhooks", json=VALID, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 400
    assert set(messages(response)) == {"Idempotency-Key"}


def test_after_the_limit_a_key_gets_429_with_retry_after(make_app):
    app = make_app(WEBHOOKS_API_RATE_LIMIT="3 per minute")
    with app.app_context():
        org = Factory().org("acme")
        _, token = apikeys.create(org, "Busy", ApiKey.READ)
        _, calm = apikeys.create(org, "Calm", ApiKey.READ)
    client = app.test_client()
    answers = [client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"})
               for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "Retry-After" not in answers[0].headers
    assert set(limited.get_json()) == {"errors"} and "3 per 1 minute" in limited.get_json()[
        "errors"][0]["message"]
    other = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {calm}"})
    assert other.status_code == 200  # counted per key


@pytest.mark.parametrize("data, content_type, status, words", [
    (b"{", "application/json", 400, "The body is not valid JSON"),
    (b'{"name": "a", "name": "b"}', "application/json", 400, "appears twice"),
    (b"[1]", "application/json", 400, "must be a JSON object"),
    (b'{"name": NaN}', "application/json", 400, "not valid JSON"),
    (b"name=x", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    (b"\xff\xfe{}", "application/json", 400, "UTF-8"),
])
def test_unreadable_bodies_are_refused_precisely(api, data, content_type, status, words):
    response = api.post("/webhooks", data=data, content_type=content_type)
    assert response.status_code == status
    assert words in messages(response)[""]
    assert _count() == 0


def test_a_body_over_the_limit_gets_413(api):
    response = api.post("/webhooks", data=b"{" + b" " * 300_000 + b"}",
                        content_type="application/json")
    assert response.status_code == 413
    assert "larger than" in messages(response)[""]


def test_unknown_routes_and_methods_answer_in_json(api):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and messages(missing) == {"": "Not found."}
    wrong = api.call("PUT", "/webhooks")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    assert set(wrong.get_json()) == {"errors"}


def test_the_openapi_document_is_public_and_describes_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, methods in document["paths"].items()
                  for method in methods}
    api_routes = {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
                  for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
                  and rule.endpoint not in ("api.openapi_document", "api.reference")
                  for method in rule.methods & {"GET", "POST", "PATCH", "DELETE"}}
    assert len(api_routes) >= 15 and api_routes == documented
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_reference_page_is_rendered_from_the_document(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ("API reference", "/api/v1/webhooks/{webhook_id}/deliveries", "Rotate",
                  "Idempotency-Key", "WebhookCreate", "openapi.json"):
        assert words in html

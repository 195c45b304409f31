"""Custom headers end to end, on both queue backends: saved through the form, sent with their
values to a real HTTPS receiver, stored and shown masked."""
import json

import pytest

from tests.integration.conftest import both_backends
from tests.support.deliveries import attempts_of, raise_event, wait_for_state
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook
from webhooks.signing import MASK

pytestmark = [pytest.mark.https, pytest.mark.slow]

SECRET = "sk_live_9d1e4b7a20"
TENANT = "tenant-5521"


@pytest.fixture
def client(owner_client):
    return owner_client


def add_webhook(client, url, **fields):
    """Add a webhook through the form, then turn it on without a test event; return it."""
    response = client.post("/orgs/acme/webhooks/new", data={
        "name": "CRM", "url": url, "auth_type": "none", "event_types": ["job.created"], **fields})
    assert response.status_code == 302, response.get_data(as_text=True)
    webhook = db.session.scalars(db.select(Webhook)).one()
    webhook.is_active = True
    db.session.commit()
    return webhook


@both_backends
def test_custom_headers_arrive_with_their_values_and_are_stored_masked(client, receiver):
    webhook = add_webhook(client, receiver.url, **{
        "headers-0-name": "X-Api-Key", "headers-0-value": SECRET,
        "headers-1-name": "X-Tenant", "headers-1-value": TENANT})

    delivery_id = raise_event(webhook)

    wait_for_state(delivery_id, Delivery.SUCCEEDED)
    [received] = receiver.requests
    assert received.headers["x-api-key"] == SECRET and received.headers["x-tenant"] == TENANT
    assert received.headers["content-type"] == "application/json"  # the service's own stay
    [attempt] = attempts_of(delivery_id)
    shown = dict(attempt.request_headers)
    assert shown["X-Api-Key"] == MASK and shown["X-Tenant"] == MASK
    assert shown["webhook-id"] == received.headers["webhook-id"]
    assert SECRET not in json.dumps(attempt.request_headers)
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<th scope="row">X-Api-Key</th><td>{MASK}</td>' in text
    assert SECRET not in text and TENANT not in text


@both_backends
def test_an_edit_that_keeps_a_value_sends_the_stored_one(client, receiver):
    webhook = add_webhook(client, receiver.url, **{
        "headers-0-name": "X-Api-Key", "headers-0-value": SECRET})
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/settings", data={
        "name": "CRM", "url": receiver.url, "auth_type": "none", "event_types": ["job.created"],
        "headers-0-name": "X-Api-Key", "headers-0-value": "",
        "headers-1-name": "X-Region", "headers-1-value": "eu-west"})
    assert response.status_code == 302

    delivery_id = raise_event(webhook)

    wait_for_state(delivery_id, Delivery.SUCCEEDED)
    [received] = receiver.requests
    assert (received.headers["x-api-key"], received.headers["x-region"]) == (SECRET, "eu-west")

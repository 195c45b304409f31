"""Rotating a webhook's signing secret from the Signing secret tab, end to end on both queue
backends: a real HTTPS receiver verifies each delivery with the standardwebhooks library, with
the previous secret and with the new one while they overlap, with the new one alone after."""
import re
from datetime import timedelta

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.integration.conftest import both_backends
from tests.support.deliveries import raise_event, wait_for_state
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook, utcnow

pytestmark = [pytest.mark.https, pytest.mark.slow]

SECRET = re.compile(r'id="signing-secret-value">(whsec_[A-Za-z0-9+/=]+)<')


@pytest.fixture
def client(owner_client):
    return owner_client


@pytest.fixture
def webhook(client, receiver):
    response = client.post("/orgs/acme/webhooks/new", data={
        "name": "CRM", "url": receiver.url, "auth_type": "none", "event_types": ["job.created"]})
    assert response.status_code == 302, response.get_data(as_text=True)
    webhook = db.session.scalars(db.select(Webhook)).one()
    webhook.is_active = True
    db.session.commit()
    return webhook


def rotate(client, webhook, grace_hours):
    """Rotate through the tab's form; return the new secret the answer shows."""
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/signing-secret/rotate",
                           data={"grace_hours": str(grace_hours)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return SECRET.search(response.get_data(as_text=True)).group(1)


def delivered(webhook, receiver):
    """Raise an event, wait until the receiver has it; return (body, headers) as received."""
    before = len(receiver.requests)
    wait_for_state(raise_event(webhook), Delivery.SUCCEEDED)
    received = receiver.requests[before]
    return received.body, received.headers


def verifies(secret, body, headers):
    try:
        StandardWebhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


@both_backends
def test_both_secrets_verify_during_the_overlap_and_only_the_new_one_after_it_expires(
        client, webhook, receiver):
    old = webhook.signing_secret
    body, headers = delivered(webhook, receiver)
    assert verifies(old, body, headers) and len(headers["webhook-signature"].split()) == 1

    new = rotate(client, webhook, 24)

    assert new != old
    body, headers = delivered(webhook, receiver)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verifies(old, body, headers) and verifies(new, body, headers)
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}/signing-secret").get_data(as_text=True)
    assert "Stop signing with the previous secret" in page and "Previous secret" in page

    db.session.refresh(webhook)
    webhook.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    body, headers = delivered(webhook, receiver)
    assert len(headers["webhook-signature"].split()) == 1
    assert verifies(new, body, headers) and not verifies(old, body, headers)
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}/signing-secret").get_data(as_text=True)
    assert "Stop signing with the previous secret" not in page


@both_backends
def test_stopping_the_previous_secret_ends_the_overlap_at_once(client, webhook, receiver):
    old = webhook.signing_secret
    new = rotate(client, webhook, 168)
    body, headers = delivered(webhook, receiver)
    assert verifies(old, body, headers) and verifies(new, body, headers)

    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/signing-secret/stop-previous")

    assert response.status_code == 302
    body, headers = delivered(webhook, receiver)
    assert verifies(new, body, headers) and not verifies(old, body, headers)
    assert "no longer signs deliveries" in client.get(response.location).get_data(as_text=True)


@both_backends
def test_a_rotation_without_overlap_signs_only_with_the_new_secret(client, webhook, receiver):
    old = webhook.signing_secret
    new = rotate(client, webhook, 0)

    body, headers = delivered(webhook, receiver)

    assert verifies(new, body, headers) and not verifies(old, body, headers)

"""The Signing secret tab's rotation: the form and its grace periods, the new secret shown like a
reveal, when the previous secret stops signing, and ending the overlap early."""
import re
from datetime import timedelta

import pytest
from flask import current_app

from webhooks import crypto, secret_rotation
from webhooks.extensions import db
from webhooks.models import utcnow

SECRET = re.compile(r'id="signing-secret-value">(whsec_[A-Za-z0-9+/=]+)<')
STOP = "Stop signing with the previous secret"


@pytest.fixture
def webhook(owner, factory):
    return factory.webhook(owner)


def tab(client, webhook):
    return client.get(f"/orgs/acme/webhooks/{webhook.id}/signing-secret").get_data(as_text=True)


def rotate(client, webhook, **form):
    return client.post(f"/orgs/acme/webhooks/{webhook.id}/signing-secret/rotate", data=form)


def stop_previous(client, webhook):
    return client.post(f"/orgs/acme/webhooks/{webhook.id}/signing-secret/stop-previous",
                       follow_redirects=True)


def test_the_tab_offers_each_grace_period_with_a_day_chosen(client, webhook):
    page = tab(client, webhook)
    assert "Rotate secret</button>" in page
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]+)</option>', page)
    assert [(hours, label) for hours, _, label in options] == [
        ("0", "No overlap: stop the current secret now"), ("1", "1 hour"), ("24", "24 hours"),
        ("72", "3 days"), ("168", "7 days")]
    assert [hours for hours, selected, _ in options if selected] == ["24"]
    assert STOP not in page and webhook.signing_secret not in page


def test_rotating_shows_the_new_secret_once_and_keeps_the_previous_one_signing(client, webhook):
    old = webhook.signing_secret

    response = rotate(client, webhook, grace_hours="72")

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    new = SECRET.search(page).group(1)
    db.session.refresh(webhook)
    assert new == webhook.signing_secret != old and old not in page
    keys = crypto.credential_keys(current_app.config)
    assert crypto.decrypt(keys, webhook.previous_secret_encrypted) == old
    expires = webhook.previous_secret_expires_at
    assert expires - utcnow() == pytest.approx(timedelta(hours=72), abs=timedelta(minutes=1))
    assert "This is the new secret" in page and "Both secrets sign every delivery" in page
    shown = expires.strftime("%Y-%m-%d %H:%M")
    assert "<dt>Previous secret</dt><dd>Signs until" in page and shown in page
    assert STOP in page
    # Later visits keep the secret masked and still say until when the previous one signs.
    later = tab(client, webhook)
    assert new not in later and STOP in later and shown in later


def test_a_rotation_without_overlap_forgets_the_previous_secret(client, webhook):
    rotate(client, webhook, grace_hours="24")

    page = rotate(client, webhook, grace_hours="0").get_data(as_text=True)

    db.session.refresh(webhook)
    assert (webhook.previous_secret_encrypted, webhook.previous_secret_expires_at) == (None, None)
    assert "The previous secret no longer signs deliveries" in page and STOP not in page


@pytest.mark.parametrize("grace", ["", "5", "-1", "1000", "abc"])
def test_a_grace_period_the_form_does_not_offer_means_the_default(client, webhook, grace):
    rotate(client, webhook, grace_hours=grace)
    db.session.refresh(webhook)
    left = webhook.previous_secret_expires_at - utcnow()
    assert left == pytest.approx(secret_rotation.DEFAULT_GRACE, abs=timedelta(minutes=1))


def test_stopping_the_previous_secret_ends_the_overlap(client, webhook):
    rotate(client, webhook, grace_hours="168")

    page = stop_previous(client, webhook).get_data(as_text=True)

    db.session.refresh(webhook)
    assert secret_rotation.previous_expires_at(webhook) is None
    assert webhook.previous_secret_encrypted is None
    assert "The previous secret no longer signs deliveries." in page and STOP not in page
    assert "<dt>Previous secret</dt>" not in page


def test_stopping_when_nothing_overlaps_says_so(client, webhook):
    page = stop_previous(client, webhook).get_data(as_text=True)
    assert "The previous secret had already stopped signing." in page


def test_an_expired_previous_secret_is_no_longer_mentioned(client, webhook):
    rotate(client, webhook, grace_hours="1")
    db.session.refresh(webhook)
    webhook.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    page = tab(client, webhook)

    assert STOP not in page and "<dt>Previous secret</dt>" not in page


def test_the_signing_secrets_are_the_current_one_and_the_previous_one_while_it_lasts(webhook):
    before = webhook.signing_secret
    assert secret_rotation.signing_secrets(webhook) == [before]
    secret_rotation.rotate(webhook, timedelta(hours=1))
    assert secret_rotation.signing_secrets(webhook) == [webhook.signing_secret, before]
    later = utcnow() + timedelta(hours=2)
    assert secret_rotation.signing_secrets(webhook, now=later) == [webhook.signing_secret]
    secret_rotation.stop_previous(webhook)
    assert secret_rotation.signing_secrets(webhook) == [webhook.signing_secret]

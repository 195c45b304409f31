"""Rotating a webhook's signing secret without downtime: the new secret signs at once and the
previous one keeps signing beside it (two signatures in webhook-signature, as Standard Webhooks
allows) until its grace period ends or someone ends it early (after a leak)."""
from datetime import timedelta

from . import audit, crypto
from .extensions import db
from .models import utcnow

DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)
# The choices the Signing secret tab offers (hours); the API takes any whole number of hours.
GRACE_CHOICES = ((0, "No overlap: stop the current secret now"), (1, "1 hour"),
                 (24, "24 hours"), (72, "3 days"), (168, "7 days"))


def rotate(webhook, grace=DEFAULT_GRACE):
    """Give the webhook a new signing secret; the current one keeps signing for grace (none
    when grace is zero). Commits; returns the new secret."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValueError("the grace period must be between 0 and 7 days")
    now = utcnow()
    if grace:
        webhook.previous_secret_encrypted = webhook.secret_encrypted
        webhook.previous_secret_expires_at = now + grace
    else:
        _forget_previous(webhook)
    secret = crypto.new_signing_secret()
    webhook.signing_secret = secret
    audit.record(webhook.organization_id, "secret.rotated", webhook=webhook,
                 details={"grace_period_hours": grace // timedelta(hours=1)})
    db.session.commit()
    return secret


def stop_previous(webhook):
    """End the overlap now: only the current secret signs from the next attempt on. Commits;
    returns whether a previous secret was still signing."""
    was_signing = previous_expires_at(webhook) is not None
    _forget_previous(webhook)
    if was_signing:
        audit.record(webhook.organization_id, "secret.previous_stopped", webhook=webhook)
    db.session.commit()
    return was_signing


def revealed(webhook):
    """Record that someone is shown the webhook's signing secret. Commits."""
    audit.record(webhook.organization_id, "secret.revealed", webhook=webhook)
    db.session.commit()


def previous_expires_at(webhook, now=None):
    """When the previous secret stops signing, or None when it no longer does."""
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret_encrypted and expires and expires > (now or utcnow()):
        return expires
    return None


def signing_secrets(webhook, now=None):
    """The secrets that sign the webhook's deliveries now: the current one, and the previous one
    while its grace period lasts."""
    if previous_expires_at(webhook, now):
        return [webhook.signing_secret, webhook.previous_signing_secret]
    return [webhook.signing_secret]


def _forget_previous(webhook):
    webhook.previous_secret_encrypted = webhook.previous_secret_expires_at = None

"""What a person (in the UI or through the API) can do to a webhook and its deliveries: create
and edit it, turn it on or off, delete it, send it a test event, ask for a resend.

Each action changes the rows, records itself in the audit trail (webhooks.audit) in the same
transaction, commits, and hands what is due to the queue; callers only parse the request and
show the outcome. Cancelling locks the webhook row before its deliveries, the
same order recording takes (webhooks.recording), so the two never deadlock.
"""
from . import audit, catalog, events, metrics, queue, retention
from .extensions import db
from .models import Delivery, Webhook, utcnow

RESEND_NEEDS_ACTIVE = "Turn the webhook on to resend this event."
TEST_EVENT_NEEDS_ACTIVE = ("Turn the webhook on to send it a {event_type} test event; "
                           "while it is off it gets webhook.ping only.")


def create(webhook):
    """Save a new webhook (already filled in). Commits."""
    db.session.add(webhook)
    db.session.flush()
    audit.record(webhook.organization_id, "webhook.created", webhook=webhook,
                 details=audit.created_details(webhook))
    db.session.commit()


def update(webhook, apply):
    """Change the webhook's settings with apply(webhook); record what changed. Commits;
    returns the changes ([] when nothing did)."""
    before = audit.settings_of(webhook)
    apply(webhook)
    changes = audit.changes(before, audit.settings_of(webhook))
    if changes:
        audit.record(webhook.organization_id, "webhook.updated", webhook=webhook,
                     details={"changes": changes})
    db.session.commit()
    return changes


def activate(webhook):
    """Turn the webhook on and send it a test event; return the ping's delivery (None if it
    was already on).

    Its health starts afresh, and the time it was off is kept so that the events it missed
    can be offered (webhooks.recovery).
    """
    if webhook.is_active:
        return None
    now = utcnow()
    webhook.is_active, webhook.disabled_reason = True, None
    webhook.failing_since, webhook.failing_deliveries, webhook.disable_warned_at = None, 0, None
    if webhook.deactivated_at is not None:
        webhook.missed_from, webhook.missed_until = webhook.deactivated_at, now
    return _ping(webhook, "webhook.activated")


def _ping(webhook, action, event_type=catalog.PING.type):
    """Store a test event for the webhook, record action with it, commit, queue; return it."""
    delivery_id = events.store_test_event(webhook, event_type)
    details = {"event_type": event_type} if event_type != catalog.PING.type else None
    audit.record(webhook.organization_id, action, webhook=webhook, delivery_id=delivery_id,
                 details=details)
    db.session.commit()
    queue.submit([delivery_id])
    return db.session.get(Delivery, delivery_id)


def deactivate(webhook):
    """Turn the webhook off, cancelling its pending deliveries; return whether it was on."""
    if not webhook.is_active:
        return False
    _turn_off(webhook, Delivery.WEBHOOK_DEACTIVATED)
    audit.record(webhook.organization_id, "webhook.deactivated", webhook=webhook)
    db.session.commit()
    return True


def disable(webhook, reason):
    """Turn the webhook off automatically (webhooks.health), keeping why. Does not commit."""
    webhook.disabled_reason = reason
    _turn_off(webhook, f"{Delivery.WEBHOOK_DISABLED}: {reason}")
    audit.record(webhook.organization_id, "webhook.disabled", webhook=webhook,
                 details={"reason": reason}, actor=audit.SYSTEM)


def _turn_off(webhook, cancel_reason):
    webhook.is_active, webhook.deactivated_at = False, utcnow()
    webhook.missed_from = webhook.missed_until = None
    cancel_pending(webhook, cancel_reason)


def delete(webhook):
    """Delete the webhook and cancel its pending deliveries.

    A soft delete: the row stays, so cancelled deliveries keep their webhook and reason.
    """
    webhook.deleted_at = utcnow()
    webhook.is_active = False
    cancel_pending(webhook, Delivery.WEBHOOK_DELETED)
    audit.record(webhook.organization_id, "webhook.deleted", webhook=webhook)
    db.session.commit()


def test_event_refusal(webhook, event_type):
    """Return why the webhook cannot be sent a test event of event_type now, or None: any
    webhook gets a webhook.ping; the catalog's examples go to a webhook that is on."""
    if event_type not in catalog.BY_TYPE:
        return f"Unknown event type {event_type[:64]!r}."
    if not catalog.sendable(event_type, webhook.is_active):
        return TEST_EVENT_NEEDS_ACTIVE.format(event_type=event_type)
    return None


def send_test_event(webhook, event_type=catalog.PING.type):
    """Send the webhook a test event (see test_event_refusal, checked first); return its
    delivery."""
    return _ping(webhook, "test_event.sent", event_type)


def resend_refusal(webhook, delivery, event=None):
    """Return why delivery (of event, default its own) cannot be resent now, or None: a
    deactivated webhook gets pings only, and an event whose payload was removed (retention)
    cannot be sent again."""
    if (event or delivery.event).payload_removed:
        return retention.cannot_resend()
    if not catalog.sendable(delivery.event_type, webhook.is_active):
        return RESEND_NEEDS_ACTIVE
    return None


def request_resend(webhook, delivery):
    """Ask for one immediate manual attempt of delivery; return the refusal, or None when asked.

    The request is kept in the database (manual_requested_at): if the queue is away, the
    reconciler sends it.
    """
    refusal = resend_refusal(webhook, delivery)
    if refusal:
        return refusal
    delivery.manual_requested_at = utcnow()
    audit.record(webhook.organization_id, "delivery.resent", webhook=webhook,
                 delivery_id=delivery.id, details={"event_id": delivery.event.public_id,
                                                   "event_type": delivery.event_type})
    db.session.commit()
    queue.submit_manual(delivery.id)
    return None


def lock(webhook):
    """Lock the webhook's row for this transaction, before any of its deliveries (the order
    recording and claiming take too), and read it afresh."""
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(db.select(Webhook.id).where(Webhook.id == webhook.id).with_for_update())
    else:  # SQLite: the first write of a transaction takes the database's write lock
        db.session.execute(db.update(Webhook).where(Webhook.id == webhook.id)
                           .values(updated_at=Webhook.updated_at))
    db.session.refresh(webhook)


def cancel_pending(webhook, reason):
    """Cancel every pending delivery of the webhook, keeping the reason. Does not commit."""
    db.session.flush()  # the webhook row's change first: lock order webhook, then deliveries
    cancelled = db.session.execute(
        db.update(Delivery)
        .where(Delivery.webhook_id == webhook.id, Delivery.state == Delivery.PENDING)
        .values(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None,
                updated_at=utcnow())
    ).rowcount
    metrics.deliveries_cancelled(cancelled)

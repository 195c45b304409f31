"""What has been done to a webhook, newest first, from what the database already records:
its creation, every test event (the pings of Send test event and of turning it on), every
manual resend, bulk resend and replay, and its latest automatic turn-off. The Activity tab
shows it."""
from dataclasses import dataclass
from datetime import datetime

from . import catalog
from .extensions import db
from .models import Attempt, Delivery, Event, Recovery


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # created | test_event | resend | recovery | disabled
    text: str
    delivery_id: int | None = None
    tone: str | None = None  # ok | bad | None
    recovery_id: int | None = None


def _ping_outcome(delivery):
    if delivery.state == Delivery.SUCCEEDED:
        return f"succeeded ({delivery.last_status_code})", "ok"
    if delivery.state == Delivery.FAILED:
        answer = delivery.last_status_code or (delivery.last_error or "no response").rstrip(".")
        return f"failed ({answer})", "bad"
    if delivery.state == Delivery.CANCELLED:
        return "cancelled", None
    return "no response yet", None


def _test_events(webhook, limit):
    pings = db.session.scalars(
        db.select(Delivery).where(Delivery.webhook_id == webhook.id,
                                  Delivery.event_type == catalog.PING.type)
        .order_by(Delivery.id.desc()).limit(limit))
    for delivery in pings:
        outcome, tone = _ping_outcome(delivery)
        yield Entry(delivery.created_at, "test_event", f"Test event sent: {outcome}",
                    delivery.id, tone)


def _resends(webhook, limit):
    rows = db.session.execute(
        db.select(Attempt, Event.public_id).join(Delivery, Attempt.delivery_id == Delivery.id)
        .join(Event, Delivery.event_id == Event.id)
        .where(Delivery.webhook_id == webhook.id, Attempt.trigger == Attempt.MANUAL)
        .order_by(Attempt.id.desc()).limit(limit))
    for attempt, event_id in rows:
        if attempt.succeeded:
            outcome, tone = f"answered {attempt.response_status}", "ok"
        elif attempt.response_status is not None:
            outcome, tone = f"failed ({attempt.response_status})", "bad"
        else:
            outcome, tone = f"failed: {attempt.error or 'no response'}", "bad"
        yield Entry(attempt.started_at, "resend", f"Resent {event_id}: {outcome}",
                    attempt.delivery_id, tone)


def _recoveries(webhook, limit):
    found = db.session.scalars(db.select(Recovery).where(Recovery.webhook_id == webhook.id)
                               .order_by(Recovery.id.desc()).limit(limit))
    for recovery in found:
        what = (f"Replay of {recovery.total:,} missed events" if recovery.kind == Recovery.REPLAY
                else f"Bulk resend of {recovery.total:,} failed deliveries")
        who = f" by {recovery.created_by.email}" if recovery.created_by else ""
        cancelled = " (cancelled)" if recovery.cancelled_at else ""
        yield Entry(recovery.created_at, "recovery", f"{what} started{who}{cancelled}",
                    recovery_id=recovery.id)


def _turned_off(webhook):
    if webhook.disabled_reason and webhook.deactivated_at:
        yield Entry(webhook.deactivated_at, "disabled",
                    f"Turned off automatically: {webhook.disabled_reason}", tone="bad")


def of_webhook(webhook, limit=50):
    """Return at most limit entries, newest first."""
    entries = [Entry(webhook.created_at, "created", "Webhook created"),
               *_test_events(webhook, limit), *_resends(webhook, limit),
               *_recoveries(webhook, limit), *_turned_off(webhook)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]

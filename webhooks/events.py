"""Turn a business event into a stored envelope and one delivery per subscribed, active webhook."""
import json
import logging

from .extensions import db
from .ids import new_id
from .models import Delivery, Event, Webhook, utcnow
from . import queue

log = logging.getLogger(__name__)

PING_TYPE = "webhook.ping"


def isoformat(moment):
    """Return a UTC timestamp as 2026-11-28T10:00:00.123Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_event(org, event_type, data, host_event_id=None):
    """Return an unsaved Event whose payload is the exact JSON envelope to be sent."""
    event = Event(public_id=new_id("evt"), organization_id=org.id, type=event_type,
                  host_event_id=host_event_id, created_at=utcnow())
    envelope = {
        "id": event.public_id,
        "type": event_type,
        "created_at": isoformat(event.created_at),
        "organization_id": org.slug,
        "data": data,
    }
    event.payload = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return event


def subscribed_webhooks(org, event_type):
    """Return the organization's active, not deleted webhooks subscribed to event_type."""
    webhooks = db.session.scalars(
        db.select(Webhook).filter_by(organization_id=org.id, is_active=True, deleted_at=None)
    ).all()
    return [w for w in webhooks if w.subscribes_to(event_type)]


def new_delivery(event, webhook):
    return Delivery(event=event, webhook_id=webhook.id, organization_id=event.organization_id,
                    event_type=event.type, state=Delivery.PENDING, next_attempt_at=event.created_at)


def dispatch(deliveries):
    """Hand committed deliveries to the queue; on failure they stay due for the reconciler."""
    ids = [d.id for d in deliveries]
    if not ids:
        return
    try:
        queue.get_queue().submit(ids)
    except Exception:  # the rows are committed and due: the reconciler will pick them up
        log.exception("could not hand deliveries %s to the queue; the reconciler will", ids)


def send_ping(webhook):
    """Create, commit and dispatch a webhook.ping delivery to this one webhook."""
    data = {"webhook_id": webhook.id, "message": "Test event from Webhooks."}
    event = build_event(webhook.organization, PING_TYPE, data)
    delivery = new_delivery(event, webhook)
    db.session.add_all([event, delivery])
    db.session.commit()
    dispatch([delivery])
    return delivery

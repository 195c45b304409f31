"""Turn a business event into a stored envelope and one delivery per subscribed, active webhook."""
import json
import logging
from collections import namedtuple
from datetime import timezone

from sqlalchemy.exc import IntegrityError

from . import catalog, queue
from .extensions import db
from .ids import new_id
from .models import Delivery, Event, Organization, Webhook, utcnow

log = logging.getLogger(__name__)

# What ingest answers: the event's public id (None when nothing could be stored), how many
# deliveries it has, and whether it repeats an event already recorded under the host's id.
Recorded = namedtuple("Recorded", "event_id deliveries duplicate")


def isoformat(moment):
    """Return a UTC timestamp as 2026-11-28T10:00:00.123Z."""
    # Not strftime: its %Y writes year 1 as "1" on glibc, and RFC 3339 needs four digits.
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def envelope_json(envelope):
    """Serialize an envelope compactly, exactly as it is stored, signed and sent."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def build_event(org, event_type, data, host_event_id=None, occurred_at=None):
    """Return an unsaved Event whose payload is the exact JSON envelope to be sent.

    org needs only .id and .slug. occurred_at is the host's time of the business event;
    without one it is the moment the service accepted the event.
    """
    public_id, created_at = new_id("evt"), utcnow()
    return Event(public_id=public_id, organization_id=org.id, type=event_type,
                 host_event_id=host_event_id, created_at=created_at,
                 payload=envelope_payload(public_id, event_type, created_at, occurred_at, org.slug, data))


def envelope_payload(public_id, event_type, created_at, occurred_at, organization_slug, data):
    """Return the JSON text of an event's envelope."""
    return envelope_json({
        "id": public_id,
        "type": event_type,
        "created_at": isoformat(created_at),
        "occurred_at": isoformat(occurred_at or created_at),
        "organization_id": organization_slug,
        "data": data,
    })


def subscribed_webhooks(org, event_type):
    """Return the organization's active, not deleted webhooks subscribed to event_type."""
    webhooks = db.session.scalars(
        db.select(Webhook).filter_by(organization_id=org.id, is_active=True, deleted_at=None)
    ).all()
    return [w for w in webhooks if w.subscribes_to(event_type)]


def new_delivery(event, webhook):
    """Return an unsaved delivery of event to webhook (anything with an .id), due now."""
    return Delivery(public_id=new_id("msg"), event=event, webhook_id=webhook.id,
                    organization_id=event.organization_id, event_type=event.type,
                    state=Delivery.PENDING, next_attempt_at=event.created_at,
                    created_at=event.created_at, updated_at=event.created_at)


def submit(delivery_ids):
    """Hand committed delivery ids to the queue; on failure they stay due for the reconciler."""
    if not delivery_ids:
        return
    try:
        queue.get_queue().submit(list(delivery_ids))
    except Exception:  # the rows are committed and due: the reconciler will pick them up
        log.exception("could not hand deliveries %s to the queue; the reconciler will",
                      delivery_ids)


def dispatch(deliveries):
    """Hand committed deliveries to the queue; on failure they stay due for the reconciler."""
    submit([d.id for d in deliveries])


OrgRef = namedtuple("OrgRef", "id slug")
WebhookRef = namedtuple("WebhookRef", "id")


def _organization_and_targets(connection, slug, event_type):
    """Return (OrgRef, [WebhookRef]) for the slug in one query, or (None, []) if unknown."""
    orgs, hooks = Organization.__table__, Webhook.__table__
    rows = connection.execute(
        db.select(orgs.c.id, hooks.c.id, hooks.c.event_types)
        .outerjoin(hooks, (hooks.c.organization_id == orgs.c.id)
                   & hooks.c.is_active.is_(True) & hooks.c.deleted_at.is_(None))
        .where(orgs.c.slug == slug)
        .order_by(hooks.c.id)
    ).all()
    if not rows:
        return None, []
    targets = [WebhookRef(wid) for _, wid, types in rows if wid is not None and event_type in (types or ())]
    return OrgRef(rows[0][0], slug), targets


def _recorded_duplicate(org_id, host_event_id):
    """Return what the first event recorded under this host id answered, or None."""
    first = db.session.execute(
        db.select(Event.id, Event.public_id).filter_by(organization_id=org_id,
                                                      host_event_id=host_event_id)
    ).one_or_none()
    if first is None:
        return None
    event_pk, public_id = first
    count = db.session.scalar(
        db.select(db.func.count()).select_from(Delivery).filter_by(event_id=event_pk)
    )
    return Recorded(public_id, count, True)


def record(org_slug, event_type, data, host_event_id=None, occurred_at=None):
    """Store the event and its deliveries in one transaction, then hand them to the queue.

    Idempotent on (organization, host_event_id) through the unique constraint, so two
    requests racing with the same id still make one event. Rows are written with Core
    statements: the ORM's unit of work doubled the CPU cost of this, the hot path of ingest.
    """
    connection = db.session.connection()  # Core on the session's transaction: no ORM overhead
    org, targets = _organization_and_targets(connection, org_slug, event_type)
    if org is None:
        db.session.rollback()
        return Recorded(None, 0, False)
    public_id, now = new_id("evt"), utcnow()
    payload = envelope_payload(public_id, event_type, now, occurred_at, org.slug, data)
    event_table, delivery_table = Event.__table__, Delivery.__table__
    try:
        event_pk = connection.execute(
            db.insert(event_table).returning(event_table.c.id),
            {"public_id": public_id, "organization_id": org.id, "type": event_type,
             "host_event_id": host_event_id, "payload": payload, "created_at": now},
        ).scalar_one()
    except IntegrityError:
        db.session.rollback()
        recorded = _recorded_duplicate(org.id, host_event_id) if host_event_id else None
        db.session.rollback()
        if recorded is None:  # not a repeat (say, the organization was deleted meanwhile)
            raise
        return recorded
    ids = []
    if targets:
        ids = connection.execute(
            db.insert(delivery_table).returning(delivery_table.c.id, sort_by_parameter_order=True),
            [{"public_id": new_id("msg"), "event_id": event_pk, "webhook_id": target.id,
              "organization_id": org.id, "event_type": event_type, "state": Delivery.PENDING,
              "attempt_count": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
             for target in targets],
        ).scalars().all()
    db.session.commit()
    submit(ids)
    return Recorded(public_id, len(ids), False)


def send_ping(webhook):
    """Create, commit and dispatch a webhook.ping delivery to this one webhook."""
    data = {"webhook_id": webhook.id, "message": "Test event from Webhooks."}
    event = build_event(webhook.organization, catalog.PING.type, data)
    delivery = new_delivery(event, webhook)
    db.session.add_all([event, delivery])
    db.session.commit()
    dispatch([delivery])
    return delivery

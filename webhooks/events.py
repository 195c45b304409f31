"""Turn a business event into a stored envelope and one delivery per subscribed, active webhook."""
import json
from collections import namedtuple
from datetime import timezone

from sqlalchemy import ARRAY, BigInteger
from sqlalchemy.exc import IntegrityError

from . import catalog, queue
from .extensions import db
from .ids import new_id
from .models import Delivery, Event, Organization, Webhook, utcnow

# What ingest answers: the event's public id (None when nothing could be stored), how many
# deliveries it has, and whether it repeats an event already recorded under the host's id.
Recorded = namedtuple("Recorded", "event_id deliveries duplicate")
# What store wrote: the event's row id and public id, and its deliveries' ids in webhook order.
Stored = namedtuple("Stored", "event_pk public_id delivery_ids")


def isoformat(moment):
    """Return a UTC timestamp as 2026-11-28T10:00:00.123Z."""
    # Not strftime: its %Y writes year 1 as "1" on glibc, and RFC 3339 needs four digits.
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def envelope_json(envelope):
    """Serialize an envelope compactly, exactly as it is stored, signed and sent."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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


OrgRef = namedtuple("OrgRef", "id slug")

_orgs, _hooks = Organization.__table__, Webhook.__table__
# Built once: SQLAlchemy then reuses its compiled form and cache key on every request.
_TARGETS = (db.select(_orgs.c.id, _hooks.c.id, _hooks.c.event_types)
            .outerjoin(_hooks, (_hooks.c.organization_id == _orgs.c.id)
                       & _hooks.c.is_active.is_(True) & _hooks.c.deleted_at.is_(None))
            .where(_orgs.c.slug == db.bindparam("slug"))
            .order_by(_hooks.c.id))


def _organization_and_targets(connection, slug, event_type):
    """Return (OrgRef, [webhook id]) of the active webhooks subscribed to event_type, in one
    query; (None, []) for an unknown slug."""
    rows = connection.execute(_TARGETS, {"slug": slug}).all()
    if not rows:
        return None, []
    targets = [wid for _, wid, types in rows if wid is not None and event_type in (types or ())]
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


_events, _deliveries = Event.__table__, Delivery.__table__
_INSERT_EVENT = db.insert(_events).returning(_events.c.id)
_INSERT_DELIVERIES = db.insert(_deliveries).returning(_deliveries.c.id, sort_by_parameter_order=True)


def _event_and_deliveries_statement():
    """Return PostgreSQL's one INSERT of an event and its deliveries: the event in a
    data-modifying WITH, the deliveries from unnest() of two arrays (public id, webhook id)."""
    def param(name, column):
        return db.bindparam(name, type_=column.type)

    e, d = _events.c, _deliveries.c
    now, org_id, event_type = param("created_at", e.created_at), param("organization_id", e.organization_id), \
        param("type", e.type)
    event = (db.insert(_events)
             .values(public_id=param("public_id", e.public_id), organization_id=org_id, type=event_type,
                     host_event_id=param("host_event_id", e.host_event_id),
                     payload=param("payload", e.payload), created_at=now)
             .returning(e.id).cte("new_event"))
    targets = db.func.unnest(db.bindparam("delivery_public_ids", type_=ARRAY(d.public_id.type)),
                             db.bindparam("webhook_ids", type_=ARRAY(BigInteger))) \
        .table_valued("public_id", "webhook_id").render_derived()
    rows = db.select(targets.c.public_id, event.c.id, targets.c.webhook_id, org_id, event_type,
                     db.literal(Delivery.PENDING), db.literal(0), now, now, now) \
        .select_from(event).join(targets, db.true())
    return (db.insert(_deliveries)
            .from_select(["public_id", "event_id", "webhook_id", "organization_id", "event_type",
                          "state", "attempt_count", "next_attempt_at", "created_at", "updated_at"], rows)
            .returning(d.id, d.webhook_id, d.event_id).add_cte(event))


_INSERT_EVENT_AND_DELIVERIES = _event_and_deliveries_statement()


def store(connection, org, event_type, data, webhook_ids, host_event_id=None, occurred_at=None):
    """Insert an event and one pending delivery, due now, per webhook id; return a Stored.

    The one way events and deliveries are written (ingest, test events, tests and benchmarks),
    with Core statements on the session's transaction: the ORM's unit of work doubled the CPU
    cost of ingest. On PostgreSQL it is one statement, so it is atomic even on an autocommit
    connection (see accept). org needs only .id and .slug. occurred_at is the host's time of
    the business event; without one it is the moment the service accepted the event. Raises
    IntegrityError when the organization already has an event under host_event_id. Does not
    commit.
    """
    public_id, now = new_id("evt"), utcnow()
    event = {"public_id": public_id, "organization_id": org.id, "type": event_type,
             "host_event_id": host_event_id, "created_at": now,
             "payload": envelope_payload(public_id, event_type, now, occurred_at, org.slug, data)}
    if webhook_ids and connection.dialect.name == "postgresql":
        rows = connection.execute(_INSERT_EVENT_AND_DELIVERIES, {
            **event, "delivery_public_ids": [new_id("msg") for _ in webhook_ids],
            "webhook_ids": list(webhook_ids)}).all()
        by_webhook = {webhook_id: delivery_id for delivery_id, webhook_id, _ in rows}
        return Stored(rows[0].event_id, public_id, [by_webhook[w] for w in webhook_ids])
    event_pk = connection.execute(_INSERT_EVENT, event).scalar_one()
    delivery_ids = []
    if webhook_ids:
        delivery_ids = connection.execute(
            _INSERT_DELIVERIES,
            [{"public_id": new_id("msg"), "event_id": event_pk, "webhook_id": webhook_id,
              "organization_id": org.id, "event_type": event_type, "state": Delivery.PENDING,
              "attempt_count": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
             for webhook_id in webhook_ids],
        ).scalars().all()
    return Stored(event_pk, public_id, delivery_ids)


def _ingest_connection():
    """Return the connection ingest works on: the session's, and on PostgreSQL, when no
    transaction is open yet, in autocommit mode. There the look-up and the one INSERT (see
    store) are each atomic on their own, as they need to be (the look-up already saw
    committed rows only), and an event costs two round trips instead of five: no BEGIN, no
    COMMIT."""
    if db.session().in_transaction() or db.engine.dialect.name != "postgresql":
        return db.session.connection()
    return db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def accept(org_slug, event_type, data, host_event_id=None, occurred_at=None):
    """Store an event from the host and its deliveries atomically, then queue them.

    Idempotent on (organization, host_event_id) through the unique constraint, so two
    requests racing with the same id still make one event.
    """
    connection = _ingest_connection()  # Core, not the ORM: see store
    org, targets = _organization_and_targets(connection, org_slug, event_type)
    if org is None:
        db.session.rollback()
        return Recorded(None, 0, False)
    try:
        stored = store(connection, org, event_type, data, targets,
                       host_event_id, occurred_at)
    except IntegrityError:
        db.session.rollback()
        recorded = _recorded_duplicate(org.id, host_event_id) if host_event_id else None
        db.session.rollback()
        if recorded is None:  # not a repeat (say, the organization was deleted meanwhile)
            raise
        return recorded
    db.session.commit()
    queue.submit(stored.delivery_ids)
    return Recorded(stored.public_id, len(stored.delivery_ids), False)


def store_test_event(webhook, event_type=catalog.PING.type):
    """Store a test event for this one webhook: a webhook.ping, or the catalog's example of
    event_type; return its delivery's id. Does not commit."""
    if event_type == catalog.PING.type:
        data = {"webhook_id": webhook.id, "message": "Test event from Webhooks."}
    else:
        data = catalog.BY_TYPE[event_type].example
    stored = store(db.session.connection(), webhook.organization, event_type, data, [webhook.id])
    return stored.delivery_ids[0]

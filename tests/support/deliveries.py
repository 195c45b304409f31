"""Events and deliveries for tests, written the way ingest writes them (webhooks.events.store),
then put into whatever state a test needs; and reading them back from another process's work."""
from datetime import datetime, timedelta, timezone

from webhooks import events, queue
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery, Event

from .polling import wait_until

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def store_delivery(webhook, event_type="job.created", data=None):
    """Store and commit an event with one pending delivery, due now, to webhook; return it."""
    stored = events.store(db.session.connection(), webhook.organization, event_type,
                          data or {"job": {"id": "1"}}, [webhook.id])
    db.session.commit()
    return db.session.get(Delivery, stored.delivery_ids[0])


def raise_event(webhook, event_type="job.created"):
    """Store an event with one delivery to webhook and hand it to the queue, as ingest does;
    return the delivery's id."""
    delivery = store_delivery(webhook, event_type, {"job": {"id": "J-1"}})
    queue.submit([delivery.id])
    return delivery.id


def stored_delivery(webhook, event_type="job.created", state="succeeded", attempts=(), data=None,
                    created_at=None, **delivery_fields):
    """Store an event and its delivery in the given state, with the given attempts (dicts of
    Attempt fields, see ok_attempt), as if they had happened."""
    delivery = store_delivery(webhook, event_type, data or {"job": {"id": 1}})
    if created_at is not None:
        db.session.get(Event, delivery.event_id).created_at = created_at
        delivery.created_at = created_at
    delivery.state = state
    delivery.next_attempt_at = None if state != "pending" else delivery_fields.pop("next_attempt_at", T0)
    for name, value in delivery_fields.items():
        setattr(delivery, name, value)
    for number, fields in enumerate(attempts, start=1):
        db.session.add(_attempt(delivery, webhook, number, dict(fields)))
    if attempts and "attempt_count" not in delivery_fields:
        delivery.attempt_count = len(attempts)
        delivery.last_status_code = attempts[-1].get("response_status", 200)
        delivery.last_attempt_at = T0
    db.session.commit()
    return delivery


def _attempt(delivery, webhook, number, fields):
    start = fields.pop("started_at", T0 + timedelta(minutes=number))
    return Attempt(
        delivery_id=delivery.id, number=number, started_at=start,
        finished_at=start + timedelta(milliseconds=fields.get("duration_ms", 120)),
        **{"trigger": "automatic", "succeeded": True, "duration_ms": 120, "url": webhook.url,
           "request_headers": [["Content-Type", "application/json"]],
           "response_status": 200, "response_headers": [["Content-Type", "application/json"]],
           "response_body": '{"ok":true}', "response_body_size": 11, **fields})


def ok_attempt(**fields):
    return {"succeeded": True, "response_status": 200, **fields}


def failed_attempt(status=500, **fields):
    return {"succeeded": False, "response_status": status, "response_body": "oops",
            "response_body_size": 4, **fields}


def timeout_attempt(**fields):
    return {"succeeded": False, "response_status": None, "response_headers": None,
            "response_body": None, "response_body_size": None,
            "error": "Timed out after 15 s waiting for a response", **fields}


def delivery_count(webhook):
    return db.session.scalar(db.select(db.func.count()).select_from(Delivery)
                             .filter_by(webhook_id=webhook.id))


# -- Reading back what workers did ----------------------------------------------------------------

def fresh(delivery_id):
    db.session.rollback()  # end the read transaction so other processes' commits are visible
    return db.session.get(Delivery, delivery_id)


def attempts_of(delivery_id):
    db.session.rollback()
    return list(db.session.scalars(
        db.select(Attempt).filter_by(delivery_id=delivery_id).order_by(Attempt.number)))


def wait_for_state(delivery_id, state, timeout=20):
    return wait_until(lambda: fresh(delivery_id).state == state and fresh(delivery_id),
                      timeout, message=f"delivery {delivery_id} to be {state}")


def wait_for_attempts(delivery_id, count, timeout=20):
    return wait_until(lambda: len(attempts_of(delivery_id)) >= count and attempts_of(delivery_id),
                      timeout, message=f"{count} attempts of delivery {delivery_id}")

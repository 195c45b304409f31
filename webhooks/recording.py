"""Record what came back from attempts: store each attempt, move its delivery along the retry
schedule (or settle it), keep the webhook's latest response, unanswered streak, hourly
statistics and health, and release the leases, in one transaction per batch."""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import health, logs, metrics, stats
from .claims import Result
from .extensions import db
from .models import Attempt, Delivery, Recovery, Webhook, utcnow
from .signing import masked

_deliveries, _webhooks, _attempts = Delivery.__table__, Webhook.__table__, Attempt.__table__
_recoveries = Recovery.__table__
log = logs.get_logger(__name__)


def next_step(attempt_count, succeeded, finished_at, delays):
    """Return (state, next_attempt_at) after automatic attempt number attempt_count."""
    if succeeded:
        return Delivery.SUCCEEDED, None
    if attempt_count <= len(delays):
        return Delivery.PENDING, finished_at + timedelta(seconds=delays[attempt_count - 1])
    return Delivery.FAILED, None


def retry_delays():
    return tuple(current_app.config["WEBHOOKS_RETRY_DELAYS"])


def record(items):
    """Store the attempts of [(Claim, Outcome)], move each delivery along its schedule and release
    the leases, in one transaction; return a Result per item."""
    if not items:
        return []
    try:
        results, changes = _record(items)
        db.session.commit()
    except IntegrityError:
        # Two processes recorded the same delivery at once (a lease expired mid-request): the
        # attempt numbers collided. Record one by one; each takes the next free number.
        db.session.rollback()
        if len(items) > 1:
            return [result for item in items for result in record([item])]
        results, changes = _record(items)
        db.session.commit()
    metrics.attempts_recorded(items, results)
    _log(items, results)
    health.announce(changes)
    return results


def _log(items, results):
    """One line per attempt: ids, outcome and timing; never the URL, headers or bodies."""
    if not log.isEnabledFor(logging.INFO):
        return
    for (claim, outcome), result in zip(items, results):
        log.info("attempt recorded", delivery_id=claim.public_id, webhook_id=claim.webhook_id,
                 organization=claim.organization, event_type=claim.event_type,
                 trigger=claim.trigger, outcome="succeeded" if outcome.succeeded else "failed",
                 status=outcome.status, category=outcome.category,
                 duration_ms=outcome.duration_ms, delivery_state=result.state)


def _record(items):
    """Return ([Result] in the order of items, [health.Change]) without committing."""
    connection = db.session.connection()
    answer_order, items = items, sorted(items, key=lambda item: item[0].delivery_id)  # lock order
    _record_on_webhooks(connection, items)
    _insert_attempts(connection, items)
    results = {}
    automatic = [item for item in items if not item[0].manual]
    results.update(_advance_automatic(connection, automatic))
    for claim, outcome in items:
        if claim.manual:
            results[claim.delivery_id] = _settle_manual(connection, claim, outcome)
    stats.add(connection, [(claim, outcome, results[claim.delivery_id])
                           for claim, outcome in items])
    changes = health.observe(items, results)
    return [results[claim.delivery_id] for claim, _ in answer_order], changes


def _insert_attempts(connection, items):
    """Store each attempt under the delivery's next free number."""
    connection.execute(_INSERT_ATTEMPT, [{
        "d_id": claim.delivery_id, "delivery_id": claim.delivery_id, "trigger": claim.trigger,
        "succeeded": outcome.succeeded, "started_at": outcome.started_at,
        "finished_at": outcome.finished_at, "duration_ms": outcome.duration_ms, "url": claim.url,
        "request_headers": masked(claim.headers, claim.hidden_headers), "response_status": outcome.status,
        "response_headers": outcome.headers, "response_body": outcome.body,
        "response_body_size": outcome.body_size, "response_truncated": outcome.truncated,
        "error": outcome.error, "category": outcome.category,
        "certificate_expires_at": outcome.certificate_expires_at,
    } for claim, outcome in items])


# The statements of every batch are built once: building them cost more CPU than running them.
_INSERT_ATTEMPT = db.insert(_attempts).values(number=(
    db.select(db.func.coalesce(db.func.max(_attempts.c.number), 0) + 1)
    .where(_attempts.c.delivery_id == db.bindparam("d_id")).scalar_subquery()))


def _latest(outcome):
    """Return the bind values of a delivery's last_* columns after outcome."""
    return {"status": outcome.status, "error": outcome.summary, "at": outcome.started_at}


_d = _deliveries.c
_LAST_VALUES = {"last_status_code": db.bindparam("status", type_=_d.last_status_code.type),
                "last_error": db.bindparam("error", type_=_d.last_error.type),
                "last_attempt_at": db.bindparam("at", type_=_d.last_attempt_at.type)}
_OWNED_BY_LEASE = db.and_(_d.id == db.bindparam("d_id"),
                          _d.lease_until == db.bindparam("d_lease", type_=_d.lease_until.type))


_ADVANCE = (db.update(_deliveries).where(_OWNED_BY_LEASE, _d.state == Delivery.PENDING)
            .values(attempt_count=db.bindparam("count", type_=_d.attempt_count.type),
                    state=db.bindparam("new_state", type_=_d.state.type),
                    next_attempt_at=db.bindparam("due", type_=_d.next_attempt_at.type),
                    lease_until=None, updated_at=db.bindparam("now", type_=_d.updated_at.type),
                    **_LAST_VALUES))


def _advance_automatic(connection, items):
    """Move each delivery of an automatic attempt along its schedule; return {id: Result}."""
    if not items:
        return {}
    now, delays, results, rows = utcnow(), retry_delays(), {}, []
    stopped = _cancelled_recoveries(connection, items)
    for claim, outcome in items:
        count = claim.attempt_count + 1
        state, due = next_step(count, outcome.succeeded, outcome.finished_at, delays)
        if state == Delivery.PENDING and claim.recovery_id in stopped:
            state, due = Delivery.FAILED, None  # its replay was cancelled while it was sent
        rows.append({"d_id": claim.delivery_id, "d_lease": claim.lease, "count": count,
                     "new_state": state, "due": due, "now": now, **_latest(outcome)})
        results[claim.delivery_id] = Result(claim.delivery_id, sent=True, state=state,
                                            next_attempt_at=due, attempt_count=count, note="sent")
    # Cancelled (webhook turned off) while the attempt was in flight: it stays cancelled.
    owned = connection.execute(_ADVANCE, rows).rowcount
    if owned != len(rows):
        _release_overtaken(connection, rows, results)
    return results


def _cancelled_recoveries(connection, items):
    """Return the ids of the bulk resends and replays of items that were cancelled meanwhile."""
    ids = {claim.recovery_id for claim, _ in items if claim.recovery_id is not None}
    if not ids:
        return set()
    return set(connection.execute(
        db.select(_recoveries.c.id).where(_recoveries.c.id.in_(ids),
                                          _recoveries.c.cancelled_at.is_not(None))).scalars())


def _release_overtaken(connection, rows, results):
    """Some deliveries were cancelled or taken over meanwhile: release their leases, keep the
    last try, and make their Results say what they are now."""
    connection.execute(db.update(_deliveries).where(_OWNED_BY_LEASE)
                       .values(lease_until=None, **_LAST_VALUES), rows)
    current = connection.execute(
        db.select(_d.id, _d.state, _d.next_attempt_at, _d.attempt_count)
        .where(_d.id.in_([row["d_id"] for row in rows]))).all()
    for row in current:
        result = results[row.id]
        if (result.state, result.next_attempt_at) != (row.state, row.next_attempt_at):
            result.state, result.next_attempt_at = row.state, row.next_attempt_at
            result.attempt_count = row.attempt_count
            result.note = "sent; the delivery had meanwhile been cancelled or taken over"


def _settle_manual(connection, claim, outcome):
    """Record a manual attempt: a success settles the delivery, a failure changes no schedule."""
    latest = _latest(outcome)
    values = {"last_status_code": latest["status"], "last_error": latest["error"],
              "last_attempt_at": latest["at"], "lease_until": None}
    if outcome.succeeded:
        values.update(state=Delivery.SUCCEEDED, next_attempt_at=None, cancel_reason=None)
    connection.execute(db.update(_deliveries)
                       .where(_d.id == claim.delivery_id, _d.lease_until == claim.lease)
                       .values(**values, updated_at=utcnow()))
    # A second click while this attempt was in flight asks for another one: keep it.
    connection.execute(db.update(_deliveries)
                       .where(_d.id == claim.delivery_id,
                              _d.manual_requested_at == claim.requested_at)
                       .values(manual_requested_at=None))
    row = connection.execute(db.select(_d.state, _d.next_attempt_at, _d.attempt_count)
                             .where(_d.id == claim.delivery_id)).one()
    return Result(claim.delivery_id, sent=True, state=row.state,
                  next_attempt_at=row.next_attempt_at, attempt_count=row.attempt_count,
                  note="sent")


def _record_on_webhooks(connection, items):
    """Keep each webhook's most recent attempt (for the listing) and its unanswered streak.

    Runs first in the recording transaction and in webhook id order: the UI locks a webhook
    row before its deliveries (toggle, delete), so taking locks in the same order here means
    the two can never deadlock.
    """
    latest = {}
    for claim, outcome in sorted(items, key=lambda item: item[1].started_at):
        row = latest.setdefault(claim.webhook_id, {
            "w_id": claim.webhook_id, "keep": 1, "n": 0, "ok_at": None, "bad_at": None,
            "cert": None})
        if outcome.answered:  # any HTTP answer ends the streak
            row["keep"], row["n"] = 0, 0
        else:
            row["n"] += 1
        if outcome.succeeded:
            row["ok_at"] = outcome.started_at
            row["cert"] = outcome.certificate_expires_at or row["cert"]
        else:
            row["bad_at"] = outcome.started_at
        row.update(status=outcome.status, error=outcome.summary, at=outcome.started_at,
                   category=outcome.category)
    connection.execute(_LATEST_ON_WEBHOOK, [latest[webhook_id] for webhook_id in sorted(latest)])


def _latest_on_webhook_statement():
    w = _webhooks.c

    def latest_or_kept(name, column):
        return db.func.coalesce(db.bindparam(name, type_=column.type), column)

    return (db.update(_webhooks).where(w.id == db.bindparam("w_id"))
            .values(last_status_code=db.bindparam("status", type_=w.last_status_code.type),
                    last_error=db.bindparam("error", type_=w.last_error.type),
                    last_attempt_at=db.bindparam("at", type_=w.last_attempt_at.type),
                    last_category=db.bindparam("category", type_=w.last_category.type),
                    last_success_at=latest_or_kept("ok_at", w.last_success_at),
                    last_failure_at=latest_or_kept("bad_at", w.last_failure_at),
                    certificate_expires_at=latest_or_kept("cert", w.certificate_expires_at),
                    unanswered_streak=w.unanswered_streak * db.bindparam("keep", type_=db.Integer)
                    + db.bindparam("n", type_=db.Integer),
                    updated_at=w.updated_at))


_LATEST_ON_WEBHOOK = _latest_on_webhook_statement()

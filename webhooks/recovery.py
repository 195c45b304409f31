"""Sending again what an endpoint did not get: a bulk resend of its failed deliveries in a time
window, and a replay of the events it missed while it was turned off.

Both put deliveries back in the ordinary due queue (pending, due now) under a Recovery, so
they go through the per-endpoint cap and the fair claim like any attempt, keep their
`webhook-id`, are marked in Log History (Attempt.BULK_RESEND, Attempt.REPLAY), and survive a
restart. A bulk-resent delivery gets one more attempt (it had used its schedule); a replayed
one the rest of its schedule. Progress is counted from the deliveries; cancelling puts back
what was not sent yet.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, update

from . import audit, lifecycle, queue
from .extensions import db
from .models import Delivery, Event, Recovery, utcnow

CHUNK = 1000
# The offer to replay counts this many at most on a page view, so a long time off costs no more.
COUNT_LIMIT = 10_000
REPLAY_CANCELLED = "Replay was cancelled"
_OFF_REASONS = (Delivery.WEBHOOK_DEACTIVATED, f"{Delivery.WEBHOOK_DISABLED}%")


@dataclass(frozen=True)
class Window:
    """Which failed deliveries a bulk resend takes: created from start to end, of one type or all."""

    start: datetime
    end: datetime
    event_type: str | None = None


# --- Bulk resend of failed deliveries -------------------------------------------------------

def _payload_kept():
    """The delivery's event still has its payload (the retention purge has not removed it)."""
    return exists().where(Event.id == Delivery.event_id, Event.payload.is_not(None))


def _failed_in(webhook, window):
    conditions = [Delivery.webhook_id == webhook.id, Delivery.state == Delivery.FAILED,
                  Delivery.created_at >= window.start, Delivery.created_at < window.end,
                  _payload_kept()]
    if window.event_type:
        conditions.append(Delivery.event_type == window.event_type)
    return and_(*conditions)


def count_failed(webhook, window):
    """How many deliveries a bulk resend of window would send."""
    return db.session.scalar(select(func.count()).select_from(Delivery)
                             .where(_failed_in(webhook, window)))


def resend_failed(webhook, window, user=None):
    """Put the window's failed deliveries back on their way; return the Recovery."""
    lifecycle.lock(webhook)
    recovery = Recovery(webhook_id=webhook.id, kind=Recovery.RESEND, window_from=window.start,
                        window_to=window.end, event_type=window.event_type, created_by=user)
    db.session.add(recovery)
    db.session.flush()
    recovery.total = db.session.execute(
        update(Delivery).where(_failed_in(webhook, window))
        .values(state=Delivery.PENDING, next_attempt_at=utcnow(), recovery_id=recovery.id,
                updated_at=utcnow())).rowcount
    return _started(recovery)


def _started(recovery):
    webhook = recovery.webhook
    action = ("recovery.replay_started" if recovery.kind == Recovery.REPLAY
              else "recovery.resend_started")
    audit.record(webhook.organization_id, action, webhook=webhook, details={
        "recovery_id": recovery.id, "deliveries": recovery.total,
        "from": _iso(recovery.window_from), "to": _iso(recovery.window_to),
        "event_type": recovery.event_type})
    db.session.commit()
    first = db.session.scalar(select(Delivery.id).where(Delivery.recovery_id == recovery.id)
                              .limit(1))
    if first is not None:
        queue.submit([first])
    return recovery


# --- Replay of what a webhook missed while off ------------------------------------------------

def _missed_events(webhook):
    """Events of the webhook's types that arrived while it was off and have no delivery to it."""
    already = exists().where(Delivery.event_id == Event.id, Delivery.webhook_id == webhook.id)
    return (select(Event.id).where(
        Event.organization_id == webhook.organization_id,
        Event.created_at >= webhook.missed_from, Event.created_at < webhook.missed_until,
        Event.type.in_(webhook.event_types or ["-"]), Event.payload.is_not(None), ~already))


def _cancelled_while_off(webhook):
    """Deliveries that were waiting when it was turned off (and so were cancelled)."""
    return and_(Delivery.webhook_id == webhook.id, Delivery.state == Delivery.CANCELLED,
                Delivery.updated_at >= webhook.missed_from,
                Delivery.updated_at <= webhook.missed_until, _payload_kept(),
                or_(Delivery.cancel_reason == _OFF_REASONS[0],
                    Delivery.cancel_reason.like(_OFF_REASONS[1])))


def count_missed(webhook, limit=COUNT_LIMIT):
    """How many deliveries a replay would send, counting up to limit of each kind (0 when
    nothing is offered)."""
    if webhook.missed_from is None or not webhook.is_active:
        return 0
    new = select(func.count()).select_from(_missed_events(webhook).limit(limit).subquery())
    cancelled = select(func.count()).select_from(
        select(Delivery.id).where(_cancelled_while_off(webhook)).limit(limit).subquery())
    return db.session.scalar(new) + db.session.scalar(cancelled)


def replay_missed(webhook, user=None):
    """Send the webhook what it missed while off; return the Recovery (None: nothing offered,
    e.g. a second click)."""
    lifecycle.lock(webhook)
    if webhook.missed_from is None or not webhook.is_active:
        db.session.rollback()
        return None
    recovery = Recovery(webhook_id=webhook.id, kind=Recovery.REPLAY,
                        window_from=webhook.missed_from, window_to=webhook.missed_until,
                        created_by=user)
    db.session.add(recovery)
    db.session.flush()
    now = utcnow()
    total = db.session.execute(
        update(Delivery).where(_cancelled_while_off(webhook))
        .values(state=Delivery.PENDING, next_attempt_at=now, cancel_reason=None,
                recovery_id=recovery.id, updated_at=now)).rowcount
    after = 0
    while events := db.session.execute(
            select(Event.id, Event.type).where(Event.id.in_(_missed_events(webhook)),
                                               Event.id > after)
            .order_by(Event.id).limit(CHUNK)).all():
        db.session.add_all([Delivery(event_id=event_id, webhook_id=webhook.id,
                                     organization_id=webhook.organization_id,
                                     event_type=event_type, next_attempt_at=now,
                                     recovery_id=recovery.id)
                            for event_id, event_type in events])
        db.session.flush()
        total, after = total + len(events), events[-1][0]
    recovery.total = total
    dismiss_missed(webhook)
    return _started(recovery)


def dismiss_missed(webhook):
    """Stop offering the replay. Does not commit."""
    webhook.missed_from = webhook.missed_until = None


def dismiss(webhook):
    """Stop offering the replay because someone said so. Commits."""
    if webhook.missed_from is not None:
        audit.record(webhook.organization_id, "recovery.replay_dismissed", webhook=webhook)
    dismiss_missed(webhook)
    db.session.commit()


def _iso(moment):
    return moment.isoformat() if moment else None


# --- Progress and cancelling ----------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """A recovery's deliveries: sent means attempted since it started."""

    total: int
    sent: int
    succeeded: int  # sent, and succeeded
    failed: int  # sent, and failed again
    retrying: int  # sent, failed, another attempt due (a replay keeps its schedule)
    waiting: int  # not sent yet

    @property
    def not_sent(self):
        """What was not sent: still waiting, or put back by cancelling."""
        return self.total - self.sent

    @property
    def done(self):
        return self.waiting == 0 and self.retrying == 0

    @property
    def percent(self):
        return 100 if not self.total else round(100 * self.sent / self.total)


def progress(recovery):
    """Count the recovery's deliveries by where they are now."""
    d = Delivery
    sent_since = and_(d.last_attempt_at.is_not(None), d.last_attempt_at >= recovery.created_at)
    counts = {(state, bool(sent)): count for state, sent, count in db.session.execute(
        select(d.state, sent_since, func.count())
        .where(d.recovery_id == recovery.id).group_by(d.state, sent_since))}
    sent = sum(count for (_, was_sent), count in counts.items() if was_sent)
    return Progress(total=recovery.total, sent=sent,
                    succeeded=counts.get((Delivery.SUCCEEDED, True), 0),
                    failed=counts.get((Delivery.FAILED, True), 0),
                    retrying=counts.get((Delivery.PENDING, True), 0),
                    waiting=counts.get((Delivery.PENDING, False), 0))


def cancel(recovery):
    """Stop a recovery: what was not sent yet goes back to where it was (failed, or cancelled
    for a replay). Attempts in flight finish and are recorded, and get no retry after."""
    lifecycle.lock(recovery.webhook)
    now = utcnow()
    if recovery.kind == Recovery.RESEND:
        values = {"state": Delivery.FAILED}
    else:
        values = {"state": Delivery.CANCELLED, "cancel_reason": REPLAY_CANCELLED}
    db.session.execute(
        update(Delivery)
        .where(Delivery.recovery_id == recovery.id, Delivery.state == Delivery.PENDING,
               or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
        .values(next_attempt_at=None, updated_at=now, **values))
    recovery.cancelled_at = now
    audit.record(recovery.webhook.organization_id, "recovery.cancelled", webhook=recovery.webhook,
                 details={"recovery_id": recovery.id, "kind": recovery.kind})
    db.session.commit()


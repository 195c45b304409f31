"""How a webhook's endpoint has been doing: deliveries and attempts per period, in numbers.

Counted with aggregate queries (never by loading rows), so a busy webhook costs the same as an
idle one. The Health tab shows it.
"""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func

from .extensions import db
from .fairness import is_not_responding
from .models import Attempt, Delivery, utcnow

PERIODS = (("Last 24 hours", timedelta(hours=24)), ("Last 7 days", timedelta(days=7)))


@dataclass(frozen=True)
class Window:
    """One period's deliveries (by when their event arrived) and attempts (by when they started)."""

    label: str
    deliveries: int
    succeeded: int
    failed: int
    cancelled: int
    in_progress: int
    attempts: int
    attempts_failed: int
    average_ms: float | None
    slowest_ms: int | None

    @property
    def success_rate(self):
        """Succeeded deliveries among the finished ones, in percent; None when none finished."""
        finished = self.succeeded + self.failed
        return None if finished == 0 else 100 * self.succeeded / finished

    @property
    def success_rate_text(self):
        rate = self.success_rate
        if rate is None:
            return "No finished deliveries"
        return f"{rate:.0f} %" if rate in (0, 100) else f"{rate:.1f} %"


@dataclass(frozen=True)
class Health:
    windows: tuple
    responding: bool
    unanswered_streak: int
    last_success_at: object
    last_failure_at: object


def _count(state):
    return func.coalesce(func.sum(case((Delivery.state == state, 1), else_=0)), 0)


def _deliveries(webhook, since):
    row = db.session.execute(
        db.select(func.count(Delivery.id), _count(Delivery.SUCCEEDED), _count(Delivery.FAILED),
                  _count(Delivery.CANCELLED), _count(Delivery.PENDING))
        .where(Delivery.webhook_id == webhook.id, Delivery.created_at >= since)).one()
    return tuple(int(value) for value in row)


def _attempts_of(webhook):
    return (db.select().select_from(Attempt).join(Delivery, Attempt.delivery_id == Delivery.id)
            .where(Delivery.webhook_id == webhook.id))


def _attempts(webhook, since):
    failed = func.coalesce(func.sum(case((Attempt.succeeded.is_(False), 1), else_=0)), 0)
    row = db.session.execute(
        _attempts_of(webhook).add_columns(func.count(Attempt.id), failed,
                                          func.avg(Attempt.duration_ms), func.max(Attempt.duration_ms))
        .where(Attempt.started_at >= since)).one()
    count, failed, average, slowest = row
    return int(count), int(failed), None if average is None else float(average), slowest


def _window(webhook, label, since):
    deliveries, succeeded, failed, cancelled, pending = _deliveries(webhook, since)
    attempts, attempts_failed, average_ms, slowest_ms = _attempts(webhook, since)
    return Window(label, deliveries, succeeded, failed, cancelled, pending, attempts,
                  attempts_failed, average_ms, slowest_ms)


def _latest_attempt(webhook, succeeded):
    return db.session.scalar(_attempts_of(webhook).add_columns(func.max(Attempt.started_at))
                             .where(Attempt.succeeded.is_(succeeded)))


def of_webhook(webhook, now=None):
    """Return the webhook's Health as of now."""
    now = now or utcnow()
    return Health(
        windows=tuple(_window(webhook, label, now - length) for label, length in PERIODS),
        responding=not is_not_responding(webhook),
        unanswered_streak=webhook.unanswered_streak,
        last_success_at=_latest_attempt(webhook, True),
        last_failure_at=_latest_attempt(webhook, False),
    )

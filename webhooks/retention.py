"""Retention: what is kept, for how long, and the purge that removes the rest.

- After WEBHOOKS_PAYLOAD_RETENTION_DAYS (30) an event's payload goes, with its attempts'
  request headers and response headers and bodies; the rows stay (ids, type, times, status
  codes, durations, failure categories), so Log History still tells what happened.
- After WEBHOOKS_LOG_RETENTION_DAYS (90) the event, its deliveries and attempts go.
- After WEBHOOKS_AUDIT_RETENTION_DAYS (365) an audit entry goes.
- Idempotency-Key answers of the API after 24 hours, used sign-in links a day after expiry.

An event is left alone while any of its deliveries is busy: pending (a retry, a bulk resend,
a replay), asked to be resent, or in flight. The purge works in batches of BATCH rows, one
short transaction each, oldest first through indexes that shrink as it goes; so it can stop
anywhere (a crash, a time budget) and the next run simply goes on.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import click

from sqlalchemy import and_, delete, exists, func, or_, select, update

from .config import setting
from .extensions import db
from .models import (Attempt, AuditEntry, Delivery, Event, IdempotentRequest,
                     SignInLink, utcnow)

log = logging.getLogger(__name__)

# Events per batch, and how long to rest after a batch, as a multiple of its time: chosen with
# bench/purge.py, which shows ingest's p99 at 1.3x its quiet figure with these (5x with batches
# of 500 and no rest) while the purge still removes about 13,000 attempts a second.
BATCH = 100
YIELD_RATIO = 2.0
# A periodic run stops after this long (the next one goes on), within the RQ job's timeout:
# every 5 minutes by default, so about 4,000 attempts a second at the rate measured below.
RUN_BUDGET_SECONDS = 100
IDEMPOTENCY_KEEP = timedelta(hours=24)  # the API replays answers this long (api.idempotency.KEEP)
SIGN_IN_LINK_KEEP = timedelta(days=1)


def payload_days():
    return setting("WEBHOOKS_PAYLOAD_RETENTION_DAYS")


def removed_text():
    """How Log History and the API name a payload removed by the purge."""
    return f"Payload removed after {payload_days():g} days (retention)"


def cannot_resend():
    return f"{removed_text()}: this event cannot be sent again."


def cancel_reason():
    """Why a delivery whose payload went meanwhile was cancelled instead of sent."""
    return f"{removed_text()}: there was nothing left to send"


@dataclass(frozen=True)
class Cutoffs:
    """Everything created before these times is due for removal."""

    payloads: object
    logs: object
    audit: object
    idempotency: object
    sign_in_links: object


def cutoffs(now):
    days = timedelta(days=1)
    return Cutoffs(payloads=now - payload_days() * days,
                   logs=now - setting("WEBHOOKS_LOG_RETENTION_DAYS") * days,
                   audit=now - setting("WEBHOOKS_AUDIT_RETENTION_DAYS") * days,
                   idempotency=now - IDEMPOTENCY_KEEP, sign_in_links=now - SIGN_IN_LINK_KEEP)


def _busy(now):
    """A delivery the purge must not touch: still on its way, asked to be resent, or in flight."""
    # Never NULL (a NULL lease compared would make its negation NULL, i.e. false).
    return or_(Delivery.state == Delivery.PENDING, Delivery.manual_requested_at.is_not(None),
               and_(Delivery.lease_until.is_not(None), Delivery.lease_until > now))


def _idle(now):
    """An event none of whose deliveries is busy."""
    return ~exists().where(Delivery.event_id == Event.id, _busy(now))


def _logs_due(cut, now):
    """Events whose rows are due for deletion."""
    return and_(Event.created_at < cut.logs, _idle(now))


def _payload_due(cut, now):
    """Events whose payload is due for removal."""
    return and_(Event.payload.is_not(None), Event.created_at < cut.payloads, _idle(now))


# --- The steps: each removes at most `limit` of its rows in one transaction --------------------

def _remove_payloads(cut, now, limit):
    """Remove the payloads of the oldest events past the payload cutoff, and their attempts'
    headers and bodies; return (events, attempts) changed."""
    ids = db.session.scalars(select(Event.id).where(_payload_due(cut, now))
                             .order_by(Event.created_at).limit(limit)).all()
    if not ids:
        return 0, 0
    removed = db.session.scalars(
        update(Event).where(Event.id.in_(ids), _payload_due(cut, now))
        .values(payload=None, payload_removed_at=now).returning(Event.id)
        .execution_options(synchronize_session=False)).all()
    attempts = 0
    if removed:
        attempts = db.session.execute(
            update(Attempt)
            .where(Attempt.delivery_id.in_(select(Delivery.id)
                                           .where(Delivery.event_id.in_(removed))))
            .values(request_headers=None, response_headers=None, response_body=None)
            .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return len(removed), attempts


def _delete_logs(cut, now, limit):
    """Delete the oldest events past the log cutoff with their deliveries and attempts; return
    (events looked at, attempts deleted)."""
    ids = db.session.scalars(select(Event.id).where(_logs_due(cut, now))
                             .order_by(Event.created_at).limit(limit)).all()
    if not ids:
        return 0, 0
    # Lock the deliveries (PostgreSQL): a resend asked for meanwhile waits, then finds none.
    delivery_ids = db.session.scalars(
        select(Delivery.id).where(Delivery.event_id.in_(ids), ~_busy(now))
        .with_for_update()).all()
    attempts = 0
    if delivery_ids:
        attempts = db.session.execute(
            delete(Attempt).where(Attempt.delivery_id.in_(delivery_ids))
            .execution_options(synchronize_session=False)).rowcount
        db.session.execute(delete(Delivery).where(Delivery.id.in_(delivery_ids))
                           .execution_options(synchronize_session=False))
    db.session.execute(
        delete(Event).where(Event.id.in_(ids), ~exists().where(Delivery.event_id == Event.id))
        .execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids), attempts


def _oldest_rows(model, column, before, limit):
    """Delete the oldest rows of model whose column is before the cutoff; return how many."""
    ids = db.session.scalars(select(model.id).where(column < before)
                             .order_by(column).limit(limit)).all()
    if ids:
        db.session.execute(delete(model).where(model.id.in_(ids))
                           .execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids), 0


STEPS = (
    ("logs", _delete_logs),
    ("payloads", _remove_payloads),
    ("audit", lambda cut, now, limit: _oldest_rows(
        AuditEntry, AuditEntry.created_at, cut.audit, limit)),
    ("idempotency", lambda cut, now, limit: _oldest_rows(
        IdempotentRequest, IdempotentRequest.created_at, cut.idempotency, limit)),
    ("sign_in_links", lambda cut, now, limit: _oldest_rows(
        SignInLink, SignInLink.expires_at, cut.sign_in_links, limit)),
)


@dataclass
class Report:
    """What a purge removed (or, dry, would remove), by step: rows and attempts."""

    rows: dict = field(default_factory=dict)
    attempts: dict = field(default_factory=dict)
    finished: bool = True

    def add(self, name, rows, attempts):
        self.rows[name] = self.rows.get(name, 0) + rows
        self.attempts[name] = self.attempts.get(name, 0) + attempts


def purge(now=None, limit=BATCH, budget_seconds=None, yield_ratio=None):
    """Remove everything past its retention, batch by batch, oldest first; return a Report.

    With budget_seconds, stop once that much time has passed (finished=False): the next run
    goes on where this one stopped. After each batch it rests yield_ratio times as long as the
    batch took, leaving the database to ingest and delivery meanwhile.
    """
    yield_ratio = YIELD_RATIO if yield_ratio is None else yield_ratio
    now, started, report = now or utcnow(), time.monotonic(), Report()
    cut = cutoffs(now)
    for name, step in STEPS:
        while True:
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                report.finished = False
                return report
            batch_started = time.monotonic()
            rows, attempts = step(cut, now, limit)
            report.add(name, rows, attempts)
            if rows < limit:
                break
            time.sleep((time.monotonic() - batch_started) * yield_ratio)
    return report


def plan(now=None):
    """Count what purge(now) would remove, removing nothing; return a Report."""
    now = now or utcnow()
    cut, report = cutoffs(now), Report()
    count = lambda query: db.session.scalar(select(func.count()).select_from(query.subquery()))
    old_events = select(Event.id).where(_logs_due(cut, now))
    report.add("logs", count(old_events), count(
        select(Attempt.id).join(Delivery, Attempt.delivery_id == Delivery.id)
        .where(Delivery.event_id.in_(old_events))))
    # Those not deleted first by the log step.
    payload_events = select(Event.id).where(_payload_due(cut, now), Event.created_at >= cut.logs)
    report.add("payloads", count(payload_events), count(
        select(Attempt.id).join(Delivery, Attempt.delivery_id == Delivery.id)
        .where(Delivery.event_id.in_(payload_events))))
    report.add("audit", count(select(AuditEntry.id).where(AuditEntry.created_at < cut.audit)), 0)
    report.add("idempotency", count(select(IdempotentRequest.id)
                                    .where(IdempotentRequest.created_at < cut.idempotency)), 0)
    report.add("sign_in_links", count(select(SignInLink.id)
                                      .where(SignInLink.expires_at < cut.sign_in_links)), 0)
    db.session.rollback()
    return report


# How the command line and the log describe each step's rows: (done, dry run).
DESCRIPTIONS = {
    "logs": ("events deleted with their deliveries and attempts (log retention)",
             "events to delete with their deliveries and attempts (log retention)"),
    "payloads": ("payloads removed, with their attempts' headers and bodies (payload retention)",
                 "payloads to remove, with their attempts' headers and bodies (payload retention)"),
    "audit": ("audit entries deleted (audit retention)", "audit entries to delete (audit retention)"),
    "idempotency": ("Idempotency-Key answers deleted (kept 24 hours)",
                    "Idempotency-Key answers to delete (kept 24 hours)"),
    "sign_in_links": ("expired sign-in links deleted", "expired sign-in links to delete"),
}


def describe(report, dry_run=False):
    """Return lines telling what the report removed (or would remove)."""
    lines = []
    for name, _ in STEPS:
        rows, attempts = report.rows.get(name, 0), report.attempts.get(name, 0)
        text = DESCRIPTIONS[name][1 if dry_run else 0]
        extra = f" ({attempts:,} attempts)" if name in ("logs", "payloads") else ""
        lines.append(f"{rows:>10,}  {text}{extra}")
    if not report.finished:
        lines.append("Stopped at its time budget: the next run goes on from here.")
    return lines


def run_periodically():
    """The periodic purge (rq-scheduler's job, the inline queue's timer): a bounded run."""
    report = purge(budget_seconds=RUN_BUDGET_SECONDS)
    removed = {name: rows for name, rows in report.rows.items() if rows}
    if removed:
        log.info("retention purge removed %s%s", removed,
                 "" if report.finished else " (stopped at its time budget; continuing next run)")
    return report


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
def purge_command(dry_run):
    """Remove payloads, log rows and audit entries past their retention periods."""
    report = plan() if dry_run else purge()
    cut = cutoffs(utcnow())
    click.echo(f"Payloads kept {payload_days():g} days (events before "
               f"{cut.payloads:%Y-%m-%d %H:%M} UTC), log rows "
               f"{setting('WEBHOOKS_LOG_RETENTION_DAYS'):g} days, audit entries "
               f"{setting('WEBHOOKS_AUDIT_RETENTION_DAYS'):g} days.")
    click.echo("Dry run: nothing was removed." if dry_run else "Removed:")
    for line in describe(report, dry_run):
        click.echo(line)

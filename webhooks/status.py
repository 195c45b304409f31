"""How the work stands: deliveries waiting, unhealthy endpoints, the RQ queue, workers, the
scheduler's and the reconciler's last runs. /metrics exports it and `flask --app app status`
prints it (README: Operations).

The scheduler and the reconciler leave their last run in Redis (`record_scheduler_run`,
`record_reconciler_run`), so any process sees them, whichever host they ran on.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import and_, case, func, or_, select

from .extensions import db
from .fairness import NOT_RESPONDING_AFTER
from .models import Delivery, Webhook, utcnow

SCHEDULER_LAST_RUN_KEY = "webhooks:scheduler:last-run"
RECONCILER_LAST_RUN_KEY = "webhooks:reconciler:last-run"
RECONCILER_TOTALS_KEY = "webhooks:reconciler:totals"
RECONCILER_FINDS = ("enqueued", "scheduled", "resends", "health")


@dataclass
class Reconciler:
    last_run: datetime
    last_found: dict
    runs: int
    found: dict  # totals over every run since Redis was last emptied


@dataclass
class Worker:
    name: str
    state: str
    last_heartbeat: datetime | None


@dataclass
class Snapshot:
    now: datetime
    deliveries: dict  # due, scheduled, in_flight
    oldest_due_age: float | None  # seconds; None when nothing is due
    endpoints: dict  # slowed, not_responding, failing, disabled
    queue: dict | None = None  # RQ jobs by state; None with the inline queue
    workers: list = field(default_factory=list)
    scheduler_last_run: datetime | None = None
    reconciler: Reconciler | None = None
    redis_error: str | None = None


def snapshot():
    """Return the Snapshot of now (a Redis that cannot be reached is noted, not raised)."""
    now = utcnow()
    deliveries, oldest = _deliveries(now)
    result = Snapshot(now, deliveries, oldest, _endpoints())
    db.session.rollback()
    if current_app.config["WEBHOOKS_QUEUE"] == "rq":
        try:
            _read_redis(result)
        except Exception as error:  # redis.RedisError, OSError: reported by the caller
            result.queue, result.redis_error = None, f"{type(error).__name__}: {error}"
    return result


def _deliveries(now):
    d = Delivery.__table__.c
    held = and_(d.lease_until.is_not(None), d.lease_until >= now)
    due = and_(d.next_attempt_at <= now, ~held)
    row = db.session.execute(
        select(func.sum(case((due, 1), else_=0)),
               func.sum(case((and_(or_(d.next_attempt_at.is_(None), d.next_attempt_at > now),
                                   ~held), 1), else_=0)),
               func.sum(case((held, 1), else_=0)),
               func.min(case((due, d.next_attempt_at))))
        .where(d.state == Delivery.PENDING)).one()
    counts = {"due": row[0] or 0, "scheduled": row[1] or 0, "in_flight": row[2] or 0}
    oldest = (now - row[3]).total_seconds() if row[3] is not None else None
    return counts, oldest


def _endpoints():
    w = Webhook.__table__.c
    active = and_(w.is_active, w.deleted_at.is_(None))
    row = db.session.execute(select(
        func.sum(case((and_(active, w.unanswered_streak > 0,
                            w.unanswered_streak < NOT_RESPONDING_AFTER), 1), else_=0)),
        func.sum(case((and_(active, w.unanswered_streak >= NOT_RESPONDING_AFTER), 1), else_=0)),
        func.sum(case((and_(active, w.failing_since.is_not(None)), 1), else_=0)),
        func.sum(case((and_(~w.is_active, w.deleted_at.is_(None), w.disabled_reason.is_not(None)),
                       1), else_=0)),
    )).one()
    return dict(zip(("slowed", "not_responding", "failing", "disabled"),
                    (count or 0 for count in row)))


def _read_redis(result):
    from redis import Redis

    with Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5,
                        socket_connect_timeout=5) as connection:  # closed after each scrape
        _read_queue(result, connection)


def _read_queue(result, connection):
    from rq import Queue, Worker as RQWorker
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    from rq_scheduler import Scheduler

    from .queue import QUEUE_NAME

    queue = Queue(QUEUE_NAME, connection=connection)
    result.queue = {
        "queued": queue.count,
        "started": StartedJobRegistry(queue=queue).count,
        "failed": FailedJobRegistry(queue=queue).count,
        "scheduled": connection.zcard(Scheduler.scheduled_jobs_key),
    }
    result.workers = [Worker(worker.name, worker.get_state(), worker.last_heartbeat)
                      for worker in RQWorker.all(connection=connection)]
    result.scheduler_last_run = _timestamp(connection.get(SCHEDULER_LAST_RUN_KEY))
    result.reconciler = _reconciler(connection)


def _reconciler(connection):
    last = connection.hgetall(RECONCILER_LAST_RUN_KEY)
    if not last:
        return None
    totals = connection.hgetall(RECONCILER_TOTALS_KEY)

    def counts(values):
        return {kind: int(values.get(kind.encode(), 0)) for kind in RECONCILER_FINDS}

    return Reconciler(_timestamp(last.get(b"at")), counts(last), int(totals.get(b"runs", 0)),
                      counts(totals))


def _timestamp(value):
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def record_scheduler_run(connection):
    connection.set(SCHEDULER_LAST_RUN_KEY, time.time())


def record_reconciler_run(connection, found):
    """Keep a reconciler run: its time and findings, and the running totals."""
    counts = {kind: int(found.get(kind, 0)) for kind in RECONCILER_FINDS}
    with connection.pipeline() as pipe:
        pipe.hset(RECONCILER_LAST_RUN_KEY, mapping={"at": time.time(), **counts})
        pipe.hincrby(RECONCILER_TOTALS_KEY, "runs", 1)
        for kind, count in counts.items():
            pipe.hincrby(RECONCILER_TOTALS_KEY, kind, count)
        pipe.execute()


# --- flask --app app status ----------------------------------------------------------------------

def _age(moment, now):
    if moment is None:
        return "never"
    seconds = max(0, (now - moment).total_seconds())
    return f"{_duration(seconds)} ago"


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _table(title, rows):
    """Return the lines of a two-or-more-column table with a title row."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [title]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                                      for i, (cell, width) in enumerate(zip(row, widths))).rstrip())
    return lines


def report(s):
    """Return the lines `flask --app app status` prints for Snapshot s."""
    lines = _table("Deliveries", [
        ("due now, waiting for a sending slot", s.deliveries["due"]),
        ("due later (retries and scheduled)", s.deliveries["scheduled"]),
        ("in flight", s.deliveries["in_flight"]),
        ("oldest due", "none due" if s.oldest_due_age is None else _duration(s.oldest_due_age)),
    ])
    lines += [""] + _table("Endpoints", [
        ("slowed down (attempts unanswered)", s.endpoints["slowed"]),
        ("not responding (one attempt at a time)", s.endpoints["not_responding"]),
        ("failing", s.endpoints["failing"]),
        ("turned off automatically", s.endpoints["disabled"]),
    ])
    lines.append("")
    if current_app.config["WEBHOOKS_QUEUE"] != "rq":
        lines.append("Queue: inline (deliveries are sent by the web process; no Redis queue)")
        return lines
    if s.redis_error:
        lines.append(f"Queue: Redis cannot be reached ({s.redis_error})")
        return lines
    lines += _table("Queue (RQ)", [(f"deliveries: {state}" if state != "scheduled"
                                    else "rq-scheduler: scheduled jobs", count)
                                   for state, count in s.queue.items()])
    lines.append("")
    if s.workers:
        lines += _table("Workers", [("name", "state", "last heartbeat")] + [
            (worker.name, worker.state, _age(worker.last_heartbeat, s.now))
            for worker in s.workers])
    else:
        lines.append("Workers: none seen (start: python -m jobs.worker)")
    lines.append("")
    lines.append(f"Scheduler last run: {_age(s.scheduler_last_run, s.now)}")
    reconciler = s.reconciler
    if reconciler is None:
        lines.append("Reconciler last run: never")
    else:
        found = ", ".join(f"{kind} {count}" for kind, count in reconciler.last_found.items())
        lines.append(f"Reconciler last run: {_age(reconciler.last_run, s.now)} ({found}); "
                     f"{reconciler.runs} runs in all")
    return lines


@click.command("status")
@with_appcontext
def status_command():
    """Print the deliveries waiting, unhealthy endpoints, queue lengths, workers, and the
    scheduler's and reconciler's last runs."""
    s = snapshot()
    click.echo("\n".join(report(s)))

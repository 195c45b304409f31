"""The periodic reconciler: the database says what is due; put back what no queue holds."""
import time

from rq import Queue
from rq.job import Job, JobStatus
from rq_scheduler import Scheduler

from webhooks import claims, health, logs, status
from webhooks.config import setting
from webhooks.extensions import db
from webhooks.models import utcnow
from webhooks.queue import JOB_TIMEOUT, QUEUE_NAME, delivery_job_id, enqueue_manual, enqueue_wake

from .delivery import redis_connection, schedule, scheduler

log = logs.get_logger(__name__)

RECONCILER_ID = "webhooks-reconciler"
RECONCILE = "jobs.reconcile.reconcile"
# A job in one of these states will still run; anything else (missing after a Redis flush,
# failed, or "started" by a worker that died: its lease expired) no longer carries the work.
LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def interval_seconds():
    return setting("WEBHOOKS_RECONCILE_SECONDS")


def reconcile():
    """Wake a worker if due work waits that no queue holds; schedule what falls due before the
    next run; re-send stale resends; then sweep endpoint health (warnings, turning off).

    One wake-up is enough: the pump it wakes claims fairly among everything due, so deliveries
    held back by their webhook's cap need no message of their own (and get none every run).
    """
    started = time.perf_counter()
    connection = redis_connection()
    now, horizon = utcnow(), interval_seconds()
    due = claims.due_deliveries(now, horizon=horizon)
    job_ids = [delivery_job_id(delivery_id, count + 1) for delivery_id, _, count in due]
    existing = Job.fetch_many(job_ids, connection=connection) if job_ids else []
    queue = Queue(QUEUE_NAME, connection=connection)
    first_due, live_now, scheduled = None, False, 0
    for (delivery_id, at, _), job_id, job in zip(due, job_ids, existing):
        live = job is not None and job.get_status(refresh=False) in LIVE
        if at <= now:
            live_now = live_now or live
            first_due = first_due or (delivery_id, job_id)
        elif not live:
            schedule(delivery_id, at, job_id, connection)
            scheduled += 1
    enqueued = 0
    if first_due is not None and not live_now:  # else a wake-up is already on its way
        enqueue_wake(queue, *first_due)
        enqueued = 1
    resends = claims.requested_resends(now, older_than=horizon)
    for delivery_id in resends:
        enqueue_manual(queue, delivery_id)
    db.session.rollback()
    found = {"enqueued": enqueued, "scheduled": scheduled, "resends": len(resends),
             "health": _sweep_health()}
    status.record_reconciler_run(connection, found)
    log.info("reconciler run", **found, duration_ms=round((time.perf_counter() - started) * 1000))
    return found


def _sweep_health():
    """Return how many health changes the sweep made (a failure is logged, not raised: the
    reconciliation above is done)."""
    try:
        return len(health.sweep())
    except Exception:
        log.exception("the health sweep failed; the next run tries again")
        db.session.rollback()
        return 0


def ensure_registered(connection, interval):
    """Register the reconciler as a periodic rq-scheduler job unless it is there (e.g. after FLUSHALL)."""
    return register_periodic(connection, RECONCILER_ID, RECONCILE, interval)


def register_periodic(connection, job_id, func, interval):
    """Register func (a dotted path) to run every interval seconds under job_id, from now,
    unless it is registered; return whether it was not."""
    if connection.zscore(Scheduler.scheduled_jobs_key, job_id) is not None and \
            connection.exists(Job.key_for(job_id)):
        return False
    scheduler(connection).schedule(
        scheduled_time=utcnow(), func=func, interval=int(max(1, interval)),
        repeat=None, id=job_id, queue_name=QUEUE_NAME, timeout=JOB_TIMEOUT,
    )
    return True

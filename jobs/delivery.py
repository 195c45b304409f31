"""RQ jobs: wake the worker's pump for new work, and schedule the next attempts of deliveries."""
import os
from datetime import timedelta

from flask import current_app
from redis import Redis
from rq import get_current_job
from rq.job import Job
from rq_scheduler import Scheduler

from webhooks import claims
from webhooks.batch import Pump
from webhooks.config import setting
from webhooks.models import Delivery, utcnow
from webhooks.queue import (DELIVER, JOB_TIMEOUT, QUEUE_NAME, WAKE_PENDING_KEY, delivery_job_id,
                            due_time)

# A job that runs this much before its attempt is due (clock skew, rounding) is put back.
EARLY_SLACK = timedelta(seconds=5)
QUEUE_KEY = f"rq:queue:{QUEUE_NAME}"

_pump = None  # the worker process's long-lived pump (jobs.worker starts it)
_pump_pid = None


def use_pump(pump):
    """Make pump the one this process's jobs wake (None: each job runs a pump of its own)."""
    global _pump, _pump_pid
    _pump, _pump_pid = pump, os.getpid()


def make_pump(app, connection, keep=None):
    """Return a Pump for a worker process: it drops redundant messages (but keep's, the job
    running it) and schedules retries."""
    with app.app_context():
        slots = max(1, setting("WEBHOOKS_WORKER_THREADS", int))
    return Pump(app, slots=slots, name="webhooks-worker",
                on_claimed=lambda claimed: forget_messages(connection, claimed, keep=keep),
                on_recorded=lambda results: schedule_retries(connection, results))


def deliver(delivery_id):
    """Have this worker claim due deliveries (delivery_id among them, when its webhook's turn
    and cap allow) and send them; the database, not this message, says what is due."""
    connection = redis_connection()
    connection.delete(WAKE_PENDING_KEY)  # the next submit may enqueue a wake-up again
    if _pump is not None and _pump_pid == os.getpid() and _pump.running:
        _pump.wake()
        return "woke the pump"
    # No long-lived pump here (a worker forking per job): claim and send until idle.
    job = get_current_job()
    pump = make_pump(current_app._get_current_object(), connection,
                     keep=job.id if job is not None else None)
    try:
        results = pump.run_until_idle(seconds=setting("WEBHOOKS_BATCH_SECONDS"))
    finally:
        pump.stop()
    own = next((result for result in results if result.delivery_id == delivery_id), None)
    if own is None:
        own = claims.delivery_status(delivery_id)
        reschedule_if_early(own, connection)
    others = len(results) - (own in results)
    return f"{own.note}; {others} other deliveries" if others else own.note


def deliver_manual(delivery_id):
    """Send the manual attempt asked for in the UI (the pump claims requested resends first)."""
    return deliver(delivery_id)


def reschedule_if_early(status, connection):
    """Put a job back that ran before its attempt was due (clock skew, rounding)."""
    at = status.next_attempt_at
    if status.state == Delivery.PENDING and at is not None and utcnow() < at < utcnow() + EARLY_SLACK:
        # A fresh id, since this job's id is still in use.
        job_id = delivery_job_id(status.delivery_id, status.attempt_count + 1)
        schedule(status.delivery_id, at, f"{job_id}-at-{int(at.timestamp())}", connection)


def schedule_retries(connection, results):
    """Have rq-scheduler wake a worker when each failed delivery's next attempt is due."""
    for result in results:
        if result.sent and result.state == Delivery.PENDING and result.next_attempt_at:
            schedule(result.delivery_id, result.next_attempt_at,
                     delivery_job_id(result.delivery_id, result.attempt_count + 1), connection)


def forget_messages(connection, claimed, keep=None):
    """Drop the queued or scheduled messages of claimed automatic attempts (all but keep).

    Only a message for the very attempt claimed is dropped (job ids name the attempt number);
    if this process dies before recording, the lease expires and the reconciler re-enqueues it.
    A job's data is deleted only once its message was taken off the queue or the schedule here:
    a job already running (it woke this pump) keeps it, or RQ could not finish it cleanly.
    """
    job_ids = [delivery_job_id(claim.delivery_id, claim.attempt_count + 1)
               for claim in claimed if not claim.manual]
    job_ids = [job_id for job_id in job_ids if job_id != keep]
    if not job_ids:
        return
    pipeline = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipeline.lrem(QUEUE_KEY, 1, job_id)
        pipeline.zrem(Scheduler.scheduled_jobs_key, job_id)
    removed = pipeline.execute()
    taken = [job_id for job_id, queued, scheduled in zip(job_ids, removed[::2], removed[1::2])
             if queued or scheduled]
    if taken:
        connection.delete(*[Job.key_for(job_id) for job_id in taken])


def schedule(delivery_id, at, job_id, connection=None):
    """Have rq-scheduler enqueue the delivery's next attempt when it is due."""
    scheduler(connection).enqueue_at(due_time(at), DELIVER, delivery_id, job_id=job_id,
                                     queue_name=QUEUE_NAME, job_result_ttl=0, timeout=JOB_TIMEOUT)


def scheduler(connection=None):
    return Scheduler(queue_name=QUEUE_NAME, connection=connection or redis_connection())


def redis_connection():
    """Return the current job's Redis connection, or one from the app's REDIS_URL."""
    job = get_current_job()
    return job.connection if job is not None else Redis.from_url(current_app.config["REDIS_URL"])

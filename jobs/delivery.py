"""RQ jobs that send attempts of deliveries and schedule the next ones."""
from datetime import timedelta

from flask import current_app
from redis import Redis
from rq import get_current_job
from rq.job import Job
from rq_scheduler import Scheduler

from webhooks import delivery as engine
from webhooks.models import Delivery, utcnow
from webhooks.queue import DELIVER, JOB_TIMEOUT, QUEUE_NAME, delivery_job_id, due_time

# A job that runs this much before its attempt is due (clock skew, rounding) is put back.
EARLY_SLACK = timedelta(seconds=5)
QUEUE_KEY = f"rq:queue:{QUEUE_NAME}"


def deliver(delivery_id):
    """Send the due attempt of a delivery, and alongside it other due deliveries (a batch).

    Deliveries claimed besides delivery_id have their own messages dropped from Redis, so one
    job carries many deliveries; a message that still arrives finds nothing to claim.
    """
    connection = redis_connection()
    job = get_current_job()

    def on_claimed(claims):
        forget_messages(connection, claims, keep=job.id if job is not None else None)

    def on_recorded(results):
        for result in results:
            if result.sent and result.state == Delivery.PENDING and result.next_attempt_at:
                schedule(result.delivery_id, result.next_attempt_at,
                         delivery_job_id(result.delivery_id, result.attempt_count + 1), connection)

    results = engine.deliver_due(
        delivery_id, threads=worker_threads(), seconds=engine.setting("WEBHOOKS_BATCH_SECONDS"),
        on_claimed=on_claimed, on_recorded=on_recorded)
    own = next((result for result in results if result.delivery_id == delivery_id), None)
    if own is None:
        own = engine.delivery_status(delivery_id)
        at = own.next_attempt_at
        if own.state == Delivery.PENDING and at is not None and utcnow() < at < utcnow() + EARLY_SLACK:
            # Ran early: the attempt is not due yet. A fresh id, since this job's id is still in use.
            job_id = delivery_job_id(delivery_id, own.attempt_count + 1)
            schedule(delivery_id, at, f"{job_id}-at-{int(at.timestamp())}", connection)
    others = len(results) - (own in results)
    return f"{own.note}; {others} other deliveries" if others else own.note


def deliver_manual(delivery_id):
    """Send the manual attempt asked for in the UI."""
    return engine.attempt_manual(delivery_id).note


def worker_threads():
    return max(1, engine.setting("WEBHOOKS_WORKER_THREADS", int))


def forget_messages(connection, claims, keep=None):
    """Drop the queued or scheduled messages of claimed automatic attempts (all but keep).

    Only a message for the very attempt claimed is dropped (job ids name the attempt number);
    if this process dies before recording, the lease expires and the reconciler re-enqueues it.
    """
    job_ids = [delivery_job_id(claim.delivery_id, claim.attempt_count + 1)
               for claim in claims if not claim.manual]
    job_ids = [job_id for job_id in job_ids if job_id != keep]
    if not job_ids:
        return
    pipeline = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipeline.lrem(QUEUE_KEY, 1, job_id)
        pipeline.zrem(Scheduler.scheduled_jobs_key, job_id)
        pipeline.delete(Job.key_for(job_id))
    pipeline.execute()


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

"""RQ jobs that send one attempt of a delivery and schedule the next one."""
from datetime import timedelta

from flask import current_app
from redis import Redis
from rq import get_current_job
from rq_scheduler import Scheduler

from webhooks import delivery as engine
from webhooks.models import Delivery, utcnow
from webhooks.queue import DELIVER, JOB_TIMEOUT, QUEUE_NAME, delivery_job_id, due_time

# A job that runs this much before its attempt is due (clock skew, rounding) is put back.
EARLY_SLACK = timedelta(seconds=5)


def deliver(delivery_id):
    """Send the next automatic attempt of a delivery; schedule the retry if one is due later."""
    result = engine.attempt_due(delivery_id)
    if result.state != Delivery.PENDING or result.next_attempt_at is None:
        return result.note
    job_id = delivery_job_id(delivery_id, result.attempt_count + 1)
    if result.sent:
        schedule(delivery_id, result.next_attempt_at, job_id)
    elif utcnow() < result.next_attempt_at < utcnow() + EARLY_SLACK:
        # Ran early: the attempt is not due yet. A fresh id, since this job's id is still in use.
        schedule(delivery_id, result.next_attempt_at,
                 f"{job_id}-at-{int(result.next_attempt_at.timestamp())}")
    return result.note


def deliver_manual(delivery_id):
    """Send the manual attempt asked for in the UI."""
    return engine.attempt_manual(delivery_id).note


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

"""The pluggable queue: one small interface, an inline (embedded) and an RQ backend.

The database is the source of truth: a backend only wakes a pump (webhooks.batch), which
claims due deliveries in the database before sending, fairly and within each webhook's cap,
so a lost or duplicated message costs nothing but a wasted look-up.

Backend interface: `submit(delivery_ids)` for new deliveries, `submit_manual(delivery_id)` for
a resend asked for in the UI, `shutdown()`. The rest of the app calls this module's `submit`
and `submit_manual`, which never fail the request that committed the work.
"""
import logging
import math
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from flask import current_app

from .batch import Pump

log = logging.getLogger(__name__)

QUEUE_NAME = "deliveries"
DELIVER = "jobs.delivery.deliver"
DELIVER_MANUAL = "jobs.delivery.deliver_manual"
JOB_TIMEOUT = 120  # seconds; one attempt takes at most 5 s to connect plus 15 s in all
# Set while a wake-up job waits in the queue (the job deletes it when it starts); the expiry
# only matters if that job is lost, and pumps poll the database every second meanwhile.
WAKE_PENDING_KEY = "webhooks:wake-pending"
WAKE_PENDING_SECONDS = 5


def delivery_job_id(delivery_id, attempt_number):
    """Return the RQ job id carrying automatic attempt attempt_number of a delivery."""
    return f"delivery-{delivery_id}-attempt-{attempt_number}"


def due_time(moment):
    """Return moment rounded up to a whole second (rq-scheduler keeps whole seconds only)."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=timezone.utc)


class Periodic:
    """Call a function in the app's context every interval seconds on a daemon thread: the
    inline queue's stand-in for the RQ scheduler's periodic jobs."""

    def __init__(self, app, interval, function):
        self.app, self.interval, self.function = app, interval, function
        self._stop, self._thread, self._lock = threading.Event(), None, threading.Lock()

    def start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"webhooks-{self.function.__name__}")
                self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        from .extensions import db

        while not self._stop.wait(self.interval):
            with self.app.app_context():
                try:
                    self.function()
                except Exception:
                    log.exception("the periodic %s failed; trying again later",
                                  self.function.__name__)
                finally:
                    db.session.remove()


def sweep_health():
    from . import health  # health needs lifecycle, which needs this module

    health.sweep()


def purge_expired():
    from . import retention

    retention.run_periodically()


class InlineQueue:
    """Deliver from a Pump inside this process: no Redis; its polling finds due retries, and
    timers run the health sweep (webhooks.health) as the reconciler does for RQ, and the
    retention purge (webhooks.retention) as rq-scheduler's periodic job does."""

    def __init__(self, app, threads=64, poll_seconds=1.0):
        self.pump = Pump(app, slots=threads, poll_seconds=poll_seconds, name="webhooks-inline")
        self.timer = Periodic(app, float(app.config["WEBHOOKS_RECONCILE_SECONDS"]), sweep_health)
        self.purge_timer = Periodic(app, float(app.config["WEBHOOKS_PURGE_INTERVAL_SECONDS"]),
                                    purge_expired)
        self._paused = False

    def submit(self, delivery_ids):
        """Have the pump claim new deliveries now (unless paused: see paused)."""
        if self._paused:
            return
        self.start()
        self.pump.wake()

    @contextmanager
    def paused(self):
        """Within it, submitting starts nothing in this process: a command that stores work
        sends it itself (webhooks.first_delivery), or leaves it to the serving process's pump,
        which finds due work in the database."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def submit_manual(self, delivery_id):
        """Have the pump send a requested resend now (it claims requested resends first)."""
        self.submit([delivery_id])

    def start(self):
        """Start the pump and the timer once (lazily: never at import or app creation)."""
        self.pump.start()
        self.timer.start()
        self.purge_timer.start()

    def shutdown(self, timeout=5.0):
        """Stop the pump; attempts in flight finish and are recorded first (up to timeout)."""
        self.timer.stop()
        self.purge_timer.stop()
        self.pump.stop(timeout)


class RQQueue:
    """Enqueue delivery ids on the `deliveries` RQ queue by dotted path (no worker imports)."""

    def __init__(self, redis_url):
        self.redis_url = redis_url
        self._queue = None

    @property
    def rq_queue(self):
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            self._queue = Queue(QUEUE_NAME, connection=Redis.from_url(self.redis_url))
        return self._queue

    def submit(self, delivery_ids):
        """Wake a worker for new deliveries: at most one wake-up waits in the queue at a time.

        A worker's pump claims everything due, fairly, whichever delivery woke it; more
        messages would only cost the worker RQ's few milliseconds per job (and a delivery held
        back by its webhook's cap would keep one waiting for nothing).
        """
        if not delivery_ids:
            return
        if self.rq_queue.connection.set(WAKE_PENDING_KEY, 1, nx=True, ex=WAKE_PENDING_SECONDS):
            enqueue_wake(self.rq_queue, delivery_ids[0], f"wake-{uuid.uuid4().hex}")

    def submit_manual(self, delivery_id):
        """Enqueue one manual attempt."""
        enqueue_manual(self.rq_queue, delivery_id)

    def shutdown(self):
        if self._queue is not None:
            self._queue.connection.close()


def enqueue_wake(rq_queue, delivery_id, job_id):
    """Put a message on the RQ queue that wakes a worker's pump (see jobs.delivery.deliver)."""
    rq_queue.enqueue(DELIVER, delivery_id, job_id=job_id, result_ttl=0, job_timeout=JOB_TIMEOUT)


def enqueue_manual(rq_queue, delivery_id):
    """Put a message on the RQ queue that sends a requested resend."""
    rq_queue.enqueue(DELIVER_MANUAL, delivery_id, result_ttl=0, job_timeout=JOB_TIMEOUT)


def init_app(app):
    name = app.config["WEBHOOKS_QUEUE"]
    if name == "inline":
        backend = InlineQueue(app, threads=int(app.config["WEBHOOKS_INLINE_THREADS"]))
        if not app.testing:
            # A restarted process picks up retries left in the database with its first request.
            app.before_request(backend.start)
    elif name == "rq":
        backend = RQQueue(app.config["REDIS_URL"])
    else:
        raise ValueError(f"WEBHOOKS_QUEUE must be 'inline' or 'rq', not {name!r}")
    app.extensions["webhooks_queue"] = backend


def get_queue():
    return current_app.extensions["webhooks_queue"]


def submit(delivery_ids):
    """Hand committed, due deliveries to the queue. If it is away (Redis down), they stay due
    in the database and the reconciler hands them over later: the request still succeeds."""
    if not delivery_ids:
        return
    try:
        get_queue().submit(list(delivery_ids))
    except Exception:
        log.exception("could not hand deliveries %s to the queue; the reconciler will",
                      delivery_ids)


def submit_manual(delivery_id):
    """Hand a committed resend request to the queue; on failure the reconciler sends what
    manual_requested_at marks."""
    try:
        get_queue().submit_manual(delivery_id)
    except Exception:
        log.exception("could not hand the manual resend of delivery %s to the queue; "
                      "the reconciler will", delivery_id)

"""The pluggable queue: one small interface, an inline (embedded) and an RQ backend.

The database is the source of truth: a backend only carries delivery ids to a worker, and
every worker claims a delivery in the database before sending, so a lost or duplicated
message costs nothing but a wasted look-up.

Interface: `submit(delivery_ids)` for new deliveries, `submit_manual(delivery_id)` for a
resend asked for in the UI, `shutdown()`.
"""
import logging
import math
import queue as stdlib_queue
import threading
from datetime import datetime, timezone

from flask import current_app

from . import delivery
from .extensions import db
from .models import utcnow

log = logging.getLogger(__name__)

QUEUE_NAME = "deliveries"
DELIVER = "jobs.delivery.deliver"
DELIVER_MANUAL = "jobs.delivery.deliver_manual"
JOB_TIMEOUT = 120  # seconds; one attempt takes at most 5 s to connect plus 15 s in all


def delivery_job_id(delivery_id, attempt_number):
    """Return the RQ job id carrying automatic attempt attempt_number of a delivery."""
    return f"delivery-{delivery_id}-attempt-{attempt_number}"


def due_time(moment):
    """Return moment rounded up to a whole second (rq-scheduler keeps whole seconds only)."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=timezone.utc)


class InlineQueue:
    """Deliver from background threads of this process; a poll of the database finds due retries."""

    def __init__(self, app, threads=4, poll_seconds=1.0):
        self.app = app
        self.threads = threads
        self.poll_seconds = poll_seconds
        self._work = stdlib_queue.Queue()
        self._queued = set()  # (kind, id) waiting or in flight, so the poller doesn't repeat them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._started = []

    def submit(self, delivery_ids):
        """Hand due deliveries to a worker thread now."""
        self.start()
        for delivery_id in delivery_ids:
            self._offer(("due", delivery_id))

    def submit_manual(self, delivery_id):
        """Send one manual attempt of a delivery now."""
        self.start()
        self._offer(("manual", delivery_id))

    def start(self):
        """Start the poller and worker threads once (lazily: never at import or app creation)."""
        with self._lock:
            if self._started or self._stop.is_set():
                return
            targets = [self._poll] + [self._deliver] * self.threads
            for number, target in enumerate(targets):
                thread = threading.Thread(target=target, name=f"webhooks-inline-{number}", daemon=True)
                thread.start()
                self._started.append(thread)

    def shutdown(self, timeout=5.0):
        """Stop the threads and wait for them (an attempt in flight finishes first)."""
        self._stop.set()
        self._wakeup.set()
        for _ in range(self.threads):
            self._work.put(None)
        for thread in self._started:
            thread.join(timeout)

    def _offer(self, item):
        with self._lock:
            if item in self._queued:
                return
            self._queued.add(item)
        self._work.put(item)

    def _poll(self):
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    now = utcnow()
                    due = [row[0] for row in delivery.due_deliveries(now)]
                    manual = delivery.requested_resends(now)
                    db.session.remove()
                for delivery_id in due:
                    self._offer(("due", delivery_id))
                for delivery_id in manual:
                    self._offer(("manual", delivery_id))
            except Exception:  # the database may be briefly unreachable; try again next tick
                log.exception("inline queue: polling for due deliveries failed")
            self._stop.wait(self.poll_seconds)

    def _deliver(self):
        try:
            self._deliver_until_stopped()
        finally:
            delivery.close_thread_sessions()

    def _deliver_until_stopped(self):
        while True:
            item = self._work.get()
            if item is None or self._stop.is_set():
                return
            kind, delivery_id = item
            try:
                with self.app.app_context():
                    try:
                        if kind == "manual":
                            delivery.attempt_manual(delivery_id)
                        else:
                            delivery.attempt_due(delivery_id)
                    finally:
                        db.session.remove()
            except Exception:  # the row keeps its lease and is retried when the lease expires
                log.exception("inline queue: delivery %s (%s) failed", delivery_id, kind)
            finally:
                with self._lock:
                    self._queued.discard(item)


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
        """Enqueue attempt 1 of each new delivery in one round trip."""
        from rq import Queue

        jobs = [Queue.prepare_data(DELIVER, args=(delivery_id,), result_ttl=0, timeout=JOB_TIMEOUT,
                                   job_id=delivery_job_id(delivery_id, 1))
                for delivery_id in delivery_ids]
        self.rq_queue.enqueue_many(jobs)

    def submit_manual(self, delivery_id):
        """Enqueue one manual attempt."""
        self.rq_queue.enqueue(DELIVER_MANUAL, delivery_id, result_ttl=0, job_timeout=JOB_TIMEOUT)

    def shutdown(self):
        if self._queue is not None:
            self._queue.connection.close()


def init_app(app):
    backend = app.config["WEBHOOKS_QUEUE"]
    if backend == "inline":
        engine = InlineQueue(app, threads=int(app.config["WEBHOOKS_INLINE_THREADS"]))
        if not app.testing:
            # A restarted process picks up retries left in the database with its first request.
            app.before_request(engine.start)
    elif backend == "rq":
        engine = RQQueue(app.config["REDIS_URL"])
    else:
        raise ValueError(f"WEBHOOKS_QUEUE must be 'inline' or 'rq', not {backend!r}")
    app.extensions["webhooks_queue"] = engine


def get_queue():
    return current_app.extensions["webhooks_queue"]

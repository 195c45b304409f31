"""The worker process: `python -m jobs.worker` runs an RQ worker on the deliveries queue.

The Flask app is built once per process (not per job, not at import time) and every job runs
inside its app context. The process's `Pump` (webhooks.batch) does the sending: jobs only wake
it, and it claims due deliveries fairly into WEBHOOKS_WORKER_THREADS sending slots. The
default worker does not fork per job: a fork costs more than a fast delivery and would throw
away the kept-alive HTTPS connections (see bench/delivery.py).
"""
import argparse
import logging
import os
import threading

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from webhooks import create_app, logs, mail, metrics
from webhooks.config import setting
from webhooks.extensions import db
from webhooks.queue import QUEUE_NAME

from . import delivery, purge, reconcile

log = logging.getLogger(__name__)


class AppJob(Job):
    """An RQ job that runs inside the worker process's app context."""

    app = None
    pid = None

    def perform(self):
        with self.app.app_context():
            forked = os.getpid() != AppJob.pid
            if forked:
                # A forked child must not share the parent's pooled database connections.
                db.engine.dispose(close=False)
            try:
                return super().perform()
            finally:
                db.session.remove()
                if forked:  # the child ends with os._exit: send its notices first
                    mail.wait_idle(30)


PERIODIC = ((reconcile, "reconciler"), (purge, "retention purge"))


def register_periodic_jobs(app, connection):
    """Register the periodic jobs that are missing; return the names of those it registered."""
    with app.app_context():
        return [name for module, name in PERIODIC
                if module.ensure_registered(connection, module.interval_seconds())]


def keep_periodic_jobs_registered(app, connection, stop):
    """Re-register the periodic jobs whenever they disappear (a flushed or new Redis)."""
    with app.app_context():
        interval = reconcile.interval_seconds()
    while not stop.wait(max(1.0, interval / 2)):
        try:
            for name in register_periodic_jobs(app, connection):
                log.warning("re-registered the periodic %s (was Redis flushed?)", name)
        except Exception:  # Redis briefly away: the next round tries again
            log.exception("could not check the periodic jobs' registration")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Deliver webhooks from the RQ deliveries queue.")
    parser.add_argument("--fork", action="store_true",
                        help="fork a process per job (rq's Worker) instead of running jobs in-process")
    parser.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    parser.add_argument("--name", help="worker name (default: rq's)")
    args = parser.parse_args(argv)

    app = create_app()
    logs.configure_from(app.config)
    metrics.remove_dead_process_files()
    AppJob.app, AppJob.pid = app, os.getpid()
    connection = Redis.from_url(app.config["REDIS_URL"])
    register_periodic_jobs(app, connection)
    stop = threading.Event()
    keeper = threading.Thread(target=keep_periodic_jobs_registered, args=(app, connection, stop),
                              name="periodic-keeper", daemon=True)
    keeper.start()

    pump = None
    if not args.fork:  # a forked child would not share a pump with this process
        pump = delivery.make_pump(app, Redis.from_url(app.config["REDIS_URL"]))
        pump.start()
        delivery.use_pump(pump)
    worker_class = Worker if args.fork else SimpleWorker
    queue = Queue(QUEUE_NAME, connection=connection, job_class=AppJob)
    worker = worker_class([queue], connection=connection, job_class=AppJob, name=args.name)
    try:
        worker.work(burst=args.burst, logging_level=app.config["WEBHOOKS_LOG_LEVEL"])
    finally:
        stop.set()
        if pump is not None:
            # Attempts in flight finish and are recorded; a hanging one is left to its lease.
            with app.app_context():
                grace = setting("WEBHOOKS_TIMEOUT_SECONDS") + 1
            pump.stop(timeout=grace)


if __name__ == "__main__":
    main()

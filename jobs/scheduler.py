"""The scheduler process: `python -m jobs.scheduler` moves due jobs (retries, the periodic
reconciler and purge) from rq-scheduler's schedule to the deliveries queue every second.

It is rq-scheduler's own loop, with the app's logging and a note of each run in Redis for
`flask --app app status` and /metrics (webhooks.status).
"""
import argparse

from redis import Redis
from rq_scheduler import Scheduler

from webhooks import create_app, logs, status

log = logs.get_logger(__name__)


class NotingScheduler(Scheduler):
    """rq-scheduler's Scheduler, noting in Redis when it last moved due jobs."""

    moved = 0

    def enqueue_job(self, job):
        self.moved += 1
        return super().enqueue_job(job)

    def enqueue_jobs(self):
        self.moved = 0
        jobs = super().enqueue_jobs()
        status.record_scheduler_run(self.connection)
        if self.moved:
            log.info("scheduler run", jobs_enqueued=self.moved)
        return jobs


def main(argv=None):
    parser = argparse.ArgumentParser(description="Move due scheduled jobs to the queue.")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between runs (default 1: retries are never more late)")
    parser.add_argument("--burst", action="store_true", help="run once and quit")
    args = parser.parse_args(argv)

    app = create_app()
    logs.configure_from(app.config)
    connection = Redis.from_url(app.config["REDIS_URL"])
    NotingScheduler(connection=connection, interval=args.interval).run(burst=args.burst)


if __name__ == "__main__":
    main()

"""`flask --app app status`: deliveries waiting, endpoints, queue, workers, scheduler, reconciler."""
import time
from datetime import timedelta

import pytest
from rq import Queue

from tests.conftest import REDIS_TEST_URL
from tests.support.deliveries import stored_delivery
from webhooks import status
from webhooks.models import utcnow
from webhooks.queue import QUEUE_NAME


def test_inline_status_shows_the_deliveries_and_endpoints(runner, factory):
    org = factory.org()
    now = utcnow()
    webhook = factory.webhook(org, unanswered_streak=2)
    stored_delivery(webhook, state="pending", next_attempt_at=now - timedelta(minutes=5))
    stored_delivery(webhook, state="pending", next_attempt_at=now + timedelta(minutes=5))

    result = runner.invoke(args=["status"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Deliveries"
    assert lines[1].split() == ["due", "now,", "waiting", "for", "a", "sending", "slot", "1"]
    assert lines[2].split()[-1] == "1"  # due later
    assert lines[3].split()[-1] == "0"  # in flight
    assert lines[4].startswith("  oldest due") and lines[4].endswith(("5 min", "300 s", "301 s"))
    assert "  slowed down (attempts unanswered)" in result.output
    assert [line for line in lines if line.startswith("  slowed down")][0].split()[-1] == "1"
    assert lines[-1] == "Queue: inline (deliveries are sent by the web process; no Redis queue)"


@pytest.mark.redis
def test_rq_status_shows_the_queue_workers_scheduler_and_reconciler(make_app, redis_conn):
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["status"]).output
    assert "Workers: none seen (start: python -m jobs.worker)" in first
    assert "Scheduler last run: never" in first and "Reconciler last run: never" in first

    Queue(QUEUE_NAME, connection=redis_conn).enqueue("os.getcwd")
    status.record_scheduler_run(redis_conn)
    status.record_reconciler_run(redis_conn, {"enqueued": 1, "scheduled": 2, "resends": 0, "health": 0})
    status.record_reconciler_run(redis_conn, {"enqueued": 0, "scheduled": 1, "resends": 0, "health": 0})
    output = runner.invoke(args=["status"]).output

    assert "Queue (RQ)" in output
    queued = [line for line in output.splitlines() if line.startswith("  deliveries: queued")]
    assert queued[0].split()[-1] == "1"
    assert "Scheduler last run: 0 s ago" in output
    assert ("Reconciler last run: 0 s ago (enqueued 0, scheduled 1, resends 0, health 0); "
            "2 runs in all") in output
    with app.app_context():
        reconciler = status.snapshot().reconciler
    assert reconciler.runs == 2 and reconciler.found == {"enqueued": 1, "scheduled": 3,
                                                         "resends": 0, "health": 0}
    assert time.time() - reconciler.last_run.timestamp() < 5


@pytest.mark.redis
def test_status_says_when_redis_cannot_be_reached(make_app):
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL="redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["status"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith("Queue: Redis cannot be reached (ConnectionError:")

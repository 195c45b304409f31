"""Nothing is lost and nothing is sent twice when the worker dies, Redis forgets, or a job repeats.

Real `python -m jobs.worker` and `python -m jobs.scheduler` processes, Redis database 13, the
PostgreSQL test database, a real HTTPS receiver; retry delays 1 s and 2 s, a 4 s lease.
"""
import pytest
from rq import Queue

from tests.conftest import REDIS_TEST_URL, Factory
from tests.integration.conftest import DELIVERY_SETTINGS, start_processes
from tests.support.deliveries import (attempts_of, fresh, raise_event, wait_for_attempts,
                                      wait_for_state)
from tests.support.polling import wait_until
from tests.support.receiver import Reply
from webhooks.models import Delivery
from webhooks.queue import DELIVER, QUEUE_NAME

pytestmark = [pytest.mark.https, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)])]


@pytest.fixture
def processes(postgres_url, ca_bundle, tmp_path, redis_conn):
    processes = start_processes(postgres_url, ca_bundle, tmp_path, workers=0)
    yield processes
    processes.stop()


@pytest.fixture
def org(make_app, processes):
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **DELIVERY_SETTINGS)
    with app.app_context():
        yield Factory().org()


def test_a_delivery_survives_its_worker_being_killed_mid_request(org, processes, receiver):
    worker = processes.start_worker()
    receiver.always(Reply(200))
    receiver.reply(Reply(200, delay=1.0))  # the first request is slow: the worker dies during it
    delivery_id = raise_event(Factory().webhook(org, url=receiver.url))

    receiver.wait_for(1, timeout=20)
    processes.kill(worker)  # SIGKILL: no cleanup, the lease stays taken
    processes.start_worker()

    delivery = wait_for_state(delivery_id, Delivery.SUCCEEDED, timeout=20)
    assert len(receiver.requests) == 2  # the killed request, then the one after the lease expired
    assert [(a.number, a.response_status) for a in attempts_of(delivery_id)] == [(1, 200)]
    assert delivery.lease_until is None


def test_retries_come_back_on_time_after_redis_is_flushed(org, processes, receiver, redis_conn):
    processes.start_worker()
    receiver.always(Reply(200))
    receiver.reply(Reply(500), Reply(500))
    delivery_ids = [raise_event(Factory().webhook(org, url=receiver.url, name=f"Hook {n}"))
                    for n in range(3)]
    wait_until(lambda: all(len(attempts_of(d)) == 1 for d in delivery_ids) and
               any(fresh(d).state == Delivery.PENDING for d in delivery_ids), 20,
               message="the first attempts, with retries scheduled")

    retrying = [d for d in delivery_ids if fresh(d).state == Delivery.PENDING]
    scheduled = "rq:scheduler:scheduled_jobs"
    wait_until(lambda: redis_conn.zcard(scheduled) >= len(retrying) + 1, 10,  # + the reconciler
               message="the retries to be scheduled")

    # FLUSHDB of the test database: FLUSHALL would wipe other test runs sharing this Redis.
    redis_conn.flushdb()
    assert redis_conn.zcard(scheduled) == 0

    for delivery_id in delivery_ids:
        delivery = wait_for_state(delivery_id, Delivery.SUCCEEDED, timeout=20)
        attempts = attempts_of(delivery_id)
        if len(attempts) > 1:
            # Attempt 2 was due 1 s after attempt 1. The bound is loose so that load cannot fail
            # it, yet far below what a lost retry (never) or a 60 s scheduler poll would give.
            late = (attempts[1].started_at - delivery.created_at).total_seconds()
            assert attempts[1].number == 2 and late < 30
    assert len(retrying) == 2 and len(receiver.requests) == 5
    assert "re-registered the periodic reconciler" in processes.logs()


def test_the_same_job_enqueued_twice_makes_one_attempt(org, processes, receiver, redis_conn):
    receiver.always(Reply(200, delay=0.5))
    webhook = Factory().webhook(org, url=receiver.url)
    delivery_id = raise_event(webhook)  # enqueued once on submit...
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    queue.enqueue(DELIVER, delivery_id)  # ...and twice more, for two workers at once
    queue.enqueue(DELIVER, delivery_id)

    processes.start_worker()
    processes.start_worker()

    wait_for_state(delivery_id, Delivery.SUCCEEDED, timeout=20)
    wait_until(lambda: queue.count == 0, 10, message="the queue to drain")
    wait_for_attempts(delivery_id, 1)
    assert len(attempts_of(delivery_id)) == 1
    assert len(receiver.requests) == 1

"""The retention purge runs by itself: a real worker registers it with the scheduler as a periodic
job (again after Redis is flushed), and each run removes what is past its retention."""
from datetime import timedelta

import pytest

from tests.conftest import REDIS_TEST_URL, Factory
from tests.integration.conftest import DELIVERY_SETTINGS
from tests.support.deliveries import ok_attempt, stored_delivery
from tests.support.polling import wait_until
from webhooks.extensions import db
from webhooks.models import Delivery, Event, utcnow
from jobs.purge import PURGE_ID

pytestmark = [pytest.mark.redis, pytest.mark.slow,
              pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)])]


def registered(redis_conn):
    return redis_conn.zscore("rq:scheduler:scheduled_jobs", PURGE_ID) is not None


def test_the_worker_schedules_the_purge_and_it_removes_what_is_old(make_app, rq_processes,
                                                                     redis_conn):
    app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **DELIVERY_SETTINGS)
    with app.app_context():
        webhook = Factory().webhook(Factory().org())
        ancient = stored_delivery(webhook, created_at=utcnow() - timedelta(days=100),
                                  attempts=[ok_attempt()])
        month_old = stored_delivery(webhook, created_at=utcnow() - timedelta(days=40),
                                    attempts=[ok_attempt()])
        ancient_id, month_old_event = ancient.id, month_old.event_id
        processes = rq_processes(workers=1, WEBHOOKS_PURGE_INTERVAL_SECONDS=2)

        def purged():
            db.session.expire_all()
            gone = db.session.get(Delivery, ancient_id) is None
            event = db.session.get(Event, month_old_event)
            db.session.rollback()
            return gone and event.payload is None
        wait_until(purged, 30, message="the periodic purge to run\n" + processes.logs())
        assert registered(redis_conn)

        redis_conn.flushdb()  # a new or flushed Redis: the worker puts the job back
        wait_until(lambda: registered(redis_conn), 15,
                   message="the purge job to be registered again\n" + processes.logs())

"""One organization's hanging endpoint never delays another's events; caps hold across processes.

Real HTTPS receivers (local CA) on both backends: the inline queue (SQLite and PostgreSQL) and
real `python -m jobs.worker` + `python -m jobs.scheduler` processes (PostgreSQL, Redis database 13). Every
attempt here has a total deadline of 1 s and the retry delays are 1 s and 2 s.
"""
import time

import pytest

from tests.conftest import REDIS_TEST_URL, Factory
from tests.integration.conftest import BACKENDS
from tests.support.deliveries import attempts_of, fresh, raise_event, wait_for_state
from tests.support.polling import wait_until
from tests.support.receiver import Receiver, Reply
from webhooks.extensions import db
from webhooks.fairness import NOT_RESPONDING_AFTER
from webhooks.models import Delivery, Webhook

pytestmark = [pytest.mark.https, pytest.mark.slow]

TIMEOUT = 1.0
SETTINGS = {"WEBHOOKS_TIMEOUT_SECONDS": TIMEOUT, "WEBHOOKS_LEASE_SECONDS": 4,
            "WEBHOOKS_ENDPOINT_CONCURRENCY": 4}
HANG = Reply(200, delay=3600)  # accepts the request, never answers (the client gives up)
both_backends = pytest.mark.parametrize("database, backend", BACKENDS)


@pytest.fixture
def start_app(backend, make_app, request, rq_processes):
    """Return a function making the app under test: inline, or rq with n worker processes."""
    def make(worker_count=1):
        if backend == "rq":
            request.getfixturevalue("redis_conn")
            rq_processes(worker_count, **SETTINGS)
            return make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **SETTINGS)
        return make_app(**SETTINGS)
    return make


@pytest.fixture
def hanging(ca):
    server = Receiver(ca).start()
    server.always(HANG)
    yield server
    server.stop()


def latencies(receiver, raised_at):
    """Return seconds from raising each event to its receipt, by delivery public id."""
    return {r.headers["webhook-id"]: r.at - raised_at[r.headers["webhook-id"]]
            for r in receiver.requests}


@both_backends
def test_a_hanging_endpoint_does_not_delay_another_organizations_events(start_app, hanging, receiver):
    with start_app().app_context():
        factory = Factory()
        stuck, healthy = factory.org("stuck"), factory.org("healthy")
        stuck_hook = factory.webhook(stuck, url=hanging.url, name="Stuck")
        healthy_hook = factory.webhook(healthy, url=receiver.url, name="Healthy")
        for _ in range(60):  # one at a time after the first 5: a minute of hanging attempts
            raise_event(stuck_hook)
        hanging.wait_for(4)

        raised_at = {}
        for _ in range(10):
            delivery_id = raise_event(healthy_hook)
            raised_at[db.session.get(Delivery, delivery_id).public_id] = time.time()
            time.sleep(0.2)
        receiver.wait_for(10, timeout=30)

        late = latencies(receiver, raised_at)
        # Behind the hanging one, the first would have waited at least 60 attempts × 1 s / 4.
        assert max(late.values()) < 5, late
        assert hanging.max_open <= 4
        stuck_states = db.session.scalars(db.select(Delivery.state).filter_by(
            webhook_id=stuck_hook.id)).all()
        assert stuck_states.count(Delivery.PENDING) >= 50  # it was still hanging all along


def overlapping(receiver, since=0.0):
    return receiver.max_open_among([r for r in receiver.requests if r.at >= since])


@pytest.mark.parametrize("database, backend", [
    pytest.param("sqlite", "inline", id="inline-sqlite"),
    pytest.param("postgres", "inline", id="inline-postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", "rq", id="rq-postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
])
@pytest.mark.parametrize("answer_after, events", [(0.4, 40), (0.01, 150)],
                         ids=["slow-endpoint", "fast-endpoint-leased-ahead"])
def test_two_processes_never_put_more_than_the_cap_in_flight_to_one_endpoint(
        backend, start_app, make_app, receiver, answer_after, events):
    receiver.always(Reply(200, delay=answer_after))
    # The first answers are slow whatever the endpoint's pace, so the first full batch surely
    # overlaps at the receiver (the cap is reached on a loaded machine too); then the pace shows.
    receiver.reply(*[Reply(200, delay=0.4)] * 4)
    app = start_app(worker_count=2)
    # Inline: a second app with its own pump on the same database, as a second web process.
    second = make_app(**SETTINGS) if backend == "inline" else None
    with app.app_context():
        factory = Factory()
        org = factory.org()
        webhook = factory.webhook(org, url=receiver.url)
        ids = [raise_event(webhook) for _ in range(events)]
        if second is not None:
            with second.app_context():
                second.extensions["webhooks_queue"].submit(ids)

        for delivery_id in ids:
            wait_for_state(delivery_id, Delivery.SUCCEEDED, timeout=40)

    assert len(receiver.requests) == events
    assert receiver.max_open == 4  # the cap is reached, never passed


def streak(webhook_id):
    db.session.rollback()
    return db.session.get(Webhook, webhook_id).unanswered_streak


@both_backends
def test_no_answer_five_times_means_one_at_a_time_until_any_answer(start_app, hanging):
    with start_app().app_context():
        factory = Factory()
        org = factory.org()
        webhook = factory.webhook(org, url=hanging.url)
        first_wave = [raise_event(webhook) for _ in range(8)]

        hanging.wait_for(4)
        assert overlapping(hanging) == 4  # the full cap while it has not yet failed 5 times
        wait_until(lambda: streak(webhook.id) >= NOT_RESPONDING_AFTER, 20,
                   message="five attempts without an answer")
        slowed_at = time.time()
        hanging.wait_for(len(hanging.requests) + 3, timeout=20)
        assert overlapping(hanging, since=slowed_at + 0.1) == 1

        hanging.always(Reply(200, delay=0.5))  # the endpoint answers again
        second_wave = [raise_event(webhook) for _ in range(8)]
        for delivery_id in second_wave:
            wait_for_state(delivery_id, Delivery.SUCCEEDED, timeout=40)
        assert streak(webhook.id) == 0
        answered = [r for r in hanging.requests if r.ended and r.ended - r.at < 0.9 * TIMEOUT]
        assert hanging.max_open_among(answered) == 4  # back to the full cap

        for delivery_id in first_wave:  # the schedule itself never changed
            delivery = wait_until(lambda: fresh(delivery_id).state != Delivery.PENDING
                                  and fresh(delivery_id), 40, message="the first wave to settle")
            attempts = attempts_of(delivery_id)
            assert all(a.trigger == "automatic" for a in attempts) and len(attempts) <= 3
            assert delivery.attempt_count == len(attempts)
            if delivery.state == Delivery.FAILED:
                assert len(attempts) == 3 and not any(a.succeeded for a in attempts)
            else:
                assert delivery.state == Delivery.SUCCEEDED and attempts[-1].response_status == 200
            for earlier, later, delay in zip(attempts, attempts[1:], (1, 2)):
                assert (later.started_at - earlier.finished_at).total_seconds() >= delay
        db.session.rollback()
        assert db.session.get(Webhook, webhook.id).is_active

"""Duplicates racing each other on real PostgreSQL still make one event and one set of deliveries."""
import threading

import pytest

from tests.support.queues import RecordingQueue
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Delivery, Event

THREADS = 8
ROUNDS = 5


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request):
    """Only PostgreSQL runs writers truly in parallel; SQLite would serialize them."""
    return request.param


def post_together(app, bodies):
    """Post every body from its own thread, released at the same moment; return the responses."""
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def worker(index):
        client = app.test_client()
        barrier.wait()
        responses[index] = client.post("/internal/events", json=bodies[index],
                                       headers={"Authorization": "Bearer test-internal-token"})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_concurrent_duplicates_make_one_event_and_one_set_of_deliveries(app, factory):
    app.extensions["webhooks_queue"] = queue = RecordingQueue()
    acme = factory.org("acme")
    hooks = [factory.webhook(acme, name=f"Hook {i}") for i in range(3)]
    data = catalog.BY_TYPE["job.created"].example

    for round_number in range(ROUNDS):
        body = {"id": f"race-{round_number}", "organization_id": "acme", "type": "job.created", "data": data}
        responses = post_together(app, [body] * THREADS)

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * (THREADS - 1) + [202]
        answers = [r.get_json() for r in responses]
        assert len({a["event_id"] for a in answers}) == 1
        assert {a["deliveries"] for a in answers} == {len(hooks)}
    assert len(queue.submitted) == ROUNDS  # only the first of each race handed work over

    db.session.rollback()
    events = db.session.scalars(db.select(Event)).all()
    assert sorted(e.host_event_id for e in events) == [f"race-{n}" for n in range(ROUNDS)]
    for event in events:
        deliveries = db.session.scalars(db.select(Delivery).filter_by(event_id=event.id)).all()
        assert sorted(d.webhook_id for d in deliveries) == [h.id for h in hooks]

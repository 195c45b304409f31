"""Property: whatever is posted, ingest never answers 5xx and never stores part of an event."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.queues import RecordingQueue
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Delivery, Event

AUTH = {"Authorization": "Bearer test-internal-token"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def mostly(valid):
    """Draw from valid three times in four, else any JSON value."""
    return st.integers(0, 3).flatmap(lambda n: valid if n else json_values)


@st.composite
def mutated_examples(draw):
    """A catalog example, half the time with one field replaced by arbitrary JSON, or removed."""
    event_type = draw(st.sampled_from(catalog.SUBSCRIBABLE))
    data = json.loads(json.dumps(catalog.BY_TYPE[event_type].example))
    if draw(st.booleans()):
        return event_type, data
    parent = data
    while True:
        key = draw(st.sampled_from(sorted(parent)))
        if isinstance(parent[key], dict) and draw(st.booleans()):
            parent = parent[key]
            continue
        if draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values)
        return event_type, data


@st.composite
def envelopes(draw):
    """Request bodies shaped like events, with any part possibly wrong, or none."""
    if draw(st.integers(0, 2)) == 0:  # valid, often repeating an id
        event_type = draw(st.sampled_from(catalog.SUBSCRIBABLE))
        body = {"organization_id": draw(st.sampled_from(["acme", "acme", "globex", "nobody"])), "type": event_type,
                "data": catalog.BY_TYPE[event_type].example}
        if draw(st.booleans()):
            body["id"] = draw(st.sampled_from(["dup-1", "dup-2"]))
        return json.dumps(body).encode()
    event_type, data = draw(mutated_examples())
    body = {
        "organization_id": draw(mostly(st.sampled_from(["acme", "globex", "nobody"]))),
        "type": draw(mostly(st.sampled_from([event_type, event_type, "webhook.ping", "job.nope"]))),
        "data": draw(mostly(st.just(data))),
    }
    for key, values in (("id", mostly(st.sampled_from(["dup-1", "dup-2", "dup-3"]))),
                        ("occurred_at", mostly(st.sampled_from(["2026-11-28T10:00:00+02:00", "soon"]))),
                        ("extra", json_values)):
        if draw(st.integers(0, 3) if key == "extra" else st.booleans()) == 1:
            body[key] = draw(values)
    return json.dumps(body).encode()


# Event-shaped bodies most of the time; else any JSON, any bytes, or a cut-off event.
bodies = st.integers(0, 5).flatmap(lambda n: [
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    envelopes().flatmap(lambda b: st.integers(0, len(b)).map(lambda cut: b[:cut])),
][n] if n < 3 else envelopes())


def counts():
    return (db.session.scalar(db.select(db.func.count()).select_from(Event)),
            db.session.scalar(db.select(db.func.count()).select_from(Delivery)))


def two_orgs_without_a_queue(app, factory):
    """acme with two webhooks subscribed to everything, globex with none; nothing is sent."""
    app.extensions["webhooks_queue"] = RecordingQueue()
    acme = factory.org("acme")
    factory.org("globex")
    factory.webhook(acme, events=catalog.SUBSCRIBABLE)
    factory.webhook(acme, name="Second", events=catalog.SUBSCRIBABLE)


def test_any_body_gets_a_clean_answer_and_all_or_nothing_writes(app, client, factory):
    two_orgs_without_a_queue(app, factory)

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies)
    def check(body):
        before = counts()
        response = client.post("/internal/events", data=body, headers=AUTH, content_type="application/json")
        db.session.rollback()
        after = counts()

        assert response.status_code in (200, 202, 400, 422), response.get_data(as_text=True)
        assert response.is_json
        if response.status_code == 202 and response.get_json()["event_id"]:
            assert after == (before[0] + 1, before[1] + response.get_json()["deliveries"])
        else:
            assert after == before

    check()

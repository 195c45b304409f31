"""/metrics: the token, the ingest counts, and the state of the work read at scrape time."""
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.deliveries import stored_delivery
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import utcnow

TOKEN = "test-metrics-token"
INTERNAL = {"Authorization": "Bearer test-internal-token"}


@pytest.fixture
def app(make_app):
    app = make_app(WEBHOOKS_METRICS_TOKEN=TOKEN)
    with app.app_context():
        yield app


def scrape(client, token=TOKEN):
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return samples(answer.get_data(as_text=True))


def samples(text):
    """Return {(sample name, frozenset of labels): value} of an exposition."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_answer_only_the_bearer_of_the_token(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.get_json() == {"errors": [{"path": "", "message": "Missing or wrong bearer token."}]}
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert right.mimetype == "text/plain" and "webhooks_deliveries_waiting" in right.get_data(as_text=True)


def test_metrics_are_off_without_a_token(make_app):
    answer = make_app().test_client().get("/metrics", headers={"Authorization": "Bearer "})
    assert answer.status_code == 404
    assert "WEBHOOKS_METRICS_TOKEN" in answer.get_json()["errors"][0]["message"]


def test_every_answer_of_the_events_endpoint_is_counted_by_type_and_code(client, factory):
    factory.org("acme")
    example = catalog.BY_TYPE["job.created"].example
    before = scrape(client)
    sends = [
        ({"organization_id": "acme", "type": "job.created", "data": example}, INTERNAL),
        ({"organization_id": "acme", "type": "job.created", "data": example, "id": "a"}, INTERNAL),
        ({"organization_id": "acme", "type": "job.created", "data": example, "id": "a"}, INTERNAL),
        ({"organization_id": "acme", "type": "job.created", "data": {}}, INTERNAL),
        ({"organization_id": "acme", "type": "no.such", "data": {}}, INTERNAL),
        ({"organization_id": "acme", "type": ["job.created"], "data": {}}, INTERNAL),
        ({"organization_id": "acme", "type": "job.created", "data": example}, {}),
    ]
    codes = [client.post("/internal/events", json=body, headers=headers).status_code
             for body, headers in sends]
    assert codes == [202, 202, 200, 422, 422, 422, 401]
    after = scrape(client)

    def added(event_type, code):
        return (value(after, "webhooks_events_ingested_total", type=event_type, code=code)
                - value(before, "webhooks_events_ingested_total", type=event_type, code=code))

    assert added("job.created", "202") == 2
    assert added("job.created", "200") == 1
    assert added("job.created", "422") == 1
    assert added("unknown", "422") == 2  # a type outside the catalog is not a label of its own
    assert added("unknown", "401") == 1  # refused before the body was read


def test_the_state_of_the_work_is_read_when_scraped(client, factory):
    org = factory.org("acme")
    now = utcnow()
    healthy = factory.webhook(org, name="healthy")
    for minutes in (3, 1):
        stored_delivery(healthy, state="pending", next_attempt_at=now - timedelta(minutes=minutes))
    stored_delivery(healthy, state="pending", next_attempt_at=now + timedelta(minutes=5))
    stored_delivery(healthy, state="pending", next_attempt_at=now - timedelta(hours=2),
                    lease_until=now + timedelta(seconds=30))  # in flight: not "due"
    stored_delivery(healthy, state="succeeded")
    factory.webhook(org, name="slow", unanswered_streak=2)
    factory.webhook(org, name="dead", unanswered_streak=7, failing_since=now)
    factory.webhook(org, name="off", active=False, disabled_reason="Failing for 72 hours")
    factory.webhook(org, name="gone", unanswered_streak=3, deleted_at=now)
    db.session.commit()

    found = scrape(client)

    assert value(found, "webhooks_deliveries_waiting", state="due") == 2
    assert value(found, "webhooks_deliveries_waiting", state="scheduled") == 1
    assert value(found, "webhooks_deliveries_waiting", state="in_flight") == 1
    assert 180 <= value(found, "webhooks_oldest_due_delivery_age_seconds") < 240
    assert value(found, "webhooks_endpoints_unhealthy", state="slowed") == 1
    assert value(found, "webhooks_endpoints_unhealthy", state="not_responding") == 1
    assert value(found, "webhooks_endpoints_unhealthy", state="failing") == 1
    assert value(found, "webhooks_endpoints_unhealthy", state="disabled") == 1
    # The inline queue has no Redis: no queue, worker, scheduler or reconciler figures.
    assert not any(name.startswith(("webhooks_queue_jobs", "webhooks_workers", "webhooks_reconciler"))
                   for name, _ in found)


def test_nothing_due_reads_as_zero(client):
    found = scrape(client)
    assert value(found, "webhooks_oldest_due_delivery_age_seconds") == 0
    assert value(found, "webhooks_deliveries_waiting", state="due") == 0

"""/api/v1/webhooks/<id>/deliveries: Log History for code, filtered and paged by cursor over
the same indexes; one delivery with its attempts; resend."""
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.support.deliveries import failed_attempt, store_delivery, stored_delivery
from webhooks import lifecycle
from webhooks.api import deliveries as api_deliveries
from webhooks.extensions import db
from webhooks.history import LogFilter
from webhooks.models import utcnow

from .conftest import messages


def _walk(api, path, **query):
    """Follow next_cursor to the end; return the ids in order and the number of pages."""
    ids, cursor, pages = [], None, 0
    while True:
        args = {**query, **({"cursor": cursor} if cursor else {})}
        body = api.get(path, query_string=args).get_json()
        ids += [d["id"] for d in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_pages_through_250_deliveries_without_duplicates_or_gaps_while_new_ones_arrive(
        api, factory, org):
    webhook = factory.webhook(org)
    existing = [store_delivery(webhook).id for _ in range(250)]
    path = f"/webhooks/{webhook.id}/deliveries"
    seen, cursor, arrived = [], None, []
    while True:
        body = api.get(path, query_string={"limit": 100, **({"cursor": cursor} if cursor else {})}
                       ).get_json()
        seen += [d["id"] for d in body["data"]]
        arrived += [store_delivery(webhook).id for _ in range(7)]  # newer than every page
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(existing, reverse=True)  # each once, newest first, none missing
    first = api.get(path, query_string={"limit": 100}).get_json()["data"]
    assert [d["id"] for d in first[:len(arrived)]] == sorted(arrived, reverse=True)


def test_filters_by_outcome_and_type_like_log_history(api, factory, org):
    webhook = factory.webhook(org, events=("job.created", "job.updated"))
    failed = stored_delivery(webhook, state="failed").id
    stored_delivery(webhook, state="succeeded")
    updated = stored_delivery(webhook, event_type="job.updated", state="succeeded").id
    path = f"/webhooks/{webhook.id}/deliveries"
    assert _walk(api, path, outcome="failed")[0] == [failed]
    assert _walk(api, path, type="job.updated")[0] == [updated]
    assert _walk(api, path, outcome="failed", type="job.updated")[0] == []


@pytest.mark.parametrize("query, path", [({"outcome": "lost"}, "outcome"),
                                         ({"type": "job.nope"}, "type"),
                                         ({"cursor": "djE6eA"}, "cursor"),
                                         ({"limit": 1000}, "limit")])
def test_bad_filters_are_refused_with_400(api, factory, org, query, path):
    webhook = factory.webhook(org)
    response = api.get(f"/webhooks/{webhook.id}/deliveries", query_string=query)
    assert response.status_code == 400
    assert set(messages(response)) == {path}


def test_one_delivery_shows_its_payload_and_attempts_with_credentials_masked(api, factory, org):
    webhook = factory.webhook(org)
    headers = [["Content-Type", "application/json"], ["Authorization", "Basic YW5uOnB3"]]
    delivery = stored_delivery(webhook, state="failed", attempts=[
        failed_attempt(500, request_headers=headers, category="http_5xx")])
    body = api.get(f"/webhooks/{webhook.id}/deliveries/{delivery.id}").get_json()
    payload = body["payload"]
    assert payload["type"] == "job.created" and payload["data"] == {"job": {"id": 1}}
    (attempt,) = body["attempts"]
    assert attempt["request_headers"] == [["Content-Type", "application/json"],
                                          ["Authorization", "Basic ••••••"]]
    assert (attempt["response_status"], attempt["failure_category"]) == (500, "http_5xx")
    assert attempt["failure"] and attempt["what_to_fix"]
    assert body["response"] == "500 · Failed"


def test_resend_asks_for_an_attempt_and_is_refused_while_off(api, factory, org):
    webhook = factory.webhook(org)
    delivery = stored_delivery(webhook, state="failed")
    response = api.post(f"/webhooks/{webhook.id}/deliveries/{delivery.id}/resend")
    assert response.status_code == 202
    assert response.get_json()["resend_requested_at"] is not None
    lifecycle.deactivate(webhook)
    refused = api.post(f"/webhooks/{webhook.id}/deliveries/{delivery.id}/resend")
    assert refused.status_code == 409
    assert messages(refused) == {"": lifecycle.RESEND_NEEDS_ACTIVE}


def test_a_delivery_of_another_webhook_is_not_found(api, factory, org):
    one, other = factory.webhook(org), factory.webhook(org, name="Other")
    delivery = stored_delivery(other)
    assert api.get(f"/webhooks/{one.id}/deliveries/{delivery.id}").status_code == 404
    assert api.post(f"/webhooks/{one.id}/deliveries/{delivery.id}/resend").status_code == 404


@pytest.mark.parametrize("log_filter", [LogFilter(), LogFilter("failed"),
                                        LogFilter(event_type="job.created"),
                                        LogFilter("failed", "job.created")])
def test_a_page_deep_in_the_log_is_read_through_an_index(app, factory, org, log_filter):
    """The page query walks an index from the cursor: no scan of the webhook's deliveries, no
    sort (bench/api_pages.py times it at a million rows)."""
    webhook = factory.webhook(org)
    query = api_deliveries.page_query(webhook, log_filter, before=10 ** 6, limit=100)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        plan = " ".join(row[-1] for row in rows)
        assert "USING INDEX ix_deliveries_webhook" in plan or "USING COVERING INDEX" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # no sort
    else:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
        assert "Index Scan Backward using ix_deliveries_webhook" in plan, plan
        assert "Sort" not in plan, plan


def test_a_retry_shows_when_it_is_due_as_log_history_does(api, factory, org):
    webhook = factory.webhook(org)
    delivery = stored_delivery(webhook, state="pending", attempt_count=1,
                               next_attempt_at=utcnow() + timedelta(minutes=5))
    shown = api.get(f"/webhooks/{webhook.id}/deliveries/{delivery.id}").get_json()
    assert shown["response"].startswith("Retrying at 20") and shown["response"].endswith("Z")

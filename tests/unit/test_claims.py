"""Claiming due work: fair across webhooks, oldest first within one, never beyond a webhook's cap."""
from datetime import timedelta

import pytest

from webhooks import backlog, claims, fairness, recording
from webhooks.fairness import NOT_RESPONDING_AFTER, fair_shares
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook, utcnow
from webhooks.sender import Outcome
from tests.support.deliveries import store_delivery


def test_fair_shares_deal_round_robin_within_each_allowance():
    assert fair_shares([1, 2, 3], {1: 4, 2: 4, 3: 4}, 5) == {1: 2, 2: 2, 3: 1}
    assert fair_shares([1, 2], {1: 4, 2: 1}, 10) == {1: 4, 2: 1}
    assert fair_shares([1, 2], {1: 0, 2: 3}, 2) == {2: 2}
    assert fair_shares([], {}, 3) == {}


def test_the_cap_drops_to_one_after_five_attempts_without_an_answer():
    assert [fairness.endpoint_cap(streak, 4) for streak in range(8)] == [4, 4, 3, 2, 1, 1, 1, 1]
    assert fairness.endpoint_cap(0, 10) == 10 and fairness.endpoint_cap(1, 10) == 4
    assert fairness.endpoint_cap(NOT_RESPONDING_AFTER, 4) == 1


@pytest.fixture
def two_orgs(factory):
    a, b = factory.org("alpha"), factory.org("beta")
    return factory.webhook(a, name="A"), factory.webhook(b, name="B")


def store_backlog(factory, webhook, count, first_due=None):
    """Store count pending deliveries to webhook, due a second apart from first_due on."""
    first_due = first_due or utcnow() - timedelta(minutes=10)
    ids = []
    for n in range(count):
        delivery = store_delivery(webhook)
        delivery.next_attempt_at = first_due + timedelta(seconds=n)
        ids.append(delivery.id)
    db.session.commit()
    return ids


def claimed_by_webhook(found):
    out = {}
    for claim in found:
        out.setdefault(claim.webhook_id, []).append(claim.delivery_id)
    return out


def test_a_backlog_of_one_webhook_never_hides_another_webhooks_first_event(factory, two_orgs):
    busy, quiet = two_orgs
    busy_ids = store_backlog(factory, busy, 30)
    quiet_ids = store_backlog(factory, quiet, 1, first_due=utcnow() - timedelta(seconds=5))

    found = claimed_by_webhook(claims.claim_due(limit=3))

    assert found[quiet.id] == quiet_ids
    assert found[busy.id] == busy_ids[:2]  # oldest due first


def test_no_webhook_gets_more_than_its_cap_in_flight(app, factory, two_orgs):
    busy, quiet = two_orgs
    busy_ids = store_backlog(factory, busy, 10)
    store_backlog(factory, quiet, 2)

    first = claimed_by_webhook(claims.claim_due(limit=64))
    second = claimed_by_webhook(claims.claim_due(limit=64))

    cap = app.config["WEBHOOKS_ENDPOINT_CONCURRENCY"]
    assert first[busy.id] == busy_ids[:cap] and len(first[quiet.id]) == 2
    assert second == {}  # both webhooks are at their cap or drained until leases end


def test_finished_attempts_free_the_cap_for_the_next_oldest(app, factory, two_orgs):
    busy, _ = two_orgs
    busy_ids = store_backlog(factory, busy, 6)
    first = claims.claim_due(limit=64)

    recording.record([(first[0], answered(200))])
    second = claims.claim_due(limit=64)

    assert [c.delivery_id for c in second] == [busy_ids[4]]


def test_leases_of_a_crashed_worker_stop_counting_once_they_expire(app, factory, two_orgs):
    busy, _ = two_orgs
    store_backlog(factory, busy, 8)
    claims.claim_due(limit=64)  # never recorded: the worker "crashed"

    later = utcnow() + timedelta(seconds=app.config["WEBHOOKS_LEASE_SECONDS"] + 1)
    again = claims.claim_due(limit=64, now=later)

    assert len(again) == app.config["WEBHOOKS_ENDPOINT_CONCURRENCY"]


def test_a_resend_in_flight_counts_toward_the_cap(app, factory, two_orgs):
    busy, _ = two_orgs
    done = store_delivery(busy)
    done.state, done.manual_requested_at = Delivery.FAILED, utcnow()
    db.session.commit()
    store_backlog(factory, busy, 10)

    assert len(claims.claim_manual(done.id)) == 1
    automatic = claims.claim_due(limit=64)

    assert len(automatic) == app.config["WEBHOOKS_ENDPOINT_CONCURRENCY"] - 1


def answered(status):
    now = utcnow()
    return Outcome(started_at=now, finished_at=now, duration_ms=5, status=status)


def unanswered():
    now = utcnow()
    return Outcome(started_at=now, finished_at=now, duration_ms=15000,
                   error="Timed out after 15 s waiting for a response")


def streak_of(webhook):
    db.session.expire_all()
    return db.session.get(Webhook, webhook.id).unanswered_streak


def test_attempts_without_an_answer_count_up_and_any_answer_resets(factory, two_orgs):
    busy, _ = two_orgs
    store_backlog(factory, busy, 8)
    first = claims.claim_due(limit=64)
    recording.record([(claim, unanswered()) for claim in first])
    assert streak_of(busy) == 4

    second = claims.claim_due(limit=64)  # one more would make five: one at a time already
    assert len(second) == 1
    recording.record([(second[0], unanswered())])
    assert streak_of(busy) == 5

    third = claims.claim_due(limit=64)
    recording.record([(third[0], answered(503))])  # an error status is still an answer
    assert streak_of(busy) == 0
    assert len(claims.claim_due(limit=64)) == 2  # the full cap again (for what is left)


def test_an_endpoint_that_does_not_respond_gets_one_attempt_at_a_time(factory, two_orgs):
    busy, quiet = two_orgs
    busy.unanswered_streak = NOT_RESPONDING_AFTER
    db.session.commit()
    busy_ids = store_backlog(factory, busy, 5)
    store_backlog(factory, quiet, 3)

    found = claimed_by_webhook(claims.claim_due(limit=64))

    assert found[busy.id] == busy_ids[:1] and len(found[quiet.id]) == 3
    assert claimed_by_webhook(claims.claim_due(limit=64)) == {}


def test_slowing_down_changes_neither_the_schedule_nor_the_state(factory, two_orgs, app):
    busy, _ = two_orgs
    busy.unanswered_streak = 99
    db.session.commit()
    [delivery_id] = store_backlog(factory, busy, 1)

    [claim] = claims.claim_due(limit=64)
    [result] = recording.record([(claim, unanswered())])

    delivery = db.session.get(Delivery, delivery_id)
    assert result.state == Delivery.PENDING and delivery.attempt_count == 1
    delay = app.config["WEBHOOKS_RETRY_DELAYS"][0]
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=delay)
    assert db.session.get(Webhook, busy.id).is_active


def test_waiting_counts_see_due_unheld_deliveries_only(factory, two_orgs):
    busy, quiet = two_orgs
    store_backlog(factory, busy, 7)
    store_backlog(factory, quiet, 2, first_due=utcnow() + timedelta(minutes=5))  # retries, not due yet
    claims.claim_due(limit=64)  # 4 of busy's now in flight

    assert backlog.waiting_counts([busy.id, quiet.id]) == {busy.id: 3, quiet.id: 0}


def test_a_pump_holding_all_of_a_fast_webhooks_leases_may_lease_ahead_but_never_beside_another():
    assert fairness.allowance(cap=4, held=0, mine=0, depth=8) == 32
    assert fairness.allowance(cap=4, held=32, mine=32, depth=8) == 0
    assert fairness.allowance(cap=4, held=2, mine=0, depth=8) == 2  # another pump sends: share the cap
    assert fairness.allowance(cap=4, held=3, mine=2, depth=8) == 1
    assert fairness.allowance(cap=4, held=12, mine=0, depth=1) == -8


def test_leases_ahead_block_other_pumps_until_released(app, factory, two_orgs):
    busy, _ = two_orgs
    store_backlog(factory, busy, 40)

    ahead = claims.claim_due(limit=64, owner="pump-1", depth={busy.id: 8})
    assert len(ahead) == 32 and {claim.cap for claim in ahead} == {4}
    assert claims.claim_due(limit=64, owner="pump-2", depth={busy.id: 8}) == []

    claims.release(ahead)
    assert len(claims.claim_due(limit=64, owner="pump-2")) == 4

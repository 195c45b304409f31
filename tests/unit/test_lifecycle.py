"""The webhook lifecycle (webhooks.lifecycle): what turning on, off, deleting and resending do,
whoever calls them (the UI today, the API later)."""
import pytest

from tests.support.deliveries import failed_attempt, store_delivery, stored_delivery
from tests.support.queues import RecordingQueue
from webhooks import catalog, lifecycle
from webhooks.extensions import db
from webhooks.models import Delivery


@pytest.fixture
def org(factory):
    return factory.org("acme")


def test_activating_turns_the_webhook_on_and_sends_it_a_test_event(org, factory, queue):
    webhook = factory.webhook(org, active=False)
    ping = lifecycle.activate(webhook)
    db.session.expire_all()
    assert webhook.is_active
    assert (ping.webhook_id, ping.event_type, ping.state) == (webhook.id, catalog.PING.type,
                                                              Delivery.PENDING)
    assert queue.submitted == [[ping.id]]


def test_activating_an_active_webhook_changes_and_sends_nothing(org, factory, queue):
    webhook = factory.webhook(org, active=True)
    assert lifecycle.activate(webhook) is None
    assert queue.submitted == [] and db.session.scalar(db.select(db.func.count(Delivery.id))) == 0


def test_deactivating_cancels_pending_deliveries_with_the_reason_and_keeps_settled_ones(
        org, factory, queue):
    webhook = factory.webhook(org, active=True)
    pending = store_delivery(webhook)
    failed = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    other = store_delivery(factory.webhook(org, name="Other"))

    assert lifecycle.deactivate(webhook) is True
    assert lifecycle.deactivate(webhook) is False  # already off: nothing to do

    db.session.expire_all()
    assert not webhook.is_active
    assert (pending.state, pending.cancel_reason, pending.next_attempt_at) == (
        Delivery.CANCELLED, Delivery.WEBHOOK_DEACTIVATED, None)
    assert failed.state == Delivery.FAILED and failed.cancel_reason is None
    assert other.state == Delivery.PENDING  # another webhook's delivery is untouched


def test_deleting_keeps_the_row_turns_it_off_and_cancels_what_is_pending(org, factory, queue):
    webhook = factory.webhook(org, active=True)
    pending = store_delivery(webhook)
    lifecycle.delete(webhook)
    db.session.expire_all()
    assert webhook.deleted_at is not None and not webhook.is_active
    assert (pending.state, pending.cancel_reason) == (Delivery.CANCELLED, Delivery.WEBHOOK_DELETED)


def test_a_resend_is_kept_in_the_database_and_handed_to_the_queue(org, factory, queue):
    webhook = factory.webhook(org, active=True)
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    assert lifecycle.request_resend(webhook, delivery) is None
    db.session.expire_all()
    assert delivery.manual_requested_at is not None and queue.manual == [delivery.id]


def test_a_resend_survives_a_queue_outage_for_the_reconciler(org, factory, app, caplog):
    app.extensions["webhooks_queue"] = RecordingQueue(fail=True)
    webhook = factory.webhook(org, active=True)
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    assert lifecycle.request_resend(webhook, delivery) is None
    db.session.expire_all()
    assert delivery.manual_requested_at is not None
    assert "the reconciler will" in caplog.text


@pytest.mark.parametrize("event_type, refused", [("job.created", True), ("webhook.ping", False)])
def test_a_deactivated_webhook_may_only_resend_test_events(org, factory, queue, event_type, refused):
    webhook = factory.webhook(org, active=False)
    delivery = stored_delivery(webhook, event_type, state="failed", attempts=[failed_attempt()])
    refusal = lifecycle.request_resend(webhook, delivery)
    assert (refusal == lifecycle.RESEND_NEEDS_ACTIVE) is refused
    db.session.expire_all()
    assert (delivery.manual_requested_at is None) is refused
    assert queue.manual == ([] if refused else [delivery.id])

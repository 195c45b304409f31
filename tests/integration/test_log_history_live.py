"""Log History actions against a real HTTPS receiver through the inline queue."""
import pytest

from tests.support.deliveries import fresh
from tests.support.log_table import LogTable
from tests.support.polling import HX, wait_until
from tests.support.receiver import Reply, json_of
from webhooks import catalog
from webhooks.extensions import db
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.https



@pytest.fixture
def hook(factory, auth, receiver):
    org = factory.org("acme")
    factory.user(org=org)
    auth.login()
    return factory.webhook(org, url=receiver.url)


def test_send_test_event_delivers_a_ping_that_log_history_shows(client, hook, receiver):
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/test-event", headers=HX)
    assert response.status_code == 200
    ping = json_of(receiver.wait_for(1)[0])
    assert ping["type"] == "webhook.ping"
    delivery = db.session.scalar(db.select(Delivery).filter_by(webhook_id=hook.id))
    wait_until(lambda: fresh(delivery.id).state == "succeeded")
    html = client.get(f"/orgs/acme/webhooks/{hook.id}/log", headers=HX).get_data(as_text=True)
    row = LogTable(html).row(delivery.id)
    assert row["event_id"] == ping["id"]
    assert (row["event"], row["url"], row["response"]) == ("Webhook Ping", receiver.url, "✓ 200")


def test_resend_adds_one_manual_attempt_without_touching_the_schedule(client, hook, receiver):
    receiver.always(Reply(status=500, body=b"down"))
    accepted = client.post("/internal/events", headers={"Authorization": "Bearer test-internal-token"},
                           json={"organization_id": "acme", "type": "job.created",
                                 "data": catalog.BY_TYPE["job.created"].example})
    assert accepted.status_code == 202 and accepted.json["deliveries"] == 1
    delivery_id = db.session.scalar(db.select(Delivery.id).filter_by(webhook_id=hook.id))
    wait_until(lambda: fresh(delivery_id).state == "failed")
    receiver.always(Reply(status=204, body=b""))

    response = client.post(f"/orgs/acme/webhooks/{hook.id}/deliveries/{delivery_id}/resend",
                           headers=HX)
    assert response.status_code == 200
    wait_until(lambda: fresh(delivery_id).manual_requested_at is None)

    delivery = db.session.get(Delivery, delivery_id)
    attempts = db.session.scalars(db.select(Attempt).filter_by(delivery_id=delivery_id)
                                  .order_by(Attempt.number)).all()
    assert [a.trigger for a in attempts] == ["automatic"] * 3 + ["manual"]
    assert attempts[-1].succeeded and attempts[-1].response_status == 204
    assert delivery.state == "succeeded" and delivery.attempt_count == 3
    details = client.get(f"/orgs/acme/webhooks/{hook.id}/deliveries/{delivery_id}",
                         headers=HX).get_data(as_text=True)
    assert details.count('<details class="attempt') == 4 and ">manual<" in details

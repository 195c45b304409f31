"""What the pages show of endpoint health, and the recovery pages, through the test client."""
import json
import re
from datetime import timedelta

import pytest

from tests.support.deliveries import stored_delivery
from tests.support.polling import HX
from webhooks import health, lifecycle, recovery
from webhooks.extensions import db
from webhooks.models import Delivery, Recovery, Webhook, utcnow

HOUR = timedelta(hours=1)


@pytest.fixture
def webhook(factory, owner, queue):
    return factory.webhook(owner, name="CRM sync")


def failing(webhook, status=500, error=None):
    webhook.failing_since = utcnow() - 2 * HOUR
    webhook.failing_deliveries = 3
    webhook.last_failure_at = webhook.last_attempt_at = utcnow() - HOUR
    webhook.last_status_code, webhook.last_error = status, error
    webhook.last_category = "http_5xx" if status else "timeout"
    db.session.commit()


def text_of(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_failing_webhook_has_a_banner_on_the_listing_and_its_page(client, webhook):
    failing(webhook)
    listing = text_of(client.get("/orgs/acme/webhooks/"))
    assert "is <strong>failing</strong> since" in listing and ">Failing</span>" in listing
    assert "Your server answered 500" in listing

    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))
    assert "This webhook is <strong>failing</strong>" in page
    assert "it will be turned off automatically on" in page


def test_a_disabled_webhook_says_why_and_what_to_do(client, webhook):
    lifecycle.disable(webhook, "The endpoint answered 410 Gone on 2026-12-01 10:00 UTC: it "
                               "asked for no more deliveries.")
    db.session.commit()
    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))
    assert "was <strong>turned off automatically</strong>" in page
    assert "answered 410 Gone on 2026-12-01 10:00 UTC" in page
    assert "turn the webhook back on" in page
    listing = text_of(client.get("/orgs/acme/webhooks/"))
    assert ">Turned off automatically</span>" in listing


def test_the_listing_shows_each_webhook_s_success_rate(client, webhook, factory, owner):
    from webhooks.models import HourlyStats
    db.session.add(HourlyStats(webhook_id=webhook.id, hour=utcnow().replace(
        minute=0, second=0, microsecond=0), succeeded=197, failed=3))
    db.session.commit()
    listing = text_of(client.get("/orgs/acme/webhooks/"))
    assert "98.5 % succeeded · 24 h" in listing


def test_the_certificate_warning_shows_two_weeks_ahead(client, webhook):
    webhook.certificate_expires_at = utcnow() + timedelta(days=20)
    db.session.commit()
    assert "TLS certificate" not in text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))
    webhook.certificate_expires_at = utcnow() + timedelta(days=10)
    db.session.commit()
    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))
    assert "The endpoint's TLS certificate expires on" in page


def test_the_health_tab_charts_the_chosen_period(client, webhook):
    for period, hours in (("24h", 24), ("7d", 168)):
        response = client.get(f"/orgs/acme/webhooks/{webhook.id}/health?period={period}",
                              headers=HX)
        data = re.search(r'<script type="application/json" id="health-charts-data">(.*?)</script>',
                         response.get_data(as_text=True), re.S).group(1)
        charts = json.loads(data)
        assert charts["period"] == period and len(charts["labels"]) == hours
    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}/health?period=bogus"))
    assert "Success on the first attempt" in page and "Response time p95" in page


def test_resend_failed_counts_first_then_starts_and_shows_progress(client, webhook, queue):
    for age in (1, 2, 30):
        stored_delivery(webhook, state="failed", created_at=utcnow() - age * HOUR,
                        attempt_count=3)
    form = f"/orgs/acme/webhooks/{webhook.id}/resend-failed"
    assert "Count failed deliveries" in text_of(client.get(form))
    counted = text_of(client.get(form, query_string={"count": "1", "period": "24h"}))
    assert "<strong>2 failed deliveries</strong>" in counted and "Resend 2 deliveries" in counted
    assert db.session.scalar(db.select(db.func.count()).select_from(Recovery)) == 0

    started = client.post(form, data={"period": "24h"})
    assert started.status_code == 302
    [made] = db.session.scalars(db.select(Recovery)).all()
    assert made.total == 2 and started.headers["Location"].endswith(f"/recoveries/{made.id}")
    progress = client.get(started.headers["Location"] + "?part=progress", headers=HX)
    assert 'hx-trigger="every 2s"' in progress.get_data(as_text=True)
    assert "0 of 2" in text_of(progress)


def test_a_custom_period_must_end_after_it_starts(client, webhook):
    response = client.get(f"/orgs/acme/webhooks/{webhook.id}/resend-failed", query_string={
        "count": "1", "period": "custom", "start": "2026-12-02T10:00", "end": "2026-12-02T09:00"})
    assert response.status_code == 422
    assert "The end must be after the start." in text_of(response)


def test_custom_times_are_read_in_the_person_s_time_zone(client, webhook):
    stored_delivery(webhook, state="failed", created_at=utcnow() - 2 * HOUR, attempt_count=3)
    local = (utcnow() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")  # UTC+5: now, locally
    earlier = (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")  # 3 hours ago
    response = client.get(f"/orgs/acme/webhooks/{webhook.id}/resend-failed", query_string={
        "count": "1", "period": "custom", "start": earlier, "end": local, "tz_offset": "300"})
    assert "<strong>1 failed delivery</strong>" in text_of(response)


def test_cancel_stops_a_resend(client, webhook):
    stored_delivery(webhook, state="failed", created_at=utcnow() - HOUR, attempt_count=3)
    made = recovery.resend_failed(webhook, recovery.Window(utcnow() - 2 * HOUR, utcnow()))
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/recoveries/{made.id}/cancel")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Recovery, made.id).cancelled_at is not None
    assert db.session.scalar(db.select(Delivery.state)) == Delivery.FAILED


def test_a_recovery_finished_while_the_page_is_read_shows_no_stale_banner(client, webhook,
                                                                        monkeypatch):
    """A worker may finish the resend between reading the webhook and counting the progress:
    "Finished" then comes with the banners of the healthy webhook, never the failing one's."""
    failing(webhook)
    stored_delivery(webhook, state="failed", created_at=utcnow() - HOUR, attempt_count=3)
    made = recovery.resend_failed(webhook, recovery.Window(utcnow() - 2 * HOUR, utcnow()))
    count = recovery.progress

    def finished_by_a_worker_then_counted(found):
        with db.engine.begin() as worker:  # another connection, as a worker's would be
            worker.execute(db.update(Delivery).values(state=Delivery.SUCCEEDED,
                                                      last_attempt_at=utcnow()))
            worker.execute(db.update(Webhook).values(failing_since=None, failing_deliveries=0))
        return count(found)

    monkeypatch.setattr(recovery, "progress", finished_by_a_worker_then_counted)
    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}/recoveries/{made.id}"))
    assert "Finished." in page
    assert "failing" not in page


def test_another_webhook_s_recovery_is_not_found(client, webhook, factory, owner):
    other = factory.webhook(owner, name="Other")
    made = recovery.resend_failed(other, recovery.Window(utcnow() - HOUR, utcnow()))
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/recoveries/{made.id}").status_code == 404


def test_turning_it_back_on_offers_the_missed_events(client, webhook, monkeypatch):
    monkeypatch.setattr(health, "announce", lambda changes: None)
    lifecycle.deactivate(webhook)
    stored_delivery(webhook, state="cancelled", cancel_reason=Delivery.WEBHOOK_DEACTIVATED)
    client.post(f"/orgs/acme/webhooks/{webhook.id}/toggle", data={"active": "1",
                                                                  "from": "detail"})
    page = text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))
    assert "Send 1 missed event" in page

    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/replay")
    assert "/recoveries/" in response.headers["Location"]
    assert "missed event" not in text_of(client.get(f"/orgs/acme/webhooks/{webhook.id}"))


def test_the_confirmation_resends_exactly_the_period_that_was_counted(client, webhook):
    counted = stored_delivery(webhook, state="failed", created_at=utcnow() - 50 * HOUR,
                              attempt_count=3)
    stored_delivery(webhook, state="failed", created_at=utcnow() - 2 * HOUR, attempt_count=3)
    start, end = utcnow() - 51 * HOUR, utcnow() - 49 * HOUR
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/resend-failed", data={
        "period": "24h", "counted_from": start.isoformat(), "counted_to": end.isoformat()})
    assert response.status_code == 302
    [made] = db.session.scalars(db.select(Recovery)).all()
    assert made.total == 1 and made.window_from == start
    assert db.session.get(Delivery, counted.id).recovery_id == made.id

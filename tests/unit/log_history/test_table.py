"""Log History's table: columns, state texts, live rows and their polling rate, filters, pagination, fragment or page."""
from datetime import timedelta

import pytest

from tests.support.deliveries import T0, failed_attempt, ok_attempt, stored_delivery, timeout_attempt
from tests.support.log_table import LogTable, log_url, table
from tests.support.polling import HX
from webhooks.extensions import db
from webhooks.models import Event, utcnow


# -- columns -----------------------------------------------------------------------------------

def test_row_shows_event_id_time_label_url_and_status_code(client, webhook):
    delivery = stored_delivery(webhook, "job.created", attempts=[ok_attempt(url="https://hooks.example.com/v1")],
                      created_at=T0)
    log, html = table(client, webhook)
    event = db.session.get(Event, delivery.event_id)
    row = log.row(delivery.id)
    assert row["event_id"] == event.public_id
    assert row["time"] == "2026-11-28 10:00 UTC"
    assert '<time datetime="2026-11-28T10:00:00Z" data-local' in html
    assert row["event"] == "Job Created"
    assert row["url"] == "https://hooks.example.com/v1"  # the URL the latest attempt called
    assert row["response"] == "✓ 200"


def test_webhook_url_column_falls_back_to_the_webhook_before_any_attempt(client, webhook):
    delivery = stored_delivery(webhook, state="pending")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["url"] == "https://hooks.example.com/in"


def test_every_event_type_is_labelled_with_its_kind(client, webhook):
    deliveries = {t: stored_delivery(webhook, t) for t in ("estimate.updated", "signable_document.signed",
                                                  "webhook.ping")}
    log, _ = table(client, webhook)
    labels = {t: log.row(d.id)["event"] for t, d in deliveries.items()}
    assert labels == {"estimate.updated": "Estimate Updated",
                      "signable_document.signed": "Signable Document Signed",
                      "webhook.ping": "Webhook Ping"}


def test_rows_are_newest_first(client, webhook):
    ids = [stored_delivery(webhook).id for _ in range(3)]
    log, _ = table(client, webhook)
    assert log.ids == sorted(ids, reverse=True)


# -- response texts ----------------------------------------------------------------------------

def tomorrow_at(hour, minute):
    return (utcnow() + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def test_due_delivery_without_attempt_reads_waiting_for_the_endpoint(client, webhook):
    delivery = stored_delivery(webhook, state="pending")  # due since T0, held by no worker
    log, html = table(client, webhook)
    assert log.row(delivery.id)["response"] == "◷ Waiting for the endpoint"
    assert "badge warn" in html


def test_retrying_delivery_reads_its_status_and_the_next_attempt_time(client, webhook):
    due = tomorrow_at(10, 42)
    delivery = stored_delivery(webhook, state="pending", attempts=[failed_attempt(503)], next_attempt_at=due)
    log, html = table(client, webhook)
    assert log.row(delivery.id)["response"] == "⟳ 503 · Retrying at 10:42 UTC"
    assert f'<time datetime="{due:%Y-%m-%dT%H:%M:%S}Z" data-local="clock"' in html


def test_retrying_after_a_timeout_reads_retrying_without_a_code(client, webhook):
    delivery = stored_delivery(webhook, state="pending", attempts=[timeout_attempt()],
                      next_attempt_at=tomorrow_at(10, 5), last_status_code=None, attempt_count=1,
                      last_error="Timed out after 15 s waiting for a response")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["response"] == "⟳ Retrying at 10:05 UTC"


def test_failed_delivery_with_a_status_reads_code_and_failed_in_red(client, webhook):
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    log, html = table(client, webhook)
    assert log.row(delivery.id)["response"] == "✕ 500 · Failed"
    assert 'class="badge bad outcome"' in html


def test_failed_delivery_without_response_reads_the_reason(client, webhook):
    delivery = stored_delivery(webhook, state="failed", attempts=[timeout_attempt()] * 3,
                      attempt_count=3, last_status_code=None,
                      last_error="Timed out after 15 s waiting for a response")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["response"].startswith("✕ Failed: timed out")


def test_cancelled_delivery_reads_cancelled_with_its_reason_as_title(client, webhook):
    delivery = stored_delivery(webhook, state="cancelled", cancel_reason="The webhook was turned off.")
    log, html = table(client, webhook)
    assert log.row(delivery.id)["response"] == "⊘ Cancelled"
    assert 'title="The webhook was turned off."' in html


def test_requested_resend_reads_resending(client, webhook):
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3,
                      manual_requested_at=T0)
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["response"] == "↻ 500 · Resending…"


# -- live rows ---------------------------------------------------------------------------------

def test_pending_rows_poll_themselves_and_final_rows_do_not(client, webhook):
    pending = stored_delivery(webhook, state="pending", next_attempt_at=utcnow())
    done = stored_delivery(webhook, attempts=[ok_attempt()])
    log, _ = table(client, webhook)
    assert log.row(pending.id)["attrs"]["hx-trigger"].startswith("every 2s")
    assert "every" not in log.row(done.id)["attrs"]["hx-trigger"]


def test_a_polled_row_stops_polling_once_the_delivery_is_final(client, webhook):
    delivery = stored_delivery(webhook, state="pending", next_attempt_at=utcnow())
    url = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/row"
    assert "every 2s" in LogTable(client.get(url, headers=HX).get_data(as_text=True)).rows[0]["attrs"]["hx-trigger"]
    delivery.state, delivery.last_status_code, delivery.next_attempt_at = "succeeded", 204, None
    db.session.commit()
    row = LogTable(client.get(url, headers=HX).get_data(as_text=True)).rows[0]
    assert "every" not in row["attrs"]["hx-trigger"]
    assert row["response"] == "✓ 204"


def test_newer_endpoint_answers_204_until_a_newer_delivery_matches(client, webhook):
    first = stored_delivery(webhook)
    url = f"/orgs/acme/webhooks/{webhook.id}/log/newer?after={first.id}"
    assert client.get(url, headers=HX).status_code == 204
    stored_delivery(webhook, "estimate.created")
    assert client.get(url + "&type=job.created", headers=HX).status_code == 204
    newest = stored_delivery(webhook, "job.created")
    response = client.get(url + "&type=job.created", headers=HX)
    log = LogTable(response.get_data(as_text=True))
    assert response.status_code == 200
    assert log.ids == [newest.id, first.id]
    assert "fresh" in log.row(newest.id)["attrs"]["class"]
    assert f"after={newest.id}" in response.get_data(as_text=True)  # the poll moves its mark


def test_only_the_first_page_watches_for_new_rows(client, webhook):
    for _ in range(26):
        stored_delivery(webhook)
    _, first = table(client, webhook)
    _, second = table(client, webhook, page=2)
    assert "/log/newer" in first and "/log/newer" not in second


# -- polling rate ------------------------------------------------------------------------------

def poll_trigger(client, webhook, delivery):
    base = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}"
    row = LogTable(client.get(base + "/row", headers=HX).get_data(as_text=True)).rows[0]
    details = client.get(base, headers=HX).get_data(as_text=True)
    trigger = row["attrs"]["hx-trigger"]
    assert f'hx-trigger="{trigger}"' in details  # the open panel polls at the same rate
    return trigger.split(",")[0] if trigger.startswith("every") else None


def test_a_retry_minutes_away_is_polled_slowly_and_one_due_soon_quickly(client, webhook):
    now = utcnow()
    waiting = stored_delivery(webhook, state="pending", attempts=[failed_attempt()],
                     next_attempt_at=now + timedelta(minutes=5))
    due_soon = stored_delivery(webhook, state="pending", attempts=[failed_attempt()],
                      next_attempt_at=now + timedelta(seconds=10))
    overdue = stored_delivery(webhook, state="pending", next_attempt_at=now - timedelta(seconds=5))
    assert poll_trigger(client, webhook, waiting) == "every 30s"
    assert poll_trigger(client, webhook, due_soon) == "every 2s"
    assert poll_trigger(client, webhook, overdue) == "every 2s"


def test_a_running_attempt_or_a_requested_resend_is_polled_quickly(client, webhook):
    later = utcnow() + timedelta(minutes=10)
    running = stored_delivery(webhook, state="pending", attempts=[failed_attempt()], next_attempt_at=later,
                     lease_until=utcnow() + timedelta(seconds=20))
    resending = stored_delivery(webhook, state="pending", attempts=[failed_attempt()], next_attempt_at=later,
                       manual_requested_at=utcnow())
    resending_final = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3,
                             manual_requested_at=utcnow())
    settled = stored_delivery(webhook, state="failed", attempts=[failed_attempt()] * 3)
    assert poll_trigger(client, webhook, running) == "every 2s"
    assert poll_trigger(client, webhook, resending) == "every 2s"
    assert poll_trigger(client, webhook, resending_final) == "every 2s"
    assert poll_trigger(client, webhook, settled) is None


def test_a_delivery_long_waiting_for_a_slowed_down_endpoint_is_polled_at_a_middle_pace(client,
                                                                                      webhook):
    now = utcnow()
    stuck = stored_delivery(webhook, state="pending", next_attempt_at=now - timedelta(minutes=3))
    just_due = stored_delivery(webhook, state="pending", next_attempt_at=now - timedelta(seconds=5))
    assert poll_trigger(client, webhook, stuck) == "every 10s"
    assert poll_trigger(client, webhook, just_due) == "every 2s"


# -- filters -----------------------------------------------------------------------------------

@pytest.fixture
def mixed(webhook):
    return {
        "succeeded": stored_delivery(webhook, "job.created", attempts=[ok_attempt()]),
        "failed": stored_delivery(webhook, "job.updated", state="failed", attempts=[failed_attempt()] * 3),
        "pending": stored_delivery(webhook, "job.created", state="pending"),
        "cancelled": stored_delivery(webhook, "estimate.created", state="cancelled"),
    }


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "pending", "cancelled"])
def test_outcome_filter_keeps_only_that_outcome(client, webhook, mixed, outcome):
    log, _ = table(client, webhook, outcome=outcome)
    assert log.ids == [mixed[outcome].id]


def test_all_outcomes_and_unknown_filter_values_show_everything(client, webhook, mixed):
    everything = sorted((d.id for d in mixed.values()), reverse=True)
    assert table(client, webhook, outcome="all")[0].ids == everything
    assert table(client, webhook, outcome="bogus", type="no.such")[0].ids == everything


def test_event_type_filter_and_combined_filters(client, webhook, mixed):
    assert table(client, webhook, type="job.created")[0].ids == [mixed["pending"].id,
                                                                 mixed["succeeded"].id]
    assert table(client, webhook, type="job.created", outcome="pending")[0].ids == [mixed["pending"].id]


def test_filters_live_in_the_url_and_the_page_links_keep_them(client, webhook):
    for _ in range(30):
        stored_delivery(webhook, "job.updated", state="failed", attempts=[failed_attempt()])
    stored_delivery(webhook, "job.created")
    page = client.get(log_url(webhook, outcome="failed", type="job.updated"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html  # a shared link opens a whole page
    assert '<option value="failed" selected>' in html
    assert '<option value="job.updated" selected>' in html
    assert "outcome=failed&amp;type=job.updated&amp;page=2" in html
    assert "of 30 deliveries matching the filters" in html


def test_no_match_says_so(client, webhook, mixed):
    _, html = table(client, webhook, type="signed_document.signed")
    assert "No delivery matches these filters." in html


# -- pagination --------------------------------------------------------------------------------

def make(webhook, count):
    return [stored_delivery(webhook).id for _ in range(count)]


def test_empty_log_says_nothing_was_sent_yet(client, webhook):
    log, html = table(client, webhook)
    assert log.ids == [] and "No events have been sent to this webhook yet." in html
    assert "Page 1" not in html


def test_exactly_25_fit_on_one_page(client, webhook):
    make(webhook, 25)
    log, html = table(client, webhook)
    assert len(log.ids) == 25 and "Showing 1–25 of 25 deliveries" in html
    assert 'rel="next"' not in html


def test_the_26th_goes_to_a_second_page(client, webhook):
    ids = make(webhook, 26)
    log, html = table(client, webhook)
    assert len(log.ids) == 25 and "Page 1 of 2" in html and 'rel="next"' in html
    last, html = table(client, webhook, page=2)
    assert last.ids == [ids[0]]  # the oldest
    assert "Showing 26–26 of 26 deliveries" in html and 'rel="prev"' in html
    assert 'rel="next"' not in html


@pytest.mark.parametrize("asked, shown", [("99", 2), ("0", 1), ("-3", 1), ("two", 1)])
def test_out_of_range_or_malformed_pages_are_clamped(client, webhook, asked, shown):
    make(webhook, 30)
    _, html = table(client, webhook, page=asked)
    assert f"Page {shown} of 2" in html


# -- fragment or page --------------------------------------------------------------------------

def test_log_url_serves_a_fragment_to_htmx_and_a_page_otherwise(client, webhook):
    stored_delivery(webhook)
    fragment = client.get(log_url(webhook), headers=HX)
    page = client.get(log_url(webhook))
    assert "<html" not in fragment.get_data(as_text=True)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="log-results"')
    assert "<html" in page.get_data(as_text=True) and "Log History" in page.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_history_restore_gets_the_whole_page(client, webhook):
    response = client.get(log_url(webhook), headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


def test_detail_screen_opens_on_log_history_and_the_secret_tab_keeps_it_masked(client, webhook):
    stored_delivery(webhook, attempts=[ok_attempt()])
    html = client.get(f"/orgs/acme/webhooks/{webhook.id}").get_data(as_text=True)
    assert 'id="log-history"' in html and "Send test event" in html
    assert webhook.signing_secret not in html
    html = client.get(f"/orgs/acme/webhooks/{webhook.id}/signing-secret").get_data(as_text=True)
    assert "whsec_••••" in html and webhook.signing_secret not in html
    assert "standardwebhooks" in html


def test_detail_screen_shows_the_log_history_its_query_asks_for(client, webhook):
    stored_delivery(webhook, attempts=[ok_attempt()])
    failed = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}?outcome=failed").get_data(as_text=True)
    assert LogTable(page).ids == [failed.id]
    assert '<option value="failed" selected>' in page


# -- out-of-range numbers ------------------------------------------------------------------------

HUGE = "99999999999999999999999"  # beyond a 64-bit integer


def test_huge_page_after_and_ids_give_a_clamped_page_or_404_never_an_error(client, webhook):
    delivery = stored_delivery(webhook)
    log, _ = table(client, webhook, page=HUGE)
    assert log.ids == [delivery.id]
    newer = client.get(f"/orgs/acme/webhooks/{webhook.id}/log/newer?after={HUGE}", headers=HX)
    assert newer.status_code == 204
    base = f"/orgs/acme/webhooks/{webhook.id}"
    for url in (f"/orgs/acme/webhooks/{HUGE}/log", f"/orgs/acme/webhooks/{HUGE}/secret",
                f"{base}/deliveries/{HUGE}", f"{base}/deliveries/{HUGE}/row"):
        assert client.get(url, headers=HX).status_code == 404, url
    assert client.post(f"{base}/deliveries/{HUGE}/resend", headers=HX).status_code == 404
    largest = 2 ** 63 - 1  # still an id: looked up, not found
    assert client.get(f"{base}/deliveries/{largest}", headers=HX).status_code == 404

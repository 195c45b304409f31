"""Log History: columns, state texts, filters, pagination, details, escaping, live refresh, access."""
from datetime import timedelta

import pytest

from webhooks.extensions import db
from webhooks.models import Delivery, Event, utcnow

from .log_history_support import (T0, LogTable, failed_attempt, ok_attempt, pretty, record,
                                  timeout_attempt)

HX = {"HX-Request": "true"}


@pytest.fixture
def org(owner):
    return owner


@pytest.fixture
def webhook(factory, org):
    return factory.webhook(org, url="https://hooks.example.com/in", name="CRM")


def log_url(webhook, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/orgs/acme/webhooks/{webhook.id}/log" + (f"?{query}" if query else "")


def table(client, webhook, **args):
    response = client.get(log_url(webhook, **args), headers=HX)
    assert response.status_code == 200
    return LogTable(response.get_data(as_text=True)), response.get_data(as_text=True)


# -- columns -----------------------------------------------------------------------------------

def test_row_shows_event_id_time_label_url_and_status_code(client, webhook):
    delivery = record(webhook, "job.created", attempts=[ok_attempt(url="https://hooks.example.com/v1")],
                      created_at=T0)
    log, html = table(client, webhook)
    event = db.session.get(Event, delivery.event_id)
    cells = log.row(delivery.id)["cells"]
    assert cells[0] == event.public_id
    assert cells[1] == "2026-11-28 10:00 UTC"
    assert '<time datetime="2026-11-28T10:00:00Z" data-local' in html
    assert cells[2] == "Job Created"
    assert cells[3] == "https://hooks.example.com/v1"  # the URL the latest attempt called
    assert cells[4] == "✓ 200"


def test_webhook_url_column_falls_back_to_the_webhook_before_any_attempt(client, webhook):
    delivery = record(webhook, state="pending")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["cells"][3] == "https://hooks.example.com/in"


def test_every_event_type_is_labelled_with_its_kind(client, webhook):
    deliveries = {t: record(webhook, t) for t in ("estimate.updated", "signable_document.signed",
                                                  "webhook.ping")}
    log, _ = table(client, webhook)
    labels = {t: log.row(d.id)["cells"][2] for t, d in deliveries.items()}
    assert labels == {"estimate.updated": "Estimate Updated",
                      "signable_document.signed": "Signable Document Signed",
                      "webhook.ping": "Webhook Ping"}


def test_rows_are_newest_first(client, webhook):
    ids = [record(webhook).id for _ in range(3)]
    log, _ = table(client, webhook)
    assert log.ids == sorted(ids, reverse=True)


# -- response texts ----------------------------------------------------------------------------

def tomorrow_at(hour, minute):
    return (utcnow() + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def test_due_delivery_without_attempt_reads_waiting_for_the_endpoint(client, webhook):
    delivery = record(webhook, state="pending")  # due since T0, held by no worker
    log, html = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "◷ Waiting for the endpoint"
    assert "badge warn" in html


def test_retrying_delivery_reads_its_status_and_the_next_attempt_time(client, webhook):
    due = tomorrow_at(10, 42)
    delivery = record(webhook, state="pending", attempts=[failed_attempt(503)], next_attempt_at=due)
    log, html = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "⟳ 503 · Retrying at 10:42 UTC"
    assert f'data-local-time="{due:%Y-%m-%dT%H:%M:%S}Z"' in html


def test_retrying_after_a_timeout_reads_retrying_without_a_code(client, webhook):
    delivery = record(webhook, state="pending", attempts=[timeout_attempt()],
                      next_attempt_at=tomorrow_at(10, 5), last_status_code=None, attempt_count=1,
                      last_error="Timed out after 15 s waiting for a response")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "⟳ Retrying at 10:05 UTC"


def test_failed_delivery_with_a_status_reads_code_and_failed_in_red(client, webhook):
    delivery = record(webhook, state="failed", attempts=[failed_attempt()] * 3)
    log, html = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "✕ 500 · Failed"
    assert 'class="badge bad outcome"' in html


def test_failed_delivery_without_response_reads_the_reason(client, webhook):
    delivery = record(webhook, state="failed", attempts=[timeout_attempt()] * 3,
                      attempt_count=3, last_status_code=None,
                      last_error="Timed out after 15 s waiting for a response")
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["cells"][4].startswith("✕ Failed: timed out")


def test_cancelled_delivery_reads_cancelled_with_its_reason_as_title(client, webhook):
    delivery = record(webhook, state="cancelled", cancel_reason="The webhook was turned off.")
    log, html = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "⊘ Cancelled"
    assert 'title="The webhook was turned off."' in html


def test_requested_resend_reads_resending(client, webhook):
    delivery = record(webhook, state="failed", attempts=[failed_attempt()] * 3,
                      manual_requested_at=T0)
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["cells"][4] == "↻ 500 · Resending…"


# -- live rows ---------------------------------------------------------------------------------

def test_pending_rows_poll_themselves_and_final_rows_do_not(client, webhook):
    pending = record(webhook, state="pending", next_attempt_at=utcnow())
    done = record(webhook, attempts=[ok_attempt()])
    log, _ = table(client, webhook)
    assert log.row(pending.id)["attrs"]["hx-trigger"].startswith("every 2s")
    assert "every" not in log.row(done.id)["attrs"]["hx-trigger"]


def test_a_polled_row_stops_polling_once_the_delivery_is_final(client, webhook):
    delivery = record(webhook, state="pending", next_attempt_at=utcnow())
    url = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/row"
    assert "every 2s" in LogTable(client.get(url, headers=HX).get_data(as_text=True)).rows[0]["attrs"]["hx-trigger"]
    delivery.state, delivery.last_status_code, delivery.next_attempt_at = "succeeded", 204, None
    db.session.commit()
    row = LogTable(client.get(url, headers=HX).get_data(as_text=True)).rows[0]
    assert "every" not in row["attrs"]["hx-trigger"]
    assert row["cells"][4] == "✓ 204"


def test_newer_endpoint_answers_204_until_a_newer_delivery_matches(client, webhook):
    first = record(webhook)
    url = f"/orgs/acme/webhooks/{webhook.id}/log/newer?after={first.id}"
    assert client.get(url, headers=HX).status_code == 204
    record(webhook, "estimate.created")
    assert client.get(url + "&type=job.created", headers=HX).status_code == 204
    newest = record(webhook, "job.created")
    response = client.get(url + "&type=job.created", headers=HX)
    log = LogTable(response.get_data(as_text=True))
    assert response.status_code == 200
    assert log.ids == [newest.id, first.id]
    assert "fresh" in log.row(newest.id)["attrs"]["class"]
    assert f"after={newest.id}" in response.get_data(as_text=True)  # the poll moves its mark


def test_only_the_first_page_watches_for_new_rows(client, webhook):
    for _ in range(26):
        record(webhook)
    _, first = table(client, webhook)
    _, second = table(client, webhook, page=2)
    assert "/log/newer" in first and "/log/newer" not in second


# -- filters -----------------------------------------------------------------------------------

@pytest.fixture
def mixed(webhook):
    return {
        "succeeded": record(webhook, "job.created", attempts=[ok_attempt()]),
        "failed": record(webhook, "job.updated", state="failed", attempts=[failed_attempt()] * 3),
        "pending": record(webhook, "job.created", state="pending"),
        "cancelled": record(webhook, "estimate.created", state="cancelled"),
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
        record(webhook, "job.updated", state="failed", attempts=[failed_attempt()])
    record(webhook, "job.created")
    page = client.get(log_url(webhook, outcome="failed", type="job.updated"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html  # a shared link opens a whole page
    assert '<option value="failed" selected>' in html
    assert '<option value="job.updated" selected>' in html
    assert "outcome=failed&amp;type=job.updated&amp;page=2" in html
    assert 'hx-push-url="true"' in html
    assert "of 30 deliveries matching the filters" in html


def test_no_match_says_so(client, webhook, mixed):
    _, html = table(client, webhook, type="signed_document.signed")
    assert "No delivery matches these filters." in html


# -- pagination --------------------------------------------------------------------------------

def make(webhook, count):
    return [record(webhook).id for _ in range(count)]


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
    record(webhook)
    fragment = client.get(log_url(webhook), headers=HX)
    page = client.get(log_url(webhook))
    assert "<html" not in fragment.get_data(as_text=True)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="log-results"')
    assert "<html" in page.get_data(as_text=True) and "Log History" in page.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in page.headers["Vary"]


def test_history_restore_gets_the_whole_page(client, webhook):
    response = client.get(log_url(webhook), headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


def test_detail_screen_includes_log_history_and_the_masked_secret(client, webhook):
    record(webhook, attempts=[ok_attempt()])
    html = client.get(f"/orgs/acme/webhooks/{webhook.id}").get_data(as_text=True)
    assert 'id="log-history"' in html and "Log History" in html
    assert "Send test event" in html
    assert "whsec_••••" in html and webhook.signing_secret not in html
    assert "standardwebhooks" in html


# -- details -----------------------------------------------------------------------------------

def details(client, webhook, delivery, headers=HX):
    response = client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}", headers=headers)
    assert response.status_code == 200
    return response


def test_details_show_id_event_url_and_pretty_payload(client, webhook):
    delivery = record(webhook, "job.created", attempts=[ok_attempt()], data={"job": {"id": 42, "name": "Roof"}})
    event = db.session.get(Event, delivery.event_id)
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert event.public_id in html and "Job Created" in html and "https://hooks.example.com/in" in html
    assert pretty(event.payload).replace('"', "&#34;") in html
    assert '&#34;name&#34;: &#34;Roof&#34;' in html


def test_details_list_each_attempt_with_trigger_status_time_duration_and_code(client, webhook):
    delivery = record(webhook, state="succeeded", attempts=[
        failed_attempt(502, duration_ms=80),
        timeout_attempt(duration_ms=15000),
        ok_attempt(trigger="manual", duration_ms=1500,
                   response_headers=[["X-Receiver", "crm-7"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]],
                   response_body='{"received":true}'),
    ])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert html.count('<details class="attempt') == 3
    assert "#1" in html and "#2" in html and "#3" in html
    assert ">manual<" in html and ">automatic<" in html
    assert "Succeeded" in html and "Failed" in html
    assert "80 ms" in html and "15.0 s" in html and "1.5 s" in html
    assert ">502<" in html and "no response" in html
    assert "Timed out after 15 s waiting for a response" in html
    assert "<th scope=\"row\">X-Receiver</th><td>crm-7</td>" in html
    assert html.count("<th scope=\"row\">Set-Cookie</th>") == 2  # repeated headers are kept
    assert "{&#34;received&#34;:true}" in html
    assert 'datetime="2026-11-28T10:03:00Z" data-local="seconds"' in html


def test_truncated_body_carries_a_note_with_the_original_size(client, webhook):
    delivery = record(webhook, attempts=[ok_attempt(response_body="x" * 100, response_body_size=250_000,
                                                    response_truncated=True)])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "Truncated: showing the first 100 characters of 250,000 bytes received." in html


def test_request_headers_are_shown_with_credentials_masked(client, webhook):
    delivery = record(webhook, attempts=[ok_attempt(request_headers=[
        ["Authorization", "Basic dXNlcjpwYXNz"], ["webhook-id", "msg_1"]])])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "dXNlcjpwYXNz" not in html
    assert "<td>Basic ••••••••</td>" in html and "<td>msg_1</td>" in html


def test_details_without_attempts_say_the_first_is_on_its_way(client, webhook):
    delivery = record(webhook, state="pending", next_attempt_at=utcnow())
    response = details(client, webhook, delivery)
    assert "No attempt yet" in response.get_data(as_text=True)
    assert "every 2s" in response.get_data(as_text=True)  # the open panel follows the delivery


def test_details_serve_a_page_without_htmx(client, webhook):
    delivery = record(webhook, attempts=[ok_attempt()])
    page = details(client, webhook, delivery, headers={})
    assert "<html" in page.get_data(as_text=True) and "Delivery details" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


# -- escaping ----------------------------------------------------------------------------------

def test_receiver_content_is_escaped(client, webhook):
    evil = "<script>alert(1)</script>"
    delivery = record(webhook, state="failed", attempts=[failed_attempt(
        response_body=evil, response_headers=[["X-Evil", evil]], error=evil)],
        last_error=evil, data={"job": {"name": evil}})
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _, listing = table(client, webhook)
    assert "<script>" not in listing


def test_large_bodies_sit_in_a_bounded_scrolling_box(client, webhook, app):
    delivery = record(webhook, attempts=[ok_attempt(response_body="y" * 60_000)])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert '<pre class="code response-body"' in html
    css = (app.static_folder + "/app.css")
    with open(css, encoding="utf-8") as f:
        rules = f.read()
    assert ".log-history pre.response-body" in rules and "max-height" in rules.split(".log-history pre.response-body", 1)[1].split("}", 1)[0]


# -- access ------------------------------------------------------------------------------------

def test_another_orgs_webhook_deliveries_and_secret_are_404(client, factory, webhook):
    other = factory.org("globex")
    foreign = factory.webhook(other)
    foreign_delivery = record(foreign)
    base = f"/orgs/acme/webhooks/{foreign.id}"
    for path in ("/log", "/log/newer", f"/deliveries/{foreign_delivery.id}",
                 f"/deliveries/{foreign_delivery.id}/row", "/secret"):
        assert client.get(base + path).status_code == 404, path
    assert client.post(base + f"/deliveries/{foreign_delivery.id}/resend").status_code == 404
    assert client.post(base + "/test-event").status_code == 404
    # through our own webhook's URLs, another webhook's delivery is not found either
    mine = f"/orgs/acme/webhooks/{webhook.id}"
    assert client.get(mine + f"/deliveries/{foreign_delivery.id}").status_code == 404
    assert client.post(mine + f"/deliveries/{foreign_delivery.id}/resend").status_code == 404
    # and the other organization's own URLs are closed to a non-member
    assert client.get(f"/orgs/globex/webhooks/{foreign.id}/secret").status_code == 403


def test_sibling_webhook_delivery_is_404_through_this_webhook(client, factory, org, webhook):
    sibling = factory.webhook(org, name="Other")
    delivery = record(sibling)
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/row").status_code == 404


def test_deleted_webhook_log_is_404(client, webhook):
    record(webhook)
    webhook.deleted_at = T0
    db.session.commit()
    assert client.get(log_url(webhook)).status_code == 404


def test_member_without_permission_is_refused(client, factory, auth, org, webhook):
    factory.user("viewer@example.com", org=org, permissions=())
    auth.logout()
    auth.login("viewer@example.com")
    assert client.get(log_url(webhook)).status_code == 403
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/secret").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, auth, webhook):
    auth.logout()
    assert client.get(f"/orgs/acme/webhooks/{webhook.id}/secret").status_code == 302


# -- signing secret ----------------------------------------------------------------------------

def test_reveal_returns_the_secret_uncached(client, webhook):
    response = client.get(f"/orgs/acme/webhooks/{webhook.id}/secret", headers=HX)
    html = response.get_data(as_text=True)
    assert webhook.signing_secret in html and webhook.signing_secret.startswith("whsec_")
    assert 'data-copy-target="#signing-secret-value"' in html
    # htmx 2 saves no history snapshot of a page holding an hx-history="false" element.
    assert '<div class="secret-row" id="signing-secret" hx-history="false">' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]
    page = client.get(f"/orgs/acme/webhooks/{webhook.id}/secret")
    assert "<html" in page.get_data(as_text=True) and page.headers["Cache-Control"] == "no-store"


# -- actions -----------------------------------------------------------------------------------

class RecordingQueue:
    """Stands in for the delivery queue: records what it was handed."""

    def __init__(self):
        self.submitted, self.manual = [], []

    def submit(self, delivery_ids):
        self.submitted.extend(delivery_ids)

    def submit_manual(self, delivery_id):
        self.manual.append(delivery_id)


@pytest.fixture
def sent(app):
    real = app.extensions["webhooks_queue"]
    app.extensions["webhooks_queue"] = RecordingQueue()
    yield app.extensions["webhooks_queue"]
    app.extensions["webhooks_queue"] = real


def test_resend_marks_the_delivery_and_asks_the_queue_for_one_manual_attempt(client, webhook, sent):
    delivery = record(webhook, state="failed", attempts=[failed_attempt()] * 3)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend", headers=HX)
    assert response.status_code == 200
    assert sent.manual == [delivery.id]
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is not None
    assert delivery.state == "failed" and delivery.attempt_count == 3  # schedule untouched
    row = LogTable(response.get_data(as_text=True)).rows[0]
    assert row["cells"][4] == "↻ 500 · Resending…" and "every 2s" in row["attrs"]["hx-trigger"]
    assert response.headers["HX-Trigger"] == f"deliveryChanged{delivery.id}"


def test_resend_without_javascript_redirects_back(client, webhook, sent):
    delivery = record(webhook, state="failed", attempts=[failed_attempt()])
    back = log_url(webhook, outcome="failed")
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend",
                           data={"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    assert sent.manual == [delivery.id]
    evil = client.post(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend",
                       data={"next": "//evil.example.com/"})
    assert evil.headers["Location"] == f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}"


def test_send_test_event_creates_a_ping_delivery_even_when_off(client, factory, org, sent):
    webhook = factory.webhook(org, active=False)
    response = client.post(f"/orgs/acme/webhooks/{webhook.id}/test-event", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "logChanged"
    assert "Test event sent" in response.get_data(as_text=True)
    delivery = db.session.scalar(db.select(Delivery).filter_by(webhook_id=webhook.id))
    assert delivery.event_type == "webhook.ping" and sent.submitted == [delivery.id]
    log, _ = table(client, webhook)
    assert log.row(delivery.id)["cells"][2] == "Webhook Ping"


def test_send_test_event_without_javascript_redirects_back(client, webhook, sent):
    detail = f"/orgs/acme/webhooks/{webhook.id}"
    response = client.post(detail + "/test-event", data={"next": detail})
    assert response.status_code == 302 and response.headers["Location"] == detail
    assert len(sent.submitted) == 1
    assert "Test event sent" in client.get(detail).get_data(as_text=True)


def test_rows_of_earlier_days_keep_their_own_dates(client, webhook):
    old = record(webhook, created_at=T0 - timedelta(days=40))
    log, _ = table(client, webhook)
    assert log.row(old.id)["cells"][1] == "2026-10-19 10:00 UTC"


# -- out-of-range numbers ------------------------------------------------------------------------

HUGE = "99999999999999999999999"  # beyond a 64-bit integer


def test_huge_page_after_and_ids_give_a_clamped_page_or_404_never_an_error(client, webhook):
    delivery = record(webhook)
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


# -- resend: queue outage, deactivated webhook ---------------------------------------------------

def test_resend_survives_a_queue_outage_and_leaves_the_request_for_the_reconciler(
        client, app, webhook, monkeypatch, caplog):
    def outage(delivery_id):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(app.extensions["webhooks_queue"], "submit_manual", outage)
    delivery = record(webhook, state="failed", attempts=[failed_attempt()] * 3)
    url = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}/resend"
    response = client.post(url, headers=HX)
    assert response.status_code == 200
    assert LogTable(response.get_data(as_text=True)).rows[0]["cells"][4] == "↻ 500 · Resending…"
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is not None  # saved: the reconciler will send it
    assert "the reconciler will" in caplog.text
    assert client.post(url, data={"next": log_url(webhook)}).status_code == 302


@pytest.fixture
def off_webhook(factory, org):
    return factory.webhook(org, url="https://hooks.example.com/in", name="CRM", active=False)


def test_resend_on_a_deactivated_webhook_is_refused_with_a_message(client, off_webhook, sent):
    delivery = record(off_webhook, state="failed", attempts=[failed_attempt()])
    url = f"/orgs/acme/webhooks/{off_webhook.id}/deliveries/{delivery.id}/resend"
    response = client.post(url, headers=HX)
    assert response.status_code == 409
    assert "Turn the webhook on to resend this event." in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Trigger"] == f"deliveryChanged{delivery.id}"
    back = log_url(off_webhook)
    plain = client.post(url, data={"next": back})
    assert plain.status_code == 302 and plain.headers["Location"] == back
    assert "Turn the webhook on to resend this event." in client.get(back).get_data(as_text=True)
    db.session.refresh(delivery)
    assert delivery.manual_requested_at is None and sent.manual == []


def test_a_deactivated_webhook_shows_resend_disabled_except_for_pings(client, off_webhook, sent):
    event = record(off_webhook, state="failed", attempts=[failed_attempt()])
    ping = record(off_webhook, "webhook.ping", state="failed", attempts=[failed_attempt()])
    base = f"/orgs/acme/webhooks/{off_webhook.id}/deliveries"
    row = client.get(f"{base}/{event.id}/row", headers=HX).get_data(as_text=True)
    assert 'title="Turn the webhook on to resend this event."' in row
    assert "disabled" in row
    details = client.get(f"{base}/{event.id}", headers=HX).get_data(as_text=True)
    assert "disabled" in details and "Turn the webhook on to resend this event." in details
    ping_row = client.get(f"{base}/{ping.id}/row", headers=HX).get_data(as_text=True)
    assert "disabled" not in ping_row and "Turn the webhook on" not in ping_row
    assert client.post(f"{base}/{ping.id}/resend", headers=HX).status_code == 200
    assert sent.manual == [ping.id]


def test_an_active_webhook_shows_resend_enabled(client, webhook):
    delivery = record(webhook, state="failed", attempts=[failed_attempt()])
    base = f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}"
    for html in (client.get(base + "/row", headers=HX).get_data(as_text=True),
                 client.get(base, headers=HX).get_data(as_text=True)):
        assert "disabled" not in html and "Turn the webhook on" not in html


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
    waiting = record(webhook, state="pending", attempts=[failed_attempt()],
                     next_attempt_at=now + timedelta(minutes=5))
    due_soon = record(webhook, state="pending", attempts=[failed_attempt()],
                      next_attempt_at=now + timedelta(seconds=10))
    overdue = record(webhook, state="pending", next_attempt_at=now - timedelta(seconds=5))
    assert poll_trigger(client, webhook, waiting) == "every 30s"
    assert poll_trigger(client, webhook, due_soon) == "every 2s"
    assert poll_trigger(client, webhook, overdue) == "every 2s"


def test_a_running_attempt_or_a_requested_resend_is_polled_quickly(client, webhook):
    later = utcnow() + timedelta(minutes=10)
    running = record(webhook, state="pending", attempts=[failed_attempt()], next_attempt_at=later,
                     lease_until=utcnow() + timedelta(seconds=20))
    resending = record(webhook, state="pending", attempts=[failed_attempt()], next_attempt_at=later,
                       manual_requested_at=utcnow())
    resending_final = record(webhook, state="failed", attempts=[failed_attempt()] * 3,
                             manual_requested_at=utcnow())
    settled = record(webhook, state="failed", attempts=[failed_attempt()] * 3)
    assert poll_trigger(client, webhook, running) == "every 2s"
    assert poll_trigger(client, webhook, resending) == "every 2s"
    assert poll_trigger(client, webhook, resending_final) == "every 2s"
    assert poll_trigger(client, webhook, settled) is None


def test_a_delivery_long_waiting_for_a_slowed_down_endpoint_is_polled_at_a_middle_pace(client,
                                                                                      webhook):
    now = utcnow()
    stuck = record(webhook, state="pending", next_attempt_at=now - timedelta(minutes=3))
    just_due = record(webhook, state="pending", next_attempt_at=now - timedelta(seconds=5))
    assert poll_trigger(client, webhook, stuck) == "every 10s"
    assert poll_trigger(client, webhook, just_due) == "every 2s"

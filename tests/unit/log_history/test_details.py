"""A delivery's details: payload, attempts, headers; escaping of what receivers send; the signing secret."""
from datetime import datetime, timezone

from tests.support.deliveries import failed_attempt, ok_attempt, stored_delivery, timeout_attempt
from tests.support.log_table import pretty, table
from tests.support.polling import HX
from webhooks.extensions import db
from webhooks.models import Event, utcnow


# -- details -----------------------------------------------------------------------------------

def details(client, webhook, delivery, headers=HX):
    response = client.get(f"/orgs/acme/webhooks/{webhook.id}/deliveries/{delivery.id}", headers=headers)
    assert response.status_code == 200
    return response


def test_details_show_id_event_url_and_pretty_payload(client, webhook):
    delivery = stored_delivery(webhook, "job.created", attempts=[ok_attempt()], data={"job": {"id": 42, "name": "Roof"}})
    event = db.session.get(Event, delivery.event_id)
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert event.public_id in html and "Job Created" in html and "https://hooks.example.com/in" in html
    assert pretty(event.payload).replace('"', "&#34;") in html
    assert '&#34;name&#34;: &#34;Roof&#34;' in html


def test_details_list_each_attempt_with_trigger_status_time_duration_and_code(client, webhook):
    delivery = stored_delivery(webhook, state="succeeded", attempts=[
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
    delivery = stored_delivery(webhook, attempts=[ok_attempt(response_body="x" * 100, response_body_size=250_000,
                                                    response_truncated=True)])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "Truncated: showing the first 100 characters of 250,000 bytes received." in html


def test_request_headers_are_shown_with_credentials_masked(client, webhook):
    delivery = stored_delivery(webhook, attempts=[ok_attempt(request_headers=[
        ["Authorization", "Basic dXNlcjpwYXNz"], ["webhook-id", "msg_1"]])])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "dXNlcjpwYXNz" not in html
    assert "<td>Basic ••••••</td>" in html and "<td>msg_1</td>" in html


def test_details_without_attempts_say_the_first_is_on_its_way(client, webhook):
    delivery = stored_delivery(webhook, state="pending", next_attempt_at=utcnow())
    response = details(client, webhook, delivery)
    assert "No attempt yet" in response.get_data(as_text=True)
    assert "every 2s" in response.get_data(as_text=True)  # the open panel follows the delivery


def test_details_serve_a_page_without_htmx(client, webhook):
    delivery = stored_delivery(webhook, attempts=[ok_attempt()])
    page = details(client, webhook, delivery, headers={})
    assert "<html" in page.get_data(as_text=True) and "Delivery details" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


# -- escaping ----------------------------------------------------------------------------------

def test_receiver_content_is_escaped(client, webhook):
    evil = "<script>alert(1)</script>"
    delivery = stored_delivery(webhook, state="failed", attempts=[failed_attempt(
        response_body=evil, response_headers=[["X-Evil", evil]], error=evil)],
        last_error=evil, data={"job": {"name": evil}})
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _, listing = table(client, webhook)
    assert "<script>" not in listing


def test_large_bodies_sit_in_a_bounded_scrolling_box(client, webhook, app):
    delivery = stored_delivery(webhook, attempts=[ok_attempt(response_body="y" * 60_000)])
    html = details(client, webhook, delivery).get_data(as_text=True)
    assert '<pre class="code response-body"' in html
    css = (app.static_folder + "/app.css")
    with open(css, encoding="utf-8") as f:
        rules = f.read()
    assert ".log-history pre.response-body" in rules and "max-height" in rules.split(".log-history pre.response-body", 1)[1].split("}", 1)[0]


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


def test_a_failed_attempt_says_its_failure_and_what_to_fix(client, webhook):
    expired_on = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
    delivery = stored_delivery(webhook, state="failed", attempts=[
        failed_attempt(500, category="http_5xx"),
        failed_attempt(None, category="tls", certificate_expires_at=expired_on,
                       error="TLS certificate verify failed: certificate has expired"),
        failed_attempt(None, category=None, error="Connection refused"),  # recorded before
    ])
    html = " ".join(details(client, webhook, delivery).get_data(as_text=True).split())
    assert ">Server error (5xx)<" in html and "Your server answered 500" in html
    assert "The certificate expired on 2026-11-02: renew it." in html
    assert ">Connection refused or reset<" in html

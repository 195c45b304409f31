"""Slowed-down endpoints and waiting deliveries in plain words: listing, status, Log History."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from tests.support.deliveries import failed_attempt, stored_delivery, timeout_attempt
from tests.support.log_table import LogTable
from tests.support.polling import HX
from webhooks import backlog, fairness
from webhooks.extensions import db
from webhooks.models import utcnow
from tests.support.deliveries import store_delivery

NOT_RESPONDING = "Not responding: sending one event at a time"


def hook_state(streak=0, active=True):
    return SimpleNamespace(unanswered_streak=streak, is_active=active)


# -- the words, decided in Python --------------------------------------------------------------

def test_an_endpoint_that_answers_and_has_nothing_waiting_gets_no_notice():
    assert backlog.describe(hook_state(), 0) is None


def test_waiting_deliveries_are_counted_in_words():
    notice = backlog.describe(hook_state(), 118)
    assert notice.text == "118 waiting to be sent" and notice.tone == "info"
    assert notice.title  # a tooltip in plain words


def test_a_not_responding_endpoint_is_said_to_be_slowed_down_with_what_waits():
    notice = backlog.describe(hook_state(streak=fairness.NOT_RESPONDING_AFTER), 118)
    assert notice.text == f"{NOT_RESPONDING}, 118 waiting" and notice.tone == "warn"
    assert backlog.describe(hook_state(streak=7), 0).text == NOT_RESPONDING
    assert "no HTTP answer" in notice.title


def test_a_streak_below_the_threshold_is_not_called_not_responding():
    notice = backlog.describe(hook_state(streak=fairness.NOT_RESPONDING_AFTER - 1), 3)
    assert notice.text == "3 waiting to be sent"


@pytest.mark.parametrize("count, words", [
    (1, "1 waiting to be sent"),
    (1_234, "1,234 waiting to be sent"),
    (backlog.WAITING_COUNT_LIMIT, "10,000 waiting to be sent"),
    (backlog.WAITING_COUNT_LIMIT + 1, "10,000+ waiting to be sent"),
])
def test_counts_have_thousands_separators_and_stop_at_the_limit(count, words):
    assert backlog.describe(hook_state(), count).text == words


def test_a_deactivated_webhook_is_not_said_to_be_sending():
    assert backlog.describe(hook_state(streak=9, active=False), 0) is None


# -- the listing, the status block and the toggle's swaps ---------------------------------------

@pytest.fixture
def slowed(factory, owner):
    """An active webhook that stopped answering, with three deliveries due."""
    hook = factory.webhook(owner, name="ERP", unanswered_streak=7,
                           last_error="Timed out after 15 s waiting for a response",
                           last_attempt_at=utcnow() - timedelta(minutes=1))
    for _ in range(3):
        store_delivery(hook)
    return hook


def listing(client):
    return client.get("/orgs/acme/webhooks/").get_data(as_text=True)


def row_html(html, webhook):
    start = html.index(f'<tr id="webhook-{webhook.id}"')
    return html[start:html.index("</tr>", start)]


def test_listing_row_says_a_not_responding_endpoint_is_sent_one_event_at_a_time(client, slowed):
    row = row_html(listing(client), slowed)
    assert f"{NOT_RESPONDING}, 3 waiting" in row
    assert 'class="backlog warn"' in row


def test_listing_row_counts_what_waits_for_an_endpoint_that_answers(client, factory, owner):
    hook = factory.webhook(owner, name="CRM")
    store_delivery(hook)
    store_delivery(hook)
    row = row_html(listing(client), hook)
    assert "2 waiting to be sent" in row and 'class="backlog info"' in row
    assert "Not responding" not in row


def test_listing_row_says_nothing_more_when_nothing_waits(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", last_status_code=200, last_attempt_at=utcnow())
    in_flight = store_delivery(hook)
    in_flight.lease_until = utcnow() + timedelta(seconds=60)  # being sent: not waiting
    scheduled = store_delivery(hook)
    scheduled.next_attempt_at = utcnow() + timedelta(minutes=5)  # a retry, not due yet
    db.session.commit()
    row = row_html(listing(client), hook)
    assert "waiting" not in row and "backlog" not in row and "Success · 200 OK" in row


def test_listing_counts_waiting_deliveries_once_per_page(client, factory, owner, monkeypatch):
    hooks = [factory.webhook(owner, name=f"Hook {n}") for n in range(3)]
    store_delivery(hooks[1])
    calls = []
    real = backlog.waiting_counts
    monkeypatch.setattr(backlog, "waiting_counts", lambda ids, now=None: calls.append(list(ids))
                        or real(ids, now))
    page = listing(client)
    assert calls == [[hook.id for hook in hooks]]
    assert page.count("waiting to be sent") == 1


def test_detail_status_block_says_the_same(client, slowed, factory, owner):
    page = client.get(f"/orgs/acme/webhooks/{slowed.id}").get_data(as_text=True)
    status = page[page.index('<div id="webhook-status"'):]
    status = status[:status.index("</div>")]
    assert f"{NOT_RESPONDING}, 3 waiting" in status
    healthy = factory.webhook(owner, name="CRM")
    store_delivery(healthy)
    page = client.get(f"/orgs/acme/webhooks/{healthy.id}").get_data(as_text=True)
    assert "1 waiting to be sent" in page and "Not responding" not in page


def test_toggle_swaps_keep_the_notice(client, slowed):
    url = f"/orgs/acme/webhooks/{slowed.id}/toggle"
    # Asked to turn on what is already on (a second tab, a double click): the swap re-renders.
    row = client.post(url, data={"active": "1"}, headers=HX).get_data(as_text=True)
    assert row.strip().startswith(f'<tr id="webhook-{slowed.id}"')
    assert f"{NOT_RESPONDING}, 3 waiting" in row
    status = client.post(url, data={"active": "1", "from": "detail"},
                         headers=HX).get_data(as_text=True)
    assert status.strip().startswith('<div id="webhook-status"')
    assert f"{NOT_RESPONDING}, 3 waiting" in status


def test_turning_a_webhook_off_clears_the_notice(client, slowed):
    row = client.post(f"/orgs/acme/webhooks/{slowed.id}/toggle", data={"active": "0"},
                      headers=HX).get_data(as_text=True)
    assert 'aria-checked="false"' in row
    assert "Not responding" not in row and "waiting to be sent" not in row and "backlog" not in row


# -- Log History --------------------------------------------------------------------------------

def response_of(client, webhook, delivery):
    html = client.get(f"/orgs/acme/webhooks/{webhook.id}/log", headers=HX).get_data(as_text=True)
    return LogTable(html).row(delivery.id)["response"], html


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, url="https://hooks.example.com/in", name="CRM")


def test_a_due_first_attempt_not_yet_sent_reads_waiting_for_the_endpoint(client, webhook):
    delivery = stored_delivery(webhook, state="pending", next_attempt_at=utcnow() - timedelta(seconds=5))
    cell, html = response_of(client, webhook, delivery)
    assert cell == "◷ Waiting for the endpoint"
    assert "Pending" not in cell and "waiting its turn" in html


def test_an_overdue_retry_keeps_its_status_code_while_it_waits(client, webhook):
    delivery = stored_delivery(webhook, state="pending", attempts=[failed_attempt(500)],
                      next_attempt_at=utcnow() - timedelta(minutes=1))
    assert response_of(client, webhook, delivery)[0] == "◷ 500 · Waiting for the endpoint"


def test_an_attempt_in_flight_reads_sending(client, webhook):
    delivery = stored_delivery(webhook, state="pending", next_attempt_at=utcnow() - timedelta(seconds=1),
                      lease_until=utcnow() + timedelta(seconds=60))
    cell, html = response_of(client, webhook, delivery)
    assert cell == "↗ Sending…"
    assert 'title="Attempt 1 is on its way to the endpoint now."' in html


def test_a_retry_after_a_timeout_in_flight_reads_sending_without_a_code(client, webhook):
    delivery = stored_delivery(webhook, state="pending", attempts=[timeout_attempt()], attempt_count=1,
                      last_status_code=None, next_attempt_at=utcnow() - timedelta(seconds=1),
                      lease_until=utcnow() + timedelta(seconds=60))
    assert response_of(client, webhook, delivery)[0] == "↗ Sending…"


def test_an_expired_lease_is_waiting_again(client, webhook):
    delivery = stored_delivery(webhook, state="pending", next_attempt_at=utcnow() - timedelta(minutes=2),
                      lease_until=utcnow() - timedelta(minutes=1))
    assert response_of(client, webhook, delivery)[0] == "◷ Waiting for the endpoint"


def test_a_future_retry_still_reads_retrying_at(client, webhook):
    due = (utcnow() + timedelta(days=1)).replace(hour=10, minute=42, second=0, microsecond=0)
    delivery = stored_delivery(webhook, state="pending", attempts=[failed_attempt(503)], next_attempt_at=due)
    assert response_of(client, webhook, delivery)[0] == "⟳ 503 · Retrying at 10:42 UTC"


def test_the_pending_filter_keeps_its_label(client, webhook):
    stored_delivery(webhook, state="pending")
    html = client.get(f"/orgs/acme/webhooks/{webhook.id}/log?outcome=pending").get_data(as_text=True)
    assert '<option value="pending" selected>Pending</option>' in html

"""The Webhooks listing: columns, event chips, latest response, paging, and the on/off toggle."""
import json
from datetime import timedelta

import pytest

from webhooks.extensions import db
from webhooks.models import Delivery, Event, utcnow
from webhooks.overview import event_chips
from webhooks.views.webhooks import PER_PAGE
from tests.support.deliveries import store_delivery
from tests.support.polling import HX

ALL_JOB = ["job.created", "job.updated", "job.assigned", "job.image_created",
           "job.document_created", "job.status_changed"]


def listing(client, query=""):
    return client.get("/orgs/acme/webhooks/" + query).get_data(as_text=True)


@pytest.mark.parametrize("subscribed, chips", [
    (["job.created", "job.updated"], ["Job: Created, Updated"]),
    (ALL_JOB, ["All job events"]),
    (ALL_JOB + ["estimate.created"], ["All job events", "Estimate: Created"]),
    (["signed_document.signed", "signable_document.signed"],
     ["Signed Document: Signed", "Signable Document: Signed"]),
    (ALL_JOB + ["estimate.created", "estimate.updated", "signed_document.signed",
                "signable_document.signed"], ["All events"]),
    (["job.created", "job.retired"], ["Job: Created", "job.retired"]),
])
def test_subscribed_events_are_summarised_in_short_form(subscribed, chips):
    assert event_chips(subscribed) == chips


def test_empty_state_invites_to_add_a_webhook(client, owner):
    page = listing(client)
    assert "No webhooks yet" in page
    assert 'href="/orgs/acme/webhooks/new"' in page and "Add webhook" in page


def test_listing_shows_name_url_events_status_and_a_pencil_per_webhook(client, factory, owner):
    hook = factory.webhook(owner, name="CRM sync", url="https://crm.example/hook",
                           events=("job.created", "job.updated"), active=False)
    page = listing(client)
    for header in ("Name", "Webhook URL", "Events", "Latest response", "Status"):
        assert f'<th scope="col">{header}</th>' in page
    assert "CRM sync" in page and "https://crm.example/hook" in page
    assert "Job: Created, Updated" in page
    assert 'aria-checked="false"' in page and ">Off<" in page
    assert f'href="/orgs/acme/webhooks/{hook.id}" aria-label="Edit CRM sync"' in page
    assert "No deliveries yet" in page
    assert 'href="/orgs/acme/webhooks/events"' in page


def test_listing_shows_only_this_organizations_live_webhooks(client, factory, owner):
    other = factory.org("other")
    factory.webhook(owner, name="Ours")
    factory.webhook(other, name="Theirs")
    factory.webhook(owner, name="Gone", deleted_at=utcnow())
    page = listing(client)
    assert "Ours" in page and "Theirs" not in page and "Gone" not in page


def test_latest_response_tells_success_from_failure_by_text_and_colour(client, factory, owner):
    at = utcnow() - timedelta(minutes=3)
    factory.webhook(owner, name="Good", last_status_code=200, last_attempt_at=at)
    factory.webhook(owner, name="Bad", last_status_code=503, last_attempt_at=at)
    factory.webhook(owner, name="Down", last_error="Connection refused", last_attempt_at=at)
    page = listing(client)
    assert '<span class="badge ok" title="200 OK">' in page and "Success · 200 OK" in page
    assert '<span class="badge bad" title="503 Service Unavailable">' in page
    assert "Failed · 503 Service Unavailable" in page
    assert "Failed · Connection refused" in page
    assert f'<time datetime="{at:%Y-%m-%dT%H:%M:%S}Z" data-local ' in page


def test_listing_is_paginated_25_to_a_page(client, factory, owner):
    for number in range(PER_PAGE + 2):
        factory.webhook(owner, name=f"Hook {number:02d}")
    first, second = listing(client), listing(client, "?page=2")
    assert first.count('class="webhook-row') == PER_PAGE
    assert "Hook 00" in first and "Hook 25" not in first
    assert second.count('class="webhook-row') == 2 and "Hook 26" in second
    assert "1–25 of 27 webhooks" in first and 'rel="next" href="/orgs/acme/webhooks/?page=2"' in first


def pings_of(webhook):
    return db.session.scalars(
        db.select(Delivery).filter_by(webhook_id=webhook.id, event_type="webhook.ping")).all()


def test_htmx_toggle_on_swaps_only_the_row_and_sends_a_test_event(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=False)
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "1"},
                           headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True).strip()
    assert body.startswith(f'<tr id="webhook-{hook.id}"') and "<html" not in body
    assert 'aria-checked="true"' in body
    assert 'id="flashes" class="flashes" aria-live="polite" hx-swap-oob="true"' in body
    assert "turned on — a test event was sent to https://127.0.0.1/hook" in body
    assert "HX-Request" in response.headers["Vary"]
    db.session.refresh(hook)
    assert hook.is_active
    [ping] = pings_of(hook)
    assert db.session.get(Event, ping.event_id).type == "webhook.ping"


def test_plain_toggle_redirects_back_with_a_message(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=False)
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/orgs/acme/webhooks/"
    assert "HX-Request" in response.headers["Vary"]
    page = listing(client)
    assert "turned on — a test event was sent" in page and 'aria-checked="true"' in page


def test_plain_toggle_returns_to_the_same_page_of_the_listing(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=False)
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "1", "page": "2"})
    assert response.headers["Location"] == "/orgs/acme/webhooks/?page=2"


def test_turning_on_an_active_webhook_again_sends_nothing_more(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=True)
    client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "1"})
    assert pings_of(hook) == []


def test_turning_off_cancels_pending_deliveries(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=True)
    pending = store_delivery(hook)
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "0"},
                           headers=HX)
    assert 'aria-checked="false"' in response.get_data(as_text=True)
    assert "turned off" in response.get_data(as_text=True)
    db.session.expire_all()
    assert not hook.is_active
    assert (pending.state, pending.cancel_reason) == (Delivery.CANCELLED, "Webhook was deactivated")


def test_toggle_on_the_detail_screen_swaps_the_status_block(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=False)
    response = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle",
                           data={"active": "1", "from": "detail"}, headers=HX)
    body = response.get_data(as_text=True).strip()
    assert body.startswith('<div id="webhook-status"') and 'aria-checked="true"' in body
    # The test event it sent is a new row: Log History below refreshes at once.
    assert json.loads(response.headers["HX-Trigger"]) == {"logChanged": {}}
    plain = client.post(f"/orgs/acme/webhooks/{hook.id}/toggle", data={"active": "0", "from": "detail"})
    assert plain.headers["Location"] == f"/orgs/acme/webhooks/{hook.id}"


def test_toggle_works_as_a_form_without_javascript(client, factory, owner):
    hook = factory.webhook(owner, name="CRM", active=False)
    page = listing(client)
    form = page[page.index('<form class="toggle-form"'):]
    form = form[:form.index("</form>")]
    assert f'method="post" action="/orgs/acme/webhooks/{hook.id}/toggle"' in form
    assert 'name="csrf_token"' in form and 'name="active" value="1"' in form
    assert 'hx-target="closest tr"' in form and 'hx-swap="outerHTML"' in form


HUGE = "99999999999999999999999"  # beyond a 64-bit integer


def test_huge_page_numbers_show_the_last_page_and_huge_ids_are_404(client, factory, owner):
    for number in range(PER_PAGE + 2):
        factory.webhook(owner, name=f"Hook {number:02d}")
    for query in (f"?page={HUGE}", "?page=3"):
        last = listing(client, query)
        assert last.count('class="webhook-row') == 2 and "Hook 26" in last, query
        assert "Page 2 of 2" in last
    assert "Hook 00" in listing(client, "?page=-5")
    for url in (f"/orgs/acme/webhooks/{HUGE}", f"/orgs/acme/webhooks/{HUGE}/delete"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/orgs/acme/webhooks/{HUGE}/toggle", data={"active": "1"}).status_code == 404

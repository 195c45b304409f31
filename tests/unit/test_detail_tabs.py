"""The webhook's page: a status header over five tabs, each with its own URL, swapped by htmx."""
import re

import pytest

from tests.support.deliveries import failed_attempt, ok_attempt, stored_delivery
from tests.support.polling import HX

TABS = {"": "Log History", "/health": "Health", "/settings": "Settings",
        "/signing-secret": "Signing secret", "/activity": "Activity"}
HEADINGS = {"": "Log History", "/health": "Health", "/settings": "Edit webhook",
            "/signing-secret": "Signing secret", "/activity": "Activity"}


@pytest.fixture
def webhook(factory, owner):
    return factory.webhook(owner, name="CRM", url="https://hooks.example.com/in")


def base(webhook):
    return f"/orgs/acme/webhooks/{webhook.id}"


def current_tab(html):
    return re.findall(r'aria-current="page">([^<]+)</a>', html)


@pytest.mark.parametrize("path", TABS)
def test_each_tab_is_a_whole_page_with_the_status_header_on_top(client, webhook, path):
    response = client.get(base(webhook) + path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert current_tab(html) == [TABS[path]]
    assert html.index('id="webhook-status"') < html.index('id="webhook-tabs"')
    assert f">{HEADINGS[path]}</h2>" in html
    assert f"<title>{TABS[path]} · CRM · Acme Roofing · Webhooks</title>" in html
    for other in TABS:  # every tab is a real link, with htmx swapping only the tabs
        assert f'href="{base(webhook) + other}" hx-get="{base(webhook) + other}"' in html


@pytest.mark.parametrize("path", TABS)
def test_htmx_gets_only_the_tabs_and_the_new_title(client, webhook, path):
    response = client.get(base(webhook) + path, headers=HX)
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="webhook-status"' not in html
    assert html.lstrip().startswith(f"<title>{TABS[path]} · CRM · Acme Roofing · Webhooks</title>")
    assert '<div id="webhook-tabs"' in html and current_tab(html) == [TABS[path]]
    assert "HX-Request" in response.headers["Vary"]


def test_a_history_restore_gets_the_whole_page(client, webhook):
    html = client.get(base(webhook) + "/health",
                      headers={**HX, "HX-History-Restore-Request": "true"}).get_data(as_text=True)
    assert "<html" in html and current_tab(html) == ["Health"]


def test_log_history_deep_links_open_its_tab(client, webhook):
    failed = stored_delivery(webhook, state="failed", attempts=[failed_attempt()])
    succeeded = stored_delivery(webhook, attempts=[ok_attempt()])
    html = client.get(base(webhook) + "/log?outcome=failed").get_data(as_text=True)
    assert current_tab(html) == ["Log History"] and 'id="webhook-status"' in html
    assert f'id="delivery-{failed.id}"' in html and f'id="delivery-{succeeded.id}"' not in html
    html = client.get(f"{base(webhook)}/deliveries/{failed.id}").get_data(as_text=True)
    assert current_tab(html) == ["Log History"] and "Delivery details" in html
    assert 'class="code payload"' in html


def test_revealing_the_secret_without_javascript_opens_its_tab_uncached(client, webhook):
    response = client.get(base(webhook) + "/secret")
    html = response.get_data(as_text=True)
    assert current_tab(html) == ["Signing secret"] and webhook.signing_secret in html
    assert response.headers["Cache-Control"] == "no-store"
    assert webhook.signing_secret not in client.get(base(webhook) + "/signing-secret").get_data(
        as_text=True)


def test_settings_save_and_return_to_the_settings_tab(client, webhook):
    response = client.post(base(webhook) + "/settings", data={
        "name": "CRM v2", "url": "https://hooks.example.com/in", "auth_type": "none",
        "event_types": ["job.created"]})
    assert response.headers["Location"] == base(webhook) + "/settings"
    assert client.post(base(webhook)).status_code == 405  # the page itself takes no form

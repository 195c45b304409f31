"""webhooks.client.send_event against the app served over real HTTP."""
import threading
from datetime import datetime, timezone

import pytest
from werkzeug.serving import make_server

from webhooks import catalog
from webhooks.client import EventRejected, ServiceUnavailable, Sent, send_event, sign_in_url

TOKEN = "test-internal-token"
JOB = catalog.BY_TYPE["job.created"].example


class NullQueue:
    def submit(self, delivery_ids):
        pass


@pytest.fixture
def base_url(app, factory):
    app.extensions["webhooks_queue"] = NullQueue()
    acme = factory.org("acme")
    factory.webhook(acme)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_send_event_returns_the_event_and_its_deliveries(base_url):
    sent = send_event(base_url + "/", TOKEN, "acme", "job.created", JOB, id="c-1",
                      occurred_at=datetime(2026, 11, 28, 10, tzinfo=timezone.utc))
    assert isinstance(sent, Sent)
    assert sent.event_id.startswith("evt_") and sent.deliveries == 1 and not sent.duplicate
    again = send_event(base_url, TOKEN, "acme", "job.created", JOB, id="c-1")
    assert again == Sent(sent.event_id, 1, True)


def test_send_event_raises_with_the_servers_error_list(base_url):
    with pytest.raises(EventRejected) as caught:
        send_event(base_url, TOKEN, "acme", "job.created", {"job": {**JOB["job"], "id": None, "status": ""}})
    assert caught.value.status == 422
    assert [e["path"] for e in caught.value.errors] == ["data.job.id", "data.job.status"]
    assert "data.job.id: must be of type string, not null." in str(caught.value)


def test_send_event_with_a_wrong_token_is_rejected(base_url):
    with pytest.raises(EventRejected, match="401.*Missing or wrong bearer token"):
        send_event(base_url, "wrong", "acme", "job.created", JOB)


def test_unreachable_service_is_reported_as_unavailable():
    with pytest.raises(ServiceUnavailable, match="could not be reached"):
        send_event("http://127.0.0.1:9", TOKEN, "acme", "job.created", JOB, timeout=2)


def test_the_client_module_does_not_need_flask():
    import subprocess
    import sys

    code = "import sys, webhooks.client; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sign_in_url_returns_a_link_that_signs_the_user_in(base_url):
    import requests

    url = sign_in_url(base_url, TOKEN, {"id": "acme", "name": "Acme Roofing"},
                      {"id": "u-17", "email": "ann@acme.test"}, ["Org.webhooks"], read_only=True,
                      expires_in=3600)
    assert url.startswith(base_url + "/sign-in/")
    browser = requests.Session()
    landed = browser.get(url, timeout=5)
    assert landed.status_code == 200 and landed.url == base_url + "/orgs/acme/webhooks/"
    assert "Read-only access" in landed.text


def test_sign_in_url_raises_with_the_servers_error_list(base_url):
    with pytest.raises(EventRejected) as caught:
        sign_in_url(base_url, TOKEN, {"id": "acme"}, {"id": "u-17", "email": "ann@acme.test"}, [])
    assert caught.value.status == 422
    assert [e["path"] for e in caught.value.errors] == ["organization.name"]

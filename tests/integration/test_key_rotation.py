"""Rotating SECRET_KEY end to end, the way the README tells operators to do it.

Each step deploys the service with other keys: an app for the browser and, with `rq`, a real
`python -m jobs.worker` process started with the keys in its environment. `keys check` and
`keys rotate` run as `flask --app app …` processes. Deliveries go to a real HTTPS receiver that
verifies the signature with the secret shown when the webhook was added.
"""
import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks import Webhook as StandardWebhook

from tests.conftest import PASSWORD, REDIS_TEST_URL, Factory
from tests.support.polling import HX, wait_until
from tests.support.workers import Processes
from webhooks import crypto
from webhooks.extensions import db
from webhooks.models import Delivery, Webhook

pytestmark = [pytest.mark.https, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BASIC = "Basic " + base64.b64encode("hooks:pa ss:wörd".encode()).decode()
UNREADABLE = "cannot be decrypted with any configured credentials key"


class Deployments:
    """The service as deployed with one set of keys at a time."""

    def __init__(self, backend, make_app, database_url, ca_bundle, log_dir, caplog):
        self.backend, self.make_app, self.database_url = backend, make_app, database_url
        self.ca_bundle, self.log_dir, self.caplog = ca_bundle, log_dir, caplog
        self.app = self.processes = None
        self.count = 0

    def environment(self, secret_key, fallbacks):
        """The environment variables an operator sets for these keys."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("WEBHOOKS_", "SECRET_KEY"))}
        return {**env, "DATABASE_URL": self.database_url, "REDIS_URL": REDIS_TEST_URL,
                "SECRET_KEY": secret_key, "SECRET_KEY_FALLBACKS": ",".join(fallbacks),
                "WEBHOOKS_CA_BUNDLE": self.ca_bundle, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
                "WEBHOOKS_LEASE_SECONDS": "4"}

    def deploy(self, secret_key, *fallbacks):
        """Stop what runs, start everything with these keys; return the web app."""
        self.stop()
        self.count += 1
        self.keys = (secret_key, fallbacks)
        settings = {"SECRET_KEY": secret_key, "SECRET_KEY_FALLBACKS": list(fallbacks),
                    "WEBHOOKS_LEASE_SECONDS": 4}
        if self.backend == "rq":
            log_dir = self.log_dir / f"deploy-{self.count}"
            log_dir.mkdir()
            self.processes = Processes({**self.environment(secret_key, fallbacks),
                                        "WEBHOOKS_QUEUE": "rq"}, log_dir)
            self.processes.start_worker()
            self.app = self.make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **settings)
        else:
            self.app = self.make_app(**settings)
            self.app.extensions["webhooks_queue"].start()  # as a real first request does
        self.caplog.clear()
        return self.app

    def stop(self):
        if self.processes is not None:
            self.processes.stop()
            self.processes = None
        if self.app is not None:
            self.app.extensions["webhooks_queue"].shutdown()

    def errors(self):
        """What the delivering processes logged since this deployment started."""
        return self.processes.logs() if self.processes is not None else self.caplog.text

    def flask(self, *args):
        """Run `flask --app app ARGS` with the deployed keys, as an operator would."""
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                              env=self.environment(*self.keys), capture_output=True, text=True,
                              timeout=120)


@pytest.fixture
def deployments(backend, make_app, app_config, ca_bundle, tmp_path, caplog, request):
    if backend == "rq":
        request.getfixturevalue("redis_conn")
    deployments = Deployments(backend, make_app, app_config["SQLALCHEMY_DATABASE_URI"],
                              ca_bundle, tmp_path, caplog)
    yield deployments
    deployments.stop()


def sign_in(client):
    response = client.post("/login", data={"email": "owner@example.com", "password": PASSWORD})
    assert response.status_code == 302


def add_basic_auth_webhook(client, url):
    """Add a Basic Auth webhook through the form and turn it on (which sends a ping)."""
    response = client.post("/orgs/acme/webhooks/new", data={
        "name": "CRM", "url": url, "auth_type": "basic", "basic_username": "hooks",
        "basic_password": "pa ss:wörd", "event_types": ["job.created"]})
    assert response.status_code == 302
    webhook_id = db.session.scalar(db.select(Webhook.id).filter_by(name="CRM"))
    db.session.rollback()
    assert client.post(f"/orgs/acme/webhooks/{webhook_id}/toggle",
                       data={"active": "1"}).status_code == 302
    return webhook_id


def reveal(client, webhook_id):
    response = client.get(f"/orgs/acme/webhooks/{webhook_id}/secret", headers=HX)
    assert response.status_code == 200
    return re.search(r'id="signing-secret-value">(whsec_[^<]+)<', response.get_data(as_text=True)
                     ).group(1)


def send_test_event(client, webhook_id):
    assert client.post(f"/orgs/acme/webhooks/{webhook_id}/test-event").status_code == 302


def assert_delivered(receiver, count, secret):
    """The count-th request arrives, signed with secret and carrying the Basic Auth password."""
    received = receiver.wait_for(count, timeout=30)[count - 1]
    payload = StandardWebhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "webhook.ping"
    assert received.headers["authorization"] == BASIC


def visitor(app, cookie):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


@pytest.mark.parametrize("database, backend", [
    pytest.param("sqlite", "inline", id="inline-sqlite"),
    pytest.param("postgres", "inline", id="inline-postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", "rq", id="rq-postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
])
def test_rotating_the_secret_key_keeps_credentials_sessions_and_signatures(deployments, receiver):
    # Key A: a signed-in user adds a Basic Auth webhook; its first ping verifies.
    app = deployments.deploy("key-a")
    with app.app_context():
        Factory().user(org=Factory().org("acme", "Acme Roofing"))
        client = app.test_client()
        sign_in(client)
        webhook_id = add_basic_auth_webhook(client, receiver.url)
        secret = reveal(client, webhook_id)
    session_a = client.get_cookie("session").value
    assert_delivered(receiver, 1, secret)

    # Key B with A as fallback: the session, the stored secret and password all still work.
    app = deployments.deploy("key-b", "key-a")
    client = visitor(app, session_a)
    assert reveal(client, webhook_id) == secret
    send_test_event(client, webhook_id)
    assert_delivered(receiver, 2, secret)

    # Dropping A before `keys rotate` fails loudly: nothing is signed with a wrong secret.
    app = deployments.deploy("key-b")
    client = visitor(app, session_a)
    assert client.get(f"/orgs/acme/webhooks/{webhook_id}/secret").status_code == 302  # to sign in
    sign_in(client)
    with pytest.raises(crypto.UnreadableCredential, match=UNREADABLE):
        client.get(f"/orgs/acme/webhooks/{webhook_id}/secret")
    send_test_event(client, webhook_id)
    wait_until(lambda: UNREADABLE in deployments.errors(), timeout=30,
               message="the delivering process to report the unreadable secret")
    with app.app_context():
        waiting = db.session.scalar(db.select(Delivery).order_by(Delivery.id.desc()).limit(1))
        assert (waiting.state, waiting.attempt_count) == (Delivery.PENDING, 0)
    assert len(receiver.requests) == 2
    check = deployments.flask("keys", "check")
    assert check.returncode == 1
    assert f"webhook {webhook_id} (signing secret), webhook {webhook_id} (Basic Auth password)" \
        in check.stderr

    # A back as fallback: the waiting ping goes out; then every credential moves to B.
    deployments.deploy("key-b", "key-a")
    assert_delivered(receiver, 3, secret)
    rotated = deployments.flask("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 2 credentials with the current key (SECRET_KEY); 0 already used it." \
        in rotated.stdout
    check = deployments.flask("keys", "check")
    assert check.returncode == 0, check.stderr
    assert "No credential needs a fallback key." in check.stdout

    # A removed: sessions signed with it end; credentials, reveal and deliveries all work.
    app = deployments.deploy("key-b")
    client = visitor(app, session_a)
    assert client.get(f"/orgs/acme/webhooks/{webhook_id}/secret").status_code == 302
    sign_in(client)
    assert reveal(client, webhook_id) == secret
    send_test_event(client, webhook_id)
    assert_delivered(receiver, 4, secret)
    assert len(receiver.requests) == 4

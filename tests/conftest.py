"""Shared fixtures: an app per database backend, a client, an auth helper, factories, Redis, HTTPS."""
import atexit
import os
import shutil
import tempfile
import time
import uuid

# The metrics of this session's processes (this one, and the workers it starts, which inherit
# the environment) in a directory of their own, chosen before prometheus-client is imported.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="webhooks-test-metrics-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from webhooks import create_app
from webhooks.extensions import db
from webhooks.models import WEBHOOKS_PERMISSION, Membership, Organization, User, Webhook
from tests.support.receiver import Receiver, make_ca

PG_ADMIN_DSN = os.environ.get("WEBHOOKS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("WEBHOOKS_TEST_REDIS", "redis://127.0.0.1:6379/13")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def postgres_url():
    """Create a throwaway PostgreSQL database for this test session; drop it afterwards."""
    name = f"webhooks_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def ca():
    return make_ca()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def base_config(tmp_path, ca_bundle):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "WEBHOOKS_INTERNAL_TOKEN": "test-internal-token",
        "WEBHOOKS_RETRY_DELAYS": (1, 2),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": True,
        "WEBHOOKS_CA_BUNDLE": ca_bundle,
        "WEBHOOKS_QUEUE": "inline",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite3'}",
    }


def _truncate_all(attempts=5):
    """Empty every table. RQ worker processes outlive a test and keep polling; TRUNCATE locks
    table by table, so it can deadlock with a worker's claim: PostgreSQL then rolls one side
    back, and we try again."""
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    for attempt in range(attempts):
        try:
            db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
            return
        except OperationalError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request):
    """The database backend of this test run: every app test runs on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def app_config(tmp_path, ca_bundle, database, request):
    config = base_config(tmp_path, ca_bundle)
    if database == "postgres":
        config["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("postgres_url")
    return config


@pytest.fixture
def make_app(app_config):
    """Return a factory of apps with a fresh schema; extra config overrides the defaults."""
    apps = []

    def factory(**overrides):
        app = create_app({**app_config, **overrides})
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield factory
    # Stop every app's background delivery threads before truncating: a poller of another app
    # of this test still reading the tables would deadlock with TRUNCATE.
    for app in apps:
        if hasattr(app.extensions.get("webhooks_queue"), "shutdown"):
            app.extensions["webhooks_queue"].shutdown()
    for app in apps:
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                _truncate_all()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Factory:
    """Create rows for a test: organizations, users with permissions, webhooks."""

    def org(self, slug="acme", name=None):
        org = Organization(slug=slug, name=name or slug.title())
        db.session.add(org)
        db.session.commit()
        return org

    def user(self, email="owner@example.com", org=None, permissions=(WEBHOOKS_PERMISSION,)):
        user = User(email=email)
        user.set_password(PASSWORD)
        db.session.add(user)
        if org is not None:
            db.session.add(Membership(user=user, organization=org, permissions=list(permissions)))
        db.session.commit()
        return user

    def webhook(self, org, url="https://127.0.0.1/hook", events=("job.created",), active=True, **kw):
        webhook = Webhook(organization_id=org.id, name=kw.pop("name", "Hook"), url=url,
                          event_types=list(events), is_active=active, **kw)
        db.session.add(webhook)
        db.session.commit()
        return webhook


@pytest.fixture
def factory(app):
    return Factory()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email="owner@example.com", password=PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def owner(factory, auth):
    """Acme Roofing, with its Org.webhooks user signed in."""
    org = factory.org("acme", "Acme Roofing")
    factory.user(org=org)
    auth.login()
    return org


@pytest.fixture
def redis_conn():
    """A real Redis connection on a dedicated database number, flushed before and after."""
    conn = redis_lib.Redis.from_url(REDIS_TEST_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def receiver(ca):
    """A real HTTPS endpoint on 127.0.0.1 trusted through the test CA bundle."""
    server = Receiver(ca).start()
    yield server
    server.stop()

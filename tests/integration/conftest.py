"""What the delivery tests share: the two queue backends, real worker processes, and an app
whose queue is the backend under test."""
import pytest

from tests.conftest import PASSWORD, REDIS_TEST_URL, Factory
from tests.support.workers import Processes

# Every attempt here has a total deadline of 1.5 s; a lease lasts 4 s; retries wait 1 s, 2 s.
DELIVERY_SETTINGS = {"WEBHOOKS_TIMEOUT_SECONDS": 1.5, "WEBHOOKS_LEASE_SECONDS": 4}
BACKENDS = [
    pytest.param("sqlite", "inline", id="inline-sqlite"),
    pytest.param("postgres", "inline", id="inline-postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", "rq", id="rq-postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
]
both_backends = pytest.mark.parametrize("database, backend", BACKENDS)
inline_only = pytest.mark.parametrize("database, backend", BACKENDS[:2])


def rq_environment(postgres_url, ca_bundle, **settings):
    """The environment of worker and scheduler processes sharing the tests' databases."""
    return {
        "DATABASE_URL": postgres_url, "REDIS_URL": REDIS_TEST_URL, "SECRET_KEY": "test-secret-key",
        "WEBHOOKS_QUEUE": "rq", "WEBHOOKS_RETRY_DELAYS": "1,2", "WEBHOOKS_CA_BUNDLE": ca_bundle,
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOKS_RECONCILE_SECONDS": "1",
        **{key: str(value) for key, value in {**DELIVERY_SETTINGS, **settings}.items()},
    }


def start_processes(postgres_url, ca_bundle, log_dir, workers=1, **settings):
    """Start a scheduler (python -m jobs.scheduler) and `workers` worker processes; return their Processes."""
    processes = Processes(rq_environment(postgres_url, ca_bundle, **settings), log_dir)
    processes.start_scheduler(interval=1)
    for _ in range(workers):
        processes.start_worker()
    return processes


@pytest.fixture
def rq_processes(postgres_url, ca_bundle, tmp_path):
    """Return start(workers=1, **settings): fresh processes for this test, stopped after it."""
    started = []

    def start(workers=1, **settings):
        started.append(start_processes(postgres_url, ca_bundle, tmp_path, workers, **settings))
        return started[-1]

    yield start
    for processes in started:
        processes.stop()


@pytest.fixture
def delivering_app(backend, make_app, request):
    """An app whose queue is the backend under test, context pushed. For rq, a worker and a
    scheduler of this test's own: one that outlived its test would keep polling the database
    and could claim the next test's deliveries with its own settings."""
    if backend == "rq":
        request.getfixturevalue("redis_conn")
        request.getfixturevalue("rq_processes")()
        app = make_app(WEBHOOKS_QUEUE="rq", REDIS_URL=REDIS_TEST_URL, **DELIVERY_SETTINGS)
    else:
        app = make_app(**DELIVERY_SETTINGS)
    with app.app_context():
        yield app


@pytest.fixture
def owner_client(delivering_app):
    """A client of delivering_app signed in as the Org.webhooks user of Acme Roofing."""
    factory = Factory()
    factory.user(org=factory.org("acme", "Acme Roofing"))
    client = delivering_app.test_client()
    client.post("/login", data={"email": "owner@example.com", "password": PASSWORD})
    return client

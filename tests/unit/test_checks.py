"""`flask --app app check`: one line per unusable setting, naming it, and a non-zero exit."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_DSN, REDIS_TEST_URL
from webhooks import checks, config
from webhooks.config import SettingsError

ROOT = Path(__file__).resolve().parents[2]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def environ(tmp_path):
    """A development environment whose database is a SQLite file in tmp_path."""
    return {"WEBHOOKS_INSTANCE_PATH": str(tmp_path)}


def problems_of(environ, tmp_path):
    found, _ = checks.problems(environ, str(tmp_path))
    return found


@pytest.mark.parametrize("settings, line", [
    ({"WEBHOOKS_ENV": "production", "WEBHOOKS_INTERNAL_TOKEN": "t", "DATABASE_URL": "sqlite://"},
     "SECRET_KEY: not set; WEBHOOKS_ENV=production needs a fixed key (python3 -c 'import "
     "secrets; print(secrets.token_urlsafe(48))')"),
    ({"WEBHOOKS_RETRY_DELAYS": "5m,10m"},
     "WEBHOOKS_RETRY_DELAYS: '5m,10m' is not a comma-separated list of whole seconds, such as 300,600"),
    ({"WEBHOOKS_RETRY_DELAYS": "300,-5"},
     "WEBHOOKS_RETRY_DELAYS: '300,-5' holds a negative delay; give whole seconds, such as 300,600"),
    ({"WEBHOOKS_CA_BUNDLE": "/no/such/ca.pem"}, "WEBHOOKS_CA_BUNDLE: /no/such/ca.pem does not exist"),
    ({"WEBHOOKS_QUEUE": "celery"}, "WEBHOOKS_QUEUE: must be one of inline, rq, not 'celery'"),
    ({"WEBHOOKS_ENV": "prod"}, "WEBHOOKS_ENV: must be one of development, production, not 'prod'"),
    ({"WEBHOOKS_TIMEOUT_SECONDS": "15s"}, "WEBHOOKS_TIMEOUT_SECONDS: '15s' is not a number"),
    ({"WEBHOOKS_WORKER_THREADS": "0"}, "WEBHOOKS_WORKER_THREADS: '0' is less than 1"),
    ({"WEBHOOKS_LOG_FORMAT": "xml"}, "WEBHOOKS_LOG_FORMAT: must be one of text, json, not 'xml'"),
    ({"REDIS_URL": "localhost:6379"},
     "REDIS_URL: 'localhost:6379' is not a URL such as redis://host:6379/0"),
])
def test_each_unusable_setting_gets_one_line_naming_it(environ, tmp_path, settings, line):
    assert problems_of({**environ, **settings}, tmp_path) == [line]


def test_a_ca_bundle_without_certificates_is_refused(environ, tmp_path):
    bundle = tmp_path / "empty.pem"
    bundle.write_text("not a certificate\n")
    assert problems_of({**environ, "WEBHOOKS_CA_BUNDLE": str(bundle)}, tmp_path) == [
        f"WEBHOOKS_CA_BUNDLE: {bundle} holds no PEM certificate"]


def test_production_needs_its_token_database_and_redis(environ, tmp_path):
    found = problems_of({**environ, "WEBHOOKS_ENV": "production", "SECRET_KEY": "k",
                         "WEBHOOKS_QUEUE": "rq"}, tmp_path)
    assert [line.split(":")[0] for line in found] == [
        "WEBHOOKS_INTERNAL_TOKEN", "DATABASE_URL", "REDIS_URL"]
    assert found[1] == ("DATABASE_URL: not set; WEBHOOKS_ENV=production needs it (a PostgreSQL "
                        "database; the SQLite default is for development)")


def test_an_unreachable_database_and_redis_are_named_without_their_password(environ, tmp_path):
    port = closed_port()
    found = problems_of({**environ, "WEBHOOKS_QUEUE": "rq",
                         "DATABASE_URL": f"postgresql://app:hunter2@127.0.0.1:{port}/webhooks",
                         "REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}, tmp_path)
    assert len(found) == 2
    assert found[0].startswith(f"DATABASE_URL: cannot connect to "
                               f"postgresql+psycopg://app:***@127.0.0.1:{port}/webhooks (")
    assert found[1].startswith(f"REDIS_URL: cannot connect to redis://:***@127.0.0.1:{port}/0 (")
    assert all("refused" in line.lower() and "hunter2" not in line for line in found)


@pytest.mark.postgres
@pytest.mark.redis
def test_reachable_services_pass(environ, tmp_path):
    found, notes = checks.problems({**environ, "WEBHOOKS_QUEUE": "rq", "DATABASE_URL": PG_ADMIN_DSN,
                                    "REDIS_URL": REDIS_TEST_URL}, str(tmp_path))
    assert found == []
    assert notes == [f"DATABASE_URL: reached {PG_ADMIN_DSN.replace('postgresql', 'postgresql+psycopg', 1)}",
                     f"REDIS_URL: reached {REDIS_TEST_URL}"]


def test_the_app_refuses_to_start_naming_every_unusable_setting(tmp_path):
    with pytest.raises(SettingsError) as refused:
        config.from_environment(str(tmp_path), {"WEBHOOKS_RETRY_DELAYS": "x",
                                                "WEBHOOKS_CA_BUNDLE": "/nope.pem"})
    assert refused.value.problems == [
        "WEBHOOKS_RETRY_DELAYS: 'x' is not a comma-separated list of whole seconds, such as 300,600",
        "WEBHOOKS_CA_BUNDLE: /nope.pem does not exist"]


def test_heroku_redis_tls_can_skip_certificate_verification(tmp_path):
    url = "rediss://:p@ec2.example.com:6380"

    def redis_url(environ):
        return config.from_environment(str(tmp_path), environ)["REDIS_URL"]

    assert redis_url({"REDIS_URL": url}) == url
    assert redis_url({"REDIS_URL": url, "WEBHOOKS_REDIS_TLS_VERIFY": "0"}) == \
        url + "?ssl_cert_reqs=none"


def run_check(env):
    """Run the real command line, as the release phase does."""
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("WEBHOOKS_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))}
    return subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "app", "check"],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_the_command_reports_even_what_stops_the_app_from_starting(tmp_path):
    port = closed_port()
    done = run_check({"WEBHOOKS_INSTANCE_PATH": str(tmp_path), "WEBHOOKS_ENV": "production",
                      "WEBHOOKS_INTERNAL_TOKEN": "t", "WEBHOOKS_RETRY_DELAYS": "5m",
                      "DATABASE_URL": f"postgresql://u:pw@127.0.0.1:{port}/db"})
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("SECRET_KEY: not set;")
    assert lines[1].startswith("WEBHOOKS_RETRY_DELAYS: '5m' is not")
    assert lines[2].startswith(f"DATABASE_URL: cannot connect to postgresql+psycopg://u:***@127.0.0.1:{port}/db")
    assert lines[3] == "3 problems: fix them and run `flask --app app check` again."
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_command_passes_a_usable_development_setup(tmp_path):
    done = run_check({"WEBHOOKS_INSTANCE_PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"DATABASE_URL: reached sqlite:///{tmp_path}/webhooks.sqlite3", "Every setting is usable."]

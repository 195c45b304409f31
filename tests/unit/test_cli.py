"""The commands: orgs create, users create, demo, and db upgrade on SQLite and PostgreSQL."""
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from webhooks.extensions import db
from webhooks.models import WEBHOOKS_PERMISSION, Membership, Organization, User
from tests.conftest import PG_ADMIN_DSN

ROOT = Path(__file__).resolve().parents[2]


def test_orgs_create_makes_an_organization(runner):
    result = runner.invoke(args=["orgs", "create", "acme", "--name", "Acme Roofing"])
    assert result.exit_code == 0, result.output
    assert "Created organization acme." in result.output
    org = db.session.scalar(db.select(Organization).filter_by(slug="acme"))
    assert org.name == "Acme Roofing"


def test_orgs_create_refuses_a_taken_slug(runner, factory):
    factory.org("acme")
    result = runner.invoke(args=["orgs", "create", "acme", "--name", "Again"])
    assert result.exit_code == 2 and "already exists" in result.output
    assert db.session.scalar(db.select(db.func.count(Organization.id))) == 1


def test_users_create_reads_the_password_from_stdin_and_grants_the_permission(runner, factory, client):
    factory.org("acme")
    result = runner.invoke(args=["users", "create", "Ops@Example.com", "--org", "acme",
                                 "--password-stdin", "--permission", WEBHOOKS_PERMISSION],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(email="ops@example.com"))
    assert user.check_password("a long enough password")
    membership = db.session.scalar(db.select(Membership).filter_by(user_id=user.id))
    assert membership.permissions == [WEBHOOKS_PERMISSION]
    client.post("/login", data={"email": "ops@example.com", "password": "a long enough password"})
    assert client.get("/orgs/acme/webhooks/").status_code == 200


def test_users_create_prompts_for_the_password_twice(runner, factory):
    factory.org("acme")
    result = runner.invoke(args=["users", "create", "viewer@example.com", "--org", "acme"],
                           input="prompted password\nprompted password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(email="viewer@example.com"))
    assert user.check_password("prompted password")
    assert db.session.scalar(db.select(Membership).filter_by(user_id=user.id)).permissions == []


def test_a_user_without_the_permission_cannot_open_the_webhooks_tab(runner, factory, client):
    factory.org("acme")
    runner.invoke(args=["users", "create", "viewer@example.com", "--org", "acme",
                        "--password-stdin"], input="viewer password\n")
    client.post("/login", data={"email": "viewer@example.com", "password": "viewer password"})
    assert client.get("/orgs/acme/webhooks/").status_code == 403


@pytest.mark.parametrize("args, stdin, message", [
    (["users", "create", "x@example.com", "--org", "nope", "--password-stdin"],
     "long enough pw\n", "No organization 'nope'"),
    (["users", "create", "owner@example.com", "--org", "acme", "--password-stdin"],
     "long enough pw\n", "already exists"),
    (["users", "create", "x@example.com", "--org", "acme", "--password-stdin"],
     "short\n", "at least 8 characters"),
    (["users", "create", "x@example.com", "--org", "acme", "--password-stdin",
      "--permission", "Org.everything"], "long enough pw\n", "Invalid value for '--permission'"),
])
def test_users_create_reports_errors_and_creates_nothing(runner, factory, args, stdin, message):
    factory.user("owner@example.com", org=factory.org("acme"))
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def printed_login(output):
    match = re.search(r"Sign in with: (\S+) / (\S+)", output)
    assert match, output
    return match.groups()


def test_demo_prints_a_login_that_works(runner, client):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    email, password = printed_login(result.output)
    assert "Internal token" in result.output and "test-internal-token" in result.output
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    assert client.get("/orgs/demo/webhooks/").status_code == 200


def test_demo_run_again_resets_the_password(runner, client):
    first = printed_login(runner.invoke(args=["demo"]).output)
    second = printed_login(runner.invoke(args=["demo"]).output)
    assert first[0] == second[0] and db.session.scalar(db.select(db.func.count(User.id))) == 1
    assert client.post("/login", data={"email": second[0], "password": second[1]}).status_code == 302


def flask_db(database_url, *args):
    """Run `flask --app app db ...` as a separate process, the way operators run it."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "cli-test-key"}
    env.pop("WEBHOOKS_ENV", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def schema_differences(sqlalchemy_url):
    engine = create_engine(sqlalchemy_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def table_names(sqlalchemy_url):
    engine = create_engine(sqlalchemy_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_db_upgrade_builds_the_models_schema_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    flask_db(url, "upgrade")
    assert schema_differences(url) == []
    assert {"webhooks", "deliveries", "attempts", "events"} <= table_names(url)
    flask_db(url, "downgrade", "base")
    assert table_names(url) == {"alembic_version"}


@pytest.mark.postgres
def test_db_upgrade_builds_the_models_schema_on_postgresql():
    name = f"webhooks_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        flask_db(f"{base}/{name}", "upgrade")
        url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        assert schema_differences(url) == []
        flask_db(f"{base}/{name}", "downgrade", "base")
        assert table_names(url) == {"alembic_version"}
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""`flask --app app check`: is every setting usable, and are the database and Redis reachable?
One line per problem, each naming its setting; a non-zero exit if there is any (README:
Operations). The release phase runs it before upgrading the schema.

It is a plugin command (pyproject: flask.commands), so it runs without building the app: the
settings that stop the app from starting are exactly what it has to report.
"""
import os
from urllib.parse import urlsplit, urlunsplit

import click

from . import config

# What WEBHOOKS_ENV=production cannot do without (REDIS_URL only with WEBHOOKS_QUEUE=rq); the
# deploy manifest (app.json) declares each of them.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "WEBHOOKS_INTERNAL_TOKEN", "DATABASE_URL", "REDIS_URL")
_WHY = {
    "WEBHOOKS_INTERNAL_TOKEN": "the host application's events are refused without it",
    "DATABASE_URL": "a PostgreSQL database; the SQLite default is for development",
    "REDIS_URL": "WEBHOOKS_QUEUE=rq delivers through Redis",
}
TIMEOUT_SECONDS = 5


def problems(environ, instance_path):
    """Return (problems, notes): a line per problem; warnings and what was reached."""
    settings, found = config.read(instance_path, environ)
    named = {line.split(":", 1)[0] for line in found}
    production = settings["WEBHOOKS_ENV"] == "production"
    uses_redis = settings["WEBHOOKS_QUEUE"] == "rq"
    for name in REQUIRED_IN_PRODUCTION:
        if production and name in _WHY and not environ.get(name) and \
                (name != "REDIS_URL" or uses_redis):
            found.append(f"{name}: not set; WEBHOOKS_ENV=production needs it ({_WHY[name]})")
            named.add(name)
    reached = _notes(environ, production)
    database_url = settings["SQLALCHEMY_DATABASE_URI"]
    if "DATABASE_URL" not in named:
        _reach(found, reached, "DATABASE_URL", _hidden_password(database_url),
               lambda: _connect_database(database_url))
    redis_url = settings["REDIS_URL"]
    if uses_redis and "REDIS_URL" not in named:
        _reach(found, reached, "REDIS_URL", _hidden_password(redis_url),
               lambda: _connect_redis(redis_url))
    return found, reached


def _notes(environ, production):
    """Settings that work but are probably not what production wants: printed, not fatal."""
    notes = []
    if production and not environ.get("WEBHOOKS_BASE_URL"):
        notes.append("warning: WEBHOOKS_BASE_URL is not set; links in emails point to "
                     "http://127.0.0.1:5000")
    if production and not environ.get("WEBHOOKS_METRICS_TOKEN"):
        notes.append("warning: WEBHOOKS_METRICS_TOKEN is not set; /metrics answers 404")
    return notes


def _reach(found, reached, name, shown, connect):
    try:
        connect()
    except Exception as error:  # every driver error: the point is to report it in one line
        found.append(f"{name}: cannot connect to {shown} ({_first_line(error)})")
    else:
        reached.append(f"{name}: reached {shown}")


def _connect_database(url):
    from sqlalchemy import create_engine, text

    options = config.engine_options(url)
    if url.startswith("postgresql"):
        options.setdefault("connect_args", {})["connect_timeout"] = TIMEOUT_SECONDS
    engine = create_engine(url, **options)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _connect_redis(url):
    from redis import Redis

    connection = Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS,
                                socket_connect_timeout=TIMEOUT_SECONDS)
    try:
        connection.ping()
    finally:
        connection.close()


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _hidden_password(url):
    """The URL with any password replaced by ***: it is printed."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@click.command("check")
def check_command():
    """Check every setting, and that the database and Redis can be reached; exit 1 with a
    line per problem if anything is wrong."""
    from .factory import instance_path

    found, reached = problems(os.environ, instance_path())
    for line in found:
        click.echo(line, err=True)
    if found:
        count = len(found)
        click.echo(f"{count} problem{'s' if count != 1 else ''}: fix {'them' if count != 1 else 'it'} "
                   "and run `flask --app app check` again.", err=True)
        raise SystemExit(1)
    for line in reached:
        click.echo(line)
    click.echo("Every setting is usable.")

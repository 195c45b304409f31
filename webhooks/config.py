"""Settings from the environment, in one place."""
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit


def _bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _number(name, default, cast=float):
    value = os.environ.get(name)
    return cast(value) if value else cast(default)


def _choice(name, choices, default):
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _delays(value):
    delays = [int(part) for part in value.split(",") if part.strip()]
    if any(d < 0 for d in delays):
        raise ValueError("WEBHOOKS_RETRY_DELAYS must hold non-negative seconds")
    return tuple(delays)


def _secret_key(instance_path, production):
    """Return SECRET_KEY, or a dev key kept in the instance folder so restarts can decrypt."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise RuntimeError("SECRET_KEY must be set when WEBHOOKS_ENV=production")
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _origins(value):
    """Return the origins of a space- or comma-separated list, each like https://host[:port]."""
    origins = value.replace(",", " ").split()
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"WEBHOOKS_FRAME_ANCESTORS: {origin!r} is not an origin such as "
                             "https://app.example.com")
    return tuple(origin.rstrip("/") for origin in origins)


def _keys(name):
    """Return the comma-separated keys of an environment variable as a list."""
    return [key.strip() for key in os.environ.get(name, "").split(",") if key.strip()]


def _key_settings():
    """Return the previous session keys and the credentials keys (README: Rotating keys)."""
    session_fallbacks = _keys("SECRET_KEY_FALLBACKS")
    credentials_key = os.environ.get("WEBHOOKS_CREDENTIALS_KEY") or None
    credentials_fallbacks = _keys("WEBHOOKS_CREDENTIALS_KEY_FALLBACKS")
    if credentials_fallbacks and not credentials_key:
        # Without the dedicated key, credentials use SECRET_KEY and SECRET_KEY_FALLBACKS; these
        # fallbacks would be ignored and what only they decrypt would be unreadable.
        raise RuntimeError(
            "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS is set without WEBHOOKS_CREDENTIALS_KEY")
    return {
        "SECRET_KEY_FALLBACKS": session_fallbacks,  # Flask verifies sessions with these too
        "WEBHOOKS_CREDENTIALS_KEY": credentials_key,
        "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS": credentials_fallbacks,
    }


def csrf_keys(config):
    """Return the keys Flask-WTF should sign CSRF tokens with, or None for SECRET_KEY alone.

    Flask-WTF ignores SECRET_KEY_FALLBACKS; itsdangerous takes a list (newest last), so pages
    rendered before the key changed still post.
    """
    fallbacks = config.get("SECRET_KEY_FALLBACKS")
    return [*fallbacks, config["SECRET_KEY"]] if fallbacks else None


def _database_url(instance_path):
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'webhooks.sqlite3'}"
    # Heroku-style URLs say postgres://; SQLAlchemy wants an explicit driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(database_url):
    """Return SQLAlchemy engine options suited to the database URL."""
    # Recycling old connections instead of pinging before each checkout saves a round trip
    # per request on the ingest hot path; a dropped connection still fails only one request.
    options = {"pool_recycle": 300}
    if database_url.startswith("postgresql"):
        # Timestamps then come back in UTC whatever the server's default time zone is.
        options["connect_args"] = {"options": "-c timezone=UTC"}
    return options


def from_environment(instance_path):
    """Build the Flask config mapping from environment variables."""
    production = os.environ.get("WEBHOOKS_ENV", "development") == "production"
    return {
        "WEBHOOKS_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance_path, production),
        **_key_settings(),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
        "WEBHOOKS_QUEUE": os.environ.get("WEBHOOKS_QUEUE", "inline"),
        "WEBHOOKS_INTERNAL_TOKEN": os.environ.get("WEBHOOKS_INTERNAL_TOKEN") or None,
        "WEBHOOKS_RETRY_DELAYS": _delays(os.environ.get("WEBHOOKS_RETRY_DELAYS", "300,600")),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": _bool(os.environ.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")),
        "WEBHOOKS_CA_BUNDLE": os.environ.get("WEBHOOKS_CA_BUNDLE") or None,
        # The development receiver (`flask --app app listen`, webhooks.local_receiver): its port,
        # the one loopback address the app sends to in development.
        "WEBHOOKS_LISTEN_PORT": _number("WEBHOOKS_LISTEN_PORT", 5001, int),
        "WEBHOOKS_LOG_LEVEL": os.environ.get("WEBHOOKS_LOG_LEVEL", "INFO").upper(),
        # How deliveries are sent (see the README's configuration table).
        "WEBHOOKS_LEASE_SECONDS": _number("WEBHOOKS_LEASE_SECONDS", 60),
        "WEBHOOKS_CONNECT_TIMEOUT_SECONDS": _number("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 5),
        "WEBHOOKS_TIMEOUT_SECONDS": _number("WEBHOOKS_TIMEOUT_SECONDS", 15),
        "WEBHOOKS_RECONCILE_SECONDS": _number("WEBHOOKS_RECONCILE_SECONDS", 15),
        "WEBHOOKS_ENDPOINT_CONCURRENCY": _number("WEBHOOKS_ENDPOINT_CONCURRENCY", 4, int),
        "WEBHOOKS_WORKER_THREADS": _number("WEBHOOKS_WORKER_THREADS", 256, int),
        "WEBHOOKS_BATCH_SECONDS": _number("WEBHOOKS_BATCH_SECONDS", 5),
        "WEBHOOKS_INLINE_THREADS": _number("WEBHOOKS_INLINE_THREADS", 64, int),
        "MAX_CONTENT_LENGTH": 256 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WEBHOOKS_PASSWORD_LOGIN": _bool(os.environ.get("WEBHOOKS_PASSWORD_LOGIN", "1")),
        "WEBHOOKS_HOST_APP_NAME": os.environ.get("WEBHOOKS_HOST_APP_NAME") or "your application",
        "WEBHOOKS_HOST_APP_URL": os.environ.get("WEBHOOKS_HOST_APP_URL") or None,
        # Origins allowed to show the tab in an iframe (space or comma separated).
        "WEBHOOKS_FRAME_ANCESTORS": _origins(os.environ.get("WEBHOOKS_FRAME_ANCESTORS", "")),
        # Sign-in sessions end after this long without a request, and after this long at most.
        "WEBHOOKS_SESSION_IDLE_MINUTES": _number("WEBHOOKS_SESSION_IDLE_MINUTES", 60),
        "WEBHOOKS_SESSION_HOURS": _number("WEBHOOKS_SESSION_HOURS", 12),
        # Endpoint health (README: Endpoint health): a webhook failing this long, with at least
        # DISABLE_MIN_FAILURES failed deliveries and no success, is turned off automatically.
        "WEBHOOKS_DISABLE_AFTER_HOURS": _number("WEBHOOKS_DISABLE_AFTER_HOURS", 72),
        "WEBHOOKS_DISABLE_MIN_FAILURES": _number("WEBHOOKS_DISABLE_MIN_FAILURES", 5, int),
        # Retention (README: Retention): payloads, then the log rows, then audit entries are
        # removed after this many days, by a purge every WEBHOOKS_PURGE_INTERVAL_SECONDS.
        "WEBHOOKS_PAYLOAD_RETENTION_DAYS": _number("WEBHOOKS_PAYLOAD_RETENTION_DAYS", 30),
        "WEBHOOKS_LOG_RETENTION_DAYS": _number("WEBHOOKS_LOG_RETENTION_DAYS", 90),
        "WEBHOOKS_AUDIT_RETENTION_DAYS": _number("WEBHOOKS_AUDIT_RETENTION_DAYS", 365),
        "WEBHOOKS_PURGE_INTERVAL_SECONDS": _number("WEBHOOKS_PURGE_INTERVAL_SECONDS", 300),
        # Links in emails point here (the address people open the app at).
        "WEBHOOKS_BASE_URL": os.environ.get("WEBHOOKS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Notices by email (README: Email notices); without a host they are written to the log.
        "WEBHOOKS_SMTP_HOST": os.environ.get("WEBHOOKS_SMTP_HOST") or None,
        "WEBHOOKS_SMTP_PORT": _number("WEBHOOKS_SMTP_PORT", 587, int),
        "WEBHOOKS_SMTP_USERNAME": os.environ.get("WEBHOOKS_SMTP_USERNAME") or None,
        "WEBHOOKS_SMTP_PASSWORD": os.environ.get("WEBHOOKS_SMTP_PASSWORD") or None,
        "WEBHOOKS_SMTP_SECURITY": _choice("WEBHOOKS_SMTP_SECURITY", ("starttls", "ssl", "none"),
                                          "starttls"),
        "WEBHOOKS_MAIL_FROM": os.environ.get("WEBHOOKS_MAIL_FROM", "webhooks@localhost"),
        # The management API (README: API): requests per key (per address without a valid key).
        "WEBHOOKS_API_RATE_LIMIT": os.environ.get("WEBHOOKS_API_RATE_LIMIT", "600 per minute"),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT_SECONDS": 300,
    }


def setting(name, cast=float):
    """Return a number setting of the current app (from_environment reads it and its default)."""
    from flask import current_app

    return cast(current_app.config[name])

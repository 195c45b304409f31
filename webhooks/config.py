"""Settings from the environment, in one place."""
import os
import secrets
import ssl
from pathlib import Path
from urllib.parse import urlsplit


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class SettingsError(RuntimeError):
    """Settings that cannot be used: one line per problem, each naming its setting."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _Reader:
    """Read settings from the environment, noting each unusable one instead of stopping at the
    first, so that a start or `flask --app app check` names them all."""

    def __init__(self, environ):
        self.environ = environ
        self.problems = []

    def text(self, name, default=None):
        return self.environ.get(name) or default

    def flag(self, name, default):
        return str(self.environ.get(name, default)).strip().lower() in {"1", "true", "yes", "on"}

    def number(self, name, default, cast=float, minimum=0):
        value = self.environ.get(name)
        if not value:
            return cast(default)
        try:
            number = cast(value)
        except ValueError:
            kind = "a whole number" if cast is int else "a number"
            return self.problem(name, f"{value!r} is not {kind}", cast(default))
        if number < minimum:
            return self.problem(name, f"{value!r} is less than {minimum}", cast(default))
        return number

    def choice(self, name, choices, default):
        value = self.environ.get(name, default).strip().lower()
        if value not in choices:
            return self.problem(name, f"must be one of {', '.join(choices)}, not {value!r}", default)
        return value

    def parsed(self, name, default, parse):
        """Return parse(the value or default); parse raises ValueError with what is wrong."""
        value = self.environ.get(name, default)
        try:
            return parse(value)
        except ValueError as error:
            return self.problem(name, str(error), parse(default))

    def problem(self, name, message, fallback=None):
        self.problems.append(f"{name}: {message}")
        return fallback


def _delays(value):
    try:
        delays = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{value!r} is not a comma-separated list of whole seconds, "
                         "such as 300,600") from None
    if any(d < 0 for d in delays):
        raise ValueError(f"{value!r} holds a negative delay; give whole seconds, such as 300,600")
    return tuple(delays)


def _secret_key(read, instance_path, production):
    """Return SECRET_KEY, or a dev key kept in the instance folder so restarts can decrypt."""
    key = read.text("SECRET_KEY")
    if key:
        return key
    if production:
        return read.problem("SECRET_KEY", "not set; WEBHOOKS_ENV=production needs a fixed key "
                            "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')",
                            "unset")
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
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
    return tuple(origin.rstrip("/") for origin in origins)


def _ca_bundle(value):
    """Return the path of a CA bundle file that exists and holds certificates, or None."""
    if not value:
        return None
    path = Path(value)
    if not path.exists():
        raise ValueError(f"{value} does not exist")
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ValueError(f"{value} is not a readable file")
    try:
        ssl.create_default_context(cafile=value)
    except ssl.SSLError:
        raise ValueError(f"{value} holds no PEM certificate") from None
    return value


def _url(schemes, example):
    def parse(value):
        if urlsplit(value).scheme not in schemes:
            raise ValueError(f"{value!r} is not a URL such as {example}")
        return value
    return parse


def _keys(read, name):
    """Return the comma-separated keys of an environment variable as a list."""
    return [key.strip() for key in (read.text(name) or "").split(",") if key.strip()]


def _key_settings(read):
    """Return the previous session keys and the credentials keys (README: Rotating keys)."""
    session_fallbacks = _keys(read, "SECRET_KEY_FALLBACKS")
    credentials_key = read.text("WEBHOOKS_CREDENTIALS_KEY")
    credentials_fallbacks = _keys(read, "WEBHOOKS_CREDENTIALS_KEY_FALLBACKS")
    if credentials_fallbacks and not credentials_key:
        # Without the dedicated key, credentials use SECRET_KEY and SECRET_KEY_FALLBACKS; these
        # fallbacks would be ignored and what only they decrypt would be unreadable.
        read.problem("WEBHOOKS_CREDENTIALS_KEY_FALLBACKS", "set without WEBHOOKS_CREDENTIALS_KEY")
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


def _database_url(read, instance_path):
    url = read.text("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'webhooks.sqlite3'}"
    # Heroku-style URLs say postgres://; SQLAlchemy wants an explicit driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _redis_url(read):
    """Return REDIS_URL; with WEBHOOKS_REDIS_TLS_VERIFY=0, a rediss:// URL is used without
    verifying the server's certificate (Heroku Redis presents a self-signed one, and the add-on
    owns REDIS_URL, so the parameter cannot be added to the URL itself)."""
    url = read.parsed("REDIS_URL", "redis://localhost:6379/0",
                      _url(("redis", "rediss", "unix"), "redis://host:6379/0"))
    verify = read.flag("WEBHOOKS_REDIS_TLS_VERIFY", "1")
    if url.startswith("rediss://") and not verify and "ssl_cert_reqs=" not in url:
        url += ("&" if "?" in url else "?") + "ssl_cert_reqs=none"
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


def from_environment(instance_path, environ=None):
    """Build the Flask config mapping from environment variables; raise SettingsError naming
    every setting that cannot be used."""
    settings, problems = read(instance_path, environ)
    if problems:
        raise SettingsError(problems)
    return settings


def read(instance_path, environ=None):
    """Return (the config mapping, a line per setting that cannot be used); an unusable setting
    has its default in the mapping."""
    reader = _Reader(os.environ if environ is None else environ)
    return _read_settings(reader, instance_path), reader.problems


def _read_settings(read, instance_path):
    production = read.choice("WEBHOOKS_ENV", ("development", "production"),
                             "development") == "production"
    return {
        "WEBHOOKS_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(read, instance_path, production),
        **_key_settings(read),
        "SQLALCHEMY_DATABASE_URI": _database_url(read, instance_path),
        "REDIS_URL": _redis_url(read),
        "WEBHOOKS_QUEUE": read.choice("WEBHOOKS_QUEUE", ("inline", "rq"), "inline"),
        "WEBHOOKS_INTERNAL_TOKEN": read.text("WEBHOOKS_INTERNAL_TOKEN"),
        "WEBHOOKS_RETRY_DELAYS": read.parsed("WEBHOOKS_RETRY_DELAYS", "300,600", _delays),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": read.flag("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0"),
        "WEBHOOKS_CA_BUNDLE": read.parsed("WEBHOOKS_CA_BUNDLE", "", _ca_bundle),
        # The development receiver (`flask --app app listen`, webhooks.local_receiver): its port,
        # the one loopback address the app sends to in development.
        "WEBHOOKS_LISTEN_PORT": read.number("WEBHOOKS_LISTEN_PORT", 5001, int, minimum=1),
        **dict(zip(("WEBHOOKS_LOG_LEVEL", "WEBHOOKS_LOG_FORMAT"), _log_settings(read))),
        # The bearer token /metrics asks for; without it /metrics is off.
        "WEBHOOKS_METRICS_TOKEN": read.text("WEBHOOKS_METRICS_TOKEN"),
        # How deliveries are sent (see the README's configuration table).
        "WEBHOOKS_LEASE_SECONDS": read.number("WEBHOOKS_LEASE_SECONDS", 60),
        "WEBHOOKS_CONNECT_TIMEOUT_SECONDS": read.number("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 5),
        "WEBHOOKS_TIMEOUT_SECONDS": read.number("WEBHOOKS_TIMEOUT_SECONDS", 15),
        "WEBHOOKS_RECONCILE_SECONDS": read.number("WEBHOOKS_RECONCILE_SECONDS", 15),
        "WEBHOOKS_ENDPOINT_CONCURRENCY": read.number("WEBHOOKS_ENDPOINT_CONCURRENCY", 4, int, minimum=1),
        "WEBHOOKS_WORKER_THREADS": read.number("WEBHOOKS_WORKER_THREADS", 256, int, minimum=1),
        "WEBHOOKS_BATCH_SECONDS": read.number("WEBHOOKS_BATCH_SECONDS", 5),
        "WEBHOOKS_INLINE_THREADS": read.number("WEBHOOKS_INLINE_THREADS", 64, int, minimum=1),
        "MAX_CONTENT_LENGTH": 256 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WEBHOOKS_PASSWORD_LOGIN": read.flag("WEBHOOKS_PASSWORD_LOGIN", "1"),
        "WEBHOOKS_HOST_APP_NAME": read.text("WEBHOOKS_HOST_APP_NAME", "your application"),
        "WEBHOOKS_HOST_APP_URL": read.text("WEBHOOKS_HOST_APP_URL"),
        # Origins allowed to show the tab in an iframe (space or comma separated).
        "WEBHOOKS_FRAME_ANCESTORS": read.parsed("WEBHOOKS_FRAME_ANCESTORS", "", _origins),
        # Sign-in sessions end after this long without a request, and after this long at most.
        "WEBHOOKS_SESSION_IDLE_MINUTES": read.number("WEBHOOKS_SESSION_IDLE_MINUTES", 60),
        "WEBHOOKS_SESSION_HOURS": read.number("WEBHOOKS_SESSION_HOURS", 12),
        # Endpoint health (README: Endpoint health): a webhook failing this long, with at least
        # DISABLE_MIN_FAILURES failed deliveries and no success, is turned off automatically.
        "WEBHOOKS_DISABLE_AFTER_HOURS": read.number("WEBHOOKS_DISABLE_AFTER_HOURS", 72),
        "WEBHOOKS_DISABLE_MIN_FAILURES": read.number("WEBHOOKS_DISABLE_MIN_FAILURES", 5, int),
        # Retention (README: Retention): payloads, then the log rows, then audit entries are
        # removed after this many days, by a purge every WEBHOOKS_PURGE_INTERVAL_SECONDS.
        "WEBHOOKS_PAYLOAD_RETENTION_DAYS": read.number("WEBHOOKS_PAYLOAD_RETENTION_DAYS", 30),
        "WEBHOOKS_LOG_RETENTION_DAYS": read.number("WEBHOOKS_LOG_RETENTION_DAYS", 90),
        "WEBHOOKS_AUDIT_RETENTION_DAYS": read.number("WEBHOOKS_AUDIT_RETENTION_DAYS", 365),
        "WEBHOOKS_PURGE_INTERVAL_SECONDS": read.number("WEBHOOKS_PURGE_INTERVAL_SECONDS", 300),
        # Links in emails point here (the address people open the app at).
        "WEBHOOKS_BASE_URL": read.parsed(
            "WEBHOOKS_BASE_URL", "http://127.0.0.1:5000",
            _url(("http", "https"), "https://webhooks.example.com")).rstrip("/"),
        # Notices by email (README: Email notices); without a host they are written to the log.
        "WEBHOOKS_SMTP_HOST": read.text("WEBHOOKS_SMTP_HOST"),
        "WEBHOOKS_SMTP_PORT": read.number("WEBHOOKS_SMTP_PORT", 587, int, minimum=1),
        "WEBHOOKS_SMTP_USERNAME": read.text("WEBHOOKS_SMTP_USERNAME"),
        "WEBHOOKS_SMTP_PASSWORD": read.text("WEBHOOKS_SMTP_PASSWORD"),
        "WEBHOOKS_SMTP_SECURITY": read.choice("WEBHOOKS_SMTP_SECURITY", ("starttls", "ssl", "none"),
                                              "starttls"),
        "WEBHOOKS_MAIL_FROM": read.text("WEBHOOKS_MAIL_FROM", "webhooks@localhost"),
        # The management API (README: API): requests per key (per address without a valid key).
        "WEBHOOKS_API_RATE_LIMIT": read.text("WEBHOOKS_API_RATE_LIMIT", "600 per minute"),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT_SECONDS": 300,
    }


def _log_settings(read):
    """Return (level, format): logs as human-readable lines (text) or one JSON object per line
    (README: Operations)."""
    return (read.choice("WEBHOOKS_LOG_LEVEL", LOG_LEVELS, "info").upper(),
            read.choice("WEBHOOKS_LOG_FORMAT", ("text", "json"), "text"))


def log_settings(environ=None):
    """Return (WEBHOOKS_LOG_LEVEL, WEBHOOKS_LOG_FORMAT) alone, for a process that logs before it
    has an app (gunicorn's master); an unusable value counts as its default here."""
    return _log_settings(_Reader(os.environ if environ is None else environ))


def setting(name, cast=float):
    """Return a number setting of the current app (from_environment reads it and its default)."""
    from flask import current_app

    return cast(current_app.config[name])

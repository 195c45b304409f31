"""One HTTP attempt: POST a signed body over a hardened session, within a total deadline.

Plain Python: no Flask, no models. Settings come in as a `SenderSettings`.
"""
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests
import urllib3

from . import connections, urlguard

BODY_LIMIT = 64 * 1024


def _now():
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SenderSettings:
    """What a Sender needs to know: where it may connect, whom to trust, how long to wait."""

    allow_private: bool = False
    ca_bundle: str | None = None
    connect_timeout: float = 5
    total_timeout: float = 15


@dataclass
class Outcome:
    """What happened to one HTTP request: a response, or an error in plain words, or both (3xx)."""

    started_at: datetime
    finished_at: datetime
    duration_ms: int
    status: int | None = None
    headers: list | None = None
    body: str | None = None
    body_size: int | None = None
    truncated: bool = False
    error: str | None = None

    @property
    def succeeded(self):
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def answered(self):
        """Return whether the endpoint gave any HTTP answer (a status line), even an error."""
        return self.status is not None

    @property
    def summary(self):
        """Return the short text kept as last_error: None for a plain HTTP status answer."""
        return self.error


class Sender:
    """Send attempts over requests-hardened sessions, one per thread, reused across calls."""

    def __init__(self, settings=SenderSettings()):
        self.settings = settings
        self.allow_private = settings.allow_private
        self.verify = urlguard.ca_bundle(settings.ca_bundle)
        self.connect_timeout = settings.connect_timeout
        self.total_timeout = settings.total_timeout
        self._local = threading.local()
        self._sessions = []
        self._sessions_lock = threading.Lock()

    @property
    def session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = urlguard.hardened_session(self.allow_private, self.connect_timeout,
                                                self.total_timeout)
            session.verify = self.verify
            session.headers.clear()  # only the headers we sign and record are sent
            for adapter in session.adapters.values():
                adapter.poolmanager.pool_classes_by_scheme = connections.TRACKED_POOLS
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self):
        """Close every thread's session and its kept-alive connections (no send in flight)."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def send(self, url, body, headers):
        """POST body to url with headers; return the Outcome, never raise for network trouble."""
        started_at, clock = _now(), time.monotonic()
        deadline = clock + self.total_timeout
        problem = urlguard.url_problem(url)
        if problem:
            return self._outcome(started_at, clock, error=problem)
        # The read timeout bounds each wait for bytes; the watchdog bounds the whole request
        # (an endpoint dribbling its headers a byte at a time included).
        watch = connections.watchdog.arm(deadline)
        try:
            try:
                response = self.session.post(
                    url, data=body, headers=dict(headers), stream=True, allow_redirects=False,
                    timeout=(self.connect_timeout, self.total_timeout),
                )
            except requests.RequestException as exc:
                error = self.timed_out if watch.expired else self.describe(exc, url)
                return self._outcome(started_at, clock, error=error)
            try:
                content, truncated, error = self._read_body(response, deadline)
            finally:
                response.close()
        finally:
            connections.watchdog.disarm(watch)
        if watch.expired:
            content, truncated, error = content[:BODY_LIMIT], False, self.timed_out
        status = response.status_code
        if error is None and 300 <= status < 400:
            location = response.headers.get("Location", "(none)")
            error = f"Redirect ({status}) not followed: Location {location}"
        size = len(content)
        if truncated:
            size = _content_length(response) or size
            content = content[:BODY_LIMIT]
        return self._outcome(
            started_at, clock, status=status, headers=[[k, v] for k, v in response.raw.headers.items()],
            body=content.decode("utf-8", errors="replace"), body_size=size, truncated=truncated,
            error=error,
        )

    def send_safely(self, url, body, headers):
        """Like send, but a bug becomes a failed Outcome: an attempt that may have gone out is
        always recorded."""
        try:
            return self.send(url, body, headers)
        except Exception as exc:
            now = _now()
            return Outcome(started_at=now, finished_at=now, duration_ms=0,
                           error=f"Connection failed: {_short(exc)}")

    def _read_body(self, response, deadline):
        """Read at most BODY_LIMIT + 1 bytes before the deadline; return (bytes, truncated, error)."""
        chunks, size = [], 0
        try:
            while size <= BODY_LIMIT:
                chunk = response.raw.read(min(16 * 1024, BODY_LIMIT + 1 - size), decode_content=True)
                if not chunk:  # end of body: urllib3 hands the connection back to the pool
                    break
                chunks.append(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    return b"".join(chunks), False, self.timed_out
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return b"".join(chunks), False, self.describe(exc, response.url)
        return b"".join(chunks), size > BODY_LIMIT, None

    @property
    def timed_out(self):
        return f"Timed out after {self.total_timeout:g} s waiting for a response"

    def describe(self, exc, url):
        """Return a network error in plain words."""
        host = urlsplit(url).hostname or url
        if urlguard.is_blocked_error(exc):
            return str(exc)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"Timed out after {self.connect_timeout:g} s connecting to {host}"
        if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
            return self.timed_out
        causes = list(_causes(exc))
        verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        if verify is not None:
            return f"TLS certificate verify failed: {verify.verify_message}"
        if isinstance(exc, requests.exceptions.SSLError):
            reason = next((c for c in causes if isinstance(c, ssl.SSLError)), exc)
            return f"TLS error: {getattr(reason, 'reason', None) or _short(reason)}"
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc):
            return "Connection refused"
        if any(isinstance(c, ConnectionResetError) for c in causes):
            return "Connection reset by the endpoint"
        if "resolve" in str(exc).lower() or any("NameResolution" in type(c).__name__ for c in causes):
            return f"The host {host} could not be found (DNS lookup failed)"
        if "timed out" in str(exc).lower():
            return self.timed_out
        return f"Connection failed: {_short(exc)}"

    @staticmethod
    def _outcome(started_at, clock, **fields):
        elapsed = time.monotonic() - clock
        return Outcome(started_at=started_at, finished_at=started_at + timedelta(seconds=elapsed),
                       duration_ms=round(elapsed * 1000), **fields)


def _causes(exc):
    """Yield exc and everything it wraps (causes, contexts, urllib3 reasons)."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *getattr(current, "args", ())]
        stack.extend(item for item in linked if isinstance(item, BaseException))


def _short(exc, limit=200):
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _content_length(response):
    try:
        return int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None

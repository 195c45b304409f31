"""One HTTP attempt: POST a signed body over a hardened session, within a total deadline.

Plain Python: no Flask, no models. Settings come in as a `SenderSettings`.
"""
import functools
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
import urllib3
from cryptography import x509

from . import connections, failures, urlguard
from .local_receiver import LocalReceiver

BODY_LIMIT = 64 * 1024
NO_LOCAL_CA = ("The local receiver's certificate authority ({path}) does not exist yet: "
               "start the receiver with flask --app app listen.")


def _now():
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SenderSettings:
    """What a Sender needs to know: where it may connect, whom to trust, how long to wait."""

    allow_private: bool = False
    ca_bundle: str | None = None
    connect_timeout: float = 5
    total_timeout: float = 15
    # Development only (webhooks.local_receiver): the one loopback address allowed, and its CA.
    local_receiver: LocalReceiver | None = None


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
    category: str | None = None  # webhooks.failures: success, http_5xx, timeout, tls, ...
    # The endpoint certificate's notAfter (UTC): on a success, and on a refused expired one.
    certificate_expires_at: datetime | None = None

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


class Problem(NamedTuple):
    """Why an attempt failed: its category (webhooks.failures) and its words."""

    category: str
    error: str


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
        return self._thread_session("session", self.allow_private, self.verify)

    def _thread_session(self, name, allow_private, verify):
        session = getattr(self._local, name, None)
        if session is None:
            session = urlguard.hardened_session(allow_private, self.connect_timeout,
                                                self.total_timeout)
            session.verify = verify
            session.headers.clear()  # only the headers we sign and record are sent
            for adapter in session.adapters.values():
                adapter.poolmanager.pool_classes_by_scheme = connections.TRACKED_POOLS
            setattr(self._local, name, session)
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _session_for(self, url):
        """Return (session, None) for url, or (None, Problem): the development receiver's URL
        gets a session that reaches its loopback address and trusts its CA, and only its CA."""
        receiver = self.settings.local_receiver
        if receiver is None or not receiver.serves(url):
            return self.session, None
        if not os.path.exists(receiver.ca_file):
            return None, Problem(failures.TLS, NO_LOCAL_CA.format(path=receiver.ca_file))
        return self._thread_session("receiver_session", True, receiver.ca_file), None

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
        refused = urlguard.url_problem(url)
        if refused:
            return self._outcome(started_at, clock, Problem(failures.BLOCKED, refused))
        session, problem = self._session_for(url)
        if problem:
            return self._outcome(started_at, clock, problem)
        # The read timeout bounds each wait for bytes; the watchdog bounds the whole request
        # (an endpoint dribbling its headers a byte at a time included).
        watch = connections.watchdog.arm(deadline)
        try:
            try:
                response = self._post(session, url, body, headers)
            except requests.RequestException as exc:
                problem = self.timed_out if watch.expired else self.describe(exc, url)
                return self._outcome(started_at, clock, problem,
                                     certificate_expires_at=self._expired_certificate(exc, url,
                                                                                      deadline))
            try:
                # Before the body: once it is read, the connection goes back to the pool.
                expires_at = _certificate_expiry(response)
                content, truncated, problem = self._read_body(response, deadline)
            finally:
                response.close()
        finally:
            connections.watchdog.disarm(watch)
        if watch.expired:
            content, truncated, problem = content[:BODY_LIMIT], False, self.timed_out
        status = response.status_code
        if problem is None and 300 <= status < 400:
            location = response.headers.get("Location", "(none)")
            problem = Problem(failures.REDIRECT,
                              f"Redirect ({status}) not followed: Location {location}")
        size = len(content)
        if truncated:
            size = _content_length(response) or size
            content = content[:BODY_LIMIT]
        category = problem.category if problem else failures.of_status(status)
        return self._outcome(
            started_at, clock, problem, status=status, category=category,
            headers=[[k, v] for k, v in response.raw.headers.items()],
            body=content.decode("utf-8", errors="replace"), body_size=size, truncated=truncated,
            certificate_expires_at=expires_at if category == failures.SUCCESS else None,
        )

    def _post(self, session, url, body, headers):
        """POST through the session's adapter, without requests' Session layer.

        The adapter does what guards an attempt: it resolves the host, refuses a blocked
        address and connects to the one it checked (webhooks.urlguard), verifies the
        certificate, applies the timeouts and raises requests' exceptions. The Session layer
        only merged settings we do not use, and kept cookies: an endpoint's Set-Cookie was sent
        back with later attempts, which Log History's request headers did not show. Skipping it
        saves about a third of an attempt's CPU (bench/delivery.py).
        """
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = _prepared_url(url)
        request.prepare_headers(dict(headers))
        request.prepare_body(body, None)
        adapter = session.get_adapter(request.url)
        return adapter.send(request, stream=True, timeout=(self.connect_timeout, self.total_timeout),
                            verify=session.verify, cert=None, proxies={})

    def send_safely(self, url, body, headers):
        """Like send, but a bug becomes a failed Outcome: an attempt that may have gone out is
        always recorded."""
        try:
            return self.send(url, body, headers)
        except Exception as exc:
            now = _now()
            return Outcome(started_at=now, finished_at=now, duration_ms=0,
                           error=f"Connection failed: {_short(exc)}", category=failures.CONNECTION)

    def _read_body(self, response, deadline):
        """Read at most BODY_LIMIT + 1 bytes before the deadline; return (bytes, truncated,
        Problem or None)."""
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
        return Problem(failures.TIMEOUT,
                       f"Timed out after {self.total_timeout:g} s waiting for a response")

    def describe(self, exc, url):
        """Return the Problem of a network error: its category and its plain words."""
        host = urlsplit(url).hostname or url
        if urlguard.is_blocked_error(exc):
            return Problem(failures.BLOCKED, str(exc))
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return Problem(failures.TIMEOUT,
                           f"Timed out after {self.connect_timeout:g} s connecting to {host}")
        if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
            return self.timed_out
        causes = list(_causes(exc))
        verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        if verify is not None:
            return Problem(failures.TLS, f"TLS certificate verify failed: {verify.verify_message}")
        if isinstance(exc, requests.exceptions.SSLError):
            reason = next((c for c in causes if isinstance(c, ssl.SSLError)), exc)
            return Problem(failures.TLS,
                           f"TLS error: {getattr(reason, 'reason', None) or _short(reason)}")
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc):
            return Problem(failures.CONNECTION, "Connection refused")
        if any(isinstance(c, ConnectionResetError) for c in causes):
            return Problem(failures.CONNECTION, "Connection reset by the endpoint")
        if "resolve" in str(exc).lower() or any("NameResolution" in type(c).__name__ for c in causes):
            return Problem(failures.DNS, f"The host {host} could not be found (DNS lookup failed)")
        if "timed out" in str(exc).lower():
            return self.timed_out
        return Problem(failures.CONNECTION, f"Connection failed: {_short(exc)}")

    def _expired_certificate(self, exc, url, deadline):
        """Return the notAfter of the expired certificate that failed exc's handshake, or None.

        The refused handshake leaves nothing to read, so a second one, verifying nothing and
        sending nothing, fetches the certificate: from the address the first one used (never
        re-resolved unless private addresses are allowed), within the connect timeout and
        what is left of the deadline. Only the leaf is read: an expired intermediate is not dated.
        """
        causes = list(_causes(exc))
        if not any(isinstance(c, ssl.SSLCertVerificationError) and c.verify_code == CERT_HAS_EXPIRED
                   for c in causes):
            return None
        pool = next((c.pool for c in causes
                     if isinstance(c, urllib3.exceptions.MaxRetryError) and c.pool), None)
        if pool is None or not pool.host:
            return None
        address = pool.host.strip("[]")  # the address requests-hardened pinned and checked
        if not self.allow_private and not _is_public_literal(address):
            return None
        wait = min(self.connect_timeout, deadline - time.monotonic())
        if wait <= 0:
            return None
        parts = urlsplit(url)
        try:
            der = _unverified_peer_certificate(address, pool.port or parts.port or 443,
                                               parts.hostname, wait)
            expires_at = x509.load_der_x509_certificate(der).not_valid_after_utc
        except (OSError, ValueError):
            return None
        return expires_at if expires_at < _now() else None

    def _outcome(self, started_at, clock, problem=None, **fields):
        elapsed = time.monotonic() - clock
        if problem is not None:
            fields.update(error=problem.error, category=problem.category)
        return Outcome(started_at=started_at, finished_at=started_at + timedelta(seconds=elapsed),
                       duration_ms=round(elapsed * 1000), **fields)


@functools.lru_cache(maxsize=4096)
def _prepared_url(url):
    """Return url as requests sends it (IDNA host, quoted path); a webhook's URL rarely changes."""
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return request.url


CERT_HAS_EXPIRED = 10  # OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED


def _certificate_expiry(response):
    """Return the notAfter of the certificate a response came over, parsed once per connection."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    # A kept-alive connection answers many attempts; one that reconnected has a new socket.
    cached = getattr(connection, "_webhooks_certificate", None)
    if cached is None or cached[0] is not sock:
        try:
            not_after = (sock.getpeercert() or {}).get("notAfter")
            expires_at = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), timezone.utc)
        except (OSError, ValueError, TypeError, OverflowError):  # gone already, or no date
            expires_at = None
        cached = connection._webhooks_certificate = (sock, expires_at)
    return cached[1]


def _is_public_literal(address):
    try:
        return urlguard.is_public_address(ipaddress.ip_address(address))
    except ValueError:  # a name: connecting would resolve it again
        return False


def _unverified_peer_certificate(address, port, server_name, timeout):
    """Return the DER certificate address:port presents, after a handshake that trusts nothing
    and sends nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


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

"""Build, sign and send one attempt; record it; decide the next step.

The first half (signing, headers, `Sender`) is plain Python and knows nothing of Flask. The
second half claims a delivery in the database, sends one attempt and records it; it needs an
app context. Queues (webhooks.queue, jobs/) only decide *when* to call `attempt_due` or
`attempt_manual`; every decision about *what* happens lives here.
"""
import base64
import hashlib
import hmac
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
import urllib3
from flask import current_app

from . import __version__, urlguard
from .extensions import db
from .models import Attempt, Delivery, Event, Webhook, utcnow

USER_AGENT = f"Webhooks/{__version__} (+https://github.com/webhooks-service/webhooks)"
BODY_LIMIT = 64 * 1024
PING_TYPE = "webhook.ping"  # events.PING_TYPE; not imported, to keep events → queue → here acyclic

DEACTIVATED = "Webhook was deactivated"
DELETED = "Webhook was deleted"


# --- Signing and headers (no Flask) -------------------------------------------------------------

def sign(secret, msg_id, timestamp, body):
    """Return the Standard Webhooks signature `v1,<base64 HMAC-SHA256>` of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def request_headers(msg_id, body, secret, timestamp, basic_auth=None):
    """Return the [name, value] headers of one attempt; basic_auth is (username, password) or None."""
    headers = [
        ["Content-Type", "application/json"],
        ["User-Agent", USER_AGENT],
        ["webhook-id", msg_id],
        ["webhook-timestamp", str(timestamp)],
        ["webhook-signature", sign(secret, msg_id, timestamp, body)],
    ]
    if basic_auth:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        headers.append(["Authorization", f"Basic {token}"])
    return headers


def masked(headers):
    """Return headers fit to store: the credentials of Authorization replaced by dots."""
    return [[name, value.split(" ", 1)[0] + " ••••••" if name.lower() == "authorization" else value]
            for name, value in headers]


# --- Sending (no Flask) -------------------------------------------------------------------------

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
    def summary(self):
        """Return the short text kept as last_error: None for a plain HTTP status answer."""
        return self.error


class Sender:
    """Send attempts over requests-hardened sessions, one per thread, reused across calls."""

    def __init__(self, allow_private=False, ca_bundle=None, connect_timeout=5, total_timeout=15):
        self.allow_private = allow_private
        self.verify = urlguard.ca_bundle(ca_bundle)
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self._local = threading.local()

    @property
    def session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = urlguard.hardened_session(self.allow_private, self.connect_timeout,
                                                self.total_timeout)
            session.verify = self.verify
            session.headers.clear()  # only the headers we sign and record are sent
            self._local.session = session
        return session

    def close_session(self):
        """Close this thread's session and its kept-alive connections."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def send(self, url, body, headers):
        """POST body to url with headers; return the Outcome, never raise for network trouble."""
        started_at, clock = utcnow(), time.monotonic()
        deadline = clock + self.total_timeout
        problem = urlguard.url_problem(url)
        if problem:
            return self._outcome(started_at, clock, error=problem)
        try:
            response = self.session.post(
                url, data=body, headers=dict(headers), stream=True, allow_redirects=False,
                timeout=(self.connect_timeout, self.total_timeout),
            )
        except requests.RequestException as exc:
            return self._outcome(started_at, clock, error=self.describe(exc, url))
        try:
            content, truncated, error = self._read_body(response, deadline)
        finally:
            response.close()
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
            return urlguard.BLOCKED
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


# --- Settings ------------------------------------------------------------------------------------

def setting(name, default, cast=float):
    """Return an engine setting from the app config, else the environment, else the default."""
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    return default if value in (None, "") else cast(value)


def lease_seconds():
    return setting("WEBHOOKS_LEASE_SECONDS", 60.0)


_senders = {}
_senders_lock = threading.Lock()


def sender():
    """Return this process's Sender for the current settings (sessions are kept per thread)."""
    key = (
        bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"]),
        current_app.config.get("WEBHOOKS_CA_BUNDLE"),
        setting("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 5.0),
        setting("WEBHOOKS_TIMEOUT_SECONDS", 15.0),
    )
    with _senders_lock:
        if key not in _senders:
            _senders[key] = Sender(*key)
        return _senders[key]


def close_thread_sessions():
    """Close the calling thread's sessions (a worker thread that is about to end)."""
    with _senders_lock:
        senders = list(_senders.values())
    for each in senders:
        each.close_session()


# --- The schedule ----------------------------------------------------------------------------------

def next_step(attempt_count, succeeded, finished_at, delays):
    """Return (state, next_attempt_at) after automatic attempt number attempt_count."""
    if succeeded:
        return Delivery.SUCCEEDED, None
    if attempt_count <= len(delays):
        return Delivery.PENDING, finished_at + timedelta(seconds=delays[attempt_count - 1])
    return Delivery.FAILED, None


# --- Claim, send, record (app context) -----------------------------------------------------------

@dataclass
class Result:
    """What became of a call to attempt_due/attempt_manual, for the queue to act on."""

    delivery_id: int
    sent: bool = False
    state: str | None = None
    next_attempt_at: datetime | None = None
    attempt_count: int = 0
    note: str = ""
    attempt: Attempt | None = field(default=None, repr=False)


def _claim(delivery_id, condition, now):
    """Take the lease on a delivery if condition holds; return the lease token or None."""
    lease = now + timedelta(seconds=lease_seconds())
    claimed = db.session.execute(
        db.update(Delivery)
        .where(Delivery.id == delivery_id, condition,
               db.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
        .values(lease_until=lease)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return lease if claimed == 1 else None


def attempt_due(delivery_id):
    """Send the next automatic attempt of a delivery if it is due and nobody else holds it."""
    now = utcnow()
    lease = _claim(delivery_id, db.and_(Delivery.state == Delivery.PENDING,
                                        Delivery.next_attempt_at <= now), now)
    if lease is None:
        return _not_claimed(delivery_id)
    return _run(delivery_id, lease, manual=False)


def attempt_manual(delivery_id):
    """Send one manual attempt of a delivery whose resend was requested."""
    lease = _claim(delivery_id, Delivery.manual_requested_at.is_not(None), utcnow())
    if lease is None:
        return _not_claimed(delivery_id)
    return _run(delivery_id, lease, manual=True)


def _not_claimed(delivery_id):
    row = db.session.get(Delivery, delivery_id)
    result = Result(delivery_id, note="not claimed")
    if row is not None:
        result.state, result.next_attempt_at = row.state, row.next_attempt_at
        result.attempt_count = row.attempt_count
    db.session.rollback()
    return result


def _run(delivery_id, lease, manual):
    delivery = db.session.get(Delivery, delivery_id)
    webhook, event = db.session.get(Webhook, delivery.webhook_id), db.session.get(Event, delivery.event_id)
    requested_at = delivery.manual_requested_at
    refusal = _refusal(webhook, delivery.event_type)
    if refusal:
        return _refuse(delivery, lease, refusal, manual, requested_at)

    body = event.payload.encode()
    basic = (webhook.basic_username or "", webhook.basic_password or "") \
        if webhook.auth_type == "basic" else None
    headers = request_headers(delivery.public_id, body, webhook.signing_secret, int(time.time()), basic)
    url, webhook_id = webhook.url, webhook.id
    if manual:
        trigger = Attempt.MANUAL
    else:
        trigger = Attempt.PING if delivery.event_type == PING_TYPE else Attempt.AUTOMATIC
    db.session.rollback()  # hold no transaction (nor SQLite lock) while waiting on the network

    outcome = sender().send(url, body, headers)
    return _record(delivery_id, webhook_id, lease, url, masked(headers), trigger, outcome,
                   requested_at)


def _refusal(webhook, event_type):
    if webhook.deleted_at is not None:
        return DELETED
    if not webhook.is_active and event_type != PING_TYPE:
        return DEACTIVATED
    return None


def _refuse(delivery, lease, reason, manual, requested_at):
    """Send nothing: cancel a pending delivery of a deactivated or deleted webhook."""
    values = {"lease_until": None}
    if delivery.state == Delivery.PENDING:
        values.update(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None)
    if manual:
        values["manual_requested_at"] = None
    db.session.execute(
        db.update(Delivery).where(Delivery.id == delivery.id, Delivery.lease_until == lease)
        .values(**values, updated_at=utcnow()).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return Result(delivery.id, state=values.get("state", delivery.state), note=reason)


def _record(delivery_id, webhook_id, lease, url, headers, trigger, outcome, requested_at):
    """Store the attempt, move the delivery along its schedule and release the lease."""
    delivery = db.session.get(Delivery, delivery_id)
    number = (db.session.scalar(
        db.select(db.func.max(Attempt.number)).where(Attempt.delivery_id == delivery_id)) or 0) + 1
    attempt = Attempt(
        delivery_id=delivery_id, number=number, trigger=trigger, succeeded=outcome.succeeded,
        started_at=outcome.started_at, finished_at=outcome.finished_at,
        duration_ms=outcome.duration_ms, url=url, request_headers=headers,
        response_status=outcome.status, response_headers=outcome.headers,
        response_body=outcome.body, response_body_size=outcome.body_size,
        response_truncated=outcome.truncated, error=outcome.error,
    )
    db.session.add(attempt)

    last = {"last_status_code": outcome.status, "last_error": outcome.summary,
            "last_attempt_at": outcome.started_at}
    values = {**last, "lease_until": None, "updated_at": utcnow()}
    if trigger == Attempt.MANUAL:
        if outcome.succeeded:
            values.update(state=Delivery.SUCCEEDED, next_attempt_at=None, cancel_reason=None)
        count = delivery.attempt_count
    else:
        count = delivery.attempt_count + 1
        state, due = next_step(count, outcome.succeeded, outcome.finished_at, retry_delays())
        values.update(attempt_count=count, state=state, next_attempt_at=due)
    condition = Delivery.lease_until == lease
    if trigger != Attempt.MANUAL:
        # Cancelled (webhook turned off) while this attempt was in flight: it stays cancelled.
        condition = db.and_(condition, Delivery.state == Delivery.PENDING)
    owned = db.session.execute(
        db.update(Delivery).where(Delivery.id == delivery_id, condition)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        db.update(Delivery).where(Delivery.id == delivery_id, Delivery.lease_until == lease)
        .values(lease_until=None, **last).execution_options(synchronize_session=False)
    )
    if trigger == Attempt.MANUAL:
        # A second click while this attempt was in flight asks for another one: keep it.
        db.session.execute(
            db.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.manual_requested_at == requested_at)
            .values(manual_requested_at=None).execution_options(synchronize_session=False)
        )
    db.session.execute(db.update(Webhook).where(Webhook.id == webhook_id).values(**last)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    delivery = db.session.get(Delivery, delivery_id)
    note = "sent" if owned else "sent; the delivery had meanwhile been cancelled or taken over"
    return Result(delivery_id, sent=True, state=delivery.state, attempt=attempt,
                  next_attempt_at=delivery.next_attempt_at, attempt_count=delivery.attempt_count,
                  note=note)


def retry_delays():
    return tuple(current_app.config["WEBHOOKS_RETRY_DELAYS"])


# --- Finding work (for the inline poller and the RQ reconciler) ----------------------------------

def due_deliveries(now, horizon=0.0, limit=500):
    """Return (id, next_attempt_at, attempt_count) of pending deliveries due by now + horizon
    that no worker holds."""
    rows = db.session.execute(
        db.select(Delivery.id, Delivery.next_attempt_at, Delivery.attempt_count)
        .where(Delivery.state == Delivery.PENDING,
               Delivery.next_attempt_at <= now + timedelta(seconds=horizon),
               db.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
        .order_by(Delivery.next_attempt_at).limit(limit)
    ).all()
    return [tuple(row) for row in rows]


def requested_resends(now, older_than=0.0, limit=500):
    """Return ids of deliveries with a manual resend asked for before now - older_than, unheld."""
    return list(db.session.scalars(
        db.select(Delivery.id)
        .where(Delivery.manual_requested_at.is_not(None),
               Delivery.manual_requested_at <= now - timedelta(seconds=older_than),
               db.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
        .order_by(Delivery.manual_requested_at).limit(limit)
    ))


def cancel_pending(webhook_id, reason):
    """Cancel every pending delivery of a webhook (deactivated or deleted), keeping the reason."""
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.state == Delivery.PENDING)
        .values(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None,
                updated_at=utcnow())
    )

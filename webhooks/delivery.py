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
import socket
import ssl
import threading
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import __version__, catalog, crypto, urlguard
from .extensions import db
from .models import Attempt, Delivery, Event, Webhook, utcnow

USER_AGENT = f"Webhooks/{__version__} (+https://github.com/webhooks-service/webhooks)"
BODY_LIMIT = 64 * 1024
PING_TYPE = catalog.PING.type

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
            for adapter in session.adapters.values():
                adapter.poolmanager.pool_classes_by_scheme = _TRACKED_POOLS
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
        # The read timeout bounds each wait for bytes; the watchdog bounds the whole request
        # (an endpoint dribbling its headers a byte at a time included).
        watch = _watchdog.arm(deadline)
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
            _watchdog.disarm(watch)
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


# --- The total deadline --------------------------------------------------------------------------

_current = threading.local()  # the deadline of the request this thread has in flight


class _Deadline:
    __slots__ = ("at", "connection", "expired")

    def __init__(self, at):
        self.at, self.connection, self.expired = at, None, False


class _TrackedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """Let the thread's deadline know which connection carries its request (new or kept alive)."""

    def connect(self):
        self._track()
        return super().connect()

    def request(self, *args, **kwargs):
        self._track()
        return super().request(*args, **kwargs)

    def _track(self):
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.connection = self


class _TrackedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_TRACKED_POOLS = {"http": urllib3.HTTPConnectionPool, "https": _TrackedHTTPSConnectionPool}


class _Watchdog:
    """One thread per process that shuts the socket of any request past its total deadline."""

    def __init__(self, tick=0.1):
        self.tick = tick
        self._armed = set()
        self._lock = threading.Lock()
        self._pid = None

    def arm(self, at):
        deadline = _Deadline(at)
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child without the thread
                self._pid = os.getpid()
                self._armed.clear()
                threading.Thread(target=self._run, name="webhooks-deadline", daemon=True).start()
            self._armed.add(deadline)
        _current.deadline = deadline
        return deadline

    def disarm(self, deadline):
        _current.deadline = None
        with self._lock:
            self._armed.discard(deadline)

    def _run(self):
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                for deadline in [d for d in self._armed if d.at <= now]:
                    self._armed.discard(deadline)
                    deadline.expired = True
                    sock = getattr(deadline.connection, "sock", None)
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:  # already closed
                            pass


_watchdog = _Watchdog()


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

def setting(name, cast=float):
    """Return an engine setting from the app config (config.py reads it and its default)."""
    return cast(current_app.config[name])


def lease_seconds():
    return setting("WEBHOOKS_LEASE_SECONDS")


_senders = {}
_senders_lock = threading.Lock()


def sender():
    """Return this process's Sender for the current settings (sessions are kept per thread)."""
    key = (
        bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"]),
        current_app.config.get("WEBHOOKS_CA_BUNDLE"),
        setting("WEBHOOKS_CONNECT_TIMEOUT_SECONDS"),
        setting("WEBHOOKS_TIMEOUT_SECONDS"),
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
# The hot path uses Core statements on the session's connection, never ORM objects: a claim is
# one conditional UPDATE … RETURNING plus one joined SELECT (for a whole batch), and recording
# a batch of attempts is one transaction of bulk statements.

_deliveries, _events = Delivery.__table__, Event.__table__
_webhooks, _attempts = Webhook.__table__, Attempt.__table__


@dataclass
class Result:
    """What became of a claimed delivery (or of a try to claim one), for the queue to act on."""

    delivery_id: int
    sent: bool = False
    state: str | None = None
    next_attempt_at: datetime | None = None
    attempt_count: int = 0
    note: str = ""


@dataclass
class Claim:
    """A delivery this process holds the lease on, with everything its attempt needs."""

    delivery_id: int
    lease: datetime
    manual: bool
    public_id: str
    webhook_id: int
    event_type: str
    state: str
    attempt_count: int  # automatic attempts made before this one
    requested_at: datetime | None
    url: str = ""
    body: bytes = b""
    headers: list = field(default_factory=list, repr=False)
    result: Result | None = None  # set when the claim was refused (nothing is sent)

    @property
    def trigger(self):
        if self.manual:
            return Attempt.MANUAL
        return Attempt.PING if self.event_type == PING_TYPE else Attempt.AUTOMATIC


def _unheld(now):
    return db.or_(_deliveries.c.lease_until.is_(None), _deliveries.c.lease_until < now)


def _is_due(now):
    return db.and_(_deliveries.c.state == Delivery.PENDING, _deliveries.c.next_attempt_at <= now,
                   _unheld(now))


def claim_due(delivery_id=None, limit=1, now=None):
    """Lease the delivery delivery_id if it is due, plus other due deliveries up to limit in all.

    Other workers' claims are skipped (PostgreSQL SKIP LOCKED), never waited for or doubled:
    the UPDATE re-checks that each row is still due and unheld.
    """
    now = now or utcnow()
    targets = []
    if delivery_id is not None:
        targets.append(_deliveries.c.id == delivery_id)
    if limit > len(targets):
        others = (db.select(_deliveries.c.id).where(_is_due(now))
                  .order_by(_deliveries.c.next_attempt_at).limit(limit - len(targets)))
        if db.session.get_bind().dialect.name == "postgresql":
            others = others.with_for_update(skip_locked=True)
        targets.append(_deliveries.c.id.in_(others.scalar_subquery()))
    return _claim(db.and_(_is_due(now), db.or_(*targets)), now, manual=False)


def claim_manual(delivery_id, now=None):
    """Lease a delivery whose manual resend was requested; return [Claim] or []."""
    now = now or utcnow()
    condition = db.and_(_deliveries.c.id == delivery_id,
                        _deliveries.c.manual_requested_at.is_not(None), _unheld(now))
    return _claim(condition, now, manual=True)


def _claim(condition, now, manual):
    lease = now + timedelta(seconds=lease_seconds())
    connection = db.session.connection()
    d = _deliveries.c
    rows = connection.execute(
        db.update(_deliveries).where(condition).values(lease_until=lease)
        .returning(d.id, d.public_id, d.webhook_id, d.event_type, d.state, d.attempt_count,
                   d.manual_requested_at)
    ).all()
    if not rows:
        db.session.commit()
        return []
    w = _webhooks.c
    targets = {row.id: row for row in connection.execute(
        db.select(d.id, _events.c.payload, w.url, w.auth_type, w.basic_username,
                  w.basic_password_encrypted, w.secret_encrypted, w.is_active, w.deleted_at)
        .select_from(_deliveries.join(_events, _events.c.id == d.event_id)
                     .join(_webhooks, w.id == d.webhook_id))
        .where(d.id.in_([row.id for row in rows]))
    )}
    claims, timestamp = [], int(time.time())
    for row in sorted(rows, key=lambda row: row.id):
        claim = Claim(row.id, lease, manual, row.public_id, row.webhook_id, row.event_type,
                      row.state, row.attempt_count, row.manual_requested_at)
        target = targets[row.id]
        refusal = _refusal(target.deleted_at, target.is_active, row.event_type)
        if refusal:
            claim.result = _refuse(claim, refusal)
        else:
            claim.url, claim.body = target.url, target.payload.encode()
            basic = None
            if target.auth_type == "basic":
                password = _decrypt(target.basic_password_encrypted) \
                    if target.basic_password_encrypted else ""
                basic = (target.basic_username or "", password)
            claim.headers = request_headers(row.public_id, claim.body,
                                            _decrypt(target.secret_encrypted), timestamp, basic)
        claims.append(claim)
    db.session.commit()  # hold no transaction (nor SQLite lock) while waiting on the network
    return claims


_secrets = {}


def _decrypt(ciphertext):
    """Decrypt a webhook secret, remembering the last few hundred (Fernet costs ~40 µs each)."""
    key = (current_app.config["SECRET_KEY"], ciphertext)
    plain = _secrets.get(key)
    if plain is None:
        plain = crypto.decrypt(*key)
        if len(_secrets) >= 512:
            _secrets.clear()
        _secrets[key] = plain
    return plain


def _refusal(deleted_at, is_active, event_type):
    if deleted_at is not None:
        return DELETED
    if not is_active and event_type != PING_TYPE:
        return DEACTIVATED
    return None


def _refuse(claim, reason):
    """Send nothing: cancel a pending delivery of a deactivated or deleted webhook."""
    values = {"lease_until": None}
    if claim.state == Delivery.PENDING:
        values.update(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None)
    if claim.manual:
        values["manual_requested_at"] = None
    db.session.connection().execute(
        db.update(_deliveries)
        .where(_deliveries.c.id == claim.delivery_id, _deliveries.c.lease_until == claim.lease)
        .values(**values, updated_at=utcnow())
    )
    return Result(claim.delivery_id, state=values.get("state", claim.state), note=reason,
                  attempt_count=claim.attempt_count)


def send_claim(sender_, claim):
    """Send a claimed attempt (any thread, no app context needed); never raises."""
    try:
        return sender_.send(claim.url, claim.body, claim.headers)
    except Exception as exc:  # a bug must not lose the record of an attempt that may have gone out
        now = utcnow()
        return Outcome(started_at=now, finished_at=now, duration_ms=0,
                       error=f"Connection failed: {_short(exc)}")


def record(items):
    """Store the attempts of [(Claim, Outcome)], move each delivery along its schedule and release
    the leases, in one transaction; return a Result per item."""
    if not items:
        return []
    try:
        results = _record(items)
        db.session.commit()
        return results
    except IntegrityError:
        # Two processes recorded the same delivery at once (a lease expired mid-request): the
        # attempt numbers collided. Record one by one; each takes the next free number.
        db.session.rollback()
        if len(items) == 1:
            results = _record(items)
            db.session.commit()
            return results
        return [result for item in items for result in record([item])]


def _record(items):
    connection, now, delays = db.session.connection(), utcnow(), retry_delays()
    answer_order, items = items, sorted(items, key=lambda item: item[0].delivery_id)  # lock order
    _record_latest_on_webhooks(connection, items)
    d = _deliveries.c
    next_number = (db.select(db.func.coalesce(db.func.max(_attempts.c.number), 0) + 1)
                   .where(_attempts.c.delivery_id == db.bindparam("d_id")).scalar_subquery())
    connection.execute(db.insert(_attempts).values(number=next_number), [{
        "d_id": claim.delivery_id, "delivery_id": claim.delivery_id, "trigger": claim.trigger,
        "succeeded": outcome.succeeded, "started_at": outcome.started_at,
        "finished_at": outcome.finished_at, "duration_ms": outcome.duration_ms, "url": claim.url,
        "request_headers": masked(claim.headers), "response_status": outcome.status,
        "response_headers": outcome.headers, "response_body": outcome.body,
        "response_body_size": outcome.body_size, "response_truncated": outcome.truncated,
        "error": outcome.error,
    } for claim, outcome in items])

    results, automatic, manual = {}, [], []
    for claim, outcome in items:
        last = {"status": outcome.status, "error": outcome.summary, "at": outcome.started_at}
        if claim.manual:
            manual.append((claim, outcome, last))
            continue
        count = claim.attempt_count + 1
        state, due = next_step(count, outcome.succeeded, outcome.finished_at, delays)
        automatic.append({"d_id": claim.delivery_id, "d_lease": claim.lease, "count": count,
                          "new_state": state, "due": due, **last})
        results[claim.delivery_id] = Result(claim.delivery_id, sent=True, state=state,
                                            next_attempt_at=due, attempt_count=count, note="sent")
    last_values = {"last_status_code": db.bindparam("status", type_=d.last_status_code.type),
                   "last_error": db.bindparam("error", type_=d.last_error.type),
                   "last_attempt_at": db.bindparam("at", type_=d.last_attempt_at.type)}
    owned_by_lease = db.and_(d.id == db.bindparam("d_id"),
                             d.lease_until == db.bindparam("d_lease", type_=d.lease_until.type))
    if automatic:
        # Cancelled (webhook turned off) while the attempt was in flight: it stays cancelled.
        owned = connection.execute(
            db.update(_deliveries).where(owned_by_lease, d.state == Delivery.PENDING)
            .values(attempt_count=db.bindparam("count", type_=d.attempt_count.type),
                    state=db.bindparam("new_state", type_=d.state.type),
                    next_attempt_at=db.bindparam("due", type_=d.next_attempt_at.type),
                    lease_until=None, updated_at=now, **last_values),
            automatic).rowcount
        if owned != len(automatic):
            # Some were cancelled or taken over meanwhile: release their leases, keep the last try.
            connection.execute(db.update(_deliveries).where(owned_by_lease)
                               .values(lease_until=None, **last_values), automatic)
            undone = connection.execute(
                db.select(d.id, d.state, d.next_attempt_at, d.attempt_count)
                .where(d.id.in_([row["d_id"] for row in automatic]))).all()
            for row in undone:
                result = results[row.id]
                if (result.state, result.next_attempt_at) != (row.state, row.next_attempt_at):
                    result.state, result.next_attempt_at = row.state, row.next_attempt_at
                    result.attempt_count = row.attempt_count
                    result.note = "sent; the delivery had meanwhile been cancelled or taken over"
    for claim, outcome, last in manual:
        values = {"last_status_code": last["status"], "last_error": last["error"],
                  "last_attempt_at": last["at"], "lease_until": None}
        if outcome.succeeded:
            values.update(state=Delivery.SUCCEEDED, next_attempt_at=None, cancel_reason=None)
        connection.execute(db.update(_deliveries)
                           .where(d.id == claim.delivery_id, d.lease_until == claim.lease)
                           .values(**values, updated_at=now))
        # A second click while this attempt was in flight asks for another one: keep it.
        connection.execute(db.update(_deliveries)
                           .where(d.id == claim.delivery_id,
                                  d.manual_requested_at == claim.requested_at)
                           .values(manual_requested_at=None))
        row = connection.execute(db.select(d.state, d.next_attempt_at, d.attempt_count)
                                 .where(d.id == claim.delivery_id)).one()
        results[claim.delivery_id] = Result(claim.delivery_id, sent=True, state=row.state,
                                            next_attempt_at=row.next_attempt_at,
                                            attempt_count=row.attempt_count, note="sent")
    return [results[claim.delivery_id] for claim, _ in answer_order]


def _record_latest_on_webhooks(connection, items):
    """Show each webhook's most recent attempt in the listing.

    Runs first in the recording transaction and in webhook id order: the UI locks a webhook
    row before its deliveries (toggle, delete), so taking locks in the same order here means
    the two can never deadlock.
    """
    latest = {}
    for claim, outcome in items:
        if claim.webhook_id not in latest or outcome.started_at >= latest[claim.webhook_id]["at"]:
            latest[claim.webhook_id] = {"w_id": claim.webhook_id, "status": outcome.status,
                                        "error": outcome.summary, "at": outcome.started_at}
    w = _webhooks.c
    connection.execute(
        db.update(_webhooks).where(w.id == db.bindparam("w_id"))
        .values(last_status_code=db.bindparam("status", type_=w.last_status_code.type),
                last_error=db.bindparam("error", type_=w.last_error.type),
                last_attempt_at=db.bindparam("at", type_=w.last_attempt_at.type)),
        [latest[webhook_id] for webhook_id in sorted(latest)])


def delivery_status(delivery_id):
    """Return a Result with the delivery's state, next_attempt_at and attempt count (no claim)."""
    d = _deliveries.c
    row = db.session.connection().execute(
        db.select(d.state, d.next_attempt_at, d.attempt_count).where(d.id == delivery_id)).first()
    db.session.commit()
    result = Result(delivery_id, note="not claimed")
    if row is not None:
        result.state, result.next_attempt_at, result.attempt_count = row
    return result


def attempt_due(delivery_id):
    """Send the next automatic attempt of a delivery if it is due and nobody else holds it."""
    return _attempt(claim_due(delivery_id, limit=1), delivery_id)


def attempt_manual(delivery_id):
    """Send one manual attempt of a delivery whose resend was requested."""
    return _attempt(claim_manual(delivery_id), delivery_id)


def _attempt(claims, delivery_id):
    if not claims:
        return delivery_status(delivery_id)
    claim = claims[0]
    if claim.result is not None:
        return claim.result
    return record([(claim, send_claim(sender(), claim))])[0]


# --- Many at once (the RQ worker) ----------------------------------------------------------------

_pools = {}
_pools_lock = threading.Lock()


def _pool(threads):
    """Return this process's pool of sending threads (a forked child makes its own)."""
    key = (os.getpid(), threads)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(max_workers=threads,
                                             thread_name_prefix="webhooks-send")
        return _pools[key]


def deliver_due(delivery_id=None, threads=8, seconds=5.0, on_claimed=None, on_recorded=None,
                flush_seconds=0.02):
    """Send delivery_id's due attempt and, alongside, other due deliveries, `threads` at once.

    Claims at most as many deliveries as the sending threads can finish within a lease (a
    claimed attempt whose lease would run out before it could finish is not sent, and the
    lease lapses), keeps claiming for about `seconds` while due work remains, and records
    finished attempts in bulk (every `threads` results, or after flush_seconds). on_claimed(claims)
    and on_recorded(results) let the queue drop redundant messages and schedule retries.
    Returns the Results.
    """
    sender_, pool = sender(), _pool(threads)
    lease = lease_seconds()
    backlog = threads * max(1, min(4, int(lease // _attempt_seconds(sender_))))
    deadline = time.monotonic() + seconds
    inflight, done, results = {}, [], []
    first, more, oldest = True, True, 0.0
    while True:
        room = backlog - len(inflight) - len(done)
        if more and (first or (room >= threads and time.monotonic() < deadline)):
            claims = claim_due(delivery_id if first else None, limit=room)
            first, more = False, len(claims) >= room
            if claims and on_claimed:
                on_claimed(claims)
            refused = [claim.result for claim in claims if claim.result is not None]
            results.extend(refused)
            if refused and on_recorded:
                on_recorded(refused)
            for claim in claims:
                if claim.result is None:
                    inflight[pool.submit(_send_in_time, sender_, claim, lease)] = claim
        if not inflight and not done:
            return results
        if inflight:
            timeout = max(0.0, oldest + flush_seconds - time.monotonic()) if done else None
            finished, _ = futures.wait(inflight, timeout=timeout, return_when=futures.FIRST_COMPLETED)
            if finished and not done:
                oldest = time.monotonic()
            done.extend((inflight.pop(future), future.result()) for future in finished)
        if done and (not inflight or len(done) >= threads
                     or time.monotonic() - oldest >= flush_seconds):
            recorded = record([(claim, outcome) for claim, outcome in done if outcome is not None])
            done.clear()
            results.extend(recorded)
            if on_recorded:
                on_recorded(recorded)


def _attempt_seconds(sender_):
    """Return the longest one attempt can take (connect, then the total deadline), plus slack."""
    return sender_.connect_timeout + sender_.total_timeout + 1


def _send_in_time(sender_, claim, lease_seconds_):
    """Send a claimed attempt unless its lease is too close to its end (then None: not sent,
    not recorded; the lease lapses and the delivery is claimed again)."""
    needed = min(_attempt_seconds(sender_), lease_seconds_ / 2)
    if (claim.lease - utcnow()).total_seconds() < needed:
        return None
    return send_claim(sender_, claim)


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

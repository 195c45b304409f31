"""Lease due attempts fairly across webhooks within each one's cap; record what came back.

The database decides who sends what: a claim is a conditional UPDATE that sets a lease, so a
second worker, a duplicate message or a crashed process can never double or lose an attempt.
Fairness and the per-endpoint cap are decided here too, so they hold for any number of worker
processes and for the inline queue alike. The hot path uses Core statements, never ORM objects.
"""
import functools
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy.exc import IntegrityError

from . import catalog, crypto
from .config import setting
from .extensions import db
from .models import Attempt, Delivery, Event, UTCDateTime, Webhook, utcnow
from .signing import masked, request_headers

DEACTIVATED = "Webhook was deactivated"
DELETED = "Webhook was deleted"

# After this many attempts in a row without any HTTP answer, an endpoint is sent one attempt
# at a time until it answers again.
NOT_RESPONDING_AFTER = 5
# Log History and the listing count waiting deliveries up to here, then say "10,000+".
WAITING_COUNT_LIMIT = 10_000

_deliveries, _events = Delivery.__table__, Event.__table__
_webhooks, _attempts = Webhook.__table__, Attempt.__table__


def endpoint_cap(unanswered_streak, concurrency):
    """Return how many attempts one webhook may have in flight at once.

    The full concurrency while it answers; once attempts go unanswered, no more in flight than
    would reach NOT_RESPONDING_AFTER (so with a cap of 4 a dead endpoint gets 5 unanswered
    attempts, not 8, before it is sent one at a time); 1 from then on, until any answer.
    """
    if unanswered_streak == 0:
        return concurrency
    return max(1, min(concurrency, NOT_RESPONDING_AFTER - unanswered_streak))


def is_not_responding(webhook):
    return webhook.unanswered_streak >= NOT_RESPONDING_AFTER


def next_step(attempt_count, succeeded, finished_at, delays):
    """Return (state, next_attempt_at) after automatic attempt number attempt_count."""
    if succeeded:
        return Delivery.SUCCEEDED, None
    if attempt_count <= len(delays):
        return Delivery.PENDING, finished_at + timedelta(seconds=delays[attempt_count - 1])
    return Delivery.FAILED, None


def retry_delays():
    return tuple(current_app.config["WEBHOOKS_RETRY_DELAYS"])


def lease_seconds():
    return setting("WEBHOOKS_LEASE_SECONDS")


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
    cap: int = 1  # attempts the webhook may have in flight at once (when the claim was made)
    url: str = ""
    body: bytes = b""
    headers: list = field(default_factory=list, repr=False)
    result: Result | None = None  # set when the claim was refused (nothing is sent)

    @property
    def trigger(self):
        if self.manual:
            return Attempt.MANUAL
        return Attempt.PING if self.event_type == catalog.PING.type else Attempt.AUTOMATIC


# --- Choosing fairly -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Waiting:
    """A webhook with pending deliveries: its oldest unheld due time, leases held (all, and by
    the claiming pump), and its cap."""

    webhook_id: int
    oldest_due: datetime | None
    held: int
    mine: int
    cap: int

    def allowance(self, depth=1):
        return allowance(self.cap, self.held, self.mine, depth)

    def ready(self, now, depth=1):
        return (self.oldest_due is not None and self.oldest_due <= now
                and self.allowance(depth) > 0)


def allowance(cap, held, mine, depth=1):
    """Return how many more leases a pump may take for a webhook.

    Never more than cap attempts in flight in all. A pump that holds every lease of the webhook
    (mine == held) may lease up to depth × cap ahead, since it sends at most cap of them at
    once and no other pump can claim meanwhile; while another pump holds one, the leases of all
    of them together stay within the cap.
    """
    if held == mine:
        return cap * max(1, depth) - mine
    return cap - held


def _unheld(now, table=_deliveries):
    return db.or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def _is_due(now):
    return db.and_(_deliveries.c.state == Delivery.PENDING, _deliveries.c.next_attempt_at <= now,
                   _unheld(now))


_EPOCH, _NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc)


def _still_due(now):
    """_is_due for rows already chosen by id: each column wrapped, so that no planner walks a
    due index (past a webhook's whole backlog) instead of looking the ids up."""
    d = _deliveries.c
    return db.and_(db.func.coalesce(d.state, "") == Delivery.PENDING,
                   db.func.coalesce(d.next_attempt_at, _NEVER) <= now,
                   db.func.coalesce(d.lease_until, _EPOCH) < now)


def _held_count(webhook_id, now, owner=None):
    held = _deliveries.alias("held")
    conditions = [held.c.webhook_id == webhook_id, held.c.lease_until >= now]
    if owner is not None:
        conditions.append(held.c.lease_owner == owner)
    return db.select(db.func.count()).select_from(held).where(*conditions).scalar_subquery()


def _pending_key(table):
    """The leading columns of ix_deliveries_pending_by_webhook, as a row value."""
    return db.tuple_(table.c.state, table.c.webhook_id, table.c.next_attempt_at)


def _in_key_order(query, table):
    # Row-value bounds and this ORDER BY can only be served by ix_deliveries_pending_by_webhook:
    # with plain equalities a planner may prefer ix_deliveries_due and walk another webhook's
    # whole backlog to find this one's first row.
    return query.order_by(table.c.state, table.c.webhook_id, table.c.next_attempt_at)


def waiting_webhooks(now, owner=""):
    """Return a Waiting for every webhook with a pending delivery (mine: leases of owner)."""
    rows = db.session.connection().execute(waiting_webhooks_query(),
                                           {"now": now, "owner": owner}).all()
    concurrency = setting("WEBHOOKS_ENDPOINT_CONCURRENCY", int)
    return [Waiting(row.webhook_id, row.oldest_due, row.held, row.mine,
                    endpoint_cap(row.unanswered_streak, concurrency)) for row in rows]


@functools.cache  # built once: making this expression costs more than running it
def waiting_webhooks_query():
    """Return the query behind waiting_webhooks: (webhook_id, oldest_due, held, mine,
    unanswered_streak), with parameters `now` and `owner`.

    A loose index scan (a recursive CTE hopping from one webhook id to the next through
    ix_deliveries_pending_by_webhook) costs a few index probes per webhook, however many
    deliveries one of them has piled up.
    """
    now = db.bindparam("now", type_=UTCDateTime)
    step = _deliveries.alias("step")
    first_after = db.case((step.c.state == Delivery.PENDING, step.c.webhook_id))

    def next_webhook(previous):
        return (_in_key_order(db.select(first_after), step)
                # >= previous + 1, not > previous: SQLite seeks straight to a >= bound.
                .where(db.tuple_(step.c.state, step.c.webhook_id)
                       >= db.tuple_(Delivery.PENDING, previous + 1))
                .limit(1).scalar_subquery())

    hooks = db.select(next_webhook(db.literal(0)).label("webhook_id")).cte("pending_hooks",
                                                                           recursive=True)
    hooks = hooks.union_all(db.select(next_webhook(hooks.c.webhook_id))
                            .where(hooks.c.webhook_id.is_not(None)))
    due = _deliveries.alias("due")
    oldest = (_in_key_order(db.select(db.case((db.and_(due.c.state == Delivery.PENDING,
                                                       due.c.webhook_id == hooks.c.webhook_id),
                                               due.c.next_attempt_at))), due)
              .where(_pending_key(due) >= db.tuple_(Delivery.PENDING, hooks.c.webhook_id, _EPOCH),
                     _unheld(now, due))
              .limit(1).scalar_subquery())
    w = _webhooks.c
    return (db.select(hooks.c.webhook_id, db.type_coerce(oldest, UTCDateTime).label("oldest_due"),
                      _held_count(hooks.c.webhook_id, now).label("held"),
                      _held_count(hooks.c.webhook_id, now, db.bindparam("owner")).label("mine"),
                      w.unanswered_streak)
            .select_from(hooks.join(_webhooks, w.id == hooks.c.webhook_id)))


def fair_shares(order, allowance, limit):
    """Deal limit claims round-robin over webhooks in order, none beyond its allowance."""
    shares = dict.fromkeys(order, 0)
    while limit > 0:
        dealt = 0
        for webhook_id in order:
            if limit > 0 and shares[webhook_id] < allowance.get(webhook_id, 0):
                shares[webhook_id] += 1
                limit -= 1
                dealt += 1
        if not dealt:
            break
    return {webhook_id: share for webhook_id, share in shares.items() if share}


def _lock_webhooks(ids):
    """Serialize claimers per webhook for this transaction; return the ids this claimer holds."""
    w = _webhooks.c
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Another worker claiming for one of these webhooks right now: skip it this round.
        return set(connection.execute(db.select(w.id).where(w.id.in_(ids))
                                      .with_for_update(skip_locked=True)).scalars())
    # SQLite: the first write of the transaction takes the database's write lock.
    connection.execute(db.update(_webhooks).where(w.id.in_(ids))
                       .values(unanswered_streak=w.unanswered_streak, updated_at=w.updated_at))
    return set(ids)


def _caps_now(ids, now, owner, depth):
    """Return {webhook id: (cap, leases it may still take)}, read under the webhooks' locks."""
    d, w = _deliveries.c, _webhooks.c
    connection = db.session.connection()
    concurrency = setting("WEBHOOKS_ENDPOINT_CONCURRENCY", int)
    held, mine = {}, {}
    for webhook_id, lease_owner, count in connection.execute(
            db.select(d.webhook_id, d.lease_owner, db.func.count())
            .where(d.webhook_id.in_(ids), d.lease_until >= now)
            .group_by(d.webhook_id, d.lease_owner)):
        held[webhook_id] = held.get(webhook_id, 0) + count
        if lease_owner == owner:
            mine[webhook_id] = count
    caps = {}
    for webhook_id, streak in connection.execute(
            db.select(w.id, w.unanswered_streak).where(w.id.in_(ids))):
        cap = endpoint_cap(streak, concurrency)
        caps[webhook_id] = (cap, allowance(cap, held.get(webhook_id, 0), mine.get(webhook_id, 0),
                                           depth.get(webhook_id, 1)))
    return caps


def _oldest_due_ids(shares, now):
    """Return the ids of each webhook's oldest due deliveries, as many as its share."""
    d = _deliveries.c
    parts = [_in_key_order(db.select(d.id), _deliveries)
             .where(_pending_key(_deliveries).between(
                 db.tuple_(Delivery.PENDING, webhook_id, _EPOCH),
                 db.tuple_(Delivery.PENDING, webhook_id, now)), _unheld(now))
             .limit(share)
             for webhook_id, share in shares.items()]
    if len(parts) > 1:
        parts = [db.select(part.subquery().c.id) for part in parts]
    return list(db.session.connection().execute(db.union_all(*parts) if len(parts) > 1
                                                else parts[0]).scalars())


def claim_due(limit, now=None, owner="", depth=None):
    """Lease up to limit due deliveries, dealt round-robin across the webhooks that wait longest.

    Each webhook gets at most its cap (WEBHOOKS_ENDPOINT_CONCURRENCY; fewer once attempts go
    unanswered, 1 while it does not respond) minus the attempts already in flight to it
    anywhere; within a webhook the oldest due goes first. A pump (owner) that holds all of a
    webhook's leases may lease depth[webhook] × cap ahead (see `allowance`). Claimers lock the
    webhook rows they deal for, so two workers can never together exceed a cap; on PostgreSQL
    they skip each other's webhooks instead of waiting.
    """
    now, depth = now or utcnow(), depth or {}
    ready = sorted((w for w in waiting_webhooks(now, owner)
                    if w.ready(now, depth.get(w.webhook_id, 1))),
                   key=lambda w: (w.oldest_due, w.webhook_id))[:limit]
    if not ready:
        db.session.commit()
        return []
    order = [w.webhook_id for w in ready]
    locked = _lock_webhooks(sorted(order))
    order = [webhook_id for webhook_id in order if webhook_id in locked]
    caps = _caps_now(order, now, owner, depth) if order else {}
    shares = fair_shares(order, {w: room for w, (_, room) in caps.items()}, limit)
    if not shares:
        db.session.commit()
        return []
    ids = _oldest_due_ids(shares, now)
    claimed = _claim(db.and_(_deliveries.c.id.in_(ids), _still_due(now)), now, manual=False,
                     owner=owner)
    for claim in claimed:
        claim.cap = caps[claim.webhook_id][0]
    return claimed


def claim_manual(delivery_id, now=None, owner=""):
    """Lease a delivery whose manual resend was requested; return [Claim] or [].

    A resend someone asked for goes out at once, whatever the webhook's cap: it is one
    attempt per click, and it counts toward the cap of automatic attempts while in flight.
    """
    now = now or utcnow()
    condition = db.and_(_deliveries.c.id == delivery_id,
                        _deliveries.c.manual_requested_at.is_not(None), _unheld(now))
    return _claim(condition, now, manual=True, owner=owner)


def _claim(condition, now, manual, owner=""):
    lease = now + timedelta(seconds=lease_seconds())
    connection = db.session.connection()
    d = _deliveries.c
    rows = connection.execute(
        db.update(_deliveries).where(condition).values(lease_until=lease, lease_owner=owner)
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
    # Keyed on every configured key, not just the current one: removing a fallback must make
    # what only it could decrypt fail here too, not live on in this cache.
    key = (crypto.credential_keys(current_app.config), ciphertext)
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
    if not catalog.sendable(event_type, is_active):
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


def release(unsent):
    """Give back the leases of claims that will not be sent (a pump stopping), so that another
    pump can claim them at once rather than after the lease."""
    if not unsent:
        return
    d = _deliveries.c
    db.session.connection().execute(
        db.update(_deliveries)
        .where(d.id == db.bindparam("d_id"),
               d.lease_until == db.bindparam("d_lease", type_=d.lease_until.type))
        .values(lease_until=None),
        [{"d_id": claim.delivery_id, "d_lease": claim.lease} for claim in unsent])
    db.session.commit()


# --- Recording -----------------------------------------------------------------------------------

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
    _record_on_webhooks(connection, items)
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


def _record_on_webhooks(connection, items):
    """Keep each webhook's most recent attempt (for the listing) and its unanswered streak.

    Runs first in the recording transaction and in webhook id order: the UI locks a webhook
    row before its deliveries (toggle, delete), so taking locks in the same order here means
    the two can never deadlock.
    """
    latest = {}
    for claim, outcome in sorted(items, key=lambda item: item[1].started_at):
        row = latest.setdefault(claim.webhook_id, {"w_id": claim.webhook_id, "keep": 1, "n": 0})
        if outcome.answered:  # any HTTP answer ends the streak
            row["keep"], row["n"] = 0, 0
        else:
            row["n"] += 1
        row.update(status=outcome.status, error=outcome.summary, at=outcome.started_at)
    w = _webhooks.c
    connection.execute(
        db.update(_webhooks).where(w.id == db.bindparam("w_id"))
        .values(last_status_code=db.bindparam("status", type_=w.last_status_code.type),
                last_error=db.bindparam("error", type_=w.last_error.type),
                last_attempt_at=db.bindparam("at", type_=w.last_attempt_at.type),
                unanswered_streak=w.unanswered_streak * db.bindparam("keep", type_=db.Integer)
                + db.bindparam("n", type_=db.Integer),
                updated_at=w.updated_at),
        [latest[webhook_id] for webhook_id in sorted(latest)])


# --- Looking without claiming --------------------------------------------------------------------

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


def due_deliveries(now, horizon=0.0, limit=500):
    """Return (id, next_attempt_at, attempt_count) of pending deliveries due by now + horizon
    that no worker holds."""
    rows = db.session.execute(
        db.select(Delivery.id, Delivery.next_attempt_at, Delivery.attempt_count)
        .where(Delivery.state == Delivery.PENDING,
               Delivery.next_attempt_at <= now + timedelta(seconds=horizon), _unheld(now))
        .order_by(Delivery.next_attempt_at).limit(limit)
    ).all()
    return [tuple(row) for row in rows]


def requested_resends(now, older_than=0.0, limit=500):
    """Return ids of deliveries with a manual resend asked for before now - older_than, unheld."""
    return list(db.session.scalars(
        db.select(Delivery.id)
        .where(Delivery.manual_requested_at.is_not(None),
               Delivery.manual_requested_at <= now - timedelta(seconds=older_than), _unheld(now))
        .order_by(Delivery.manual_requested_at).limit(limit)
    ))


def waiting_counts(webhook_ids, now=None):
    """Return {webhook id: deliveries due and not yet sent}, each counted up to WAITING_COUNT_LIMIT + 1."""
    now = now or utcnow()
    d = _deliveries.c
    counts = {}
    for webhook_id in webhook_ids:
        due = (db.select(d.id).where(d.state == Delivery.PENDING, d.webhook_id == webhook_id,
                                     d.next_attempt_at <= now, _unheld(now))
               .limit(WAITING_COUNT_LIMIT + 1).subquery())
        counts[webhook_id] = db.session.scalar(db.select(db.func.count()).select_from(due))
    return counts


def cancel_pending(webhook_id, reason):
    """Cancel every pending delivery of a webhook (deactivated or deleted), keeping the reason."""
    db.session.execute(
        db.update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.state == Delivery.PENDING)
        .values(state=Delivery.CANCELLED, cancel_reason=reason, next_attempt_at=None,
                updated_at=utcnow())
    )

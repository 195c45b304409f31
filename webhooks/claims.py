"""Lease due attempts (fairly, within each webhook's cap) and give back what will not be sent.

The database decides who sends what: a claim is a conditional UPDATE that sets a lease, so a
second worker, a duplicate message or a crashed process can never double or lose an attempt.
Fairness and the per-endpoint cap are decided here too (see webhooks.fairness), so they hold
for any number of worker processes and for the inline queue alike. The hot path uses Core
statements, never ORM objects. Recording what came back is webhooks.recording.
"""
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app

from . import catalog, crypto, metrics, retention
from .config import setting
from .extensions import db
from .fairness import (EPOCH, allowance, endpoint_cap, fair_shares, in_key_order, pending_key,
                       unheld, waiting_webhooks)
from .models import (Attempt, Delivery, Event, Organization, Recovery, UTCDateTime, Webhook,
                     utcnow)
from .signing import request_headers

_deliveries, _events, _webhooks = Delivery.__table__, Event.__table__, Webhook.__table__
_recoveries, _organizations = Recovery.__table__, Organization.__table__
_RECOVERY_TRIGGERS = {Recovery.RESEND: Attempt.BULK_RESEND, Recovery.REPLAY: Attempt.REPLAY}
_NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)


def lease_length_seconds():
    """Return how long a claim holds its delivery (WEBHOOKS_LEASE_SECONDS)."""
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
    hidden_headers: tuple = ()  # custom header names, whose values the attempt log masks
    result: Result | None = None  # set when the delivery was cancelled instead (nothing is sent)
    recovery: str | None = None  # Recovery.kind when a bulk resend or replay put it back
    recovery_id: int | None = None
    created_at: datetime | None = None  # when the delivery was made (its event ingested)
    organization: str = ""  # the organization's slug, for the logs

    @property
    def first_automatic(self):
        """Whether this is the first attempt of a delivery made by an ingested event."""
        return self.attempt_count == 0 and self.trigger == Attempt.AUTOMATIC

    @property
    def resends(self):
        """Whether this attempt sends a delivery that had settled before (a manual or bulk
        resend): it can settle it anew only by succeeding."""
        return self.manual or self.recovery == Recovery.RESEND

    def settled(self, result):
        """The state this attempt settled its delivery in for the first time, or None (still
        pending, or it had settled before)."""
        if self.resends:
            return Delivery.SUCCEEDED if (result.state == Delivery.SUCCEEDED
                                          and self.state != Delivery.SUCCEEDED) else None
        return result.state if result.state in (Delivery.SUCCEEDED, Delivery.FAILED) else None

    @property
    def trigger(self):
        if self.manual:
            return Attempt.MANUAL
        if self.recovery:
            return _RECOVERY_TRIGGERS[self.recovery]
        return Attempt.PING if self.event_type == catalog.PING.type else Attempt.AUTOMATIC


def _still_due(now):
    """Pending, due and unheld, for rows already chosen by id: each column wrapped, so that no
    planner walks a due index (past a webhook's whole backlog) instead of looking the ids up."""
    d = _deliveries.c
    return db.and_(db.func.coalesce(d.state, "") == Delivery.PENDING,
                   db.func.coalesce(d.next_attempt_at, _NEVER) <= now,
                   db.func.coalesce(d.lease_until, EPOCH) < now)


def lock_webhooks(ids):
    """Lock these webhooks' rows for this transaction, as claimers and the health sweep do;
    return the ids held (on PostgreSQL, rows another transaction holds are skipped)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Another worker claiming for one of these webhooks right now: skip it this round.
        return set(connection.execute(_LOCK_SKIPPING_LOCKED, {"ids": list(ids)}).scalars())
    # SQLite: the first write of the transaction takes the database's write lock.
    connection.execute(_TAKE_WRITE_LOCK, {"ids": list(ids)})
    return set(ids)


# Statements of every claim, built once: building them cost more CPU than running them.
_IDS = db.bindparam("ids", expanding=True)
_LOCK_SKIPPING_LOCKED = (db.select(_webhooks.c.id).where(_webhooks.c.id.in_(_IDS))
                         .with_for_update(skip_locked=True))
_TAKE_WRITE_LOCK = (db.update(_webhooks).where(_webhooks.c.id.in_(_IDS))
                    .values(unanswered_streak=_webhooks.c.unanswered_streak,
                            updated_at=_webhooks.c.updated_at))
_HELD = (db.select(_deliveries.c.webhook_id, _deliveries.c.lease_owner, db.func.count())
         .where(_deliveries.c.webhook_id.in_(_IDS),
                _deliveries.c.lease_until >= db.bindparam("now", type_=UTCDateTime))
         .group_by(_deliveries.c.webhook_id, _deliveries.c.lease_owner))
_STREAKS = db.select(_webhooks.c.id, _webhooks.c.unanswered_streak).where(_webhooks.c.id.in_(_IDS))


def _caps_now(ids, now, owner, depth):
    """Return {webhook id: (cap, leases it may still take)}, read under the webhooks' locks."""
    connection = db.session.connection()
    concurrency = setting("WEBHOOKS_ENDPOINT_CONCURRENCY", int)
    held, mine = {}, {}
    for webhook_id, lease_owner, count in connection.execute(_HELD, {"ids": list(ids), "now": now}):
        held[webhook_id] = held.get(webhook_id, 0) + count
        if lease_owner == owner:
            mine[webhook_id] = count
    caps = {}
    for webhook_id, streak in connection.execute(_STREAKS, {"ids": list(ids)}):
        cap = endpoint_cap(streak, concurrency)
        caps[webhook_id] = (cap, allowance(cap, held.get(webhook_id, 0), mine.get(webhook_id, 0),
                                           depth.get(webhook_id, 1)))
    return caps


def _oldest_due_ids(shares, now):
    """Return the ids of each webhook's oldest due deliveries, as many as its share."""
    d = _deliveries.c
    parts = [in_key_order(db.select(d.id), _deliveries)
             .where(pending_key(_deliveries).between(
                 db.tuple_(Delivery.PENDING, webhook_id, EPOCH),
                 db.tuple_(Delivery.PENDING, webhook_id, now)), unheld(now))
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
    locked = lock_webhooks(sorted(order))
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
                        _deliveries.c.manual_requested_at.is_not(None), unheld(now))
    return _claim(condition, now, manual=True, owner=owner)


def _claim(condition, now, manual, owner=""):
    lease = now + timedelta(seconds=lease_length_seconds())
    connection = db.session.connection()
    d = _deliveries.c
    rows = connection.execute(
        db.update(_deliveries).where(condition).values(lease_until=lease, lease_owner=owner)
        .returning(d.id, d.public_id, d.webhook_id, d.event_type, d.state, d.attempt_count,
                   d.manual_requested_at, d.created_at)
    ).all()
    if not rows:
        db.session.commit()
        return []
    targets = _targets([row.id for row in rows])
    claims, timestamp = [], int(time.time())
    for row in sorted(rows, key=lambda row: row.id):
        claim = Claim(row.id, lease, manual, row.public_id, row.webhook_id, row.event_type,
                      row.state, row.attempt_count, row.manual_requested_at,
                      created_at=row.created_at)
        target = targets[row.id]
        claim.recovery, claim.recovery_id = target.recovery, target.recovery_id
        claim.organization = target.organization
        reason = _cancel_reason(target, row.event_type)
        if reason:
            claim.result = _cancel_unsent(claim, reason)
        else:
            _prepare(claim, target, timestamp)
        claims.append(claim)
    db.session.commit()  # hold no transaction (nor SQLite lock) while waiting on the network
    metrics.deliveries_cancelled(sum(
        claim.result is not None and claim.result.state != claim.state for claim in claims))
    return claims


def _targets(delivery_ids):
    """Return {delivery id: row} with the payload, the webhook's URL, credentials and state, and
    the kind of recovery that put the delivery back on its way (if any)."""
    return {row.id: row for row in db.session.connection().execute(
        _TARGETS, {"ids": list(delivery_ids)})}


def _targets_query():
    d, w, r = _deliveries.c, _webhooks.c, _recoveries.c
    return (db.select(d.id, _events.c.payload, w.url, w.auth_type, w.basic_username,
                      w.basic_password_encrypted, w.secret_encrypted, w.previous_secret_encrypted,
                      w.previous_secret_expires_at, w.headers_encrypted, w.is_active, w.deleted_at,
                      d.recovery_id, r.kind.label("recovery"),
                      _organizations.c.slug.label("organization"))
            .select_from(_deliveries.join(_events, _events.c.id == d.event_id)
                         .join(_webhooks, w.id == d.webhook_id)
                         .join(_organizations, _organizations.c.id == d.organization_id)
                         .outerjoin(_recoveries, r.id == d.recovery_id))
            .where(d.id.in_(_IDS)))


_TARGETS = _targets_query()


def _prepare(claim, target, timestamp):
    """Fill in the claim's URL, body and signed headers (signed with the previous secret too
    during a rotation's overlap; with Basic Auth and custom headers if configured)."""
    claim.url, claim.body = target.url, target.payload.encode()
    basic = None
    if target.auth_type == "basic":
        password = _decrypt(target.basic_password_encrypted) \
            if target.basic_password_encrypted else ""
        basic = (target.basic_username or "", password)
    secrets = [_decrypt(target.secret_encrypted)]
    expires = target.previous_secret_expires_at
    if target.previous_secret_encrypted and expires and expires.timestamp() > timestamp:
        secrets.append(_decrypt(target.previous_secret_encrypted))
    custom = json.loads(_decrypt(target.headers_encrypted)) if target.headers_encrypted else []
    claim.hidden_headers = tuple(name for name, _ in custom)
    claim.headers = request_headers(claim.public_id, claim.body, secrets, timestamp, basic, custom)


def _decrypt(ciphertext):
    return crypto.decrypt_cached(crypto.credential_keys(current_app.config), ciphertext)


def _cancel_reason(target, event_type):
    """Return why a claimed delivery must not be sent (its webhook was deleted, or turned off
    and this is not a ping, or its payload was removed by the retention purge), or None."""
    if target.deleted_at is not None:
        return Delivery.WEBHOOK_DELETED
    if not catalog.sendable(event_type, target.is_active):
        return Delivery.WEBHOOK_DEACTIVATED
    if target.payload is None:
        return retention.cancel_reason()
    return None


def _cancel_unsent(claim, reason):
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
               Delivery.next_attempt_at <= now + timedelta(seconds=horizon), unheld(now))
        .order_by(Delivery.next_attempt_at).limit(limit)
    ).all()
    return [tuple(row) for row in rows]


def requested_resends(now, older_than=0.0, limit=500):
    """Return ids of deliveries with a manual resend asked for before now - older_than, unheld."""
    return list(db.session.connection().execute(_REQUESTED_RESENDS, {
        "now": now, "asked_by": now - timedelta(seconds=older_than), "limit": limit}).scalars())


# Asked for at every claim a pump is woken for: built once.
_REQUESTED_RESENDS = (
    db.select(_deliveries.c.id)
    .where(_deliveries.c.manual_requested_at.is_not(None),
           _deliveries.c.manual_requested_at <= db.bindparam("asked_by", type_=UTCDateTime),
           unheld(db.bindparam("now", type_=UTCDateTime)))
    .order_by(_deliveries.c.manual_requested_at).limit(db.bindparam("limit")))

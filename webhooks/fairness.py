"""Fairness across webhooks: which webhooks wait, how many attempts each may have in flight,
and how a round of claims is dealt among them.

Each webhook gets at most its cap (WEBHOOKS_ENDPOINT_CONCURRENCY; fewer once its attempts go
unanswered, 1 while it does not respond); the webhooks that have waited longest go first.
"""
import functools
from dataclasses import dataclass
from datetime import datetime, timezone

from .config import setting
from .extensions import db
from .models import Delivery, UTCDateTime, Webhook

# After this many attempts in a row without any HTTP answer, an endpoint is sent one attempt
# at a time until it answers again.
NOT_RESPONDING_AFTER = 5

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_deliveries, _webhooks = Delivery.__table__, Webhook.__table__


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


def unheld(now, table=_deliveries):
    """No worker holds the lease: never leased, or the lease ran out."""
    return db.or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def _held_count(webhook_id, now, owner=None):
    held = _deliveries.alias("held")
    conditions = [held.c.webhook_id == webhook_id, held.c.lease_until >= now]
    if owner is not None:
        conditions.append(held.c.lease_owner == owner)
    return db.select(db.func.count()).select_from(held).where(*conditions).scalar_subquery()


def pending_key(table):
    """The leading columns of ix_deliveries_pending_by_webhook, as a row value."""
    return db.tuple_(table.c.state, table.c.webhook_id, table.c.next_attempt_at)


def in_key_order(query, table):
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
        return (in_key_order(db.select(first_after), step)
                # >= previous + 1, not > previous: SQLite seeks straight to a >= bound.
                .where(db.tuple_(step.c.state, step.c.webhook_id)
                       >= db.tuple_(Delivery.PENDING, previous + 1))
                .limit(1).scalar_subquery())

    hooks = db.select(next_webhook(db.literal(0)).label("webhook_id")).cte("pending_hooks",
                                                                           recursive=True)
    hooks = hooks.union_all(db.select(next_webhook(hooks.c.webhook_id))
                            .where(hooks.c.webhook_id.is_not(None)))
    due = _deliveries.alias("due")
    oldest = (in_key_order(db.select(db.case((db.and_(due.c.state == Delivery.PENDING,
                                                       due.c.webhook_id == hooks.c.webhook_id),
                                               due.c.next_attempt_at))), due)
              .where(pending_key(due) >= db.tuple_(Delivery.PENDING, hooks.c.webhook_id, EPOCH),
                     unheld(now, due))
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

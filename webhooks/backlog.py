"""How far behind each webhook is: count the deliveries that wait for it, and say in plain
words when its endpoint is slowed down."""
from dataclasses import dataclass

from .extensions import db
from .fairness import is_not_responding, unheld
from .models import Delivery, utcnow

# The listing and the detail screen count waiting deliveries up to here, then say "10,000+".
WAITING_COUNT_LIMIT = 10_000

WAITING_TITLE = "Due now and waiting their turn: each endpoint is sent a few events at a time."


@dataclass(frozen=True)
class Backlog:
    """A webhook's backlog notice: the words, a tone for the colour and a tooltip."""

    text: str
    tone: str  # "warn" (amber): the endpoint is slowed down; "info" (blue): events only wait
    title: str
    icon: str


def waiting_words(count):
    """Return "118", "1,234" or "10,000+" for a count taken up to WAITING_COUNT_LIMIT + 1."""
    if count > WAITING_COUNT_LIMIT:
        return f"{WAITING_COUNT_LIMIT:,}+"
    return f"{count:,}"


def describe(webhook, waiting):
    """Return the Backlog notice of a webhook given its waiting count, or None if all is well."""
    # A webhook that is off sends nothing: "sending one event at a time" would not be true.
    if webhook.is_active and is_not_responding(webhook):
        text = "Not responding: sending one event at a time"
        if waiting:
            text += f", {waiting_words(waiting)} waiting"
        title = (f"The last {webhook.unanswered_streak} attempts got no HTTP answer, so events "
                 "go to this endpoint one at a time until it answers again.")
        return Backlog(text, "warn", title, "⚠\ufe0e")
    if waiting:
        return Backlog(f"{waiting_words(waiting)} waiting to be sent", "info", WAITING_TITLE, "◷")
    return None


def waiting_counts(webhook_ids, now=None):
    """Return {webhook id: deliveries due and not yet sent}, each counted up to
    WAITING_COUNT_LIMIT + 1 (so a huge backlog costs no more than a large one)."""
    now = now or utcnow()
    d = Delivery.__table__.c
    counts = {}
    for webhook_id in webhook_ids:
        due = (db.select(d.id).where(d.state == Delivery.PENDING, d.webhook_id == webhook_id,
                                     d.next_attempt_at <= now, unheld(now))
               .limit(WAITING_COUNT_LIMIT + 1).subquery())
        counts[webhook_id] = db.session.scalar(db.select(db.func.count()).select_from(due))
    return counts


def of_webhooks(webhooks):
    """Return {webhook id: Backlog or None} for the webhooks shown on a page."""
    waiting = waiting_counts([webhook.id for webhook in webhooks])
    return {webhook.id: describe(webhook, waiting.get(webhook.id, 0)) for webhook in webhooks}

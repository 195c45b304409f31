"""Log History queries: a webhook's deliveries, newest first, filtered and paginated by index."""
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import catalog, lifecycle, retention
from .extensions import db
from .models import Attempt, Delivery, Event, Webhook, utcnow

PER_PAGE = 25

# A row or panel that is not settled refreshes itself: quickly while something is about to
# happen (an attempt due soon, running, or a manual resend asked for), slowly during the
# 5 and 10 minute waits between retries.
FAST_POLL_SECONDS = 2
WAITING_POLL_SECONDS = 10  # due for a while and still waiting: its endpoint is slowed down
SLOW_POLL_SECONDS = 30
SOON = timedelta(seconds=30)

# Outcome filter value -> delivery state; each maps to one state so the query can walk
# ix_deliveries_webhook_state_log in id order instead of sorting.
OUTCOMES = {
    "all": None,
    "succeeded": Delivery.SUCCEEDED,
    "failed": Delivery.FAILED,
    "pending": Delivery.PENDING,
    "cancelled": Delivery.CANCELLED,
}
OUTCOME_CHOICES = [("all", "All outcomes"), ("succeeded", "Succeeded"), ("failed", "Failed"),
                   ("pending", "Pending"), ("cancelled", "Cancelled")]
# Every event type Log History can show: (type, label).
EVENT_TYPE_CHOICES = [(t.type, t.title) for t in catalog.EVENT_TYPES + (catalog.PING,)]


@dataclass(frozen=True)
class LogFilter:
    outcome: str = "all"
    event_type: str | None = None

    @classmethod
    def from_args(cls, args):
        """Read the filters from query arguments, ignoring values that are not choices."""
        outcome = args.get("outcome", "all")
        event_type = args.get("type") or None
        return cls(
            outcome=outcome if outcome in OUTCOMES else "all",
            event_type=event_type if event_type in catalog.BY_TYPE else None,
        )

    @property
    def active(self):
        return self.outcome != "all" or self.event_type is not None

    def args(self):
        """Return the query arguments that reproduce this filter (only the non-default ones)."""
        out = {}
        if self.outcome != "all":
            out["outcome"] = self.outcome
        if self.event_type:
            out["type"] = self.event_type
        return out

    def conditions(self, webhook):
        conds = [Delivery.webhook_id == webhook.id]
        if OUTCOMES[self.outcome]:
            conds.append(Delivery.state == OUTCOMES[self.outcome])
        if self.event_type:
            conds.append(Delivery.event_type == self.event_type)
        return conds

    def matches(self, delivery):
        return ((OUTCOMES[self.outcome] in (None, delivery.state))
                and self.event_type in (None, delivery.event_type))


@dataclass(frozen=True)
class Response:
    """The Response column of a delivery: words, a tone for the colour, an icon and a tooltip."""

    text: str
    tone: str  # "ok", "bad", "warn", "info" or "" (neutral)
    icon: str
    title: str
    at: datetime | None = None  # shown after the text, in the viewer's time ("Retrying at 10:42")


WAITING_TITLE = ("Due now and waiting its turn: the endpoint is sent a few events at a time, "
                 "and one at a time while it is not responding.")


def _failure_reason(error):
    """Return the stored error as the end of a sentence, cut at about 60 characters."""
    error = error or "no response"
    error = error[:1].lower() + error[1:]
    return error if len(error) <= 65 else error[:59] + "…"  # as Jinja's truncate(60, True, "…")


def response_of(delivery, now=None):
    """Return the Response a delivery shows: its latest status code, or its state in words."""
    d, now = delivery, now or utcnow()
    code = f"{d.last_status_code} · " if d.last_status_code else ""
    if d.manual_requested_at is not None:
        return Response(f"{code}Resending…", "warn", "↻",
                        "A manual attempt was asked for and is on its way.")
    if d.state == Delivery.SUCCEEDED:
        return Response(str(d.last_status_code or "Succeeded"), "ok", "✓", "Succeeded")
    if d.state == Delivery.FAILED:
        text = f"{code}Failed" if code else f"Failed: {_failure_reason(d.last_error)}"
        return Response(text, "bad", "✕", d.last_error or "Failed")
    if d.state == Delivery.CANCELLED:
        return Response("Cancelled", "", "⊘", d.cancel_reason or "Cancelled")
    if d.is_leased(now):
        return Response(f"{code}Sending…", "info", "↗",
                        f"Attempt {d.attempt_count + 1} is on its way to the endpoint now.")
    if d.next_attempt_at is not None and d.next_attempt_at <= now:
        title = WAITING_TITLE
        if d.attempt_count:
            title = f"Attempt {d.attempt_count + 1} is due. {title}"
        return Response(f"{code}Waiting for the endpoint", "warn", "◷", title)
    if d.attempt_count and d.next_attempt_at is not None:
        return Response(f"{code}Retrying at", "warn", "⟳",
                        d.last_error or "The last attempt failed", at=d.next_attempt_at)
    return Response("Pending", "warn", "…", "Waiting for its first attempt")


@dataclass(frozen=True)
class LogRow:
    """One line of Log History: the delivery, its event, and the URL its latest attempt called."""

    webhook: Webhook
    delivery: Delivery
    event: Event
    url: str

    @property
    def event_title(self):
        return catalog.title_of(self.event.type)

    @property
    def response(self):
        return response_of(self.delivery)

    @property
    def resend_refusal(self):
        """Why Resend is off for this row (shown beside the disabled button), or None."""
        return lifecycle.resend_refusal(self.webhook, self.delivery, self.event)

    @property
    def payload(self):
        """The event's envelope, indented for reading (None once removed by retention)."""
        return None if self.event.payload_removed else pretty_json(self.event.payload)

    @property
    def removed_text(self):
        """What Log History says in place of what retention removed, or None."""
        return retention.removed_text() if self.event.payload_removed else None

    @property
    def polls(self):
        """Return whether the row should refresh itself: its outcome is not settled yet."""
        return self.delivery.state == Delivery.PENDING or self.delivery.manual_requested_at is not None

    def poll_seconds(self, now=None):
        """Return how often the row refreshes itself, in seconds; None once it is settled."""
        if not self.polls:
            return None
        d = self.delivery
        now = now or utcnow()
        if d.manual_requested_at is not None or d.is_leased(now):
            return FAST_POLL_SECONDS
        if d.next_attempt_at is not None and d.next_attempt_at < now - SOON:
            return WAITING_POLL_SECONDS  # waiting its turn behind a slowed-down endpoint
        if d.next_attempt_at is None or d.next_attempt_at <= now + SOON:
            return FAST_POLL_SECONDS
        return SLOW_POLL_SECONDS


@dataclass(frozen=True)
class LogPage:
    rows: list
    total: int
    page: int
    pages: int
    filter: LogFilter
    outcome_choices = OUTCOME_CHOICES  # for the filter form
    event_type_choices = EVENT_TYPE_CHOICES

    @property
    def first_index(self):
        return (self.page - 1) * PER_PAGE + 1 if self.total else 0

    @property
    def last_index(self):
        return (self.page - 1) * PER_PAGE + len(self.rows)

    def url_args(self, **extra):
        """Return the URL arguments of this page's filter plus extra ones (page, after)."""
        return {**self.filter.args(), **extra}

    @property
    def newest_id(self):
        """Return the id of the newest delivery shown, the mark for the new-rows poll."""
        return self.rows[0].delivery.id if self.rows else 0


def _page_number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def _rows(webhook, pairs):
    """Attach to each (delivery, event) the URL its latest attempt called (else the webhook's)."""
    ids = [d.id for d, _ in pairs]
    urls = {}
    if ids:
        # At most PER_PAGE × attempts rows, read through uq_attempts_delivery_number.
        for delivery_id, url in db.session.execute(
            db.select(Attempt.delivery_id, Attempt.url)
            .where(Attempt.delivery_id.in_(ids))
            .order_by(Attempt.delivery_id, Attempt.number)
        ):
            urls[delivery_id] = url
    return [LogRow(webhook, d, e, urls.get(d.id, webhook.url)) for d, e in pairs]


def log_page(webhook, log_filter, page=1):
    """Return one page of the webhook's Log History; an out-of-range page is clamped."""
    conds = log_filter.conditions(webhook)
    total = db.session.scalar(db.select(db.func.count()).select_from(Delivery).where(*conds))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(_page_number(page), 1), pages)
    # Deferred join: skip the earlier pages inside the index alone, then read 25 full rows.
    page_ids = (db.select(Delivery.id).where(*conds).order_by(Delivery.id.desc())
                .limit(PER_PAGE).offset((page - 1) * PER_PAGE).scalar_subquery())
    pairs = db.session.execute(
        db.select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id.in_(page_ids))
        .order_by(Delivery.id.desc())
    ).all()
    return LogPage(_rows(webhook, pairs), total, page, pages, log_filter)


def page_asked_for(webhook, args):
    """Return the Log History page that query arguments ask for (filters and ?page=)."""
    return log_page(webhook, LogFilter.from_args(args), args.get("page", 1))


def has_newer(webhook, log_filter, after_id):
    """Return whether a delivery newer than after_id matches the filter."""
    conds = log_filter.conditions(webhook) + [Delivery.id > after_id]
    return db.session.scalar(db.select(db.select(Delivery.id).where(*conds).exists())) is True


def get_row(webhook, delivery_id):
    """Return the LogRow of one of the webhook's deliveries, or None."""
    pair = db.session.execute(
        db.select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id, Delivery.webhook_id == webhook.id)
    ).first()
    return _rows(webhook, [tuple(pair)])[0] if pair else None


def pretty_json(text):
    """Return JSON text indented for reading; the text itself if it is not JSON."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text

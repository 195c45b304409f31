"""A webhook's health: healthy, failing or disabled, the rules that move it, and what the Health
tab and the banners show.

- **failing** from the first delivery that ends failed until any attempt succeeds;
- **disabled** (turned off automatically, webhooks.lifecycle.disable) when it has been failing
  for WEBHOOKS_DISABLE_AFTER_HOURS with at least WEBHOOKS_DISABLE_MIN_FAILURES failed
  deliveries, or at once when the endpoint answers 410 Gone;
- the organization's owners are told when it starts failing, a day before it would be turned
  off, and when it is (webhooks.notices).

Recording applies the rules to each batch (observe, inside its transaction); the periodic sweep
sends the warnings and turns off what failed long enough while no attempt was recorded.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import claims, failures, lifecycle, mail, notices, stats
from .config import setting
from .extensions import db
from .fairness import is_not_responding
from .models import Delivery, Webhook, utcnow

log = logging.getLogger(__name__)

GONE = 410
CERTIFICATE_WARNING = timedelta(days=14)
WARNING_AHEAD = timedelta(hours=24)
STARTED_FAILING, DISABLE_WARNING, DISABLED = "started_failing", "disable_warning", "disabled"


@dataclass(frozen=True)
class Change:
    """A health change the organization is told about, once, after the transaction commits."""

    kind: str  # STARTED_FAILING | DISABLE_WARNING | DISABLED
    webhook_id: int
    disable_at: datetime | None = None


def disable_after():
    return timedelta(hours=setting("WEBHOOKS_DISABLE_AFTER_HOURS"))


def disable_at(webhook):
    """When a failing webhook will be turned off if it keeps failing, or None."""
    if webhook.failing_since is None or not webhook.is_active:
        return None
    return webhook.failing_since + disable_after()


# --- The rules ------------------------------------------------------------------------------

def observe(items, results):
    """Apply the rules to a batch of recorded [(Claim, Outcome)] and their {delivery id: Result},
    inside the recording transaction (which already holds the webhooks' rows); return the
    Changes to announce once it commits."""
    by_webhook = {}
    for claim, outcome in sorted(items, key=lambda item: item[1].started_at):
        by_webhook.setdefault(claim.webhook_id, []).append((claim, outcome))
    failing = dict(db.session.execute(
        db.select(Webhook.id, Webhook.failing_since.is_not(None))
        .where(Webhook.id.in_(by_webhook))).all())
    changes, now = [], utcnow()
    for webhook_id in sorted(by_webhook):
        if not failing[webhook_id] and all(o.succeeded for _, o in by_webhook[webhook_id]):
            continue  # healthy and still answering: nothing to change (the usual case)
        webhook = db.session.get(Webhook, webhook_id, populate_existing=True)
        for claim, outcome in by_webhook[webhook_id]:
            changes.extend(_after_attempt(webhook, claim, outcome, results[claim.delivery_id]))
        changes.extend(_disable_if_due(webhook, now))
    db.session.flush()
    return changes


def _after_attempt(webhook, claim, outcome, result):
    if outcome.succeeded:
        _healthy_again(webhook)
        return []
    if not webhook.is_active:  # a test event to a webhook that is off changes nothing
        return []
    if outcome.status == GONE:
        return _disable(webhook, f"The endpoint answered 410 Gone on "
                                 f"{_when(outcome.started_at)}: it asked for no more deliveries.")
    if claim.settled(result) == Delivery.FAILED:
        webhook.failing_deliveries += 1
        if webhook.failing_since is None:
            webhook.failing_since = outcome.finished_at
            return [Change(STARTED_FAILING, webhook.id)]
    return []


def _healthy_again(webhook):
    webhook.failing_since, webhook.failing_deliveries, webhook.disable_warned_at = None, 0, None


def _disable_if_due(webhook, now):
    due = disable_at(webhook)
    if due is None or now < due:
        return []
    if webhook.failing_deliveries < setting("WEBHOOKS_DISABLE_MIN_FAILURES", int):
        return []
    hours = setting("WEBHOOKS_DISABLE_AFTER_HOURS")
    return _disable(webhook, f"It failed for {hours:g} hours: {webhook.failing_deliveries} "
                             f"deliveries failed since {_when(webhook.failing_since)} and none "
                             f"succeeded.")


def _disable(webhook, reason):
    lifecycle.disable(webhook, reason)
    log.info("webhook %s turned off automatically: %s", webhook.id, reason)
    return [Change(DISABLED, webhook.id)]


def _when(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def sweep(now=None):
    """Warn the owners of webhooks a day from being turned off, and turn off those failing long
    enough although no attempt was recorded lately; commit; announce. Run periodically (by any
    number of processes: each webhook is decided under its row's lock)."""
    now = now or utcnow()
    warn_from = now - max(disable_after() - WARNING_AHEAD, timedelta(0))
    due = db.session.scalars(
        db.select(Webhook.id).where(Webhook.is_active.is_(True), Webhook.deleted_at.is_(None),
                                    Webhook.failing_since <= warn_from)
        .order_by(Webhook.id)).all()
    changes = []
    for webhook in _locked(due):
        if webhook.failing_since is None or webhook.failing_since > warn_from:
            continue  # an attempt succeeded since the look-up
        disabled = _disable_if_due(webhook, now)
        changes.extend(disabled)
        if not disabled and webhook.disable_warned_at is None and \
                webhook.failing_deliveries >= setting("WEBHOOKS_DISABLE_MIN_FAILURES", int):
            webhook.disable_warned_at = now
            changes.append(Change(DISABLE_WARNING, webhook.id, disable_at(webhook)))
    db.session.commit()
    announce(changes)
    return changes


def _locked(webhook_ids):
    """Lock the webhooks' rows as a claimer does (on PostgreSQL skipping those a recording
    holds now: the next sweep sees them) and return them read afresh."""
    locked = claims.lock_webhooks(webhook_ids) if webhook_ids else ()
    return db.session.scalars(
        db.select(Webhook).where(Webhook.id.in_(locked)).order_by(Webhook.id)
        .execution_options(populate_existing=True)).all()


def announce(changes):
    """Email the Changes to the organizations' owners (in the background; never raises)."""
    if not changes:
        return
    for change in changes:
        try:
            webhook = db.session.get(Webhook, change.webhook_id)
            if change.kind == STARTED_FAILING:
                messages = notices.started_failing(webhook)
            elif change.kind == DISABLE_WARNING:
                messages = notices.disable_warning(webhook, change.disable_at)
            else:
                messages = notices.disabled(webhook)
            mail.send_later(messages)
        except Exception:
            log.exception("could not prepare the %s notice of webhook %s", change.kind,
                          change.webhook_id)
    db.session.rollback()  # the reads above: hold no transaction


# --- What the pages show --------------------------------------------------------------------

@dataclass(frozen=True)
class LastFailure:
    category: str | None
    label: str
    advice: str | None


def last_failure(webhook):
    """The latest failure in words and what to fix, or None before any failure."""
    if webhook.last_failure_at is None:
        return None
    return LastFailure(*failures.explain(
        webhook.last_category, url=webhook.url, status=webhook.last_status_code,
        error=webhook.last_error, timeout_seconds=setting("WEBHOOKS_TIMEOUT_SECONDS")))


def certificate_expiring(webhook, now=None):
    """The endpoint certificate's expiry when it is within 14 days (or past), else None."""
    expires = webhook.certificate_expires_at
    if expires is None or expires - (now or utcnow()) > CERTIFICATE_WARNING:
        return None
    return expires


@dataclass(frozen=True)
class Health:
    """What the Health tab derives; the webhook's own columns (failing_since, last_success_at,
    certificate_expires_at, ...) it shows as they are."""

    disable_at: datetime | None
    last_failure: LastFailure | None
    responding: bool
    periods: tuple  # (stats.Totals for 24 hours, for 7 days)
    waiting: int  # deliveries not settled yet


def of_webhook(webhook, now=None):
    now = now or utcnow()
    return Health(
        disable_at=disable_at(webhook), last_failure=last_failure(webhook),
        responding=not is_not_responding(webhook),
        periods=tuple(stats.totals(webhook, now, period) for period in stats.PERIODS),
        waiting=stats.waiting(webhook),
    )


@dataclass(frozen=True)
class Banner:
    """What the Webhooks tab and the detail screen say while a webhook is failing or was turned
    off automatically."""

    state: str  # Webhook.FAILING | Webhook.DISABLED
    since: datetime
    failed_deliveries: int
    disable_at: datetime | None
    reason: str | None
    last_failure: LastFailure | None

    @property
    def tone(self):
        return "bad" if self.state == Webhook.DISABLED else "warn"


def banner(webhook):
    """The webhook's Banner, or None while it is healthy (or turned off by a person)."""
    state = webhook.health_state
    if state == Webhook.HEALTHY:
        return None
    since = webhook.deactivated_at if state == Webhook.DISABLED else webhook.failing_since
    return Banner(state, since, webhook.failing_deliveries, disable_at(webhook),
                  webhook.disabled_reason, last_failure(webhook))

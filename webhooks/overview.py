"""What the listing's rows and the detail screen's header say about a webhook: its events as
short chips, its latest response, and its backlog."""
from dataclasses import dataclass, replace
from datetime import datetime
from http import HTTPStatus

from . import backlog, catalog, health, recording, recovery, stats
from .models import Webhook, utcnow


@dataclass(frozen=True)
class LatestResponse:
    """The webhook's most recent attempt in words: "Success · 200 OK", "Failed · Connection refused"."""

    succeeded: bool
    text: str
    at: datetime

    @property
    def tone(self):
        return "ok" if self.succeeded else "bad"

    @property
    def icon(self):
        return "✓" if self.succeeded else "✕"

    @property
    def label(self):
        return "Success" if self.succeeded else "Failed"


@dataclass(frozen=True)
class Overview:
    webhook: Webhook
    chips: list
    latest: LatestResponse | None
    backlog: backlog.Backlog | None
    success_rate: float | None = None  # deliveries that ended succeeded, last 24 hours
    banner: health.Banner | None = None
    # The detail screen's header only (of_webhook):
    certificate_expiring: datetime | None = None
    certificate_expired: bool = False
    missed: int = 0  # deliveries a replay of what it missed while off would send

    @property
    def success_rate_text(self):
        return stats.rate_text(self.success_rate)


def event_chips(event_types):
    """Return short chips for a subscription: "All events", "All job events", "Job: Created, Updated"."""
    chosen = set(event_types or ())
    if chosen >= set(catalog.SUBSCRIBABLE):
        return ["All events"]
    chips = []
    for kind, types in catalog.by_kind():
        labels = [t.label for t in types if t.type in chosen]
        if not labels:
            continue
        if len(labels) == len(types) > 1:
            chips.append(f"All {kind.lower()} events")
        else:
            chips.append(f"{kind}: {', '.join(labels)}")
    chips.extend(sorted(chosen - set(catalog.BY_TYPE)))  # types no longer in the catalog
    return chips


def latest_response(webhook):
    """Return the LatestResponse of the webhook's latest attempt, or None before any."""
    if webhook.last_attempt_at is None:
        return None
    code = webhook.last_status_code
    if code is None:
        return LatestResponse(False, webhook.last_error or "No response", webhook.last_attempt_at)
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return LatestResponse(200 <= code < 300, f"{code} {phrase}".strip(), webhook.last_attempt_at)


def of_webhooks(webhooks):
    """Return an Overview per webhook, counting their waiting deliveries and reading their
    success rates in one call each."""
    backlogs = backlog.of_webhooks(webhooks)
    rates = stats.success_rates([webhook.id for webhook in webhooks], utcnow())
    return [Overview(webhook, event_chips(webhook.event_types), latest_response(webhook),
                     backlogs[webhook.id], rates.get(webhook.id), health.banner(webhook))
            for webhook in webhooks]


def of_webhook(webhook):
    """Return the Overview of the detail screen's header (with its certificate and replay
    notices)."""
    now = utcnow()
    expiring = health.certificate_expiring(webhook, now)
    return replace(of_webhooks([webhook])[0], certificate_expiring=expiring,
                   certificate_expired=expiring is not None and expiring <= now,
                   missed=recovery.count_missed(webhook))


def duration_words(seconds):
    """Return 90 → "90 seconds", 300 → "5 minutes", 7200 → "2 hours" (whole units only)."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


@dataclass(frozen=True)
class RetrySchedule:
    """The configured retry delays in words, for the pages that explain them."""

    delays: tuple

    @property
    def attempts(self):
        return len(self.delays) + 1

    @property
    def words(self):
        """Return "after 5 minutes, then 10 minutes after that" (or "never")."""
        if not self.delays:
            return "never"
        parts = [f"after {duration_words(self.delays[0])}"]
        parts += [f"then {duration_words(delay)} after that" for delay in self.delays[1:]]
        return ", ".join(parts)


def retry_schedule():
    """Return the RetrySchedule of the configured WEBHOOKS_RETRY_DELAYS."""
    return RetrySchedule(recording.retry_delays())

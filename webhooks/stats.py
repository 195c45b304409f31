"""Statistics per webhook, kept as hourly rollups (models.HourlyStats).

Recording adds each batch of attempts to its webhooks' hourly rows in the same transaction
(one upsert per batch), so reading a webhook's last 7 days reads at most 168 rows, whether its
attempts table holds a thousand rows or a billion. Response-time percentiles are estimated from
the rows' bucket counts, the way Prometheus estimates histogram quantiles.
"""
import functools
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite

from . import failures
from .extensions import db
from .models import Delivery, HourlyStats

BUCKETS_MS = HourlyStats.BUCKETS_MS
BUCKET_COLUMNS = (*(f"ms_{bound}" for bound in BUCKETS_MS), "ms_over")
COUNTERS = ("attempts", "attempts_failed", "first_attempts", "first_attempts_succeeded",
            "succeeded", "failed", "retrying", "duration_ms_total", *BUCKET_COLUMNS,
            *failures.FAILURES)
PERIODS = {"24h": ("Last 24 hours", 24), "7d": ("Last 7 days", 24 * 7)}
_table = HourlyStats.__table__
HOUR = timedelta(hours=1)


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_column(duration_ms):
    """Return the column counting an attempt that took duration_ms."""
    for bound, column in zip(BUCKETS_MS, BUCKET_COLUMNS):
        if duration_ms <= bound:
            return column
    return BUCKET_COLUMNS[-1]


# --- Writing: called by recording, inside its transaction -----------------------------------

def add(connection, recorded):
    """Add [(Claim, Outcome, Result)] to their webhooks' hourly rows: one upsert in all.

    A delivery counts as succeeded or failed in the hour of the attempt that first settled it;
    a resend (manual or bulk) that succeeds settles a failed delivery anew as succeeded, and one
    that fails again counts as a failed attempt only (Claim.settled).
    """
    rows = {}
    for claim, outcome, result in recorded:
        key = (claim.webhook_id, hour_of(outcome.started_at))
        row = rows.setdefault(key, dict.fromkeys(COUNTERS, 0) | {
            "webhook_id": key[0], "hour": key[1]})
        row["attempts"] += 1
        row["duration_ms_total"] += outcome.duration_ms
        row[bucket_column(outcome.duration_ms)] += 1
        if not outcome.succeeded:
            row["attempts_failed"] += 1
            if outcome.category in failures.FAILURES:
                row[outcome.category] += 1
        if not claim.manual and claim.attempt_count == 0:
            row["first_attempts"] += 1
            row["first_attempts_succeeded"] += outcome.succeeded
        settled = claim.settled(result)
        if settled == Delivery.SUCCEEDED:
            row["succeeded"] += 1
        elif settled == Delivery.FAILED:
            row["failed"] += 1
        elif result.state == Delivery.PENDING and not outcome.succeeded:
            row["retrying"] += 1
    if rows:
        connection.execute(_upsert(connection.dialect.name), [rows[key] for key in sorted(rows)])


@functools.cache  # built once per dialect: building it cost more than running it
def _upsert(dialect):
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_table)
    return insert.on_conflict_do_update(
        index_elements=["webhook_id", "hour"],
        set_={name: _table.c[name] + insert.excluded[name] for name in COUNTERS})


# --- Reading -------------------------------------------------------------------------------------

@dataclass
class Totals:
    """A period's counters added up, and what follows from them."""

    label: str = ""
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def __getattr__(self, name):
        counts = self.__dict__.get("counts", {})
        if name in counts:
            return counts[name]
        raise AttributeError(name)

    @property
    def deliveries(self):
        """Deliveries that ended (succeeded or failed) in the period."""
        return self.succeeded + self.failed

    @property
    def success_rate(self):
        """Deliveries that ended succeeded among those that ended, in percent (None: none)."""
        return _percent(self.succeeded, self.deliveries)

    @property
    def first_attempt_rate(self):
        """First attempts that succeeded, in percent (None: no first attempt in the period)."""
        return _percent(self.first_attempts_succeeded, self.first_attempts)

    @property
    def average_ms(self):
        return None if not self.attempts else self.duration_ms_total / self.attempts

    @property
    def p50_ms(self):
        return quantile([self.counts[c] for c in BUCKET_COLUMNS], 0.5)

    @property
    def p95_ms(self):
        return quantile([self.counts[c] for c in BUCKET_COLUMNS], 0.95)

    @property
    def failures_by_category(self):
        """[(category, label, count)] of the failure categories seen, most frequent first."""
        seen = [(c, failures.LABELS[c], self.counts[c]) for c in failures.FAILURES
                if self.counts[c]]
        return sorted(seen, key=lambda item: -item[2])


def _percent(part, whole):
    return None if not whole else 100 * part / whole


def rate_text(rate):
    """A rate in words: "98.5 %", "100 %" (whole numbers stay whole), "–" when there is none."""
    if rate is None:
        return "–"
    return f"{rate:.1f} %".replace(".0 %", " %")


def quantile(bucket_counts, q):
    """Estimate the q-quantile (0..1) of durations from bucket counts (BUCKET_COLUMNS order),
    interpolating within the bucket; None without attempts."""
    total = sum(bucket_counts)
    if not total:
        return None
    rank, seen, lower = q * total, 0, 0
    bounds = (*BUCKETS_MS, BUCKETS_MS[-1])  # past the last bound, say the last bound
    for count, upper in zip(bucket_counts, bounds):
        if count and seen + count >= rank:
            return round(lower + (upper - lower) * (rank - seen) / count)
        seen, lower = seen + count, upper
    return bounds[-1]


# Built once: constructing 30-odd SQL expressions per request cost more than running them.
_SUMS = [func.coalesce(func.sum(_table.c[name]), 0) for name in COUNTERS]
_CHARTED = [_table.c[name] for name in ("hour", "succeeded", "failed", "retrying",
                                        *BUCKET_COLUMNS)]


def first_hour(now, hours):
    """The first hour of a period of hours ending with the current hour."""
    return hour_of(now) - (hours - 1) * HOUR


def totals(webhook, now, period):
    """Return the Totals of the webhook over a period ("24h" or "7d")."""
    label, hours = PERIODS[period]
    sums = db.session.execute(
        db.select(*_SUMS)
        .where(_table.c.webhook_id == webhook.id, _table.c.hour >= first_hour(now, hours))
    ).one()
    return Totals(label, dict(zip(COUNTERS, (int(value) for value in sums))))


def waiting(webhook):
    """Deliveries not yet settled (due, being retried or in flight)."""
    return db.session.scalar(db.select(func.count()).select_from(Delivery).where(
        Delivery.webhook_id == webhook.id, Delivery.state == Delivery.PENDING))


def hourly(webhook, now, period):
    """Return the chart data of a period: one entry per hour, oldest first, gaps as zeros."""
    _, hours = PERIODS[period]
    start = first_hour(now, hours)
    found = {row.hour: row for row in db.session.execute(
        db.select(*_CHARTED).where(_table.c.webhook_id == webhook.id, _table.c.hour >= start))}
    series = {"period": period, "labels": [], "succeeded": [], "failed": [], "retrying": [],
              "p50_ms": [], "p95_ms": []}
    for index in range(hours):
        hour = start + index * HOUR
        row = found.get(hour)
        series["labels"].append(hour.strftime("%Y-%m-%dT%H:00:00Z"))
        for name in ("succeeded", "failed", "retrying"):
            series[name].append(getattr(row, name) if row else 0)
        buckets = [getattr(row, c) for c in BUCKET_COLUMNS] if row else []
        series["p50_ms"].append(quantile(buckets, 0.5) if row else None)
        series["p95_ms"].append(quantile(buckets, 0.95) if row else None)
    return series


def success_rates(webhook_ids, now):
    """Return {webhook id: success rate over the last 24 hours, or None}, in one query."""
    if not webhook_ids:
        return {}
    rows = db.session.execute(
        db.select(_table.c.webhook_id, func.sum(_table.c.succeeded), func.sum(_table.c.failed))
        .where(_table.c.webhook_id.in_(webhook_ids), _table.c.hour >= first_hour(now, 24))
        .group_by(_table.c.webhook_id))
    return {webhook_id: _percent(int(ok), int(ok) + int(bad)) for webhook_id, ok, bad in rows}

"""The periodic retention purge (webhooks.retention), as an rq-scheduler job."""
from webhooks import retention
from webhooks.config import setting

from .reconcile import register_periodic

PURGE_ID = "webhooks-purge"
PURGE = "jobs.purge.purge"


def interval_seconds():
    return setting("WEBHOOKS_PURGE_INTERVAL_SECONDS")


def purge():
    """Remove what is past its retention, for at most retention.RUN_BUDGET_SECONDS."""
    report = retention.run_periodically()
    removed = ", ".join(f"{name} {rows}" for name, rows in report.rows.items() if rows)
    return (removed or "nothing to remove") + ("" if report.finished else " (to be continued)")


def ensure_registered(connection, interval):
    """Register the purge as a periodic job unless it is there (e.g. after FLUSHALL)."""
    return register_periodic(connection, PURGE_ID, PURGE, interval)

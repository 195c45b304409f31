"""Prometheus metrics: what each process counts, what /metrics reads at scrape time, and the
token-protected /metrics route (README: Operations, Metrics).

Counters and histograms are kept by prometheus-client in its multiprocess mode: every process
(gunicorn's workers, the RQ worker, the inline queue's threads) writes its own files under
PROMETHEUS_MULTIPROC_DIR, and /metrics adds them up. The state of the work (due deliveries,
unhealthy endpoints, queue lengths, the reconciler's runs) is read from the database and Redis
when scraped, so it is the same whichever process answers.
"""
import os
import tempfile
from collections import Counter as Tally
from pathlib import Path

# prometheus-client chooses its multiprocess mode when it is first imported, so the directory
# is settled before the import below. Without a setting, the processes of one user on one host
# share a directory, as they must for /metrics to see the worker's counts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                      str(Path(tempfile.gettempdir()) / f"webhooks-metrics-{os.getuid()}"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from flask import Blueprint, Response, current_app  # noqa: E402
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter,  # noqa: E402
                               Histogram, generate_latest, multiprocess)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: E402

from .internal_api import bearer_problem  # noqa: E402

MULTIPROCESS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

EVENTS_INGESTED = Counter(
    "webhooks_events_ingested", "Requests to POST /internal/events, by event type and answer code.",
    ["type", "code"])
ATTEMPTS = Counter(
    "webhooks_attempts", "Attempts recorded, by outcome (succeeded, failed), failure category "
    "and trigger.", ["outcome", "category", "trigger"])
DELIVERIES_SETTLED = Counter(
    "webhooks_deliveries_settled", "Deliveries that reached a final state, by that state "
    "(succeeded, failed, cancelled).", ["outcome"])
ATTEMPT_DURATION = Histogram(
    "webhooks_attempt_duration_seconds", "How long each attempt took, from connecting to the "
    "whole answer (or the error), by outcome.", ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30))
FIRST_ATTEMPT_DELAY = Histogram(
    "webhooks_first_attempt_delay_seconds", "Time from an event's ingest to the first attempt "
    "of each of its deliveries.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))

_OUTCOMES = {True: "succeeded", False: "failed"}


def event_ingested(event_type, code):
    """Count a request to the ingest endpoint (event_type: a catalog type, else "unknown")."""
    EVENTS_INGESTED.labels(event_type, str(code)).inc()


def attempts_recorded(items, results):
    """Count the attempts of a recorded batch [(Claim, Outcome)] and the deliveries they settled."""
    attempts, settled = Tally(), Tally()
    for (claim, outcome), result in zip(items, results):
        attempts[_OUTCOMES[outcome.succeeded], outcome.category or "unknown", claim.trigger] += 1
        ATTEMPT_DURATION.labels(_OUTCOMES[outcome.succeeded]).observe(outcome.duration_ms / 1000)
        if claim.first_automatic and claim.created_at is not None:
            FIRST_ATTEMPT_DELAY.observe(
                max(0.0, (outcome.started_at - claim.created_at).total_seconds()))
        state = claim.settled(result)
        if state:
            settled[state] += 1
    for labels, count in attempts.items():
        ATTEMPTS.labels(*labels).inc(count)
    for state, count in settled.items():
        DELIVERIES_SETTLED.labels(state).inc(count)


def deliveries_cancelled(count):
    if count:
        DELIVERIES_SETTLED.labels("cancelled").inc(count)


def remove_dead_process_files():
    """Remove the files of processes that have ended (a restart's predecessors), as
    prometheus-client asks of a multiprocess directory; return how many were removed."""
    removed = 0
    for path in MULTIPROCESS_DIR.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process holds that pid
        return True
    return True


# --- At scrape time ----------------------------------------------------------------------------

class StateCollector:
    """The state of the work, from a webhooks.status.Snapshot taken for this scrape."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def collect(self):
        s = self.snapshot
        yield _by_label(GaugeMetricFamily, "webhooks_deliveries_waiting", "Pending deliveries: "
                        "due now and not in flight (due), due later, e.g. a retry (scheduled), or "
                        "being attempted (in_flight).", "state", s.deliveries)
        yield GaugeMetricFamily(
            "webhooks_oldest_due_delivery_age_seconds", "How long the oldest due delivery that "
            "is not in flight has been due (0 when none is).", value=s.oldest_due_age or 0.0)
        yield _by_label(GaugeMetricFamily, "webhooks_endpoints_unhealthy", "Active webhooks "
                        "slowed down (attempts unanswered), not responding (sent one attempt at a "
                        "time), failing (a delivery ended failed since the last success), and "
                        "webhooks turned off automatically (disabled).", "state", s.endpoints)
        yield from self._redis_families(s)

    def _redis_families(self, s):
        if s.queue is None:
            return
        yield _by_label(GaugeMetricFamily, "webhooks_queue_jobs", "RQ jobs of the deliveries "
                        "queue by state, and jobs waiting in rq-scheduler (scheduled).", "state",
                        s.queue)
        yield GaugeMetricFamily("webhooks_workers", "RQ workers registered in Redis.",
                                value=len(s.workers))
        if s.scheduler_last_run is not None:
            yield GaugeMetricFamily("webhooks_scheduler_last_run_timestamp_seconds",
                                    "When the scheduler last moved due jobs to the queue.",
                                    value=s.scheduler_last_run.timestamp())
        reconciler = s.reconciler
        if reconciler is None:
            return
        yield CounterMetricFamily("webhooks_reconciler_runs", "Reconciler runs.",
                                  value=reconciler.runs)
        yield _by_label(CounterMetricFamily, "webhooks_reconciler_found", "What the reconciler "
                        "runs found and did: wake-ups enqueued for due work no queue held "
                        "(enqueued), retries scheduled (scheduled), stale resends sent again "
                        "(resends), endpoint health changes (health).", "kind", reconciler.found)
        yield GaugeMetricFamily("webhooks_reconciler_last_run_timestamp_seconds",
                                "When the reconciler last ran.",
                                value=reconciler.last_run.timestamp())


def _by_label(family_class, name, documentation, label, counts):
    """Return a metric family with one sample per {label value: count}."""
    family = family_class(name, documentation, labels=[label])
    for label_value, count in counts.items():
        family.add_metric([label_value], count)
    return family


def exposition():
    """Return the metrics text: every process's counters plus the state read now."""
    from . import status  # status needs models; this module must not (the sender imports it)

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(MULTIPROCESS_DIR))
    registry.register(StateCollector(status.snapshot()))
    return generate_latest(registry)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    refused = bearer_problem(current_app.config.get("WEBHOOKS_METRICS_TOKEN"), 404,
                             "Metrics are off: set WEBHOOKS_METRICS_TOKEN on the server.")
    if refused:
        return refused
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)


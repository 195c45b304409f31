"""Benchmark the fair claim with a huge backlog on one webhook against a claim with none.

    .venv/bin/python bench/claim.py [--backlog 100000] [--rounds 200] [--sqlite-only]

Stores 100,000 due deliveries for one webhook and 1 for another, then times `claims.claim_due`
(a batch of 64, as a worker takes it) and checks that the other webhook's delivery is in every
batch. The baseline, in the same run, is the same claim with 1 due delivery per webhook.
PostgreSQL (a database made for the run, dropped afterwards) and SQLite (a temporary file).
Prints figures and each query plan's index use; asserts nothing.
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import postgres_database, sqlalchemy_url  # noqa: E402


def make_app(url):
    from webhooks import create_app
    from webhooks.extensions import db

    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        db.create_all()
    return app


def fill(backlog):
    """Store the two webhooks and their due deliveries; return (busy webhook id, quiet id)."""
    from webhooks.extensions import db
    from webhooks.ids import new_id
    from webhooks.models import Delivery, Event, Organization, Webhook, utcnow

    orgs = [Organization(slug=slug, name=slug) for slug in ("busy", "quiet")]
    db.session.add_all(orgs)
    db.session.commit()
    hooks = [Webhook(organization_id=org.id, name=org.slug, url="https://example.com/hook",
                     event_types=["job.created"], is_active=True) for org in orgs]
    db.session.add_all(hooks)
    db.session.commit()
    now = utcnow()
    for hook, count in ((hooks[0], backlog), (hooks[1], 1)):
        for start in range(0, count, 5000):
            size = min(5000, count - start)
            events = db.session.execute(
                db.insert(Event).returning(Event.id, sort_by_parameter_order=True),
                [{"public_id": new_id("evt"), "organization_id": hook.organization_id,
                  "type": "job.created", "payload": "{}", "created_at": now}
                 for _ in range(size)]).scalars().all()
            db.session.execute(db.insert(Delivery), [
                {"public_id": new_id("msg"), "event_id": event_id, "webhook_id": hook.id,
                 "organization_id": hook.organization_id, "event_type": "job.created",
                 "state": Delivery.PENDING, "attempt_count": 0,
                 "next_attempt_at": now - timedelta(seconds=count - start - n),
                 "created_at": now, "updated_at": now}
                for n, event_id in enumerate(events)])
            db.session.commit()
    return hooks[0].id, hooks[1].id


def time_claims(rounds, quiet_id):
    """Return (claim times in ms, batches that missed the quiet webhook's delivery)."""
    from webhooks import claims
    from webhooks.extensions import db
    from webhooks.models import Delivery

    times, missed = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        claimed = claims.claim_due(limit=64)
        times.append((time.perf_counter() - started) * 1000)
        missed += quiet_id not in {claim.webhook_id for claim in claimed}
        db.session.execute(db.update(Delivery).where(Delivery.lease_until.is_not(None))
                           .values(lease_until=None))
        db.session.commit()
    return times, missed


def plan():
    """Return the plan lines of the claim's look-up of waiting webhooks that name an index."""
    from webhooks import fairness
    from webhooks.extensions import db
    from webhooks.models import utcnow

    query = fairness.waiting_webhooks_query().params(now=utcnow(), owner="")
    sql = str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    rows = db.session.execute(db.text(prefix + sql)).all()
    db.session.rollback()
    lines = [str(row[-1]).strip() for row in rows]
    return [line for line in lines if "Index" in line or "INDEX" in line or "Seq Scan" in line
            or line.startswith("SCAN")]


def measure(name, url, backlog, rounds):
    from webhooks.extensions import db

    results = {}
    for label, size in (("baseline: 1 due + 1 due", 1), (f"{backlog:,} due + 1 due", backlog)):
        app = make_app(url)
        with app.app_context():
            db.drop_all()
            db.create_all()
            busy_id, quiet_id = fill(size)
            db.session.execute(db.text("ANALYZE")) if db.engine.dialect.name == "postgresql" else None
            db.session.commit()
            time_claims(10, quiet_id)  # warm up
            times, missed = time_claims(rounds, quiet_id)
            results[label] = statistics.median(times)
            print(f"{name:10} {label:26} claim of 64: median {statistics.median(times):6.2f} ms, "
                  f"p95 {sorted(times)[int(0.95 * (len(times) - 1))]:6.2f} ms; "
                  f"batches without the quiet webhook: {missed} of {rounds}")
            if size > 1:
                for line in plan():
                    print(f"{'':10}   plan: {line}")
            db.session.remove()
            db.engine.dispose()
    baseline, loaded = results.values()
    print(f"{name:10} ratio {loaded / baseline:.2f} (goal: the backlog barely matters)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/claim.sqlite3", args.backlog, args.rounds)
    if args.sqlite_only:
        return
    with postgres_database("webhooks_claim") as dsn:
        measure("PostgreSQL", sqlalchemy_url(dsn), args.backlog, args.rounds)


if __name__ == "__main__":
    main()

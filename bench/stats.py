"""Benchmark the Health tab's statistics at 1,000,000 attempts against 1,000.

    .venv/bin/python bench/stats.py [--attempts 1000000] [--rounds 50] [--sqlite-only | --postgres-only]

Stores a webhook's history: deliveries with their attempts (about 3 attempts per failed
delivery, 1 per succeeded one) spread over the last 30 days, and the hourly rollups recording
keeps for them (computed with the same `stats.add` recording calls, one upsert per batch of
attempts). Then times the Health tab's fragment (`GET …/health` as htmx asks for it, through
the test client: permission check, statistics, charts data, template) and prints the median
and p95 of each size and their ratio. The baseline is the same fragment with 1,000 attempts,
in the same run. PostgreSQL (a database made for the run, dropped afterwards) and SQLite (a
temporary file). Asserts nothing.
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import postgres_database, sqlalchemy_url  # noqa: E402

PASSWORD = "bench password 1"
CHUNK = 5000


def make_app(url):
    from webhooks import create_app
    from webhooks.extensions import db

    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "WEBHOOKS_QUEUE": "inline"})
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def fill(attempts):
    """Store an organization, its owner, a webhook and its history of attempts; return the
    webhook's id."""
    from webhooks.extensions import db
    from webhooks.models import (WEBHOOKS_PERMISSION, Membership, Organization, User, Webhook,
                                 utcnow)

    org = Organization(slug="acme", name="Acme")
    user = User(email="owner@example.com")
    user.set_password(PASSWORD)
    db.session.add_all([org, user])
    db.session.flush()
    db.session.add(Membership(user_id=user.id, organization_id=org.id,
                              permissions=[WEBHOOKS_PERMISSION]))
    webhook = Webhook(organization_id=org.id, name="CRM", url="https://example.com/hook",
                      event_types=["job.created"], is_active=True)
    db.session.add(webhook)
    db.session.commit()
    history(webhook, attempts, utcnow())
    return webhook.id


def history(webhook, attempts, now):
    """Insert deliveries and attempts (raw rows, fast) and their rollups (through stats.add)."""
    from webhooks import stats
    from webhooks.claims import Claim, Result
    from webhooks.sender import Outcome
    from webhooks.extensions import db
    from webhooks.ids import new_id
    from webhooks.models import Attempt, Delivery, Event

    rng = random.Random(7)
    made = 0
    while made < attempts:
        size = min(CHUNK, attempts - made)
        plan = []  # per delivery: [(started_at, status, duration)]
        while sum(len(p) for p in plan) < size:
            start = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            tries = 1 if rng.random() < 0.9 else min(3, size - sum(len(p) for p in plan))
            plan.append([(start + timedelta(minutes=5 * n), 200 if n == tries - 1 and tries == 1
                          else 500, rng.randint(20, 2000)) for n in range(tries)])
        event_ids = db.session.execute(
            db.insert(Event).returning(Event.id, sort_by_parameter_order=True),
            [{"public_id": new_id("evt"), "organization_id": webhook.organization_id,
              "type": "job.created", "payload": "{}", "created_at": p[0][0]} for p in plan]
        ).scalars().all()
        delivery_ids = db.session.execute(
            db.insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [{"public_id": new_id("msg"), "event_id": event_id, "webhook_id": webhook.id,
              "organization_id": webhook.organization_id, "event_type": "job.created",
              "state": "succeeded" if p[-1][1] == 200 else "failed", "attempt_count": len(p),
              "created_at": p[0][0], "updated_at": p[-1][0]}
             for event_id, p in zip(event_ids, plan)]).scalars().all()
        rows, recorded = [], []
        for delivery_id, p in zip(delivery_ids, plan):
            for number, (started, status, duration) in enumerate(p, start=1):
                rows.append({"delivery_id": delivery_id, "number": number,
                             "trigger": "automatic", "succeeded": status == 200,
                             "started_at": started, "finished_at": started,
                             "duration_ms": duration, "url": webhook.url,
                             "request_headers": [], "response_status": status,
                             "category": "success" if status == 200 else "http_5xx"})
                final = number == len(p)
                recorded.append((
                    Claim(delivery_id, started, False, "", webhook.id, "job.created", "pending",
                          number - 1, None),
                    Outcome(started_at=started, finished_at=started, duration_ms=duration,
                            status=status, category="success" if status == 200 else "http_5xx"),
                    Result(delivery_id, sent=True, state=("succeeded" if status == 200
                                                          else "failed") if final else "pending")))
        db.session.execute(db.insert(Attempt), rows)
        stats.add(db.session.connection(), recorded)
        db.session.commit()
        made += len(rows)


def time_fragment(client, path, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers={"HX-Request": "true"})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def measure(name, url, attempts, rounds):
    from webhooks.extensions import db
    from webhooks.models import Attempt, HourlyStats

    results = {}
    for size in (1000, attempts):
        app = make_app(url)
        with app.app_context():
            started = time.perf_counter()
            webhook_id = fill(size)
            db.session.commit()
            if db.engine.dialect.name == "postgresql":
                # Vacuum now, or autovacuum does it during the timing, on the same two cores.
                with db.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(db.text("VACUUM ANALYZE"))
            stored = db.session.scalar(db.select(db.func.count()).select_from(Attempt))
            hours = db.session.scalar(db.select(db.func.count()).select_from(HourlyStats))
            print(f"{name:10} stored {stored:,} attempts ({hours} hourly rows) in "
                  f"{time.perf_counter() - started:.0f} s")
            client = app.test_client()
            client.post("/login", data={"email": "owner@example.com", "password": PASSWORD})
            for period in ("24h", "7d"):
                path = f"/orgs/acme/webhooks/{webhook_id}/health?period={period}"
                time_fragment(client, path, 5)  # warm up
                times = sorted(time_fragment(client, path, rounds))
                results[(size, period)] = statistics.median(times)
                print(f"{name:10} {size:>9,} attempts, {period:>3} charts: median "
                      f"{statistics.median(times):6.2f} ms, p95 "
                      f"{times[int(0.95 * (len(times) - 1))]:6.2f} ms")
            db.session.remove()
            db.engine.dispose()
    for period in ("24h", "7d"):
        ratio = results[(attempts, period)] / results[(1000, period)]
        print(f"{name:10} {period:>3}: {attempts:,} attempts against 1,000: ratio {ratio:.2f} "
              f"(goal: at most 1.5)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as tmp:
            measure("SQLite", f"sqlite:///{tmp}/stats.sqlite3", args.attempts, args.rounds)
    if args.sqlite_only:
        return
    with postgres_database("webhooks_stats") as dsn:
        measure("PostgreSQL", sqlalchemy_url(dsn), args.attempts, args.rounds)


if __name__ == "__main__":
    main()

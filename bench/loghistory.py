"""Benchmark: Log History page cost with 1,000 and with 1,000,000 attempts in the database.

Fills a throwaway PostgreSQL database (created and dropped here) with webhooks, events,
deliveries and attempts by COPY, runs VACUUM ANALYZE, then times the server work of three
Log History requests for one webhook through the Flask test client, signed in:
the first page, a middle page and a filtered page (outcome=failed, type=job.created); and
the same three through the management API (/api/v1/…/deliveries, 100 a page, the middle one
reached by its cursor), with an API key.
Prints the median (and p95) in milliseconds for each size, and the ratio large/small.

    .venv/bin/python bench/loghistory.py [--reps 300]

PostgreSQL: WEBHOOKS_BENCH_PG_ADMIN (default postgresql://postgres@127.0.0.1:5432/test), a
database the script can connect to in order to CREATE and DROP its own.
"""
import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import postgres_database, sqlalchemy_url  # noqa: E402
from webhooks import apikeys, create_app  # noqa: E402
from webhooks.api import cursors  # noqa: E402
from webhooks.extensions import db  # noqa: E402
from webhooks.models import (WEBHOOKS_PERMISSION, ApiKey, Membership, Organization,  # noqa: E402
                             User, Webhook)

PASSWORD = "bench password 123"
TYPES = ["job.created", "job.updated", "job.status_changed", "estimate.created", "webhook.ping"]
# (webhooks, deliveries per webhook, attempts per delivery)
SIZES = {"small": (3, 111, 3), "large": (1000, 300, 3)}
# Beyond the ratio: one more webhook with a long log of its own, to show what grows with it.
HEAVY = {"small": 0, "large": 33_334}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

REQUEST_HEADERS = json.dumps([
    ["Content-Type", "application/json"], ["User-Agent", "Webhooks/0.1.0"],
    ["webhook-id", "msg_x"], ["webhook-timestamp", "1767225600"],
    ["webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="]])
RESPONSE_HEADERS = json.dumps([["Content-Type", "application/json"], ["Server", "bench"]])


def payload(event_public_id, event_type, created):
    return json.dumps({"id": event_public_id, "type": event_type, "created_at": created.isoformat(),
                       "organization_id": "bench",
                       "data": {"job": {"id": f"job_{event_public_id[-6:]}", "number": "J-1042",
                                        "name": "Roof replacement", "status": "new",
                                        "customer": {"name": "Jordan Lee",
                                                     "email": "jordan.lee@example.com"}}}},
                      separators=(",", ":"))


def owners(shape, heavy):
    """Return the webhook id of each delivery, in id order: interleaved, as over time."""
    webhooks, per_webhook, _ = shape
    ids = [(i % webhooks) + 1 for i in range(webhooks * per_webhook)]
    return ids + [webhooks + 1] * heavy


def fill(conn, org_id, secret_encrypted, shape, heavy=0):
    """Insert webhooks, events, deliveries and attempts with COPY; return the attempt count."""
    webhooks, per_webhook, per_delivery = shape
    owner = owners(shape, heavy)
    deliveries = len(owner)
    rng = random.Random(deliveries)  # outcome and type independent of the owner
    types = [rng.choice(TYPES) for _ in range(deliveries)]
    failed = [rng.random() < 0.2 for _ in range(deliveries)]
    with conn.cursor() as cur:
        with cur.copy("COPY webhooks (id, organization_id, name, url, auth_type, event_types, "
                      "is_active, secret_encrypted, created_at, updated_at) FROM STDIN") as copy:
            for w in range(1, webhooks + 1 + (1 if heavy else 0)):
                copy.write_row((w, org_id, f"Hook {w}", f"https://hooks{w}.example.com/in", "none",
                                json.dumps(TYPES), True, secret_encrypted, T0, T0))
        # Deliveries interleave across webhooks, as they would over time.
        with cur.copy("COPY events (id, public_id, organization_id, type, payload, created_at) "
                      "FROM STDIN") as copy:
            for i in range(1, deliveries + 1):
                created = T0 + timedelta(seconds=i)
                event_type = types[i - 1]
                public_id = f"evt_{i:026d}"
                copy.write_row((i, public_id, org_id, event_type,
                                payload(public_id, event_type, created), created))
        with cur.copy("COPY deliveries (id, public_id, event_id, webhook_id, organization_id, "
                      "event_type, state, attempt_count, next_attempt_at, last_status_code, "
                      "last_error, last_attempt_at, created_at, updated_at) FROM STDIN") as copy:
            for i in range(1, deliveries + 1):
                created = T0 + timedelta(seconds=i)
                copy.write_row((i, f"msg_{i:026d}", i, owner[i - 1], org_id,
                                types[i - 1], "failed" if failed[i - 1] else "succeeded",
                                per_delivery, None, 500 if failed[i - 1] else 200, None,
                                created + timedelta(minutes=15), created, created))
        with cur.copy("COPY attempts (id, delivery_id, number, trigger, succeeded, started_at, "
                      "finished_at, duration_ms, url, request_headers, response_status, "
                      "response_headers, response_body, response_body_size, response_truncated, "
                      "error) FROM STDIN") as copy:
            attempt_id = 0
            for i in range(1, deliveries + 1):
                created = T0 + timedelta(seconds=i)
                url = f"https://hooks{owner[i - 1]}.example.com/in"
                for n in range(1, per_delivery + 1):
                    attempt_id += 1
                    ok = n == per_delivery and not failed[i - 1]
                    started = created + timedelta(minutes=5 * (n - 1))
                    copy.write_row((attempt_id, i, n, "automatic", ok, started,
                                    started + timedelta(milliseconds=120), 120, url,
                                    REQUEST_HEADERS, 200 if ok else 500, RESPONSE_HEADERS,
                                    '{"ok":true}' if ok else '{"error":"down"}', 16, False, None))
        for table in ("webhooks", "events", "deliveries", "attempts"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))")
    conn.commit()
    return attempt_id


def reset(conn):
    conn.execute("TRUNCATE attempts, deliveries, events, webhooks RESTART IDENTITY CASCADE")
    conn.commit()


def timed(client, url, reps, headers):
    """Return (median, p95) in ms of GET url with headers, after a warm-up."""
    for _ in range(10):
        assert client.get(url, headers=headers).status_code == 200
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def plan(conn, webhook_id, offset):
    """Return the scans of the page query's plan (shows which index is walked)."""
    rows = conn.execute(
        "EXPLAIN SELECT * FROM deliveries JOIN events ON events.id = deliveries.event_id "
        "WHERE deliveries.id IN (SELECT id FROM deliveries WHERE webhook_id = %s "
        "ORDER BY id DESC LIMIT 25 OFFSET %s) ORDER BY deliveries.id DESC",
        (webhook_id, offset)).fetchall()
    return " / ".join(r[0].split("  (cost")[0].strip(" ->") for r in rows
                      if "Scan" in r[0] or "Sort" in r[0])


def middle_cursor(conn, webhook_id, deliveries):
    """Return the API cursor of the page halfway through the webhook's deliveries."""
    (position,) = conn.execute(
        "SELECT id FROM deliveries WHERE webhook_id = %s ORDER BY id DESC OFFSET %s LIMIT 1",
        (webhook_id, deliveries // 2)).fetchone()
    return cursors.encode(position)


def measure(app, client, conn, webhook_id, deliveries, reps, api_key):
    """Time the first, a middle and a filtered page of one webhook's log, in the tab and through
    the API; return the medians."""
    pages = -(-deliveries // 25)
    middle = (pages + 1) // 2
    base = f"/orgs/bench/webhooks/{webhook_id}/log"
    api = f"/api/v1/webhooks/{webhook_id}/deliveries?limit=100"
    urls = {"first page": base, "middle page": f"{base}?page={middle}",
            "filtered page": f"{base}?outcome=failed&type=job.created",
            "API first": api,
            "API middle": f"{api}&cursor={middle_cursor(conn, webhook_id, deliveries)}",
            "API filtered": f"{api}&outcome=failed&type=job.created"}
    print(f"  webhook {webhook_id}: {deliveries:,} deliveries, {pages:,} pages, middle = page {middle}")
    print(f"  plan of the middle page: {plan(conn, webhook_id, (middle - 1) * 25)}")
    medians = {}
    with app.app_context():
        for label, url in urls.items():
            headers = ({"Authorization": f"Bearer {api_key}"} if url.startswith("/api/")
                       else {"HX-Request": "true"})
            median, p95 = timed(client, url, reps, headers)
            medians[label] = median
            print(f"  {label:<14} median {median:6.2f} ms   p95 {p95:6.2f} ms   {url}")
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    args = parser.parse_args()

    with postgres_database("webhooks_bench") as dsn:
        run(dsn, args.reps)


def run(dsn, reps):
    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench-secret-key", "WTF_CSRF_ENABLED": False,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(dsn),
        "WEBHOOKS_QUEUE": "inline", "WEBHOOKS_API_RATE_LIMIT": "1000000 per minute",
    })
    with app.app_context():
        db.create_all()
        org = Organization(slug="bench", name="Bench")
        user = User(email="bench@example.com")
        user.set_password(PASSWORD)
        db.session.add_all([org, user])
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organization_id=org.id,
                                  permissions=[WEBHOOKS_PERMISSION]))
        org_id = org.id
        # One encrypted secret serves every generated webhook (only the log is measured).
        secret_encrypted = Webhook(organization_id=org_id, name="x", url="https://x").secret_encrypted
        db.session.commit()
        _, api_key = apikeys.create(org, "Bench", ApiKey.READ)
        db.session.remove()

    client = app.test_client()
    assert client.post("/login", data={"email": "bench@example.com",
                                       "password": PASSWORD}).status_code == 302

    results = {}
    with psycopg.connect(dsn) as conn:
        for size, shape in SIZES.items():
            reset(conn)
            started = time.perf_counter()
            attempts = fill(conn, org_id, secret_encrypted, shape, HEAVY[size])
            filled = time.perf_counter() - started
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            conn.autocommit = False
            webhooks, per_webhook, _ = shape
            print(f"\n{size}: {attempts:,} attempts in the database, {webhooks:,} webhooks of "
                  f"{per_webhook} deliveries{f' + one of {HEAVY[size]:,}' if HEAVY[size] else ''} "
                  f"(filled in {filled:.1f} s)")
            results[size] = measure(app, client, conn, 1, per_webhook, reps, api_key)
            if HEAVY[size]:
                print("  not in the ratio: the webhook with the long log of its own")
                measure(app, client, conn, webhooks + 1, HEAVY[size], reps, api_key)
            conn.rollback()

    print("\nratio large/small (median; goal <= 1.5):")
    for label in results["small"]:
        ratio = results["large"][label] / results["small"][label]
        print(f"  {label:<14} {ratio:.2f}")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()

"""Benchmark: the retention purge of 1,000,000 attempts while ingest is under load.

Fills a throwaway PostgreSQL database (COPY) with 1,000,000 old attempts of one webhook: half
of them on events past the log retention (90 days: deleted with their deliveries and events),
half on events past the payload retention only (30 to 90 days: payloads, request headers and
response bodies removed). It serves the app with the Procfile's `web` command (gunicorn, RQ
queue, no worker) and sends ingest requests at a steady rate (an open loop: the schedule does
not wait for slow answers, so latency is not hidden), first with nothing else running, then
while `flask --app app purge` runs as its own process, then quiet again. Prints the purge's
rate (attempts/s) and the ingest p50/p99 during the purge against the quiet figure.

    .venv/bin/python bench/purge.py   (about 3 minutes; prints figures, asserts nothing)

Knobs (environment): BENCH_ATTEMPTS (1000000), BENCH_RATE (ingest requests/s, 100),
BENCH_QUIET_SECONDS (10 before and 10 after), WEBHOOKS_BENCH_PG_ADMIN, WEBHOOKS_BENCH_REDIS.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import postgres_database, sqlalchemy_url  # noqa: E402
from bench.ingest import REDIS_URL, TOKEN, free_port, web_command, wait_until_up  # noqa: E402

ATTEMPTS = int(os.environ.get("BENCH_ATTEMPTS", "1000000"))
RATE = float(os.environ.get("BENCH_RATE", "100"))
QUIET_SECONDS = float(os.environ.get("BENCH_QUIET_SECONDS", "10"))
PER_DELIVERY = 3
REQUEST_HEADERS = json.dumps([["Content-Type", "application/json"],
                              ["webhook-id", "msg_x"], ["webhook-timestamp", "1767225600"],
                              ["webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="]])
RESPONSE_HEADERS = json.dumps([["Content-Type", "application/json"], ["Server", "bench"]])


def seed(env):
    """Create the schema, an organization with one webhook; return (org id, webhook id)."""
    os.environ.update(env)
    from webhooks import create_app
    from webhooks.extensions import db
    from webhooks.models import Organization, Webhook

    app = create_app()
    with app.app_context():
        db.create_all()
        org = Organization(slug="bench1", name="bench1")
        db.session.add(org)
        db.session.flush()
        webhook = Webhook(organization_id=org.id, name="Hook", is_active=True,
                          url="https://hooks.example.com/bench1", event_types=["job.created"])
        db.session.add(webhook)
        db.session.commit()
        ids = org.id, webhook.id
        db.engine.dispose()
    return ids


def fill(dsn, org_id, webhook_id):
    """COPY the old history in; return (events, attempts) written."""
    from webhooks.models import utcnow

    deliveries = ATTEMPTS // PER_DELIVERY
    now = utcnow()
    body = json.dumps({"job": {"id": "J-1", "customer": {"name": "Jordan Lee",
                                                         "email": "jordan.lee@example.com"}}})
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        offset = 1_000_000  # ids far above what ingest will use during the run
        with cur.copy("COPY events (id, public_id, organization_id, type, payload, created_at) "
                      "FROM STDIN") as copy:
            for i in range(deliveries):
                copy.write_row((offset + i, f"evt_old_{i:020d}", org_id, "job.created", body,
                                _created(now, i, deliveries)))
        with cur.copy("COPY deliveries (id, public_id, event_id, webhook_id, organization_id, "
                      "event_type, state, attempt_count, last_status_code, created_at, updated_at) "
                      "FROM STDIN") as copy:
            for i in range(deliveries):
                created = _created(now, i, deliveries)
                copy.write_row((offset + i, f"msg_old_{i:020d}", offset + i, webhook_id, org_id,
                                "job.created", "succeeded", PER_DELIVERY, 200, created, created))
        with cur.copy("COPY attempts (id, delivery_id, number, trigger, succeeded, started_at, "
                      "finished_at, duration_ms, url, request_headers, response_status, "
                      "response_headers, response_body, response_body_size, response_truncated, "
                      "category) FROM STDIN") as copy:
            for i in range(deliveries):
                created = _created(now, i, deliveries)
                for n in range(1, PER_DELIVERY + 1):
                    ok = n == PER_DELIVERY
                    copy.write_row((offset * PER_DELIVERY + i * PER_DELIVERY + n, offset + i, n,
                                    "automatic", ok, created, created, 120,
                                    "https://hooks.example.com/bench1", REQUEST_HEADERS,
                                    200 if ok else 500, RESPONSE_HEADERS,
                                    '{"ok":true}' if ok else '{"error":"down"}', 16, False,
                                    "success" if ok else "http_5xx"))
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return deliveries, deliveries * PER_DELIVERY


def _created(now, i, deliveries):
    """The first half 91 to 120 days old (past log retention), the rest 31 to 89 days old."""
    half = deliveries // 2
    if i < half:
        return now - timedelta(days=120) + timedelta(days=29) * (i / half)
    return now - timedelta(days=89) + timedelta(days=58) * ((i - half) / (deliveries - half))


def paced_load(post, seconds, stop=None):
    """Send RATE requests/s on a fixed schedule for seconds (or until stop is set); return the
    latencies (s) of the accepted ones and the count of the others."""
    interval, latencies, failures, lock = 1 / RATE, [], [0], threading.Lock()
    local = threading.local()

    def one(due):
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            ok = post(session).status_code == 202
        except requests.RequestException:
            ok = False
        elapsed = time.perf_counter() - max(started, due)  # from when it was due: open loop
        with lock:
            (latencies.append(elapsed) if ok else failures.__setitem__(0, failures[0] + 1))

    began = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        n = 0
        while True:
            due = began + n * interval
            if (stop is None and due - began >= seconds) or (stop is not None and stop.is_set()):
                break
            while due - time.perf_counter() > 0.05:
                time.sleep(0.02)
            pool.submit(one, due)
            n += 1
    return sorted(latencies), failures[0]


def figures(latencies):
    if not latencies:
        return float("nan"), float("nan")
    return (statistics.median(latencies) * 1000,
            latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000)


def main():
    from webhooks import catalog

    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    with postgres_database("webhooks_bench_purge") as dsn:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": sqlalchemy_url(dsn), "SECRET_KEY": "bench-secret-key",
               "WEBHOOKS_INTERNAL_TOKEN": TOKEN, "WEBHOOKS_QUEUE": "rq", "REDIS_URL": REDIS_URL,
               "PORT": str(port), "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
        org_id, webhook_id = seed(env)
        started = time.perf_counter()
        events, attempts = fill(dsn, org_id, webhook_id)
        print(f"filled {attempts:,} attempts of {events:,} old deliveries in "
              f"{time.perf_counter() - started:.0f} s (half past log retention, half past "
              f"payload retention only)")
        argv, command = web_command(port)
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/healthz")
            data = catalog.BY_TYPE["job.created"].example
            headers = {"Authorization": f"Bearer {TOKEN}"}

            def post(session):
                body = {"id": uuid.uuid4().hex, "organization_id": "bench1",
                        "type": "job.created", "data": data}
                return session.post(base + "/internal/events", json=body, headers=headers,
                                    timeout=30)

            print(f"server: {command}; ingest at {RATE:g} requests/s (fan-out 1, open loop); "
                  f"{os.cpu_count()} CPUs shared by client, server, purge and PostgreSQL")
            paced_load(post, 2)  # warm-up
            quiet_before, failed_before = paced_load(post, QUIET_SECONDS)

            purge_started = time.perf_counter()
            purge = subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app",
                                      "purge"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
            done = threading.Event()
            waiter = threading.Thread(target=lambda: (purge.wait(), done.set()), daemon=True)
            waiter.start()
            during, failed_during = paced_load(post, None, stop=done)
            purge_seconds = time.perf_counter() - purge_started
            output = purge.stdout.read()
            quiet_after, failed_after = paced_load(post, QUIET_SECONDS)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(15)

        with psycopg.connect(dsn) as conn:
            left = conn.execute("SELECT count(*) FROM attempts WHERE id >= %s",
                                (1_000_000 * PER_DELIVERY,)).fetchone()[0]
            stripped = conn.execute("SELECT count(*) FROM attempts WHERE id >= %s AND "
                                    "response_body IS NULL", (1_000_000 * PER_DELIVERY,)).fetchone()[0]
    queue.flushdb()
    queue.close()

    print("purge output:\n  " + "\n  ".join(output.strip().splitlines()))
    deleted = attempts - left
    print(f"purge: {purge_seconds:.1f} s for {attempts:,} attempts "
          f"({deleted:,} deleted, {stripped:,} stripped of headers and bodies): "
          f"{attempts / purge_seconds:,.0f} attempts/s")
    quiet = sorted(quiet_before + quiet_after)
    quiet_p50, quiet_p99 = figures(quiet)
    during_p50, during_p99 = figures(during)
    print(f"ingest quiet:        p50 {quiet_p50:6.1f} ms  p99 {quiet_p99:6.1f} ms  "
          f"({len(quiet)} ok, {failed_before + failed_after} not)")
    print(f"ingest during purge: p50 {during_p50:6.1f} ms  p99 {during_p99:6.1f} ms  "
          f"({len(during)} ok, {failed_during} not)")
    print(f"ratio p99 during purge / quiet: {during_p99 / quiet_p99:.2f}   (goal <= 1.5)")


if __name__ == "__main__":
    main()

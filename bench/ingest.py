"""Benchmark ingest: accepted events/s for fan-out 1 and 10 against a trivial endpoint, same server.

Run: .venv/bin/python bench/ingest.py   (about a minute; prints figures, asserts nothing)

It serves the app with the Procfile's `web` command (gunicorn) on a free port, against a
throwaway PostgreSQL database (SQLite if PostgreSQL is unreachable) and the RQ queue on a
scratch Redis database with no worker running: enqueueing is measured, sending is not.
Knobs (environment): BENCH_SECONDS (4 per run), BENCH_ROUNDS (3), BENCH_CONCURRENCY (8 client
threads), WEB_CONCURRENCY (gunicorn workers, 2 as in the Procfile), WEBHOOKS_BENCH_PG_ADMIN,
WEBHOOKS_BENCH_REDIS (redis://127.0.0.1:6379/10, flushed before and after).
"""
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = os.environ.get("WEBHOOKS_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WEBHOOKS_BENCH_REDIS", "redis://127.0.0.1:6379/10")
TOKEN = "bench-token"
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))  # = 2 workers x 4 threads
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # interleaved, so drift hits every scenario alike
WARMUP = 0.5


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_database():
    """Return (SQLAlchemy URL, drop function) of a fresh database."""
    name = f"webhooks_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        print(f"PostgreSQL unreachable ({error}); falling back to SQLite.")
        path = Path(tempfile.mkdtemp()) / "bench.sqlite3"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)

    def drop():
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}", drop


def seed(env):
    """Create the schema and two organizations: one webhook on bench1, ten on bench10."""
    os.environ.update(env)
    from webhooks import create_app
    from webhooks.extensions import db
    from webhooks.models import Organization, Webhook

    app = create_app()
    with app.app_context():
        db.create_all()
        for slug, count in (("bench1", 1), ("bench10", 10)):
            org = Organization(slug=slug, name=slug)
            db.session.add(org)
            db.session.flush()
            for n in range(count):
                db.session.add(Webhook(organization_id=org.id, name=f"Hook {n}", is_active=True,
                                       url=f"https://hooks.example.com/{slug}/{n}",
                                       event_types=["job.created", "job.updated"]))
        db.session.commit()
        db.engine.dispose()


def web_command(port):
    """Return the Procfile's web command as argv, with PORT expanded."""
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("web:"))
    command = line.split(":", 1)[1].strip()
    command = re.sub(r"\$\{PORT:-\d+\}", str(port), command)
    command = re.sub(r"\$\{WEB_CONCURRENCY:-(\d+)\}", lambda m: os.environ.get("WEB_CONCURRENCY", m.group(1)),
                     command)
    argv = shlex.split(command)
    argv[0] = str(ROOT / ".venv" / "bin" / argv[0]) if (ROOT / ".venv" / "bin" / argv[0]).exists() else argv[0]
    return argv, command


def wait_until_up(url, deadline=30):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def load(make_request, ok_statuses):
    """Hammer for SECONDS after a warm-up with CONCURRENCY keep-alive sessions; return figures."""
    stop = threading.Event()
    counting = threading.Event()
    results = []  # (ok, seconds) per counted request
    lock = threading.Lock()

    def client():
        session = requests.Session()
        local = []
        while not stop.is_set():
            started = time.perf_counter()
            try:
                ok = make_request(session).status_code in ok_statuses
            except requests.RequestException:
                ok = False
            elapsed = time.perf_counter() - started
            if counting.is_set():
                local.append((ok, elapsed))
        session.close()
        with lock:
            results.extend(local)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(client) for _ in range(CONCURRENCY)]
        time.sleep(WARMUP)
        counting.set()
        began = time.perf_counter()
        time.sleep(SECONDS)
        stop.set()
        duration = time.perf_counter() - began
        for future in futures:
            future.result()
    latencies = sorted(seconds for ok, seconds in results if ok)
    accepted = len(latencies)
    return {
        "rate": accepted / duration,
        "accepted": accepted,
        "errors": len(results) - accepted,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
    }


def main():
    from webhooks import catalog

    database_url, drop_database = throwaway_database()
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "WEBHOOKS_INTERNAL_TOKEN": TOKEN,
        "WEBHOOKS_QUEUE": "rq",
        "REDIS_URL": REDIS_URL,
        "PORT": str(port),
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    }
    server = None
    try:
        seed(env)
        argv, command = web_command(port)
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz")

        data = catalog.BY_TYPE["job.created"].example
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def ingest(slug):
            def post(session):
                body = {"id": uuid.uuid4().hex, "organization_id": slug, "type": "job.created", "data": data}
                return session.post(base + "/internal/events", json=body, headers=headers, timeout=30)
            return post

        def healthz(session):
            return session.get(base + "/healthz", timeout=30)

        print(f"server: {command}  (port {port})")
        print(f"database: {database_url.split('://')[0]}, queue: rq on {REDIS_URL} (no worker), "
              f"clients: {CONCURRENCY} keep-alive requests.Session threads, {ROUNDS} interleaved rounds "
              f"of {SECONDS:g} s per scenario, {os.cpu_count()} CPUs shared by client, server and database")
        scenarios = (("healthz (trivial)", healthz, {200}), ("ingest fan-out 1", ingest("bench1"), {202}),
                     ("ingest fan-out 10", ingest("bench10"), {202}))
        runs = {name: [] for name, _, _ in scenarios}
        cpu_before = time.process_time()
        for round_number in range(1, ROUNDS + 1):
            for name, request, ok in scenarios:
                runs[name].append(result := load(request, ok))
                print(f"  round {round_number}  {name:<18} {result['rate']:8.1f} req/s  "
                      f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                      f"({result['accepted']} ok, {result['errors']} not)")
        client_cpu = time.process_time() - cpu_before

        median = {name: statistics.median(r["rate"] for r in results) for name, results in runs.items()}
        print("median of rounds:")
        for name, rate in median.items():
            print(f"  {name:<18} {rate:8.1f} req/s")
        trivial = median["healthz (trivial)"]
        for fan_out in (1, 10):
            rate = median[f"ingest fan-out {fan_out}"]
            print(f"ratio ingest fan-out {fan_out} / trivial endpoint: {rate / trivial:.2f}"
                  + ("   (goal >= 0.5)" if fan_out == 1 else ""))
        wakeups = queue.llen("rq:queue:deliveries")
        expected = (sum(r["accepted"] for r in runs["ingest fan-out 1"])
                    + 10 * sum(r["accepted"] for r in runs["ingest fan-out 10"]))
        with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            stored = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
        print(f"check: {stored} pending deliveries stored (at least {expected} from the counted "
              f"requests, plus warm-up), {wakeups} wake-up jobs waiting in Redis (one at a "
              f"time; with no worker to take it, a new one every 5 s); benchmark client used {client_cpu:.1f} s of CPU")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        queue.flushdb()
        queue.close()
        drop_database()


if __name__ == "__main__":
    main()

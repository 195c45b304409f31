"""Benchmark delivery through the rq backend against a bare requests.Session loop.

    .venv/bin/python bench/delivery.py [--n 2000] [--fork-n 300] [--rate 50] [--seconds 20]
                                       [--throughput-only | --scaling-only] [--scale-n 2000]
                                       [--scale-endpoints 64] [--py-spy PATH]

The worker's sending slots come from WEBHOOKS_WORKER_THREADS in the environment (default 256), and
at most WEBHOOKS_ENDPOINT_CONCURRENCY (default 4) of them go to the one endpoint measured here.
The scaling run compares two worker processes with one (32 slots each) on endpoints that answer
after 0.25 s.

Everything is real: a PostgreSQL database made for the run (dropped afterwards), Redis
database 11, the Procfile's worker command (`python -m jobs.worker`) as a subprocess, and a
local HTTPS receiver (trustme CA) in a separate process. Prints figures; asserts nothing.
"""
import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from redis import Redis  # noqa: E402

PG_ADMIN = os.environ.get("WEBHOOKS_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WEBHOOKS_BENCH_REDIS", "redis://127.0.0.1:6379/11")
SECRET_KEY = "bench-secret-key"
TOKEN = "bench-token"


# --- The receiver, in its own process ------------------------------------------------------------

def receiver_main(ca_path, conn):
    """Serve HTTPS 200s; answer 'dump' with [(event id, receipt time)] and stop on 'stop'."""
    from tests.support.receiver import Receiver, make_ca

    ca = make_ca()
    ca.cert_pem.write_to_path(ca_path)
    server = Receiver(ca).start()
    conn.send(server.url)
    while True:
        command = conn.recv()
        if command == "stop":
            server.stop()
            return
        with server._lock:
            received = list(server.requests)
        if command == "count":
            conn.send(len(received))
        elif command == "dump":
            conn.send([(json.loads(r.body)["id"], r.at) for r in received])
        elif isinstance(command, tuple) and command[0] == "delay":  # answer after this many seconds
            from tests.support.receiver import Reply

            server.always(Reply(delay=command[1]))
            conn.send(True)
        elif command == "clear":
            with server._lock:
                server.requests.clear()
            conn.send(True)


class ReceiverProcess:
    def __init__(self, directory):
        self.ca_path = str(Path(directory) / "ca.pem")
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=receiver_main, args=(self.ca_path, child), daemon=True)
        self.process.start()
        self.url = self.conn.recv()

    def ask(self, command):
        self.conn.send(command)
        return self.conn.recv()

    def wait_for(self, count, timeout=300):
        deadline = time.monotonic() + timeout
        while self.ask("count") < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"receiver got {self.ask('count')} of {count} requests")
            time.sleep(0.02)

    def stop(self):
        self.conn.send("stop")
        self.process.join(5)


# --- Helpers -----------------------------------------------------------------------------------------

def make_database():
    name = f"webhooks_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def drop_database(name):
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PROFILE = []  # ["py-spy", "record", ...] to run the throughput worker under a sampling profiler


def start_worker(env, log_dir, *args, profile=False):
    log = open(Path(log_dir) / f"worker{'-'.join(args)}.log", "wb")
    command = [sys.executable, "-m", "jobs.worker", *args]
    process = subprocess.Popen([*PROFILE, *command] if profile else command, cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def wait_for_workers(redis, count, timeout=30):
    from rq import Worker

    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=redis)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not start")
        time.sleep(0.1)


def stop(process):
    process.send_signal(signal.SIGINT if PROFILE else signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def process_cpu(pid):
    """Return the user + system CPU seconds a process (Linux) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_idle():
    """Return (idle, total) jiffies of all CPUs so far (Linux /proc/stat)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- The measurements ----------------------------------------------------------------------------------

def create_deliveries(app, org_id, webhook_id, count, data):
    """Store count events with one pending delivery each (what ingest would have committed)."""
    from webhooks import events
    from webhooks.extensions import db
    from webhooks.models import Delivery, Event, Organization

    with app.app_context():
        org = db.session.get(Organization, org_id)
        ids = []
        for start in range(0, count, 500):
            for _ in range(min(500, count - start)):
                stored = events.store(db.session.connection(), org, "job.created", data, [webhook_id])
                ids.extend(stored.delivery_ids)
            db.session.commit()
        payloads = [event.payload.encode() for event in db.session.scalars(
            db.select(Event).join(Delivery).where(Delivery.id.in_(ids[:50])))]
        return ids, payloads


def succeeded_count(app, ids):
    from webhooks.extensions import db
    from webhooks.models import Delivery

    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(Delivery).where(
            Delivery.id.between(min(ids), max(ids)), Delivery.state == Delivery.SUCCEEDED))
        db.session.remove()
        return count


def set_due(app, ids, when):
    """Make the deliveries due at when (None: now)."""
    from datetime import datetime, timezone

    from webhooks.extensions import db
    from webhooks.models import Delivery

    with app.app_context():
        db.session.execute(db.update(Delivery).where(Delivery.id.between(min(ids), max(ids)))
                           .values(next_attempt_at=when or datetime.now(timezone.utc)))
        db.session.commit()
        db.session.remove()


def through_workers(app, org_id, webhook_id, data, count, receiver, env, log_dir, redis, *worker_args,
                    processes=1):
    """Return deliveries/s of worker processes, from enqueue to the last recorded success.

    webhook_id may be a list: the deliveries are then dealt round-robin over those webhooks. They
    are stored before the workers start and held back (due in 2100) until the clock starts: a
    worker polling meanwhile would otherwise send some of them before it."""
    from datetime import datetime, timezone

    from webhooks.queue import RQQueue

    redis.flushdb()
    webhook_ids = webhook_id if isinstance(webhook_id, list) else [webhook_id]
    ids = []
    for n, hook in enumerate(webhook_ids):
        share = count // len(webhook_ids) + (n < count % len(webhook_ids))
        ids.extend(create_deliveries(app, org_id, hook, share, data)[0])
    set_due(app, ids, datetime(2100, 1, 1, tzinfo=timezone.utc))
    workers = [start_worker(env, log_dir, *worker_args, f"--name=bench-{n}-{uuid.uuid4().hex[:6]}",
                            profile=not worker_args and processes == 1) for n in range(processes)]
    try:
        wait_for_workers(redis, processes)
        receiver.ask("clear")
        queue = RQQueue(REDIS_URL)
        cpu_before, idle_before = sum(process_cpu(w.pid) for w in workers), machine_idle()
        started = time.perf_counter()
        set_due(app, ids, None)
        for start in range(0, len(ids), 500):
            queue.submit(ids[start:start + 500])
        deadline = time.monotonic() + 300
        while succeeded_count(app, ids) < count:
            if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                raise RuntimeError(f"the worker stopped or stalled; see {log_dir}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = sum(process_cpu(w.pid) for w in workers) - cpu_before
        idle = [after - before for after, before in zip(machine_idle(), idle_before)]
        queue.shutdown()
        if not worker_args and not PROFILE:
            print(f"  {processes} worker process{'es' if processes > 1 else ''}: CPU "
                  f"{cpu / count * 1000:.2f} ms per delivery ({cpu / elapsed:.0%} of one core); "
                  f"the machine's {os.cpu_count()} CPUs {idle[0] / max(1, idle[1]):.0%} idle")
        return count / elapsed
    finally:
        for w in workers:
            stop(w)


def bare_session(url, ca_path, payloads, count):
    """Return requests/s of a bare requests.Session posting the same bodies to the same receiver."""
    session = requests.Session()
    session.trust_env = False
    headers = {"Content-Type": "application/json", "User-Agent": "bench"}
    started = time.perf_counter()
    for i in range(count):
        response = session.post(url, data=payloads[i % len(payloads)], headers=headers, verify=ca_path,
                                timeout=(5, 15))
        response.content
    elapsed = time.perf_counter() - started
    session.close()
    return count / elapsed


def latency(app, org_slug, data, rate, seconds, receiver, env, log_dir, redis):
    """Post events to POST /internal/events at a steady rate; return ingest→receipt latencies (s)."""
    redis.flushdb()
    worker = start_worker(env, log_dir)
    try:
        wait_for_workers(redis, 1)
        receiver.ask("clear")
        client = app.test_client()
        sent = {}
        total = int(rate * seconds)
        start = time.time()
        for i in range(total):
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            at = time.time()
            response = client.post("/internal/events", json={
                "organization_id": org_slug, "type": "job.created", "data": data},
                headers={"Authorization": f"Bearer {TOKEN}"})
            if response.status_code != 202:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.get_data(True)}")
            sent[response.get_json()["event_id"]] = at
        receiver.wait_for(total, timeout=120)
        received = dict(receiver.ask("dump"))
        return [received[event_id] - at for event_id, at in sent.items()], time.time() - start
    finally:
        stop(worker)


def scaling(app, org_id, receiver, data, count, env, log_dir, redis, endpoints=64, rounds=3,
            delay=0.25, threads=32):
    """Print deliveries/s of one and of two worker processes (alternately) and their ratio.

    Endpoints that take delay seconds to answer, as real ones do, spread over enough webhooks that
    their caps are not the limit: a worker is then bounded by its sending slots (threads each),
    which a second process adds to. (With instant answers on this 2-core machine the limit is the
    CPU that client, receiver and database share, and the receiver's one process.)"""
    from webhooks.extensions import db
    from webhooks.models import Webhook

    with app.app_context():
        hooks = [Webhook(organization_id=org_id, name=f"Scale {n}", url=f"{receiver.url}/{n}",
                         event_types=["job.created"], is_active=True) for n in range(endpoints)]
        db.session.add_all(hooks)
        db.session.commit()
        webhook_ids = [hook.id for hook in hooks]
    receiver.ask(("delay", delay))
    env = {**env, "WEBHOOKS_WORKER_THREADS": str(threads)}
    rates = {1: [], 2: []}
    try:
        for _ in range(rounds):
            for processes in (1, 2):
                rates[processes].append(through_workers(app, org_id, webhook_ids, data, count, receiver,
                                                        env, log_dir, redis, processes=processes))
    finally:
        receiver.ask(("delay", 0))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"scaling: {endpoints} endpoints answering after {delay:g} s, {threads} sending threads per "
          f"worker, n={count}, {rounds} alternating rounds: "
          f"1 worker {one:.1f}/s ({', '.join(f'{r:.0f}' for r in rates[1])}), "
          f"2 workers {two:.1f}/s ({', '.join(f'{r:.0f}' for r in rates[2])}); ratio {two / one:.2f} "
          f"(bound by slots: {threads / delay:.0f}/s per worker)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="deliveries for the throughput runs")
    parser.add_argument("--fork-n", type=int, default=300, help="deliveries for the fork-per-job run")
    parser.add_argument("--rate", type=float, default=50.0, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument("--throughput-only", action="store_true",
                        help="skip the fork-per-job, latency and scaling runs")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only compare two worker processes with one")
    parser.add_argument("--scale-n", type=int, default=2000, help="deliveries per scaling run")
    parser.add_argument("--scale-endpoints", type=int, default=64,
                        help="webhooks the scaling runs deal their deliveries over")
    parser.add_argument("--py-spy", metavar="PATH",
                        help="profile the SimpleWorker throughput run with py-spy (all threads) into PATH")
    args = parser.parse_args()
    if args.py_spy:
        PROFILE.extend([str(Path(sys.executable).with_name("py-spy")), "record", "--threads", "--gil",
                        "--format", "raw", "-o", args.py_spy, "--"])

    from webhooks import create_app
    from webhooks.extensions import db
    from webhooks.models import Organization, Webhook

    tmp = tempfile.mkdtemp(prefix="webhooks-bench-")
    receiver = ReceiverProcess(tmp)
    db_name, db_url = make_database()
    redis = Redis.from_url(REDIS_URL)
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
           "WEBHOOKS_QUEUE": "rq", "WEBHOOKS_CA_BUNDLE": receiver.ca_path,
           "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOKS_LOG_LEVEL": "WARNING"}
    app = create_app({"SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": db_url,
                      "WEBHOOKS_QUEUE": "rq", "REDIS_URL": REDIS_URL, "WEBHOOKS_INTERNAL_TOKEN": TOKEN,
                      "WEBHOOKS_CA_BUNDLE": receiver.ca_path, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": True})
    try:
        with app.app_context():
            db.create_all()
            org = Organization(slug="bench", name="Bench")
            db.session.add(org)
            db.session.commit()
            webhook = Webhook(organization_id=org.id, name="Bench", url=receiver.url,
                              event_types=["job.created"], is_active=True)
            db.session.add(webhook)
            db.session.commit()
            example = app.test_client().get("/internal/event-types",
                                            headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
            types = example if isinstance(example, list) else example.get("event_types", example.get("types"))
            data = next(t["example"] for t in types if t["type"] == "job.created")
            org_id, webhook_id = org.id, webhook.id
        print(f"receiver {receiver.url} (separate process); PostgreSQL {db_name}; Redis {REDIS_URL}")
        if args.scaling_only:
            scaling(app, org_id, receiver, data, args.scale_n, env, tmp, redis, args.scale_endpoints)
            return
        if True:
            simple = through_workers(app, org_id, webhook_id, data, args.n, receiver, env, tmp, redis)
            _, payloads = create_deliveries(app, org_id, webhook_id, 1, data)
            bare = bare_session(receiver.url, receiver.ca_path, payloads, args.n)
            if args.throughput_only:
                print(f"bare requests.Session loop     : {bare:8.1f} requests/s")
                print(f"1 worker, SimpleWorker (default): {simple:8.1f} deliveries/s  ratio "
                      f"{simple / bare:.2f} (goal >= 0.6; n={args.n})")
                return
            forked = through_workers(app, org_id, webhook_id, data, args.fork_n, receiver, env, tmp, redis, "--fork")
        print(f"bare requests.Session loop     : {bare:8.1f} requests/s")
        print(f"1 worker, SimpleWorker (default): {simple:8.1f} deliveries/s  ratio {simple / bare:.2f} "
              f"(goal >= 0.6; n={args.n})")
        print(f"1 worker, fork per job (--fork) : {forked:8.1f} deliveries/s  ratio {forked / bare:.2f} "
              f"(n={args.fork_n})")
        latencies, took = latency(app, "bench", data, args.rate, args.seconds, receiver, env, tmp, redis)
        print(f"ingest -> receipt at {args.rate:g} events/s for {took:.0f} s ({len(latencies)} events, "
              f"POST /internal/events, 1 worker): p50 {percentile(latencies, .5) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, .99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms, "
              f"mean {statistics.mean(latencies) * 1000:.1f} ms")
        scaling(app, org_id, receiver, data, args.scale_n, env, tmp, redis, args.scale_endpoints)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        receiver.stop()
        redis.flushdb()
        redis.close()
        drop_database(db_name)


if __name__ == "__main__":
    main()

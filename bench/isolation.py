"""Benchmark isolation: a neighbour's dead or slow endpoint must not delay another organization.

    .venv/bin/python bench/isolation.py [--events 20] [--rate 2] [--scenarios hang1,hang3,slow,allslots]
                                        [--timeout 15] [--threads N] [--burst 120]
                                        [--slow-burst 1000] [--slow-delay 0.3]

Organization B has one healthy HTTPS endpoint. Each neighbour organization (A, or A1..A3) has
its own active webhook, subscribed to the same event type, to an endpoint of its own that either
hangs (accepts TCP and TLS, reads the request, never answers) or answers 200 after --slow-delay
seconds. A scenario posts the neighbours' burst first, then B's --events at --rate per second,
and measures B's ingest -> receipt latency; the control (always run first) is B alone. For the
hanging endpoints it also counts the requests they saw and how many they held open at once, and
samples the worker's VmRSS and thread count; "all slots waiting" gives as many neighbours hanging
endpoints as it takes for their first attempts to fill every sending slot of the worker, to
measure its memory with all slots waiting.

Everything is real: a PostgreSQL database made for the run (dropped afterwards), Redis database
12 (flushed before, between scenarios and after), the Procfile's worker (`python -m jobs.worker`,
one process, its default sending threads unless --threads) and the scheduler (`python -m jobs.scheduler`) as
subprocesses, restarted for every scenario on emptied tables and a flushed Redis; events go in
through POST /internal/events (the app's test client, in this process); the HTTPS receivers
(one local trustme CA) run in separate processes: B's in one, the neighbours' in another. Only
loopback addresses are used. Worker and scheduler logs (WEBHOOKS_LOG_LEVEL, INFO unless set)
are kept in the printed directory.
Prints figures; asserts nothing.
"""
import argparse
import json
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trustme  # noqa: E402
from redis import Redis  # noqa: E402
from rq.registry import FailedJobRegistry  # noqa: E402

from bench.delivery import drop_database, make_database, percentile, wait_for_workers  # noqa: E402
from tests.support.receiver import Received, Receiver  # noqa: E402
from tests.support.workers import Processes  # noqa: E402

REDIS_URL = os.environ.get("WEBHOOKS_BENCH_REDIS", "redis://127.0.0.1:6379/12")
SECRET_KEY = "bench-secret-key"
TOKEN = "bench-token"
EVENT_TYPE = "job.created"
WITHIN = 90.0  # seconds: B's events count as received when they arrive within this
GOAL = 1.0  # seconds: B's p95 may exceed the control's by at most this
SCENARIOS = ("hang1", "hang3", "slow", "allslots")
SEEN, OPEN, PEAK = range(3)  # the fields of an endpoint's shared stats


# --- The receivers, in their own processes ---------------------------------------------------------

class Endpoint(Receiver):
    """A Receiver that answers at once ("ok"), after a delay ("slow") or never ("hang").

    It counts the requests it saw, those it holds open right now and the most it held at once,
    in a shared array the benchmark process reads without asking."""

    def __init__(self, ca, behaviour, delay, stats, release):
        self.behaviour, self.delay, self.stats, self.release = behaviour, delay, stats, release
        super().__init__(ca)

    def _opened(self):
        with self.stats.get_lock():
            self.stats[SEEN] += 1
            self.stats[OPEN] += 1
            self.stats[PEAK] = max(self.stats[PEAK], self.stats[OPEN])

    def _closed(self):
        with self.stats.get_lock():
            self.stats[OPEN] -= 1

    def _hold(self, sock):
        """Wait until the client gives up (EOF or error on the socket) or we are released."""
        while not self.release.is_set():
            if not sock.pending():
                readable, _, _ = select.select([sock], [], [], 0.25)
                if not readable:
                    continue
            try:
                if not sock.recv(4096):
                    return
            except OSError:  # ssl.SSLError included: the client shut the socket
                return

    def _handler_class(self):
        endpoint = self
        base = super()._handler_class()

        class Handler(base):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint._record(Received("POST", self.path, headers, body, time.time()))
                endpoint._opened()
                try:
                    if endpoint.behaviour == "hang":
                        endpoint._hold(self.connection)
                        self.close_connection = True
                        return
                    if endpoint.behaviour == "slow":
                        time.sleep(endpoint.delay)
                    reply = b'{"ok":true}'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                finally:
                    endpoint._closed()

        return Handler


def endpoints_main(cert_pem, key_pem, specs, stats, conn):
    """Serve one HTTPS endpoint per (behaviour, delay) spec; answer commands from the pipe."""
    ca = trustme.CA.from_pem(cert_pem, key_pem)
    release = threading.Event()
    servers = [Endpoint(ca, behaviour, delay, stat, release).start()
               for (behaviour, delay), stat in zip(specs, stats)]
    conn.send([server.url for server in servers])
    while True:
        command, index = conn.recv()
        if command == "stop":
            release.set()
            for server in servers:
                server.stop()
            conn.send(True)
            return
        server = servers[index]
        with server._lock:
            received = list(server.requests)
            if command == "clear":
                server.requests.clear()
        if command == "count":
            conn.send(len(received))
        elif command == "dump":
            conn.send([(json.loads(r.body)["id"], r.at) for r in received])
        elif command == "clear":
            conn.send(True)


class Endpoints:
    """A process serving endpoints of the given behaviours, with the run's CA."""

    def __init__(self, ca, specs):
        context = multiprocessing.get_context("spawn")
        self.stats = [context.Array("i", 3) for _ in specs]
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=endpoints_main, daemon=True,
            args=(ca.cert_pem.bytes(), ca.private_key_pem.bytes(), specs, self.stats, child))
        self.process.start()
        self.urls = self.conn.recv()

    def ask(self, command, index=0):
        self.conn.send((command, index))
        return self.conn.recv()

    def seen(self, index):
        return self.stats[index][SEEN]

    def open(self, index):
        return self.stats[index][OPEN]

    def peak(self, index):
        return self.stats[index][PEAK]

    def stop(self):
        """Release held requests (closing them unanswered), stop the servers and the process."""
        if self.process.is_alive():
            try:
                self.conn.send(("stop", 0))
                self.conn.poll(5) and self.conn.recv()
            except (OSError, EOFError):
                pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --- Watching the worker --------------------------------------------------------------------------

def proc_status(pid):
    """Return (VmRSS in MiB, thread count) of a process, or (0, 0) when it is gone."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])
    except (OSError, KeyError, ValueError):
        return 0.0, 0


class Sampler(threading.Thread):
    """Every 50 ms: the neighbours' open requests and the worker's VmRSS and threads."""

    def __init__(self, pid, neighbours, count, started):
        super().__init__(daemon=True, name="sampler")
        self.pid, self.neighbours, self.count, self.started = pid, neighbours, count, started
        self.timeline = []  # (seconds since started, [open per neighbour])
        self.at_most_open = (0, 0.0, 0, 0.0)  # (open in all, VmRSS MiB, threads, at)
        self.peak_rss, self.peak_threads = 0.0, 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.wait(0.05):
            opened = [self.neighbours.open(i) for i in range(self.count)] if self.neighbours else []
            rss, threads = proc_status(self.pid)
            at = time.time() - self.started
            self.timeline.append((at, opened))
            self.peak_rss, self.peak_threads = max(self.peak_rss, rss), max(self.peak_threads, threads)
            if sum(opened) >= self.at_most_open[0] and rss:
                self.at_most_open = (sum(opened), rss, threads, at)

    def stop(self):
        self._halt.set()
        self.join(2)

    def most_open_after(self, seconds, index):
        return max((opened[index] for at, opened in self.timeline if at >= seconds), default=0)


# --- Helpers -----------------------------------------------------------------------------------------

def stop_process(process, grace=3.0):
    """SIGTERM, then SIGKILL after grace seconds (a worker waits on hanging attempts otherwise)."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def refuse_other_consumers(redis):
    """Fail when some other process is blocked reading a queue in our Redis database (a stray
    worker would take every other job and skew every figure)."""
    db_number = redis.connection_pool.connection_kwargs.get("db", 0)
    blocked = [client for client in redis.client_list()
               if str(client.get("db")) == str(db_number)
               and client.get("cmd", "").lower() in {"blmove", "blpop", "brpop", "brpoplpush"}]
    if blocked:
        raise RuntimeError(f"{len(blocked)} other client(s) wait on a queue in Redis db {db_number} "
                           f"({', '.join(c['addr'] for c in blocked)}): stop them first")


def reset_database(app):
    """Empty every table (and restart the ids), so no scenario inherits another's rows."""
    from webhooks.extensions import db

    with app.app_context():
        names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
        db.session.execute(db.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()


def add_webhook(app, slug, url):
    """An organization with one active webhook subscribed to EVENT_TYPE."""
    from webhooks.extensions import db
    from webhooks.models import Organization, Webhook

    with app.app_context():
        org = Organization(slug=slug, name=slug.upper())
        db.session.add(org)
        db.session.flush()
        db.session.add(Webhook(organization_id=org.id, name=f"{slug} endpoint", url=url,
                               event_types=[EVENT_TYPE], is_active=True))
        db.session.commit()
        db.session.remove()


def post_event(client, slug, data):
    """POST one event to the real ingest endpoint; return its public id."""
    response = client.post("/internal/events", json={
        "organization_id": slug, "type": EVENT_TYPE, "data": data},
        headers={"Authorization": f"Bearer {TOKEN}"})
    body = response.get_json(silent=True) or {}
    if response.status_code != 202 or body.get("deliveries") != 1:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.get_data(True)}")
    return body["event_id"]


def b_timings(app, event_ids):
    """Return [(seconds from ingest to the attempt's start, attempt duration)] of B's first attempts."""
    from webhooks.extensions import db
    from webhooks.models import Attempt, Delivery, Event

    with app.app_context():
        rows = db.session.execute(
            db.select(Delivery.created_at, Attempt.started_at, Attempt.duration_ms)
            .join(Event, Event.id == Delivery.event_id)
            .join(Attempt, Attempt.delivery_id == Delivery.id)
            .where(Event.public_id.in_(event_ids), Attempt.number == 1)).all()
        db.session.remove()
    return [((started - created).total_seconds(), duration / 1000) for created, started, duration in rows]


def example_data(app):
    """The catalog's example `data` for EVENT_TYPE (what bench/delivery.py sends)."""
    listing = app.test_client().get("/internal/event-types",
                                    headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    types = listing if isinstance(listing, list) else listing.get("event_types", listing.get("types"))
    return next(t["example"] for t in types if t["type"] == EVENT_TYPE)


def ms(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if abs(seconds) < 10 else f"{seconds:.1f} s"


def worker_log_problems(log_dir):
    """Return the log lines of the worker and scheduler that report an error."""
    lines = []
    for path in sorted(Path(log_dir).glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if any(word in line for word in ("Traceback", "ERROR", "Error:", "WARNING", "Exception")):
                lines.append(f"{path.name}: {line.strip()}")
    return lines


# --- A scenario ----------------------------------------------------------------------------------------

def describe(name, args):
    """Return [(org slug, behaviour, delay, burst)] of a scenario's neighbours."""
    return {
        "control": [],
        "hang1": [("org-a", "hang", 0.0, args.burst)],
        "hang3": [(f"org-a{i}", "hang", 0.0, args.burst) for i in (1, 2, 3)],
        "slow": [("org-a", "slow", args.slow_delay, args.slow_burst)],
        # Enough hanging endpoints that their first waves fill every sending slot of the worker.
        "allslots": [(f"org-h{i}", "hang", 0.0, 8) for i in range(args.slots_needed)],
    }[name]


TITLES = {"control": "control: B alone", "hang1": "1 hanging neighbour",
          "hang3": "3 hanging neighbours", "slow": "slow neighbour",
          "allslots": "all slots waiting"}


def run_scenario(name, args, app, data, ca, b, base_env, redis, tmp):
    neighbours_spec = describe(name, args)
    log_dir = Path(tmp) / name
    log_dir.mkdir()
    reset_database(app)
    redis.flushdb()
    b.ask("clear")
    neighbours = Endpoints(ca, [(kind, delay) for _, kind, delay, _ in neighbours_spec]) \
        if neighbours_spec else None
    processes = Processes(base_env, log_dir)
    sampler = None
    try:
        add_webhook(app, "org-b", b.urls[0])
        for (slug, *_), url in zip(neighbours_spec, neighbours.urls if neighbours else []):
            add_webhook(app, slug, url)
        refuse_other_consumers(redis)
        processes.start_scheduler(1)
        worker = processes.start_worker()
        wait_for_workers(redis, 1)
        time.sleep(0.5)  # let the pump start and the reconciler register
        idle_rss, idle_threads = proc_status(worker.pid)
        client = app.test_client()

        started = time.time()
        sampler = Sampler(worker.pid, neighbours, len(neighbours_spec), started)
        sampler.start()
        for slug, _, _, burst in neighbours_spec:
            for _ in range(burst):
                post_event(client, slug, data)
        burst_took = time.time() - started

        sent = {}
        b_started = time.time()
        for i in range(args.events):
            delay = b_started + i / args.rate - time.time()
            if delay > 0:
                time.sleep(delay)
            at = time.time()
            sent[post_event(client, "org-b", data)] = at
        last_post = time.time()
        while b.ask("count") < args.events and time.time() < last_post + WITHIN:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {log_dir}")
            time.sleep(0.05)
        b_done = time.time()
        hanging = [i for i, spec in enumerate(neighbours_spec) if spec[1] == "hang"]
        # Long enough to see each hanging endpoint's cap drop to 1 (after its first wave).
        observe_until = started + burst_took + 2 * args.timeout + 3 if hanging else b_done
        while time.time() < observe_until:
            time.sleep(0.1)
        sampler.stop()

        received = dict(b.ask("dump"))
        latencies = [received[event_id] - at for event_id, at in sent.items() if event_id in received]
        within = [value for value in latencies if value <= WITHIN]
        timings = b_timings(app, list(sent))
        result = {
            "name": name, "received": len(within), "events": args.events, "latencies": latencies,
            "p50": percentile(latencies, .5) if latencies else None,
            "p95": percentile(latencies, .95) if latencies else None,
            "max": max(latencies) if latencies else None,
            "burst_took": burst_took, "idle": (idle_rss, idle_threads),
            "waits": [wait for wait, _ in timings], "durations": [duration for _, duration in timings],
            "neighbours": [], "sampler": sampler, "log_dir": log_dir,
            "observed": observe_until - started,
        }
        for i, (slug, kind, delay, burst) in enumerate(neighbours_spec):
            arrivals = sorted(at - started for _, at in neighbours.ask("dump", i))
            late = (arrivals[0] if arrivals else 0) + args.timeout + 2
            result["neighbours"].append({
                "slug": slug, "kind": kind, "burst": burst, "seen": neighbours.seen(i),
                "peak": neighbours.peak(i), "arrivals": arrivals,
                "late_peak": sampler.most_open_after(late, i) if late < result["observed"] else None,
            })
        from webhooks.queue import QUEUE_NAME

        result["rq_failed"] = FailedJobRegistry(QUEUE_NAME, connection=redis).count
        return result
    finally:
        # Every step on its own, so a failure in one never leaves a worker or receiver behind.
        for step in [*(lambda p=p: stop_process(p) for p in processes.workers),
                     lambda: stop_process(processes.scheduler),
                     lambda: neighbours is not None and neighbours.stop(),
                     lambda: sampler is not None and sampler.stop()]:
            try:
                step()
            except Exception as error:  # report, and go on cleaning up
                print(f"   cleanup step failed: {error!r}", file=sys.stderr)


def report(result, control, args):
    print(f"\n== {TITLES[result['name']]}")
    for n in result["neighbours"]:
        what = "hangs" if n["kind"] == "hang" else f"answers 200 after {args.slow_delay:g} s"
        print(f"   {n['slug']}: {n['burst']} events, endpoint {what}")
    if result["neighbours"]:
        print(f"   neighbours' burst posted in {result['burst_took']:.1f} s; then B's "
              f"{args.events} events at {args.rate:g}/s")
    lat = result["latencies"]
    line = (f"   B: {result['received']}/{result['events']} received within {WITHIN:g} s; "
            f"ingest -> receipt p50 {ms(result['p50'])}, p95 {ms(result['p95'])}, max {ms(result['max'])}")
    if control is not None and result is not control and lat and control["p95"] is not None:
        line += f"; p95 - control p95 = {(result['p95'] - control['p95']) * 1000:+.0f} ms"
    print(line)
    if result["waits"]:
        print(f"   B's first attempts: ingest -> attempt start p50 {ms(percentile(result['waits'], .5))}, "
              f"max {ms(max(result['waits']))}; request duration p50 "
              f"{ms(percentile(result['durations'], .5))}, max {ms(max(result['durations']))}")
    sampler = result["sampler"]
    idle_rss, idle_threads = result["idle"]
    for n in result["neighbours"]:
        if n["kind"] == "hang":
            shown = ", ".join(f"{at:.1f}" for at in n["arrivals"][:16])
            more = ", …" if len(n["arrivals"]) > 16 else ""
            late = "-" if n["late_peak"] is None else n["late_peak"]
            print(f"   {n['slug']}'s hanging endpoint: {n['seen']} requests in {result['observed']:.0f} s, "
                  f"at most {n['peak']} open at once ({late} from {args.timeout + 2:g} s after its "
                  f"first request on); arrivals (s): {shown}{more}")
        else:
            print(f"   {n['slug']}'s slow endpoint: {n['seen']} requests by the end of B's run "
                  f"({n['seen'] / max(result['observed'], 1e-9):.1f}/s), at most {n['peak']} open at once")
    if any(n["kind"] == "hang" for n in result["neighbours"]):
        most, rss, threads, at = sampler.at_most_open
        print(f"   worker: {idle_rss:.1f} MiB and {idle_threads} threads idle; {rss:.1f} MiB and {threads} "
              f"threads with {most} requests waiting (t={at:.1f} s); peaks {sampler.peak_rss:.1f} MiB, "
              f"{sampler.peak_threads} threads")
    else:
        print(f"   worker: {idle_rss:.1f} MiB and {idle_threads} threads idle; peaks "
              f"{sampler.peak_rss:.1f} MiB, {sampler.peak_threads} threads")
    if result["rq_failed"]:
        print(f"   RQ's failed-job registry holds {result['rq_failed']} job(s) at the end")
    problems = worker_log_problems(result["log_dir"])
    if problems:
        print(f"   worker/scheduler log lines reporting problems ({len(problems)}), first ones:")
        for line in problems[:8]:
            print(f"     {line[:200]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20, help="B's events per scenario")
    parser.add_argument("--rate", type=float, default=2.0, help="B's events per second")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (the control always runs)")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="WEBHOOKS_TIMEOUT_SECONDS for the worker")
    parser.add_argument("--threads", type=int, help="WEBHOOKS_WORKER_THREADS (default: the worker's)")
    parser.add_argument("--burst", type=int, default=120, help="events for each hanging neighbour")
    parser.add_argument("--slow-burst", type=int, default=1000, help="events for the slow neighbour")
    parser.add_argument("--slow-delay", type=float, default=0.3, help="the slow endpoint's answer time (s)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")

    from webhooks import create_app
    from webhooks.extensions import db

    tmp = tempfile.mkdtemp(prefix="webhooks-isolation-")
    ca = trustme.CA()
    ca_path = str(Path(tmp) / "ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    b = Endpoints(ca, [("ok", 0.0)])
    db_name, db_url = make_database()
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    env = {"DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
           "WEBHOOKS_QUEUE": "rq", "WEBHOOKS_CA_BUNDLE": ca_path, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
           "WEBHOOKS_TIMEOUT_SECONDS": f"{args.timeout:g}",
           "WEBHOOKS_LOG_LEVEL": os.environ.get("WEBHOOKS_LOG_LEVEL", "INFO")}
    if args.threads:
        env["WEBHOOKS_WORKER_THREADS"] = str(args.threads)
    app = create_app({"SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": db_url,
                      "WEBHOOKS_QUEUE": "rq", "REDIS_URL": REDIS_URL, "WEBHOOKS_INTERNAL_TOKEN": TOKEN,
                      "WEBHOOKS_CA_BUNDLE": ca_path, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": True})
    results = {}
    try:
        with app.app_context():
            db.create_all()
            data = example_data(app)
            threads = args.threads or app.config["WEBHOOKS_WORKER_THREADS"]
            concurrency = app.config["WEBHOOKS_ENDPOINT_CONCURRENCY"]
            args.slots_needed = -(-threads // concurrency)
        print(f"B's receiver {b.urls[0]} (own process); PostgreSQL {db_name}; Redis {REDIS_URL}; "
              f"logs in {tmp}")
        print(f"1 worker process, {threads} sending threads, {concurrency} attempts per endpoint at "
              f"most, timeout {args.timeout:g} s; B: {args.events} events at {args.rate:g}/s")
        for name in ["control", *chosen]:
            results[name] = run_scenario(name, args, app, data, ca, b, env, redis, tmp)
            report(results[name], results["control"], args)
    finally:
        def dispose():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

        for step in (dispose, b.stop, redis.flushdb, redis.close, lambda: drop_database(db_name)):
            try:
                step()
            except Exception as error:  # report, and go on cleaning up
                print(f"cleanup step failed: {error!r}", file=sys.stderr)

    control = results["control"]
    print(f"\n{'scenario':<22} {'B received':>10} {'p50':>9} {'p95':>9} {'max':>9} "
          f"{'p95 - control':>14}  goal (<= {GOAL:g} s)")
    for name, result in results.items():
        diff = None if result["p95"] is None or control["p95"] is None else result["p95"] - control["p95"]
        met = "-" if result is control else (
            "yes" if diff is not None and diff <= GOAL and result["received"] == result["events"] else "no")
        shown = "-" if result is control or diff is None else f"{diff * 1000:+.0f} ms"
        print(f"{TITLES[name]:<22} {result['received']:>5}/{result['events']:<4} {ms(result['p50']):>9} "
              f"{ms(result['p95']):>9} {ms(result['max']):>9} {shown:>14}  {met}")


if __name__ == "__main__":
    main()

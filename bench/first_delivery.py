"""From a fresh clone to the first successful delivery: the newcomer's two minutes, measured.

Clones this repository into a temporary folder, runs `make run` there as a new user would (no
.venv, no instance folder, none of our settings), and times the moments its output shows: the
install done (the schema upgrade starts), the local receiver's first verified delivery (the demo
webhook's ping) and, after that, `flask --app app trigger job.created`. Run it with and without
pip's cache to bracket a new machine (`--no-pip-cache`); the network is PyPI's.

    python bench/first_delivery.py [--no-pip-cache]
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = {
    "installed (schema upgrade starts)": re.compile(r"alembic\.runtime\.migration"),
    "first successful delivery (the demo ping, 200)":
        re.compile(r"→ webhook\.ping to Local receiver \(\S+\): 200 in \d+ ms"),
    "app serving": re.compile(r"Running on http://"),
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pip-cache", action="store_true", help="install as on a new machine")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webhooks-fresh-") as tmp:
        clone = Path(tmp) / "webhooks"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WEBHOOKS_", "VIRTUAL_ENV")) and k not in ("DATABASE_URL", "SECRET_KEY")}
        env["WEBHOOKS_LISTEN_PORT"] = str(free_port())
        if args.no_pip_cache:
            env["PIP_NO_CACHE_DIR"] = "1"
        port = free_port()
        log_path = Path(tmp) / "make-run.log"
        started = time.monotonic()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        seen = {}
        try:
            while len(seen) < len(MILESTONES) and time.monotonic() - started < 600:
                text = log_path.read_text(errors="replace")
                for name, pattern in MILESTONES.items():
                    if name not in seen and pattern.search(text):
                        seen[name] = time.monotonic() - started
                if process.poll() is not None:
                    raise SystemExit(f"make run ended early:\n{text[-3000:]}")
                time.sleep(0.05)
            before = time.monotonic()
            triggered = subprocess.run([str(clone / ".venv/bin/flask"), "--app", "app", "trigger",
                                        "job.created", "--org", "demo"], cwd=clone, env=env,
                                       capture_output=True, text=True, timeout=120)
            trigger_seconds = time.monotonic() - before
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
    print(f"fresh clone → make run ({'no pip cache' if args.no_pip_cache else 'pip cache warm'})")
    for name in MILESTONES:
        print(f"  {name:<48} {seen.get(name, float('nan')):6.1f} s")
    answered = re.search(r"→ job\.created to .*", triggered.stdout)
    print(f"  trigger job.created (a separate command)       {trigger_seconds:6.1f} s: "
          f"{answered.group(0) if answered else triggered.stdout.strip()[-200:]}")


if __name__ == "__main__":
    main()

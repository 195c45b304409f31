"""A newcomer's first minutes: the real `make run` on a fresh instance folder (its own SQLite
database, keys and local receiver), sign in with the login it prints, find the demo webhook's
ping answered 200 in Log History, then `flask --app app trigger job.created` adds a second
successful row."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.support.servers import free_port
from tests.support.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.https, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parents[1]
LOGIN = re.compile(r"Sign in with: (\S+) / (\S+)")
PING_ANSWERED = re.compile(r"→ webhook\.ping to Local receiver \(\S+\): 200 in \d+ ms")


def _fresh_environment(instance):
    """The environment of a new machine: none of the tests' settings, a new instance folder."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WEBHOOKS_") and k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")}
    return {**env, "WEBHOOKS_INSTANCE_PATH": str(instance), "WEBHOOKS_LISTEN_PORT": str(free_port())}


@pytest.fixture
def make_run(tmp_path):
    """Start `make run` as a newcomer would; yield (base URL, its output so far, environment)."""
    env, port = _fresh_environment(tmp_path / "instance"), free_port()
    output = tmp_path / "make-run.log"
    started = time.monotonic()
    with open(output, "wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}", "HOST=127.0.0.1", f"VENV={VENV}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        text = wait_until(lambda: _read_when(output, PING_ANSWERED), timeout=60,
                          message="make run's demo ping to the local receiver")
        print(f"\nmake run → first successful delivery: {time.monotonic() - started:.1f} s "
              "(installed already)")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(base + "/healthz"), timeout=30, message="the app serving")
        yield base, text, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _read_when(path, pattern):
    text = path.read_text(errors="replace")
    return text if pattern.search(text) else None


def _answers(url):
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def test_make_run_then_a_first_delivery_and_a_triggered_one(make_run, page):
    base, output, env = make_run
    email, password = LOGIN.search(output).groups()

    page.goto(base + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/orgs/demo/webhooks/")
    expect(page.get_by_role("switch", name="Status of Local receiver")).to_have_attribute(
        "aria-checked", "true")

    page.get_by_role("link", name="Edit Local receiver").click()
    rows = page.locator("tr.log-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Webhook Ping")
    expect(rows.first.locator("td.response")).to_have_text(re.compile(r"✓\s*200"))

    triggered = subprocess.run(
        [str(VENV / "bin" / "flask"), "--app", "app", "trigger", "job.created", "--org", "demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert triggered.returncode == 0, triggered.stderr
    assert re.search(r"→ job\.created to Local receiver \(\S+\): 200 in \d+ ms", triggered.stdout)

    expect(rows).to_have_count(2, timeout=15_000)  # appears by itself, without a reload
    created = page.locator("tr.log-row", has_text="Job Created")
    expect(created.locator("td.response")).to_have_text(re.compile(r"✓\s*200"))

"""The receiving snippets customers paste (webhooks/receiving), each run as a real server: a real
delivery reaches it through ingest, the inline queue and the development receiver relaying to it,
and its resend is answered as a duplicate; then tampered, stale, unsigned and rotation-signed
requests go to it directly. Apex and SuiteScript cannot run here and are only read."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.conftest import Factory
from tests.support.deliveries import fresh, wait_for_attempts
from tests.support.listening import listening
from tests.support.servers import free_port
from tests.support.polling import wait_until
from webhooks import catalog, lifecycle, receiving, signing
from webhooks.extensions import db
from webhooks.models import Delivery

pytestmark = [pytest.mark.https, pytest.mark.slow]

SECRET = "whsec_" + base64.b64encode(b"the receiving snippets' test key").decode()
PREVIOUS_SECRET = "whsec_" + base64.b64encode(b"a secret being rotated out of use").decode()
AUTH = {"Authorization": "Bearer test-internal-token"}
RUNNABLE = [platform.key for platform in receiving.PLATFORMS if platform.tested]
ALWAYS_RUN = {"python", "node"}  # never skipped: a missing runtime fails the suite
DEBIAN_PACKAGES = {"ruby": "ruby ruby-webrick", "php": "php-cli", "go": "golang-go",
                   "mcs": "mono-mcs mono-runtime", "mono": "mono-mcs mono-runtime",
                   "java": "default-jdk-headless", "node": "nodejs"}


def _commands(key, source, out, port):
    """Return (the commands it needs, build argv or None, run argv) of a snippet; out: a folder
    for what a build makes."""
    return {
        "python": ((), None, [sys.executable, source]),
        "node": (("node",), None, ["node", source]),
        "ruby": (("ruby",), None, ["ruby", source]),
        "php": (("php",), None, ["php", "-S", f"127.0.0.1:{port}", source]),
        "go": (("go",), ["go", "build", "-o", str(out / "receive"), source], [str(out / "receive")]),
        "csharp": (("mcs", "mono"), ["mcs", f"-out:{out / 'Receive.exe'}", source],
                   ["mono", str(out / "Receive.exe")]),
        "java": (("java",), None, ["java", source]),
    }[key]


def _runtime_or_skip(key, commands):
    for command in commands:
        if not shutil.which(command):
            why = f"{command} is not installed (Debian: apt-get install {DEBIAN_PACKAGES[command]})"
            if key in ALWAYS_RUN:
                pytest.fail(why)
            pytest.skip(why)


def _wait_for_port(process, port, log, timeout=60.0):
    def up():
        if process.poll() is not None:
            raise AssertionError(f"the snippet exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0
    wait_until(up, timeout=timeout, interval=0.1, message=f"the snippet to listen on port {port}")


@pytest.fixture(scope="module", params=RUNNABLE)
def snippet(request, tmp_path_factory):
    """Build (if need be) and start one platform's snippet with WEBHOOK_SECRET=SECRET; yield
    its URL, http://127.0.0.1:<port>/webhooks. Stopped after this module's tests of it."""
    key = request.param
    out = tmp_path_factory.mktemp(key)
    port = free_port()
    source = str(receiving.HERE / receiving.BY_KEY[key].filename)
    commands, build, run = _commands(key, source, out, port)
    _runtime_or_skip(key, commands)
    # TMPDIR: where the PHP snippet keeps the ids it processed (sys_get_temp_dir()).
    env = {**os.environ, "PORT": str(port), "WEBHOOK_SECRET": SECRET, "TMPDIR": str(out)}
    if build:
        built = subprocess.run(build, cwd=out, env=env, capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stdout + built.stderr
    log = out / "snippet.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(run, cwd=out, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(process, port, log)
        yield f"http://127.0.0.1:{port}/webhooks"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- A real delivery, relayed by the development receiver ----------------------------------------

@pytest.mark.parametrize("database", ["sqlite"])  # the snippets, not the database, are under test
def test_a_real_delivery_verifies_and_its_resend_is_a_duplicate(snippet, make_app, tmp_path):
    app = make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
    with app.app_context(), listening(app, tmp_path / "instance", forward_to=snippet) as running:
        factory = Factory()
        webhook = factory.webhook(factory.org("acme"), url=running.webhook_url, signing_secret=SECRET)
        answer = app.test_client().post("/internal/events", headers=AUTH, json={
            "organization_id": "acme", "type": "job.created",
            "data": catalog.BY_TYPE["job.created"].example})
        assert answer.status_code == 202, answer.get_json()
        delivery_id = db.session.scalar(db.select(Delivery.id).filter_by(webhook_id=webhook.id))

        [first] = wait_for_attempts(delivery_id, 1)
        assert (first.response_status, first.response_body) == (200, "ok"), \
            (first.error, first.response_body, running.lines)

        assert lifecycle.request_resend(webhook, fresh(delivery_id)) is None
        first, second = wait_for_attempts(delivery_id, 2)
        assert second.trigger == "manual"
        assert (second.response_status, second.response_body) == (200, "duplicate"), \
            (second.error, second.response_body)
        assert dict(second.request_headers)["webhook-id"] == dict(first.request_headers)["webhook-id"]


# -- Requests straight to the snippet --------------------------------------------------------------

BODY = json.dumps({**catalog.example_envelope("job.created"), "note": "Café Müller, 5 € — ✓"},
                  ensure_ascii=False).encode()  # raw UTF-8 bytes, not ASCII escapes


def _headers(body=BODY, secrets=(SECRET,), timestamp=None, msg_id=None):
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signing.sign(s, msg_id, timestamp, body) for s in secrets)}


def _post(url, headers, body=BODY):
    with requests.Session() as session:
        session.trust_env = False  # no proxy for 127.0.0.1
        return session.post(url, data=body, headers=headers, timeout=15)


def test_a_correctly_signed_request_is_accepted_once(snippet):
    headers = _headers()
    first, again = _post(snippet, headers), _post(snippet, headers)
    assert (first.status_code, first.text) == (200, "ok")
    assert (again.status_code, again.text) == (200, "duplicate")


def test_a_tampered_body_is_refused(snippet):
    answer = _post(snippet, _headers(), BODY.replace(b"job.created", b"job.deleted"))
    assert answer.status_code == 400 and answer.text.strip()


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_timestamp_more_than_five_minutes_away_is_refused(snippet, minutes):
    answer = _post(snippet, _headers(timestamp=int(time.time()) + minutes * 60))
    assert answer.status_code == 400 and "timestamp" in answer.text


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(snippet, missing):
    headers = _headers()
    del headers[missing]
    answer = _post(snippet, headers)
    assert answer.status_code == 400 and "missing" in answer.text


def test_a_signature_with_another_secret_is_refused(snippet):
    answer = _post(snippet, _headers(secrets=(PREVIOUS_SECRET,)))
    assert answer.status_code == 400 and "signature" in answer.text


def test_during_a_rotation_the_second_signature_is_enough(snippet):
    headers = _headers(secrets=(PREVIOUS_SECRET, SECRET))
    assert len(headers["webhook-signature"].split()) == 2
    answer = _post(snippet, headers)
    assert (answer.status_code, answer.text) == (200, "ok")


# -- Apex and SuiteScript: not run here, only checked for what they must call -------------------

@pytest.mark.parametrize("key, calls", [
    ("apex", ["@RestResource(urlMapping='/webhooks/*')", "@HttpPost",
              "Crypto.generateMac('hmacSHA256'", "EncodingUtil.base64Decode(",
              "removeStart('whsec_')", "RestContext.request", ".toLowerCase()",
              "response.statusCode = 400", "TOLERANCE_SECONDS = 5 * 60", "constantTimeEquals(",
              "insert new Webhook_Delivery__c"]),
    ("netsuite", ["@NApiVersion 2.1", "@NScriptType Suitelet", "crypto.createSecretKey(",
                  "encoding: encode.Encoding.BASE_64", "crypto.HashAlg.SHA256",
                  "outputEncoding: encode.Encoding.BASE_64", "headers['webhook-signature']",
                  "TOLERANCE_SECONDS = 5 * 60", "constantTimeEquals(", "processed.put("]),
])
def test_the_snippets_that_cannot_run_here_make_the_key_calls(key, calls):
    text = receiving.source(key)
    assert not receiving.BY_KEY[key].tested
    assert [call for call in calls if call not in text] == []

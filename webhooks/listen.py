"""`flask --app app listen`: an HTTPS receiver on this machine, for development.

It listens on the local receiver's address (webhooks.local_receiver) with its own certificate,
verifies each delivery's signature with the secrets of the webhooks that point at it (or the
one given), prints a line per delivery, and answers as told: a chosen status, after a chosen
delay, or with what the integrator's own server answered when it relays (--forward-to).
"""
import json
import socket
import ssl
import threading
import time
from collections import OrderedDict
from datetime import datetime

import click
import requests
from flask import current_app
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import local_receiver as receivers, secret_rotation, signing
from .extensions import db
from .models import Webhook

MAX_BODY = 1024 * 1024
REMEMBERED_IDS = 10_000
# Not relayed to the integrator's server, nor back: they describe one hop, not the message.
HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length",
               "te", "trailer", "upgrade", "proxy-connection", "content-encoding"}
ONLY_DEVELOPMENT = ("listen is a development tool: with WEBHOOKS_ENV=production the app neither "
                    "trusts its certificate authority nor sends to its loopback address.")


class Receiver:
    """The receiver's WSGI app: verify, print, answer (or relay and answer what came back)."""

    def __init__(self, app, receiver, status=200, delay=0.0, forward_to=None, show_payload=False,
                 secret=None, echo=click.echo):
        self.app, self.receiver = app, receiver
        self.status, self.delay, self.forward_to = status, delay, forward_to
        self.show_payload, self.secret, self.echo = show_payload, secret, echo
        self._seen = OrderedDict()  # webhook-id -> (attempts seen, answered 2xx before)
        self._lock = threading.Lock()
        self._relay = requests.Session()
        self._relay.trust_env = False

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.method != "POST":
            return Response(f"Webhooks local receiver: POST deliveries to {self.receiver.url}/…\n",
                            mimetype="text/plain")(environ, start_response)
        if (request.content_length or 0) > MAX_BODY:
            return Response("Body too large\n", status=413)(environ, start_response)
        body = request.get_data(cache=False)
        return self.receive(request.headers, body)(environ, start_response)

    def receive(self, headers, body):
        """Answer one delivery and print its line."""
        started = time.monotonic()
        verified, who = self._verify(headers, body)
        attempt, again = self._remember(headers.get("webhook-id"))
        if verified:
            response, note = self._answer(headers, body)
        else:
            response, note = Response(f"Signature does not verify: {who}\n", status=400,
                                      mimetype="text/plain"), None
        if self.delay:
            time.sleep(max(0.0, self.delay - (time.monotonic() - started)))
        if 200 <= response.status_code < 300:
            self._answered(headers.get("webhook-id"))
        self._print(headers, body, verified, who, response.status_code, attempt, again, note)
        return response

    # -- verifying ------------------------------------------------------------------------------

    def _verify(self, headers, body):
        """Return (True, the webhook's name) or (False, why not)."""
        candidates = [("the given secret", [self.secret])] if self.secret else self._webhooks()
        if not candidates:
            return False, f"no webhook sends to {self.receiver.url} (and no --secret given)"
        now = int(time.time())
        problem = None
        for name, secrets in candidates:
            problem = signing.verification_problem(secrets, headers, body, now)
            if problem is None:
                return True, name
        return False, problem

    def _webhooks(self):
        """Return [(name, [secret, previous secret]), …] of the webhooks sending here."""
        with self.app.app_context():
            try:
                rows = db.session.scalars(db.select(Webhook).where(
                    Webhook.deleted_at.is_(None),
                    Webhook.url.startswith(self.receiver.url, autoescape=True))).all()
                return [(f"{w.name} ({w.organization.slug})", secret_rotation.signing_secrets(w))
                        for w in rows if self.receiver.serves(w.url)]
            finally:
                db.session.remove()

    # -- answering ------------------------------------------------------------------------------

    def _answer(self, headers, body):
        """Return (the Response, a note for the line) for a verified delivery."""
        if not self.forward_to:
            return Response(f"Received (webhooks local receiver, status {self.status})\n",
                            status=self.status, mimetype="text/plain"), None
        relayed = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        try:
            answer = self._relay.post(self.forward_to, data=body, headers=relayed,
                                      timeout=(5, 60), allow_redirects=False)
        except requests.RequestException as exc:
            reason = _reason(exc)
            return Response(f"The local receiver could not reach {self.forward_to}: {reason}\n",
                            status=502, mimetype="text/plain"), f"forward failed: {reason}"
        back = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS]
        return Response(answer.content, status=answer.status_code, headers=back), \
            f"forwarded to {self.forward_to}"

    # -- remembering ids (retries, duplicates) -----------------------------------------------

    def _remember(self, msg_id):
        """Count this attempt of msg_id; return (its number, whether a 2xx was answered before)."""
        if not msg_id:
            return 1, False
        with self._lock:
            attempts, answered = self._seen.pop(msg_id, (0, False))
            self._seen[msg_id] = (attempts + 1, answered)
            while len(self._seen) > REMEMBERED_IDS:
                self._seen.popitem(last=False)
            return attempts + 1, answered

    def _answered(self, msg_id):
        if msg_id:
            with self._lock:
                attempts, _ = self._seen.get(msg_id, (1, False))
                self._seen[msg_id] = (attempts, True)

    # -- printing -----------------------------------------------------------------------------

    def _print(self, headers, body, verified, who, status, attempt, again, note):
        envelope = _json(body)
        event_type = envelope.get("type", "?") if isinstance(envelope, dict) else "?"
        event_id = envelope.get("id", "?") if isinstance(envelope, dict) else "?"
        check = f"verified ({who})" if verified else f"NOT VERIFIED: {who}"
        extras = []
        if attempt > 1:
            extras.append(f"attempt {attempt} of {headers.get('webhook-id')}")
        if again:
            extras.append("already answered 2xx before: a receiver should ignore it")
        if note:
            extras.append(note)
        line = (f"{datetime.now():%H:%M:%S}  {event_type:<26} {event_id}  {check}  → {status}"
                + "".join(f"  [{extra}]" for extra in extras))
        self.echo(line)
        if self.show_payload:
            self.echo(json.dumps(envelope, indent=2, ensure_ascii=False)
                      if envelope is not None else body.decode("utf-8", "replace"))


def _json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def _reason(exc):
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused (is your server running?)"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text[:200]


def _port_taken(port):
    """Return why the receiver's port cannot be listened on (werkzeug would exit), or None."""
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind((receivers.HOST, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


class QuietHandler(WSGIRequestHandler):
    """The receiver prints its own line per delivery; no access log besides."""

    def log_request(self, *args, **kwargs):
        pass


def serve(receiver_app, port, host=receivers.HOST):
    """Return a started-later server for receiver_app on host:port with the receiver's certificate."""
    receiver = receiver_app.receiver
    receiver.ensure_certificates()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(receiver.cert_file, receiver.key_file)
    return make_server(host, port, receiver_app, threaded=True, ssl_context=context,
                       request_handler=QuietHandler)


@click.command("listen")
@click.option("--status", type=click.IntRange(100, 599), default=200, show_default=True,
              help="Answer every verified delivery with this status (500 to try retries).")
@click.option("--delay", type=click.FloatRange(0, 600), default=0, show_default=True,
              help="Wait this many seconds before answering (20 to try a timeout).")
@click.option("--forward-to", metavar="URL",
              help="Relay each verified delivery to your own server (http://localhost:3000/hooks) "
                   "and answer with what it answers.")
@click.option("--payload", "show_payload", is_flag=True, help="Print each delivery's payload too.")
@click.option("--secret", metavar="WHSEC",
              help="Verify with this secret instead of those of the webhooks that send here.")
def listen_command(status, delay, forward_to, show_payload, secret):
    """Receive this app's deliveries at https://127.0.0.1:WEBHOOKS_LISTEN_PORT (development)."""
    app = current_app._get_current_object()
    receiver = receivers.of(app)
    if receiver is None:
        raise click.UsageError(ONLY_DEVELOPMENT)
    if forward_to and status != 200:
        raise click.UsageError("--status and --forward-to exclude each other: with --forward-to "
                               "your server's answer is the status.")
    if forward_to and not forward_to.lower().startswith(("http://", "https://")):
        raise click.UsageError("--forward-to needs an http:// or https:// URL.")
    taken = _port_taken(receiver.port)
    if taken:
        raise click.ClickException(f"Cannot listen on {receiver.url}: {taken}. Is another receiver "
                                   "running? (WEBHOOKS_LISTEN_PORT sets the port)")
    server = serve(Receiver(app, receiver, status, delay, forward_to, show_payload, secret),
                   receiver.port)
    how = f"relaying to {forward_to}" if forward_to else f"answering {status}"
    if delay:
        how += f" after {delay:g} s"
    click.echo(f"Local receiver on {receiver.url} ({how}; its CA: {receiver.ca_file}). Ctrl-C stops.",
               err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

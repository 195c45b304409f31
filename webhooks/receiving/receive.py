"""Receive our webhooks and verify them (Standard Webhooks), with Python's standard library.

Run: WEBHOOK_SECRET=whsec_... PORT=8000 python3 receive.py   (Python 3.9+)
"""
import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))
TOLERANCE_SECONDS = 5 * 60
processed = set()  # real code stores processed ids durably, e.g. in a unique column


def verification_problem(headers, body):
    """Return why the delivery is not genuine, or None when it is. body: the raw bytes."""
    msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature header"
    if not timestamp.isdecimal() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes from now"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(SECRET, signed, hashlib.sha256).digest())
    for signature in signatures.split():  # two during a secret rotation: either may match
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return None
    return "no signature matches"


def handle(event):
    print("received", event["type"], event["id"])  # your work here


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/webhooks":
            return self.answer(404, "not found")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        problem = verification_problem(self.headers, body)
        if problem:
            return self.answer(400, problem)
        msg_id = self.headers["webhook-id"]  # the same on every retry and resend
        if msg_id in processed:
            return self.answer(200, "duplicate")
        handle(json.loads(body))
        processed.add(msg_id)  # only once handled: an error above answers 500, and we retry
        self.answer(200, "ok")

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text.encode())))
        self.end_headers()
        self.wfile.write(text.encode())


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Receiver).serve_forever()

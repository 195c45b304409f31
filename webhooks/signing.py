"""Sign a payload the Standard Webhooks way and build (and mask) the headers of one attempt."""
import base64
import hashlib
import hmac

from . import __version__

USER_AGENT = f"Webhooks/{__version__} (+https://github.com/webhooks-service/webhooks)"


def sign(secret, msg_id, timestamp, body):
    """Return the Standard Webhooks signature `v1,<base64 HMAC-SHA256>` of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def request_headers(msg_id, body, secret, timestamp, basic_auth=None):
    """Return the [name, value] headers of one attempt; basic_auth is (username, password) or None."""
    headers = [
        ["Content-Type", "application/json"],
        ["User-Agent", USER_AGENT],
        ["webhook-id", msg_id],
        ["webhook-timestamp", str(timestamp)],
        ["webhook-signature", sign(secret, msg_id, timestamp, body)],
    ]
    if basic_auth:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        headers.append(["Authorization", f"Basic {token}"])
    return headers


SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie"}


def masked(headers):
    """Return [name, value] headers with credentials replaced by dots (the scheme kept): what
    is stored, and what is shown whatever form older rows were stored in."""
    shown = []
    for name, value in headers or []:
        value = str(value)
        if name.lower() in SENSITIVE_HEADERS and "•" not in value:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} ••••••".strip()
        shown.append([name, value])
    return shown

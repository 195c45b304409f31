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


TOLERANCE_SECONDS = 5 * 60


def verification_problem(secrets, headers, body, now, tolerance=TOLERANCE_SECONDS):
    """Return why a delivery does not verify with any of secrets, or None when it does: what a
    receiver checks (the webhook-* headers, the timestamp within tolerance, a matching v1
    signature, compared in constant time). headers: a case-insensitive mapping; body: bytes."""
    msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    missing = [name for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp),
                                        ("webhook-signature", signatures)) if not value]
    if missing:
        return "Missing " + ", ".join(missing) + " header" + ("s" if len(missing) > 1 else "")
    try:
        age = now - int(timestamp)
    except ValueError:
        return f"webhook-timestamp is not a number of seconds: {timestamp[:40]!r}"
    if abs(age) > tolerance:
        return f"webhook-timestamp is {abs(age)} s {'old' if age > 0 else 'in the future'}"
    given = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected, signature) for signature in given):
            return None
    return "No signature matches the secret" if len(secrets) == 1 else \
        f"No signature matches any of the {len(secrets)} secrets"


def request_headers(msg_id, body, secrets, timestamp, basic_auth=None, custom=()):
    """Return the [name, value] headers of one attempt.

    secrets: the signing secrets, current first; during a rotation's overlap the previous one
    signs too, each signature separated by a space as Standard Webhooks allows. basic_auth is
    (username, password) or None; custom the webhook's own (name, value) headers.
    """
    if isinstance(secrets, str):
        secrets = (secrets,)
    headers = [
        ["Content-Type", "application/json"],
        ["User-Agent", USER_AGENT],
        ["webhook-id", msg_id],
        ["webhook-timestamp", str(timestamp)],
        ["webhook-signature", " ".join(sign(s, msg_id, timestamp, body) for s in secrets)],
    ]
    if basic_auth:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        headers.append(["Authorization", f"Basic {token}"])
    headers.extend([name, value] for name, value in custom)
    return headers


SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie"}


MASK = "••••••"


def masked(headers, hidden=()):
    """Return [name, value] headers with credentials replaced by dots (the scheme kept) and the
    values of the hidden names (a webhook's custom headers) replaced entirely: what is stored,
    and what is shown whatever form older rows were stored in."""
    hidden = {name.lower() for name in hidden}
    shown = []
    for name, value in headers or []:
        value = str(value)
        if name.lower() in hidden:
            value = MASK
        elif name.lower() in SENSITIVE_HEADERS and "•" not in value:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {MASK}".strip()
        shown.append([name, value])
    return shown

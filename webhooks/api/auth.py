"""Who is calling: the organization API key in `Authorization: Bearer …`, checked once per
request; read keys may only read."""
from flask import request

from .. import apikeys
from .errors import problem

# One answer for a missing, unknown, revoked or expired key: nothing tells them apart.
UNAUTHORIZED = ("Missing or invalid API key: send Authorization: Bearer whk_live_… with an "
                "active key of your organization.")
READ_ONLY = "This API key is read-only (scope read): use a key with scope write to change anything."
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_KEY = "webhooks.api_key"


def current_key():
    """Return the request's usable ApiKey, or None (looked up once per request: the rate
    limiter asks first)."""
    if _KEY not in request.environ:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        request.environ[_KEY] = (apikeys.authenticate(token.strip())
                                 if scheme.lower() == "bearer" else None)
    return request.environ[_KEY]


def rate_limit_key():
    """Count requests per API key; without a valid key, per client address."""
    key = current_key()
    return f"key:{key.id}" if key else f"addr:{request.remote_addr}"


def refusal():
    """Return the 401 or 403 answer for this request, or None when its key may make it."""
    key = current_key()
    if key is None:
        return problem(401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    if request.method not in READ_METHODS and not key.allows(key.WRITE):
        return problem(403, READ_ONLY)
    return None

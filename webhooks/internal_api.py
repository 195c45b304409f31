"""What every /internal route shares: the host's bearer token, strict JSON bodies (UTF-8, no
repeated keys, no NaN, bounded size) and one error shape."""
import codecs
import hmac
import json
import math

from flask import abort, current_app, request
from werkzeug.exceptions import HTTPException


# The paths that answer in JSON, errors included (a route that does not exist too).
JSON_AREAS = ("/internal/", "/api/")


def problem(status, message, path="", **headers):
    """Return the error answer every /internal route gives: {"errors": [{path, message}]}."""
    return {"errors": [{"path": path, "message": message}]}, status, headers


def token_problem():
    """Return an error response unless the request carries the internal bearer token."""
    return bearer_problem(
        current_app.config.get("WEBHOOKS_INTERNAL_TOKEN"), 503,
        "The internal API is disabled: WEBHOOKS_INTERNAL_TOKEN is not set on the server.")


def bearer_problem(expected, off_status, off_message):
    """Return an error response unless the request carries the bearer token expected; with no
    token configured, the answer off_status, off_message."""
    if not expected:
        return problem(off_status, off_message)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        return problem(401, "Missing or wrong bearer token.", **{"WWW-Authenticate": "Bearer"})
    return None


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text}")
    return number


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _read_body():
    """Return the body's bytes; abort with 413 past MAX_CONTENT_LENGTH, chunked or not."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=False)  # Werkzeug answers 413 from Content-Length
    # A chunked body: Werkzeug's limited stream stops at the limit without complaining, so
    # read one byte past it from the server's (terminated) stream to tell "too large".
    stream, data = request.environ["wsgi.input"], bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        abort(413)
    return bytes(data)


class _DuplicateKey(ValueError):
    """A JSON object names the same key twice: valid JSON, but which value would count?"""


def _unique_keys(pairs):
    """Return the object of these key/value pairs; raise _DuplicateKey if a key repeats."""
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    seen = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    count = sum(other == key for other, _ in pairs)
    raise _DuplicateKey(f"The body is not valid JSON for this service: the key "
                        f"{json.dumps(key[:64], ensure_ascii=False)} appears "
                        f"{'twice' if count == 2 else f'{count} times'} in the same object.")


_NOT_UTF8 = "The body must be UTF-8 encoded JSON (RFC 8259)"


def _charset_problem():
    """Return an error message if Content-Type declares a charset other than UTF-8."""
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        # A body labelled, say, iso-8859-1 that happens to decode as UTF-8 would be misread.
        return f"{_NOT_UTF8}, but the Content-Type header declares charset={charset[:40]}."
    return None


def _decode(raw):
    """Return (text, None) for a UTF-8 body, or (None, error message)."""
    # JSON text starts with ASCII: NULs there, or a UTF-16 BOM, mean UTF-16 or UTF-32, which
    # json.loads would silently detect and accept.
    if b"\x00" in raw[:4] or raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return None, f"{_NOT_UTF8}; this body looks like UTF-16 or UTF-32."
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:  # latin-1 bytes, encoded surrogates, cut sequences
        return None, (f"{_NOT_UTF8}; the byte 0x{raw[error.start]:02X} at offset {error.start} "
                      f"is not valid UTF-8 ({error.reason}).")
    # RFC 8259 lets a parser ignore a UTF-8 byte order mark. We do, as json.loads always did, so
    # a host whose serializer adds one keeps working; the stored envelope never carries it.
    return text.removeprefix("\ufeff"), None


def parse_object(fields):
    """Return (document, None) for a JSON object body, or (None, error message); fields names
    what the object should hold, for the messages."""
    error = _charset_problem()
    if error:
        return None, error
    text, error = _decode(_read_body())
    if error:
        return None, error
    if not text.strip():
        return None, f"The body is empty: send a JSON object with {fields}."
    try:
        document = json.loads(text, parse_float=_finite, parse_constant=_reject_constant,
                              object_pairs_hook=_unique_keys)
    except _DuplicateKey as error:
        return None, str(error)
    except (ValueError, RecursionError) as error:  # JSONDecodeError too
        detail = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
        return None, f"The body is not valid JSON: {detail[:200]}"
    if not isinstance(document, dict):
        return None, f"The body must be a JSON object with {fields}."
    return document, None


def json_errors(blueprint):
    """Answer HTTP errors raised in blueprint (413 above all) in the JSON error shape."""

    @blueprint.errorhandler(HTTPException)
    def http_error(error):
        if error.code == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            return problem(413, f"The body is larger than {limit // 1024} KiB ({limit} bytes).")
        return problem(error.code, error.description)

    @blueprint.app_errorhandler(405)
    def method_not_allowed(error):
        """Answer a wrong method on /internal and /api in JSON; leave the rest of the app alone."""
        if request.path.startswith(JSON_AREAS):
            response = error.get_response()
            body, status, _ = problem(405, error.description)
            return body, status, {"Allow": response.headers.get("Allow", "")}
        return error

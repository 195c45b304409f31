"""Request bodies: parsed as strictly as ingest parses them (UTF-8, no repeated keys, no NaN,
bounded size) before the schema sees them, and answered with 400, 413 or 415 when unreadable."""
from flask import request

from ..internal_api import parse_object
from .errors import problem

BODY_METHODS = {"POST", "PATCH", "PUT"}


def _has_body():
    if request.content_length:
        return True
    return request.content_length is None and "wsgi.input_terminated" in request.environ


def _is_json(mimetype):
    return mimetype in ("", "application/json") or mimetype.endswith("+json")


def read():
    """Return (document, None) with the body's JSON object ({} without a body), or (None, the
    error answer). The document is what the schema then validates."""
    if request.method not in BODY_METHODS or not _has_body():
        document = {}
    elif not _is_json(request.mimetype):
        return None, problem(415, "Send the body as JSON, with Content-Type: application/json.")
    else:
        document, error = parse_object("the fields this operation takes")
        if error:
            return None, problem(400, error)
    # spectree reads the body with request.get_json(); hand it this strict parse instead.
    request._cached_json = (document, document)
    return document, None

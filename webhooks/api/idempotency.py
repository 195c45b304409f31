"""Idempotency-Key on every POST: a repeat of the same request with the same key within 24
hours gets the first answer again instead of acting twice (Stripe's rules)."""
import hashlib
import json
import re
from datetime import timedelta

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import IdempotentRequest, utcnow
from .errors import problem

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
_KEY = re.compile(r"[!-~]{1,255}")


def _fingerprint(document):
    text = f"{request.method} {request.path}\n{json.dumps(document, sort_keys=True)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _find(api_key, key):
    return db.session.scalar(db.select(IdempotentRequest).filter_by(api_key_id=api_key.id, key=key))


def _reserve(api_key, key, fingerprint):
    """Insert the key for this request; return None, or the row already holding it."""
    for _ in range(2):
        db.session.add(IdempotentRequest(api_key_id=api_key.id, key=key, fingerprint=fingerprint))
        try:
            db.session.commit()
            return None
        except IntegrityError:
            db.session.rollback()
        existing = _find(api_key, key)
        if existing is None or existing.created_at > utcnow() - KEEP:
            return existing
        db.session.delete(existing)  # older than a day: forgotten, the key is free again
        db.session.commit()
    return _find(api_key, key)


def begin(api_key, document):
    """Before a POST: return the answer to replay or a refusal, or None to go on (the key, if
    any, is then reserved for this request until finish())."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not _KEY.fullmatch(key):
        return problem(400, "must be 1-255 printable ASCII characters.", path=HEADER)
    fingerprint = _fingerprint(document)
    existing = _reserve(api_key, key, fingerprint)
    if existing is None:
        g.idempotent_request = (api_key.id, key)
        return None
    if existing.fingerprint != fingerprint:
        return problem(422, "This key was already used for a different request (another "
                            "operation or body): use a new key for each new request.", path=HEADER)
    if existing.status is None:
        return problem(409, "A request with this key is still being answered: retry shortly.",
                       path=HEADER)
    response = current_app.response_class(existing.body, status=existing.status,
                                          mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def finish(response):
    """After a POST with a key: keep its answer for repeats, or free the key when the request
    failed on our side (5xx), so that a retry can act."""
    reserved = g.pop("idempotent_request", None)
    if reserved is None:
        return response
    db.session.rollback()  # whatever the view left open; it committed what it did
    where = (IdempotentRequest.api_key_id == reserved[0], IdempotentRequest.key == reserved[1])
    if response.status_code >= 500:
        db.session.execute(db.delete(IdempotentRequest).where(*where))
    else:
        db.session.execute(db.update(IdempotentRequest).where(*where).values(
            status=response.status_code, body=response.get_data(as_text=True)))
    db.session.commit()
    return response
